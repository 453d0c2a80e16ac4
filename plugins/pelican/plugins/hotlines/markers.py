"""Line cards inside a page's Markdown: a paragraph that is exactly ``[lines: ID ID …]``.

The ids are those of ``data/hotlines.yaml``; the paragraph is replaced by those lines' cards,
the same markup as on the consultation page (``theme/templates/line-card.html``), so a page
such as the police page shows the numbers and hours from the data instead of copying them.

Markdown writes the marker as ``<p>[lines: police-110 police-9110]</p>``.  ``check`` runs when
a page is read and stops the build with one line naming the page file and the unknown id;
``parts`` splits a page's HTML at its markers for page.html.  A card's heading sits one level
below the heading before the marker (h2 right under the page's h1), so headings never skip a
level.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from markupsafe import Markup

from safeline.hotlines.model import DataError, Directory, Line

MARKER = re.compile(r"<p>\[lines:([^\]<]*)\]</p>")
HEADING = re.compile(r"<h([1-6])\b")


@dataclass(frozen=True)
class Part:
    """HTML of the page, then the cards of the marker that follows it (none after the last)."""

    html: Markup
    lines: list[Line] = field(default_factory=list)
    level: int = 2  # the cards' heading level


def has_markers(html: str) -> bool:
    return MARKER.search(str(html)) is not None


def check(html: str, directory: Directory, page: str) -> None:
    known = {line.id for line in directory.lines}
    seen: set[str] = set()
    for match in MARKER.finditer(html):
        ids = match[1].split()
        if not ids:
            raise DataError([f"{page}: [lines: ] names no line; write ids from data/hotlines.yaml, e.g. [lines: police-110 police-8103]"])
        for ident in ids:
            if ident not in known:
                raise DataError([f'{page}: [lines: …] names "{ident}", which is no line id in data/hotlines.yaml'])
            if ident in seen:  # its card's ids would be on the page twice
                raise DataError([f'{page}: [lines: …] names "{ident}" twice; a line has one card on a page'])
            seen.add(ident)


def parts(html: str, directory: Directory) -> list[Part]:
    known = {line.id: line for line in directory.lines}
    html = str(html)
    result, start = [], 0
    for match in MARKER.finditer(html):
        before = HEADING.findall(html, 0, match.start())
        level = min(int(before[-1]) + 1, 6) if before else 2
        result.append(Part(Markup(html[start:match.start()]), [known[ident] for ident in match[1].split()], level))
        start = match.end()
    result.append(Part(Markup(html[start:])))
    return result
