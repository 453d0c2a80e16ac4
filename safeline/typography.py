"""Japanese typography, checked on the pages as readers get them (issue 15, point 3).

The rule, kept simple on purpose: in the visible Japanese text of a page, a half-width
``(`` ``)`` ``?`` ``:`` or ``!`` is a mistake when a Japanese character stands right next to
it, on at least one side.  A Japanese character is kana, kanji or full-width punctuation
(``、。「」〜（）`` and the like).  Write the full-width mark instead: ``（ ） ？ ： ！``.

What is never looked at: attributes (URLs, ``alt``, ``content``), ``<script>``, ``<style>``,
``<code>``, ``<pre>``, ``<kbd>``, ``<samp>`` and ``<textarea>`` (what a reporter typed), text
in another language (an element with ``lang="en"``), and web addresses in the text.  A mark
with ASCII on both sides is never a finding: times (9:00), reference numbers (SL-7K3F-Q9XD)
and English words in brackets standing among ASCII stay as they are.  Inline elements
(``<a>``, ``<strong>``…) do not separate text, so ``<strong>受付中</strong>(`` is found;
block elements (``<p>``, ``<li>``, ``<td>``…) do.

``./run check`` (tasks.py) and tests/test_typography.py use :func:`findings` on every built
page whose ``<html lang>`` is Japanese, and on the relay's Japanese pages as
devtools.relay_pages visits them.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

MARKS = "()?:!"
FULL_WIDTH = {"(": "（", ")": "）", "?": "？", ":": "：", "!": "！"}
JAPANESE = re.compile(
    "[\u3000-\u303f"  # CJK punctuation: 、。「」〜 and the ideographic space
    "\u3040-\u30ff"  # hiragana, katakana (with ー and ・)
    "\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"  # small kana, kanji
    "\uff01-\uff60\uff61-\uff9f]"  # full-width forms (（）？：！～) and half-width katakana
)
URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[\x21-\x7e]+")
SKIPPED = {"script", "style", "code", "pre", "kbd", "samp", "textarea", "template", "svg"}
INLINE = {"a", "abbr", "b", "bdi", "bdo", "cite", "data", "dfn", "em", "i", "mark", "q", "ruby", "rt",
          "rp", "s", "small", "span", "strong", "sub", "sup", "time", "u", "var", "wbr"}
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
BREAK = "\n"  # between blocks, and where skipped text was: nothing is beside it
CONTEXT = 12  # characters shown on each side of a finding


class _Text(HTMLParser):
    """The visible Japanese text of a page, blocks separated by BREAK."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, bool]] = []  # (tag, is this text looked at)
        self.parts: list[str] = []
        self.lang = ""

    def _looked_at(self) -> bool:
        return self.stack[-1][1] if self.stack else True

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "html":
            self.lang = (attributes.get("lang") or "").lower()
        if tag not in INLINE:
            self.parts.append(BREAK)
        if tag in VOID:
            return
        looked_at = self._looked_at() and tag not in SKIPPED
        lang = attributes.get("lang")
        if lang is not None:
            looked_at = looked_at and lang.lower().startswith("ja")
        self.stack.append((tag, looked_at))

    def handle_startendtag(self, tag, attrs):
        if tag not in INLINE:
            self.parts.append(BREAK)

    def handle_endtag(self, tag):
        if tag not in INLINE:
            self.parts.append(BREAK)
        for index in range(len(self.stack) - 1, -1, -1):
            if self.stack[index][0] == tag:
                del self.stack[index:]
                break

    def handle_data(self, data):
        if self._looked_at() and self.lang.startswith("ja"):
            self.parts.append(data)
        else:
            self.parts.append(BREAK)


def visible_japanese_text(html: str) -> str:
    """The text of a Japanese page that the rule is about (empty for a page in another language)."""
    parser = _Text()
    parser.feed(html)
    parser.close()
    return "".join(parser.parts)


def findings_in_text(text: str) -> list[str]:
    """Each half-width mark beside a Japanese character in ``text``, with the text around it."""
    masked = URL.sub(lambda m: "x" * len(m.group()), text)
    found = []
    for index, mark in enumerate(masked):
        if mark not in MARKS:
            continue
        before = masked[index - 1] if index else ""
        after = masked[index + 1] if index + 1 < len(masked) else ""
        if JAPANESE.match(before) or JAPANESE.match(after):
            start, end = max(0, index - CONTEXT), index + CONTEXT + 1
            around = " ".join(text[start:end].split())
            found.append(f'half-width "{mark}" beside Japanese (write "{FULL_WIDTH[mark]}"): …{around}…')
    return found


def findings(html: str, name: str) -> list[str]:
    """The findings on one page, each a line that names the page (``name``) first."""
    return [f"{name}: {finding}" for finding in findings_in_text(visible_japanese_text(html))]
