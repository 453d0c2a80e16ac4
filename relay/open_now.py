"""The consultation lines open now, for the pages that say a report cannot be taken just now.

Someone told "please wait" or "we cannot take reports just now" may need to talk to someone
at once, at any hour: those pages list the lines open at that moment, worked out when the page
is asked for (the static site's block says it with JavaScript; the relay's pages need none).
The lines come from ``data/hotlines.yaml`` through ``safeline.hotlines``, read once when the
relay starts: a mistake in the file stops it, like a bad setting, one line per problem.

The emergency line (110, ``emergency: true``) is set apart ("in danger now"); of the others,
those open around the clock come first, then those open now, in the file's order (lines for
everyone before lines for one region).
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from safeline.hotlines import hours, schedule
from safeline.hotlines.model import DataError, Directory, Line, load

from .config import ROOT
from .problems import Problems

HOTLINES = ROOT / "data" / "hotlines.yaml"
# How far ahead an opening is followed: a line still open a week from now is "open 24 hours".
SEARCH_DAYS = 8


class HotlinesError(Problems):
    """data/hotlines.yaml cannot be used; one line per problem, as the build says them."""


@dataclass(frozen=True)
class OpenLine:
    line: Line
    status: str  # the live badge's words, e.g. "Open now (until 17:15)"


@dataclass(frozen=True)
class OpenNow:
    emergency: list[OpenLine]  # in danger now: 110
    lines: list[OpenLine]  # to talk to someone: around the clock first, then open now


class Lines:
    """The lines of the file, and which of them are open at the relay's clock's now."""

    def __init__(self, path: Path = HOTLINES, *, clock: Callable[[], float]):
        try:
            shown = str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)
            self.directory: Directory = load(path, shown_as=shown)
        except DataError as error:  # a SystemExit: made an ordinary problem, as relay.problems says
            raise HotlinesError(error.lines) from None
        self.clock = clock

    def open_now(self, gettext, lang: str) -> OpenNow:
        at = datetime.datetime.fromtimestamp(self.clock(), datetime.timezone.utc)
        texts = hours.badge_texts(gettext, lang)
        emergency, all_day, others = [], [], []
        for line in self.directory.lines:
            if not line.regular:  # hours that differ from place to place: open now is not known
                continue
            status = schedule.status(self.directory, line, at, search_days=SEARCH_DAYS)
            if not status.is_open:
                continue
            shown = OpenLine(line, hours.status_text(status, at, texts))
            if line.emergency:
                emergency.append(shown)
            elif status.until is None:
                all_day.append(shown)
            else:
                others.append(shown)
        return OpenNow(emergency=emergency, lines=all_day + others)
