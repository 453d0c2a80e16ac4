"""Japanese inside a page of another language, marked ``lang="ja"`` (issue 20, point 4).

The style sheet breaks Japanese lines between phrases (``word-break: auto-phrase``), but a
browser does that only where the element's language is Japanese.  On an English page a name
such as "Human Rights Hotline for Everyone (みんなの人権110番)" would otherwise break anywhere,
even inside a katakana word (セーファ／ーインターネット).  ``mark_japanese`` wraps each run of
Japanese in ``<span lang="ja">``; it also tells screen readers to read it as Japanese.

A run is kana, kanji or full-width marks (``safeline.typography.JAPANESE``), with the ASCII
letters and digits glued to them (24時間子供SOSダイヤル, みんなの人権110番) but without the spaces and
brackets around them.  Only text is touched, never a tag or its attributes.
"""

from __future__ import annotations

import re

from jinja2 import pass_context
from markupsafe import Markup, escape

from safeline.site import page_lang
from safeline.typography import JAPANESE

RUN = re.compile(rf"(?:[0-9A-Za-z]*{JAPANESE.pattern})+")
TAG = re.compile(r"(<[^>]*>)")
START = re.compile(r"<([a-zA-Z][a-zA-Z0-9]*)([^>]*)>")
END = re.compile(r"</([a-zA-Z][a-zA-Z0-9]*)\s*>")
LANG = re.compile(r"\slang\s*=")
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


def mark_japanese(text: str) -> Markup:
    """``text`` (plain text, escaped here, or ``Markup``) with its Japanese runs marked.

    Text inside an element that already says its language (``<span lang="ja">`` written in the
    Markdown) is left as it is.
    """
    html = text if isinstance(text, Markup) else escape(text)
    parts = TAG.split(str(html))
    open_tags: list[tuple[str, bool]] = []  # (tag, has a lang attribute)
    for i, part in enumerate(parts):
        if i % 2:  # a tag
            if start := START.fullmatch(part):
                name = start[1].lower()
                if name not in VOID and not start[2].rstrip().endswith("/"):
                    open_tags.append((name, bool(LANG.search(start[2]))))
            elif end := END.fullmatch(part):
                name = end[1].lower()
                while open_tags and open_tags.pop()[0] != name:
                    pass
        elif not any(has_lang for _, has_lang in open_tags):
            parts[i] = RUN.sub(lambda run: f'<span lang="ja">{run[0]}</span>', part)
    return Markup("".join(parts))


@pass_context
def japanese(context, text):
    """The templates' filter ``japanese``, for the site and the relay alike: on a page of another
    language, Japanese marked ``lang="ja"``; on a Japanese page, the text as it is."""
    if page_lang(context) == "ja":
        return text
    return mark_japanese(text)
