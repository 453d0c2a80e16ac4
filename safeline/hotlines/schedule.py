"""When is a line open? The one schedule engine of the site.

Pure functions over the model of ``data/hotlines.yaml``.  Every instant is an aware
``datetime``; the lines keep Tokyo hours, so the answer is computed on the Tokyo wall
clock (``Asia/Tokyo``, UTC+9 all year: Japan has no daylight saving time).

A day's hours come from exactly one of three rules, tried in this order:

1. ``extra_openings`` of that date: the line is open with those hours, even on a national
   holiday or in a closed period;
2. closed all day: a one-off ``closed_dates`` entry, a national holiday when the line is
   ``closed_on_holidays``, or a day of one of its ``closed_periods`` (e.g. 12/29 to 1/3);
3. otherwise its weekly ``hours`` for that weekday.

National holidays (including substitute holidays and the citizens' holiday) come from the
``holidays`` package.  The hours badge of the consultation page evaluates the same three
rules in the browser on data that ``embedded`` writes from this module, so the page and this
engine cannot disagree (tests/browser/ proves it at fixed instants).
"""

from __future__ import annotations

import datetime
import functools
from dataclasses import dataclass
from typing import Literal
from zoneinfo import ZoneInfo

import holidays

from .model import DAYS, END_OF_DAY, ClosedPeriod, Directory, Line

TOKYO = ZoneInfo("Asia/Tokyo")
HORIZON_DAYS = 400  # how far ahead the page carries the closed dates
WARN_DAYS = 60  # the build warns when what it can embed ends sooner than this

Span = tuple[datetime.time, datetime.time]


# -- national holidays ---------------------------------------------------------------------


@functools.cache
def _holidays_of(year: int) -> dict[datetime.date, str]:
    return dict(holidays.country_holidays("JP", years=year, language="ja"))


def holiday_name(day: datetime.date) -> str | None:
    """The name of the national holiday of Japan on ``day`` (e.g. 国民の休日), or ``None``."""
    return _holidays_of(day.year).get(day)


def is_national_holiday(day: datetime.date) -> bool:
    return holiday_name(day) is not None


def holidays_known_until() -> datetime.date:
    """The last day the holiday source covers; the page carries no data beyond it."""
    return datetime.date(holidays.country_holidays("JP").end_year, 12, 31)


# -- the hours of one day ------------------------------------------------------------------


@dataclass(frozen=True)
class DayRule:
    """Which rule decides a day, and the hours it gives (empty when closed)."""

    kind: Literal["extra", "closed", "weekly"]
    hours: tuple[Span, ...]
    reason: str | None = None  # for "closed": "closed_dates", "holiday" or the closed period's name


def in_period(day: datetime.date, period: ClosedPeriod) -> bool:
    """``day`` falls in a yearly period; 12-29 to 01-03 runs over the new year."""
    month_day = (day.month, day.day)
    if period.from_ <= period.to:
        return period.from_ <= month_day <= period.to
    return month_day >= period.from_ or month_day <= period.to


def _merged(spans) -> tuple[Span, ...]:
    """Sorted, with touching spans (12:00 to 13:00, 13:00 to 17:00) joined into one."""
    result: list[list[datetime.time]] = []
    for start, end in sorted(spans):
        if result and start <= result[-1][1]:
            result[-1][1] = max(result[-1][1], end)
        else:
            result.append([start, end])
    return tuple((start, end) for start, end in result)


def day_rule(directory: Directory, line: Line, day: datetime.date) -> DayRule:
    extra = [(e.open, e.close) for e in line.extra_openings if e.date == day]
    if extra:
        return DayRule("extra", _merged(extra))
    if day in line.closed_dates:
        return DayRule("closed", (), "closed_dates")
    if line.closed_on_holidays and is_national_holiday(day):
        return DayRule("closed", (), "holiday")
    for name in line.closed_periods:
        if in_period(day, directory.closed_periods[name]):
            return DayRule("closed", (), name)
    weekday = DAYS[day.weekday()]
    return DayRule("weekly", weekly_hours(line)[weekday])


def weekly_hours(line: Line) -> dict[str, tuple[Span, ...]]:
    """Each weekday's usual hours, merged: ``{"mon": ((09:00, 21:00),), ...}``."""
    return {day: _merged((b.open, b.close) for b in line.hours if day in b.days) for day in DAYS}


def hours_on(directory: Directory, line: Line, day: datetime.date) -> tuple[Span, ...]:
    """The hours the line answers on the Tokyo date ``day``, after every rule."""
    return day_rule(directory, line, day).hours


# -- open now? -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Status:
    """The answer for one instant; times are aware datetimes in Asia/Tokyo."""

    is_open: bool
    until: datetime.datetime | None = None  # when open: the end of this opening; None: open beyond the search (24 hours)
    next_open: datetime.datetime | None = None  # when closed: the start of the next one, if any within the search


def tokyo(at: datetime.datetime) -> datetime.datetime:
    # The offset, not the tzinfo: a tzinfo whose utcoffset() is None leaves the instant naive.
    if at.utcoffset() is None:
        raise ValueError(f"an instant needs a time zone: {at!r} is naive")
    return at.astimezone(TOKYO)


def _at(day: datetime.date, time: datetime.time) -> datetime.datetime:
    """The instant of ``time`` on ``day``; a closing time of 24:00 is the next day's 0:00."""
    if time == END_OF_DAY:
        return datetime.datetime.combine(day + datetime.timedelta(days=1), datetime.time(0, 0), tzinfo=TOKYO)
    return datetime.datetime.combine(day, time, tzinfo=TOKYO)


def _open_until(directory: Directory, line: Line, today: datetime.date, end: datetime.time,
                search_days: int) -> datetime.datetime | None:
    """The end of an opening that ends at ``end`` on ``today``, followed across midnight for as
    long as the next day opens at 0:00; ``None`` when it is still open after ``search_days``."""
    day = today
    while end == END_OF_DAY:
        if (day - today).days >= search_days:
            return None
        following = day + datetime.timedelta(days=1)
        spans = hours_on(directory, line, following)
        if not spans or spans[0][0] != datetime.time(0, 0):
            return _at(following, datetime.time(0, 0))
        day, end = following, spans[0][1]
    return _at(day, end)


def status(directory: Directory, line: Line, at: datetime.datetime, *, search_days: int = HORIZON_DAYS) -> Status:
    """Is ``line`` open at ``at``; until when, or when does it next open?

    Opening times are inclusive and closing times exclusive: a line open 09:00 to 21:00 is
    open at 20:59:59 and closed at 21:00.  An opening until 24:00 that the next day continues
    from 0:00 is one opening; a line open around the clock has ``until`` ``None``.  The next opening is looked for on the following
    ``search_days`` days; ``next_open`` is ``None`` when there is none.
    """
    now = tokyo(at)
    today = now.date()
    for start, end in hours_on(directory, line, today):
        # As instants, not clock times: 24:00 is stored as 23:59:59.999999, and the opening lasts
        # through that last microsecond until midnight, as in the browser's badge.
        if _at(today, start) <= now < _at(today, end):
            return Status(True, until=_open_until(directory, line, today, end, search_days))
    return Status(False, next_open=next_opening(directory, line, now, search_days=search_days))


def next_opening(directory: Directory, line: Line, at: datetime.datetime, *, search_days: int = HORIZON_DAYS) -> datetime.datetime | None:
    """The first opening that starts after ``at`` (Tokyo), within ``search_days`` days."""
    now = tokyo(at)
    clock = now.time().replace(tzinfo=None)
    for offset in range(search_days + 1):
        day = now.date() + datetime.timedelta(days=offset)
        for start, _ in hours_on(directory, line, day):
            if offset or start > clock:
                return _at(day, start)
    return None


# -- what the page carries -----------------------------------------------------------------


@dataclass(frozen=True)
class Horizon:
    """The Tokyo dates the page carries data for, both ends included."""

    start: datetime.date
    end: datetime.date

    @property
    def days(self) -> int:
        return (self.end - self.start).days

    def ends_soon(self) -> bool:
        """Fewer than ``WARN_DAYS`` days left after ``start`` (the day of the build)."""
        return self.days < WARN_DAYS


def today() -> datetime.date:
    return datetime.datetime.now(TOKYO).date()


def horizon(start: datetime.date, days: int = HORIZON_DAYS) -> Horizon:
    """From ``start`` (the day of the build) ``days`` days ahead, as far as holidays are known."""
    return Horizon(start, min(start + datetime.timedelta(days=days), holidays_known_until()))


def _hhmm(time: datetime.time) -> str:
    return "2400" if time == END_OF_DAY else f"{time:%H%M}"


def _ranges(offsets: list[int]) -> str:
    """``[3, 4, 5, 9]`` → ``"3-5 9"``: runs of days (the New Year period) stay short."""
    runs: list[list[int]] = []
    for offset in offsets:
        if runs and offset == runs[-1][1] + 1:
            runs[-1][1] = offset
        else:
            runs.append([offset, offset])
    return " ".join(str(a) if a == b else f"{a}-{b}" for a, b in runs)


def embedded(directory: Directory, line: Line, within: Horizon) -> dict[str, str]:
    """The data attributes from which hours.js evaluates the same three rules in the browser.

    - ``week``: the weekly hours, ``"DAYS:HHMM-HHMM"`` blocks separated by spaces, DAYS as digits
      (0 = Monday … 6 = Sunday), e.g. ``"02:1700-2000"`` for Monday and Wednesday 17:00 to 20:00;
    - ``closed``: the days closed all day, as day numbers counted from ``from`` (0 = ``from``),
      runs written ``a-b``: ``"31-36 45"``;
    - ``extra``: the extra openings, ``"DAY:HHMM-HHMM"`` with DAY counted the same way;
    - ``from`` and ``until``: the first and last date covered (``YYYY-MM-DD``); outside them the
      badge hides itself instead of guessing.
    """
    week: dict[Span, str] = {}  # the same hours on several days make one block
    for number, day in enumerate(DAYS):
        for span in weekly_hours(line)[day]:
            week[span] = week.get(span, "") + str(number)
    closed: list[int] = []
    extra: list[str] = []
    for offset in range(within.days + 1):
        rule = day_rule(directory, line, within.start + datetime.timedelta(days=offset))
        if rule.kind == "closed":
            closed.append(offset)
        elif rule.kind == "extra":
            extra += [f"{offset}:{_hhmm(start)}-{_hhmm(end)}" for start, end in rule.hours]
    return {
        "week": " ".join(f"{days}:{_hhmm(start)}-{_hhmm(end)}" for (start, end), days in week.items()),
        "closed": _ranges(closed),
        "extra": " ".join(extra),
        "from": within.start.isoformat(),
        "until": within.end.isoformat(),
    }
