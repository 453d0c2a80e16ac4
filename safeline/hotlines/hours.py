"""Opening hours and closures in words, for the page's language.

Dates, times, weekday names and lists are formatted by Babel for the locale; the few
words around them come from the gettext catalogs, so translators own the phrasing
(e.g. 毎日 9:00〜21:00 / Every day, 9:00–21:00).

The words of the live badge (受付中（21:00まで） / Open now (until 21:00)) are here too:
``badge_texts`` gives them to the page, where hours.js reads them, and ``status_text``
writes a ``schedule.Status`` with them exactly as hours.js does.

Japanese typography (issue 15): Babel's Japanese patterns (CLDR) write intervals with ～
(U+FF5E FULLWIDTH TILDE) and weekdays in half-width brackets, 2027年5月6日(木).  The site
uses one wave dash, 〜 (U+301C WAVE DASH), and full-width brackets in Japanese text, so
everything Babel formats for Japanese goes through ``typeset``; the catalogs' own words use
the same marks (受付中（21:00まで）).
"""

from __future__ import annotations

import datetime
from typing import Callable

from babel.dates import format_interval, format_skeleton, format_time, get_day_names, get_month_names
from babel.lists import format_list

from . import schedule
from .model import DAYS, END_OF_DAY, Block, Directory, ExtraOpening, Line

Gettext = Callable[[str], str]

WEEKDAYS = DAYS[:5]
WEEKEND = DAYS[5:]

WAVE_DASH = "\u301c"  # 〜: the one wave dash of the site's Japanese text
_JAPANESE_MARKS = str.maketrans({"\uff5e": WAVE_DASH, "(": "\uff08", ")": "\uff09"})  # ～ ( ) → 〜 （ ）


def typeset(text: str, locale: str) -> str:
    """Babel's output with the site's Japanese marks: 12月29日～1月3日 → 12月29日〜1月3日,
    2027年5月6日(木) → 2027年5月6日（木）.  Other languages are left as they are."""
    return text.translate(_JAPANESE_MARKS) if locale.split("_")[0] == "ja" else text


def days_text(days: list[str], _: Gettext, locale: str) -> str:
    chosen = [d for d in DAYS if d in days]
    if tuple(chosen) == DAYS:
        return _("Every day")
    if tuple(chosen) == WEEKDAYS:
        return _("Weekdays")
    if tuple(chosen) == WEEKEND:
        return _("Weekends")
    names = get_day_names("wide", locale=locale)
    return typeset(format_list([names[DAYS.index(d)] for d in chosen], locale=locale), locale)


def clock_text(time: datetime.time, locale: str) -> str:
    if time == END_OF_DAY:
        return "24:00"
    return typeset(format_time(time, "H:mm", locale=locale), locale)


def block_text(block: Block, _: Gettext, locale: str) -> str:
    if block.all_day:
        return _("{days}, 24 hours").format(days=days_text(block.days, _, locale))
    return _("{days}, {start}–{end}").format(
        days=days_text(block.days, _, locale),
        start=clock_text(block.open, locale),
        end=clock_text(block.close, locale),
    )


def hours_text(line: Line, _: Gettext, locale: str) -> list[str]:
    """One phrase per weekly block, in the order the editor wrote them."""
    return [block_text(block, _, locale) for block in line.hours]


def date_text(day: datetime.date, locale: str) -> str:
    """E.g. 2027年5月6日（木） / Thu, May 6, 2027."""
    return typeset(format_skeleton("yMMMEd", day, locale=locale), locale)


def closures_text(directory: Directory, line: Line, _: Gettext, locale: str, today: datetime.date | None = None) -> str | None:
    """E.g. 祝日、年末年始（12月29日〜1月3日）; ``None`` when the line never closes.

    One-off closures from ``today`` on follow, as dates.
    """
    parts = []
    if line.closed_on_holidays:
        parts.append(_("national holidays"))
    for period in directory.closures(line):
        if period.assumed is not None:
            # The sources name the period only in words (年末年始): so does the page; the dates
            # are the data's assumption, used by the badge alone.
            parts.append(period.name[locale])
            continue
        # The words show months and days only, and Babel picks the pattern by the greatest field
        # that differs among those it has (CLDR gives MMMd none for the year): 12-29..01-03 reads
        # 12月29日〜1月3日 even with both ends in one year.  A leap year, so 02-29 may be a bound
        # (the model allows it), also at the end of a period over the year end.
        start, end = datetime.date(2024, *period.from_), datetime.date(2024, *period.to)
        parts.append(
            _("{name} ({dates})").format(
                name=period.name[locale], dates=typeset(format_interval(start, end, "MMMd", locale=locale), locale)
            )
        )
    parts += [date_text(day, locale) for day in sorted(line.closed_dates) if today is None or day >= today]
    if not parts:
        return None
    return typeset(format_list(parts, locale=locale), locale)


def upcoming_extra_openings(line: Line, today: datetime.date | None = None) -> list[ExtraOpening]:
    """The one-off openings from ``today`` on, in date order."""
    return sorted((e for e in line.extra_openings if today is None or e.date >= today), key=lambda e: (e.date, e.open))


def extra_opening_text(extra: ExtraOpening, _: Gettext, locale: str) -> str:
    """E.g. 2027年1月4日（月） 10:00〜16:00 / Mon, Jan 4, 2027, 10:00–16:00."""
    return _("{days}, {start}–{end}").format(
        days=date_text(extra.date, locale), start=clock_text(extra.open, locale), end=clock_text(extra.close, locale)
    )


# -- the live badge ------------------------------------------------------------------------


def badge_texts(_: Gettext, locale: str) -> dict[str, str]:
    """Every word the badge may show, for the page to carry as data attributes.

    ``weekdays`` (Monday first) and ``months`` are lists joined with ``|``.
    """
    return {
        "open": _("Open now (until {time})"),
        "allday": _("Open now (24 hours)"),  # open beyond the data the page carries
        "next": _("Closed now (next: {day} {time})"),
        "closed": _("Closed now"),
        "today": _("today"),
        "tomorrow": _("tomorrow"),
        "weekdays": "|".join(
            [_("Monday"), _("Tuesday"), _("Wednesday"), _("Thursday"), _("Friday"), _("Saturday"), _("Sunday")]
        ),
        "months": "|".join(get_month_names("abbreviated", locale=locale)[month] for month in range(1, 13)),
        # a date a week or more ahead, e.g. 1月4日 月曜 / Monday 4 Jan
        "date": _("{weekday} {day} {month}"),
    }


def status_text(status: schedule.Status, at: datetime.datetime, texts: dict[str, str]) -> str:
    """The badge's words for ``status`` at the instant ``at``, as hours.js writes them."""
    if status.is_open:
        if status.until is None:
            return texts["allday"]
        return texts["open"].format(time=_clock(status.until))
    if status.next_open is None:
        return texts["closed"]
    when = status.next_open
    ahead = (when.date() - schedule.tokyo(at).date()).days
    weekday = texts["weekdays"].split("|")[when.weekday()]
    if ahead == 0:
        day = texts["today"]
    elif ahead == 1:
        day = texts["tomorrow"]
    elif ahead < 7:
        day = weekday
    else:
        day = texts["date"].format(weekday=weekday, day=when.day, month=texts["months"].split("|")[when.month - 1])
    return texts["next"].format(day=day, time=_clock(when))


def _clock(when: datetime.datetime) -> str:
    """9:00, 17:15: as hours.js writes a time (and as clock_text does for both languages)."""
    return f"{when.hour}:{when.minute:02d}"


def checked_text(day: datetime.date, locale: str) -> str:
    """The day a line was compared with its source, e.g. 2026年12月2日 / Dec 2, 2026."""
    return typeset(format_skeleton("yMMMd", day, locale=locale), locale)
