"""Who can call a line, and when: the order in which a frightened reader should meet the lines.

A line for all of Japan comes before a line for one area only (``area:``, e.g. Tokyo): a reader
outside Tokyo must not scroll past lines they cannot use to find one they can.  Among the lines
to call now, those open around the clock come first: they are the only ones sure to answer at
night.  110 (``emergency: true``) is not a line for advice: pages show it apart.

Pure functions over the model; the Pelican plugin hands them to the templates, and the relay
uses them for its own list of lines open now (relay/open_now.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from .model import DAYS, Directory, Line, Organisation


@dataclass(frozen=True)
class NowEntry:
    """One line of a list of lines one can call now (theme/templates/lines-now.html)."""

    line: Line
    allday: bool  # open around the clock
    shown: bool  # shown before any script runs
    when: str = ""  # until when, or its hours, in words


def nationwide(line: Line) -> bool:
    """Anyone in Japan may call it (no ``area:``)."""
    return line.area is None


def around_the_clock(line: Line) -> bool:
    """Open 00:00 to 24:00 every day, never closed: without JavaScript the page can still say
    these lines answer now, whatever the hour."""
    if not line.regular or line.closed_on_holidays or line.closed_periods or line.closed_dates:
        return False
    days = {day for block in line.hours if block.all_day for day in block.days}
    return days == set(DAYS)


def by_reach(directory: Directory) -> list[Organisation]:
    """The organisations in the file's order, those whose lines are all for one area last.

    ``sorted`` is stable: the editor's order stands within each group.
    """
    return sorted(directory.organisations, key=lambda org: not any(nationwide(line) for line in org.lines))


def lines_by_reach(org: Organisation) -> list[Line]:
    """An organisation's lines, those for all of Japan first."""
    return sorted(org.lines, key=lambda line: not nationwide(line))


def emergency_lines(directory: Directory) -> list[Line]:
    return [line for line in directory.lines if line.emergency]


def candidates_now(directory: Directory) -> list[Line]:
    """Every line that may be open at some instant and has hours a script can evaluate, in the
    order of a list of lines open now: around the clock first, then for all of Japan first, then
    the page's order.  Emergency lines are left out (shown apart)."""
    lines = [line for org in by_reach(directory) for line in lines_by_reach(org) if line.regular and not line.emergency]
    return sorted(lines, key=lambda line: (not around_the_clock(line), not nationwide(line)))
