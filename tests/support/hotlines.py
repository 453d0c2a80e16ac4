"""The consultation lines as the tests read them: the data, and the built page's lists of them.

- ``DIRECTORY``: data/hotlines.yaml, loaded by the real model.
- ``open_around_the_clock(line)``: the 24-hour lines, worked out here from the data's own fields
  (00:00 to 24:00 on every day, no closure of any kind), not by the code under test.
- ``tokyo_only(line)``: a line for callers in Tokyo only (``area:``).
- ``NowBlock`` / ``now_block(html)``: the block of lines one can call now (``#now``) of a built
  page: its emergency numbers and its items, in order, with whether each waits hidden.
- ``card_ids(html)``: the ids of the line cards, in the page's order.
- ``with_men_line(extra)``: the data with ``extra`` fields (one-off closures, extra openings)
  added to the men's line of Tokyo Women's Plaza.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from html import unescape

from safeline.hotlines.model import END_OF_DAY, load
from tests.support.site import ROOT

DIRECTORY = load(ROOT / "data" / "hotlines.yaml")
LINES = {line.id: line for line in DIRECTORY.lines}
EVERY_DAY = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"}


# The end of the men's line's hours: the only line that closes at 20:00.
MEN_HOURS = '            close: "20:00"\n        closed_on_holidays: true\n        closed_periods: [new-year]\n'


def with_men_line(extra: str) -> str:
    """data/hotlines.yaml with ``extra`` (YAML lines of one line's fields, e.g. closed_dates)
    added to the men's line, after its closures."""
    data = (ROOT / "data" / "hotlines.yaml").read_text(encoding="utf-8")
    if data.count(MEN_HOURS) != 1:
        raise AssertionError("the men's line's hours are no longer where tests.support.hotlines looks")
    return data.replace(MEN_HOURS, MEN_HOURS + extra, 1)


def open_around_the_clock(line) -> bool:
    days = {day for block in line.hours if block.open.hour == block.open.minute == 0 and block.close == END_OF_DAY
            for day in block.days}
    return days == EVERY_DAY and not (line.closed_on_holidays or line.closed_periods or line.closed_dates)


def tokyo_only(line) -> bool:
    return line.area is not None and line.area["en"] == "Tokyo"


def text(html: str) -> str:
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", "", html))).strip()


@dataclass
class NowItem:
    id: str
    hidden: bool
    tel: str
    text: str


@dataclass
class NowBlock:
    html: str
    emergency: list[str]  # the tel: of each number shown apart ("in danger right now")
    items: list[NowItem]


def now_block(html: str) -> NowBlock:
    match = re.search(r'<section id="now" class="lines-now".*?</section>', html, re.S)
    assert match, "no block of lines one can call now (#now)"
    block = match.group(0)
    emergency = re.findall(r'<p class="danger">.*?<a class="call" href="([^"]+)"', block, re.S)
    items = [
        NowItem(ident, " hidden" in attrs, re.search(r'href="([^"]+)"', body).group(1), text(body))
        for ident, attrs, body in re.findall(r'<li data-line="([^"]+)"([^>]*)>(.*?)</li>', block, re.S)
    ]
    return NowBlock(block, emergency, items)


def card_ids(html: str) -> list[str]:
    return re.findall(r'<article class="line" id="([^"]+)"', html)
