"""The consultation lines open now, for the pages that say a report cannot be taken just now.

Someone told "please wait" or "we cannot take reports just now" may need to talk to someone
at once, at any hour: those pages list the lines open at that moment, worked out when the page
is asked for (the static site's block says it with JavaScript; the relay's pages need none).
The lines come from ``data/hotlines.yaml`` through ``safeline.hotlines``, read once when the
relay starts: a mistake in the file stops it, like a bad setting, one line per problem.

The emergency line (110, ``emergency: true``) is set apart ("in danger now"); of the others,
those open around the clock come first, then those open now, lines for everyone before lines
for one area (``safeline.hotlines.reach``).  The page shows them with the consultation page's
own block (theme/templates/lines-now.html).
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from safeline.hotlines import hours, reach, schedule
from safeline.hotlines.model import DataError, Directory, Line, load
from safeline.site import ROOT

from .problems import Problems

HOTLINES = ROOT / "data" / "hotlines.yaml"
# How far ahead an opening is followed: a line that stays open for the next eight days is "open 24
# hours"; one that closes within them says until when (tests/relay/test_not_now.py pins both).
SEARCH_DAYS = 8


class HotlinesError(Problems):
    """data/hotlines.yaml cannot be used; one line per problem, as the build says them."""


@dataclass(frozen=True)
class OpenNow:
    emergency: list[Line]  # in danger now: 110
    entries: list[reach.NowEntry]  # to talk to someone: around the clock first, then open now


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
        entries = []
        # In the order of every list of lines to call now (safeline.hotlines.reach): around the
        # clock first, lines for all of Japan before lines for one area.
        for line in reach.candidates_now(self.directory):
            status = schedule.status(self.directory, line, at, search_days=SEARCH_DAYS)
            if status.is_open:
                entries.append(reach.NowEntry(line, allday=reach.around_the_clock(line), shown=True,
                                              when=hours.status_text(status, at, texts)))
        return OpenNow(emergency=reach.emergency_lines(self.directory), entries=entries)
