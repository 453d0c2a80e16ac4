"""Opening hours and closures in words, for the page's language.

Dates, times, weekday names and lists are formatted by Babel for the locale; the few
words around them come from the gettext catalogs, so translators own the phrasing
(e.g. 毎日 9:00〜21:00 / Every day, 9:00–21:00).
"""

from __future__ import annotations

import datetime
from typing import Callable

from babel.dates import format_interval, format_time, get_day_names
from babel.lists import format_list

from .model import DAYS, Block, Directory, Line

Gettext = Callable[[str], str]

WEEKDAYS = DAYS[:5]
WEEKEND = DAYS[5:]


def days_text(days: list[str], _: Gettext, locale: str) -> str:
    chosen = [d for d in DAYS if d in days]
    if tuple(chosen) == DAYS:
        return _("Every day")
    if tuple(chosen) == WEEKDAYS:
        return _("Weekdays")
    if tuple(chosen) == WEEKEND:
        return _("Weekends")
    names = get_day_names("wide", locale=locale)
    return format_list([names[DAYS.index(d)] for d in chosen], locale=locale)


def clock_text(time: datetime.time, locale: str) -> str:
    return format_time(time, "H:mm", locale=locale)


def block_text(block: Block, _: Gettext, locale: str) -> str:
    return _("{days}, {start}–{end}").format(
        days=days_text(block.days, _, locale),
        start=clock_text(block.open, locale),
        end=clock_text(block.close, locale),
    )


def hours_text(line: Line, _: Gettext, locale: str) -> list[str]:
    """One phrase per weekly block, in the order the editor wrote them."""
    return [block_text(block, _, locale) for block in line.hours]


def closures_text(directory: Directory, line: Line, _: Gettext, locale: str) -> str | None:
    """E.g. 祝日、年末年始(12月29日～1月3日); ``None`` when the line never closes."""
    parts = []
    if line.closed_on_holidays:
        parts.append(_("national holidays"))
    for period in directory.closures(line):
        # Any year will do for month-day pairs; the second year makes 12-29..01-03 a forward span.
        start = datetime.date(2024, *period.from_)
        end = datetime.date(2024 if period.to >= period.from_ else 2025, *period.to)
        parts.append(
            _("{name} ({dates})").format(
                name=period.name[locale], dates=format_interval(start, end, "MMMd", locale=locale)
            )
        )
    if not parts:
        return None
    return format_list(parts, locale=locale)
