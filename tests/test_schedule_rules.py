"""The schedule engine's own rules, each on a small line built here.

tests/test_schedule.py checks the real data/hotlines.yaml at fixed instants; that data changes,
and its lines use few of the engine's rules (one opening a day, nothing past midnight).  Here
every line is made for the rule a test names, through the real model (``Directory``), and
checked to be one the loader would accept.  The week used most is Monday 2026-11-09 to Sunday
11-15: no national holiday falls in it.
"""

from __future__ import annotations

import copy
import datetime
import pickle
from zoneinfo import ZoneInfo

import holidays
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from safeline.hotlines import schedule
from safeline.hotlines.model import END_OF_DAY, ClosedPeriod, Directory, _semantic_problems

TOKYO = ZoneInfo("Asia/Tokyo")
UTC = datetime.timezone.utc
MONDAY = datetime.date(2026, 11, 9)

BOUNDED = settings(max_examples=200, deadline=None, database=None,
                   suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def jst(text: str) -> datetime.datetime:
    """'2026-11-09 17:00' on the Tokyo clock."""
    return datetime.datetime.fromisoformat(text).replace(tzinfo=TOKYO)


def clock(text: str) -> datetime.time:
    """'09:30' as the model reads it; '24:00' is the end of the day."""
    return END_OF_DAY if text == "24:00" else datetime.time.fromisoformat(text)


def built(*blocks: tuple[str, str, str], closed_on_holidays: bool = False,
          periods: dict[str, tuple[str, str]] | None = None, closed_dates: tuple[str, ...] = (),
          extra: tuple[tuple[str, str, str], ...] = ()):
    """A directory of one line, and the line: ``blocks`` are ("mon wed", "17:00", "20:00"),
    ``periods`` {name: ("12-29", "01-03")}, ``extra`` ("2026-11-14", "09:00", "10:00")."""
    periods = periods or {}
    line = {
        "id": "test-line", "name": {"ja": "試験の窓口", "en": "Test line"}, "audience": "anyone",
        "phone": "03-0000-0000", "eligibility": {"ja": "どなたでも", "en": "Anyone"},
        "source": "https://example.org/hours", "checked": "2026-11-01",
        "hours": [{"days": days.split(), "open": open_, "close": close} for days, open_, close in blocks],
        "closed_on_holidays": closed_on_holidays,
        "closed_periods": list(periods),
        "closed_dates": list(closed_dates),
        "extra_openings": [{"date": day, "open": open_, "close": close} for day, open_, close in extra],
    }
    directory = Directory.model_validate({
        "closed_periods": {name: {"name": {"ja": name, "en": name}, "from": first, "to": last}
                           for name, (first, last) in periods.items()},
        "organisations": [{"id": "test-org", "name": {"ja": "試験", "en": "Test"}, "lines": [line]}],
    })
    assert not _semantic_problems(directory), "the line built for this test is one the loader refuses"
    return directory, directory.lines[0]


def status_at(built_line, at: str, **options) -> schedule.Status:
    directory, line = built_line
    return schedule.status(directory, line, jst(at), **options)


def opened(until: str | None) -> schedule.Status:
    return schedule.Status(True, until=None if until is None else jst(until))


def closed(next_open: str | None) -> schedule.Status:
    return schedule.Status(False, next_open=None if next_open is None else jst(next_open))


# -- yearly closed periods ------------------------------------------------------------------


def period(first: str, last: str) -> ClosedPeriod:
    return ClosedPeriod.model_validate({"name": {"ja": "休み", "en": "Break"}, "from": first, "to": last})


@pytest.mark.parametrize(("first", "last", "day", "inside"), [
    # within one year: both ends are closed days
    ("05-01", "05-05", "2026-04-30", False),
    ("05-01", "05-05", "2026-05-01", True),
    ("05-01", "05-05", "2026-05-03", True),
    ("05-01", "05-05", "2026-05-05", True),
    ("05-01", "05-05", "2026-05-06", False),
    ("05-01", "05-05", "2026-12-31", False),
    # one day long: from and to are the same date
    ("08-15", "08-15", "2026-08-14", False),
    ("08-15", "08-15", "2026-08-15", True),
    ("08-15", "08-15", "2026-08-16", False),
    # over the new year
    ("12-29", "01-03", "2026-12-28", False),
    ("12-29", "01-03", "2026-12-29", True),
    ("12-29", "01-03", "2026-12-31", True),
    ("12-29", "01-03", "2027-01-01", True),
    ("12-29", "01-03", "2027-01-03", True),
    ("12-29", "01-03", "2027-01-04", False),
    ("12-29", "01-03", "2027-06-15", False),
    # 29 February: only in leap years
    ("02-29", "02-29", "2028-02-29", True),
    ("02-29", "02-29", "2027-03-01", False),
])
def test_a_yearly_period_includes_both_its_ends(first, last, day, inside):
    assert schedule.in_period(datetime.date.fromisoformat(day), period(first, last)) is inside


LEAP_YEAR = [datetime.date(2024, 1, 1) + datetime.timedelta(days=n) for n in range(366)]


@BOUNDED
@given(first=st.sampled_from(LEAP_YEAR), last=st.sampled_from(LEAP_YEAR),
       day=st.dates(datetime.date(2000, 1, 1), datetime.date(2099, 12, 31)))
@example(first=datetime.date(2024, 12, 29), last=datetime.date(2024, 1, 3), day=datetime.date(2027, 1, 3))
@example(first=datetime.date(2024, 3, 1), last=datetime.date(2024, 2, 29), day=datetime.date(2026, 2, 28))
def test_a_yearly_period_is_the_days_met_walking_the_calendar_from_its_first_to_its_last(first, last, day):
    """The rule stated another way: from the first date, day by day (past 12/31 to 1/1) until
    the last date, in a leap year so that 02-29 is met too."""
    walked, at = [], LEAP_YEAR.index(first)
    while True:
        walked.append((LEAP_YEAR[at].month, LEAP_YEAR[at].day))
        if LEAP_YEAR[at] == last:
            break
        at = (at + 1) % len(LEAP_YEAR)
    closure = period(f"{first:%m-%d}", f"{last:%m-%d}")
    assert schedule.in_period(day, closure) == ((day.month, day.day) in walked)


# -- the hours of one day -------------------------------------------------------------------


@pytest.mark.parametrize(("spans", "merged"), [
    ([], []),
    ([("13:00", "17:00"), ("12:00", "13:00")], [("12:00", "17:00")]),  # touching, given in any order
    ([("09:00", "12:00"), ("13:00", "17:00")], [("09:00", "12:00"), ("13:00", "17:00")]),  # a gap stays
    ([("09:00", "10:00"), ("11:00", "12:00"), ("12:00", "13:00")], [("09:00", "10:00"), ("11:00", "13:00")]),
    ([("09:00", "12:00"), ("11:00", "14:00")], [("09:00", "14:00")]),  # overlapping
    ([("09:00", "10:00"), ("11:00", "15:00"), ("12:00", "13:00")], [("09:00", "10:00"), ("11:00", "15:00")]),
    ([("18:00", "24:00"), ("00:00", "06:00")], [("00:00", "06:00"), ("18:00", "24:00")]),
])
def test_spans_are_sorted_and_touching_or_overlapping_ones_joined(spans, merged):
    as_times = [(clock(a), clock(b)) for a, b in spans]
    assert schedule._merged(as_times) == tuple((clock(a), clock(b)) for a, b in merged)


def test_touching_weekly_blocks_are_one_opening():
    line = built(("mon", "12:00", "13:00"), ("mon", "13:00", "17:00"))
    assert schedule.hours_on(*line, MONDAY) == ((clock("12:00"), clock("17:00")),)
    assert status_at(line, "2026-11-09 12:30") == opened("2026-11-09 17:00")


def test_touching_extra_openings_of_one_date_are_one_opening():
    line = built(("mon", "09:00", "10:00"),
                 extra=(("2026-11-14", "10:00", "12:00"), ("2026-11-14", "12:00", "15:00")))
    assert schedule.day_rule(*line, datetime.date(2026, 11, 14)) == schedule.DayRule(
        "extra", ((clock("10:00"), clock("15:00")),))
    assert status_at(line, "2026-11-14 11:00") == opened("2026-11-14 15:00")


PRECEDENCE = dict(
    closed_on_holidays=True,
    periods={"new-year": ("12-29", "01-03")},
    closed_dates=("2026-11-10", "2026-11-23"),  # a Tuesday, and 勤労感謝の日 (Monday)
    extra=(("2026-11-03", "10:00", "12:00"),  # 文化の日 (Tuesday)
           ("2027-01-02", "10:00", "12:00"),  # in the New Year period
           ("2026-11-11", "13:00", "14:00"), ("2026-11-11", "15:00", "16:00")),  # two on an ordinary day
)
NINE_TO_FIVE = (clock("09:00"), clock("17:00"))


@pytest.mark.parametrize(("day", "rule"), [
    ("2026-11-03", schedule.DayRule("extra", ((clock("10:00"), clock("12:00")),))),  # extra over a holiday
    ("2027-01-02", schedule.DayRule("extra", ((clock("10:00"), clock("12:00")),))),  # extra over a period
    ("2026-11-11", schedule.DayRule("extra", ((clock("13:00"), clock("14:00")), (clock("15:00"), clock("16:00"))))),
    ("2026-11-10", schedule.DayRule("closed", (), "closed_dates")),
    ("2026-11-23", schedule.DayRule("closed", (), "closed_dates")),  # a one-off closure names itself first
    ("2027-01-01", schedule.DayRule("closed", (), "holiday")),  # 元日: the holiday before the period
    ("2026-12-30", schedule.DayRule("closed", (), "new-year")),
    ("2026-11-12", schedule.DayRule("weekly", (NINE_TO_FIVE,))),
    ("2026-11-15", schedule.DayRule("weekly", ())),  # a Sunday: no weekly hours
])
def test_a_days_rule_extra_then_closed_then_weekly(day, rule):
    line = built(("mon tue wed thu fri sat", "09:00", "17:00"), **PRECEDENCE)
    assert schedule.day_rule(*line, datetime.date.fromisoformat(day)) == rule
    assert schedule.hours_on(*line, datetime.date.fromisoformat(day)) == rule.hours


def test_a_holiday_closes_only_a_line_closed_on_holidays():
    open_on_holidays = built(("mon tue wed thu fri", "09:00", "17:00"), closed_on_holidays=False)
    closed_on_holidays = built(("mon tue wed thu fri", "09:00", "17:00"), closed_on_holidays=True)
    culture_day = datetime.date(2026, 11, 3)
    assert schedule.day_rule(*open_on_holidays, culture_day) == schedule.DayRule("weekly", (NINE_TO_FIVE,))
    assert schedule.day_rule(*closed_on_holidays, culture_day) == schedule.DayRule("closed", (), "holiday")


def test_a_years_holidays_are_looked_up_once(monkeypatch):
    """The relay asks for every line's status on each request, and a closed line looks up to
    400 days ahead: building a year's holidays each day (0.1 ms here) would cost 40 ms a line."""
    years = []
    real = holidays.country_holidays

    def counted(*args, **kwargs):
        years.append(kwargs["years"])
        return real(*args, **kwargs)

    monkeypatch.setattr(holidays, "country_holidays", counted)
    schedule._holidays_of.cache_clear()
    day = datetime.date(2026, 1, 1)
    while day.year < 2028:
        schedule.is_national_holiday(day)
        day += datetime.timedelta(days=1)
    assert years == [2026, 2027]
    assert schedule.holiday_name(datetime.date(2027, 1, 1)) == "元日"


# -- open now, and until when ---------------------------------------------------------------


def test_opening_is_inclusive_and_closing_exclusive():
    line = built(("mon", "09:00", "17:00"))
    assert status_at(line, "2026-11-09 08:59:59") == closed("2026-11-09 09:00")
    assert status_at(line, "2026-11-09 09:00") == opened("2026-11-09 17:00")
    assert status_at(line, "2026-11-09 16:59:59.999999") == opened("2026-11-09 17:00")
    assert status_at(line, "2026-11-09 17:00") == closed("2026-11-16 09:00")


@pytest.mark.parametrize(("blocks", "at", "expected"), [
    # until 24:00, nothing the next day: closes at the next day's 0:00
    ([("mon", "18:00", "24:00")], "2026-11-09 20:00", opened("2026-11-10 00:00")),
    # the next day opens later than 0:00: still closes at 0:00
    ([("mon", "18:00", "24:00"), ("tue", "09:00", "17:00")], "2026-11-09 20:00", opened("2026-11-10 00:00")),
    # the next day opens at 0:00: one opening, to the end of the next day's first span
    ([("mon", "18:00", "24:00"), ("tue", "00:00", "06:00"), ("tue", "18:00", "24:00")],
     "2026-11-09 20:00", opened("2026-11-10 06:00")),
    # followed through a whole day open around the clock
    ([("tue", "18:00", "24:00"), ("wed", "00:00", "24:00"), ("thu", "00:00", "12:00")],
     "2026-11-10 20:00", opened("2026-11-12 12:00")),
    # the opening from 0:00 is the same one that began the day before
    ([("mon", "18:00", "24:00"), ("tue", "00:00", "06:00")], "2026-11-10 05:00", opened("2026-11-10 06:00")),
])
def test_an_opening_until_24_00_is_followed_across_midnight(blocks, at, expected):
    assert status_at(built(*blocks), at) == expected


def test_a_closure_stops_an_opening_at_midnight():
    """Open around the clock on Sundays and Mondays, closed on holidays: 11/23 is 勤労感謝の日."""
    line = built(("sun mon", "00:00", "24:00"), closed_on_holidays=True)
    assert status_at(line, "2026-11-22 12:00") == opened("2026-11-23 00:00")
    assert status_at(line, "2026-11-15 12:00") == opened("2026-11-17 00:00")


def test_an_opening_until_24_00_is_open_through_its_last_microsecond():
    """24:00 is stored as 23:59:59.999999; that microsecond once read closed, where the browser's
    badge (which counts minutes) says open.  Found by the property further down."""
    line = built(("mon", "18:00", "24:00"))
    assert status_at(line, "2026-11-09 23:59:59.999999") == opened("2026-11-10 00:00")
    assert status_at(line, "2026-11-10 00:00") == closed("2026-11-16 18:00")


ROUND_THE_CLOCK_TO_WEDNESDAY_NOON = (("mon tue", "00:00", "24:00"), ("wed", "00:00", "12:00"))


@pytest.mark.parametrize(("search_days", "expected"), [
    (3, opened("2026-11-11 12:00")),
    (2, opened("2026-11-11 12:00")),  # two midnights followed: exactly enough
    (1, opened(None)),  # still open after one day: beyond the search
    (0, opened(None)),
    (-1, opened(None)),  # a search of fewer than no days follows no midnight either
])
def test_an_opening_is_followed_for_search_days_days_at_most(search_days, expected):
    line = built(*ROUND_THE_CLOCK_TO_WEDNESDAY_NOON)
    assert status_at(line, "2026-11-09 10:00", search_days=search_days) == expected


def test_a_line_open_around_the_clock_is_open_with_no_end():
    line = built(("mon tue wed thu fri sat sun", "00:00", "24:00"))
    assert status_at(line, "2026-11-09 10:00") == opened(None)
    assert status_at(line, "2026-11-09 10:00", search_days=3) == opened(None)


def test_24_00_is_the_next_days_0_00():
    day = datetime.date(2026, 12, 31)
    assert schedule._at(day, END_OF_DAY) == jst("2027-01-01 00:00")
    assert schedule._at(day, datetime.time(23, 59, 59, 999999)) == jst("2027-01-01 00:00")  # 24:00 by value
    assert schedule._at(day, datetime.time(9, 30)) == jst("2026-12-31 09:30")
    assert schedule._at(day, END_OF_DAY).tzinfo is TOKYO


@pytest.mark.parametrize("copied", [copy.deepcopy, lambda d: pickle.loads(pickle.dumps(d))], ids=["deepcopy", "pickle"])
def test_24_00_is_recognised_by_its_value_in_a_copied_directory(copied):
    """A copy holds another time object equal to END_OF_DAY: it must close the day all the same."""
    directory, line = built(("mon tue wed thu fri sat sun", "00:00", "24:00"))
    copy_of = copied(directory)
    assert copy_of.lines[0].hours[0].close is not END_OF_DAY  # what this test is about
    at = jst("2026-11-09 10:00")
    assert schedule.status(copy_of, copy_of.lines[0], at) == schedule.status(directory, line, at) == opened(None)
    within = schedule.Horizon(MONDAY, MONDAY + datetime.timedelta(days=6))
    assert schedule.embedded(copy_of, copy_of.lines[0], within)["week"] == "0123456:0000-2400"


# -- the next opening -----------------------------------------------------------------------

SPLIT_MONDAY = built(("mon", "09:00", "12:00"), ("mon", "14:00", "17:00"), ("wed", "09:00", "12:00"))


@pytest.mark.parametrize(("at", "expected"), [
    ("2026-11-09 08:59", "2026-11-09 09:00"),
    ("2026-11-09 09:00", "2026-11-09 14:00"),  # the opening starting now does not start after now
    ("2026-11-09 12:00", "2026-11-09 14:00"),
    ("2026-11-09 14:00:01", "2026-11-11 09:00"),
    ("2026-11-09 17:00", "2026-11-11 09:00"),  # a later day's opening counts even at an earlier hour
    ("2026-11-11 10:00", "2026-11-16 09:00"),  # over the weekend
])
def test_the_next_opening_starts_strictly_after_the_instant(at, expected):
    assert schedule.next_opening(*SPLIT_MONDAY, jst(at)) == jst(expected)


@pytest.mark.parametrize(("search_days", "expected"), [
    (6, "2026-11-16 09:00"),
    (5, "2026-11-16 09:00"),  # Monday is 5 days after Wednesday: the last day searched
    (4, None),
    (0, None),
])
def test_the_next_opening_is_searched_on_search_days_days_after_today(search_days, expected):
    at = jst("2026-11-11 12:00")
    found = schedule.next_opening(*SPLIT_MONDAY, at, search_days=search_days)
    assert found == (None if expected is None else jst(expected))
    assert schedule.status(*SPLIT_MONDAY, at, search_days=search_days) == closed(expected)


def test_search_days_zero_looks_at_today_only():
    at = jst("2026-11-09 10:00")
    assert schedule.next_opening(*SPLIT_MONDAY, at, search_days=0) == jst("2026-11-09 14:00")


# -- instants and time zones ----------------------------------------------------------------


class NoOffset(datetime.tzinfo):
    """A time zone that does not know its offset: Python treats such an instant as naive."""

    def utcoffset(self, dt):
        return None

    def dst(self, dt):
        return None

    def tzname(self, dt):
        return "unknown"


@pytest.mark.parametrize("at", [
    datetime.datetime(2026, 11, 9, 10, 0),
    datetime.datetime(2026, 11, 9, 10, 0, tzinfo=NoOffset()),
], ids=["naive", "no offset"])
def test_an_instant_without_an_offset_is_refused(at):
    line = built(("mon", "09:00", "17:00"))
    with pytest.raises(ValueError, match="naive"):
        schedule.tokyo(at)
    with pytest.raises(ValueError, match="naive"):
        schedule.status(*line, at)
    with pytest.raises(ValueError, match="naive"):
        schedule.next_opening(*line, at)


def test_an_aware_instant_is_read_on_the_tokyo_clock():
    at = schedule.tokyo(datetime.datetime(2026, 11, 8, 15, 30, tzinfo=UTC))
    assert at == jst("2026-11-09 00:30") and at.tzinfo is TOKYO and at.hour == 0


@pytest.mark.parametrize(("utc", "expected"), [
    ("2026-11-08 15:30", opened("2026-11-09 01:00")),  # Sunday in UTC, Monday 0:30 in Tokyo
    ("2026-11-08 14:30", closed("2026-11-09 00:00")),  # Sunday 23:30 in Tokyo: opens in half an hour
    ("2026-11-09 15:30", closed("2026-11-16 00:00")),  # Monday in UTC, Tuesday 0:30 in Tokyo
])
def test_the_tokyo_date_decides_even_from_another_time_zone(utc, expected):
    line = built(("mon", "00:00", "01:00"))
    instant = datetime.datetime.fromisoformat(utc).replace(tzinfo=UTC)
    assert schedule.status(*line, instant) == expected
    los_angeles = instant.astimezone(ZoneInfo("America/Los_Angeles"))
    assert schedule.status(*line, los_angeles) == expected


# -- a property: the answers agree at their own edges ------------------------------------------

HALF_HOURS = [datetime.time(n // 2, 30 * (n % 2)) for n in range(48)] + [END_OF_DAY]


@st.composite
def weeks(draw):
    """Up to two openings on each day, on the half hour, neither touching nor overlapping; at
    least one in the week (a line with regular hours has some)."""
    blocks = []
    for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun"):
        edges = sorted(draw(st.sets(st.integers(0, 48), max_size=4)))
        edges = edges[: len(edges) // 2 * 2]
        for start, end in zip(edges[::2], edges[1::2]):
            blocks.append((day, f"{HALF_HOURS[start]:%H:%M}", "24:00" if end == 48 else f"{HALF_HOURS[end]:%H:%M}"))
    return blocks


@settings(max_examples=100, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(blocks=weeks().filter(bool), minutes=st.integers(0, 14 * 24 * 60 - 1))
@example(blocks=[("mon", "00:00", "24:00"), ("tue", "00:00", "09:00")], minutes=0)
@example(blocks=[("sun", "23:00", "24:00"), ("mon", "00:00", "09:00")], minutes=6 * 24 * 60 + 30)
@example(blocks=[("mon", "18:00", "24:00")], minutes=20 * 60)
def test_open_until_its_end_and_closed_until_its_next_opening(blocks, minutes):
    """Open: closed again at ``until``.  Closed: open at ``next_open`` and not a microsecond before."""
    directory, line = built(*blocks)
    at = jst("2026-11-09 00:00") + datetime.timedelta(minutes=minutes)
    now = schedule.status(directory, line, at, search_days=14)
    just = datetime.timedelta(microseconds=1)
    if now.is_open:
        assert now.next_open is None
        if now.until is not None:
            assert now.until > at
            assert not schedule.status(directory, line, now.until, search_days=14).is_open
            assert schedule.status(directory, line, now.until - just, search_days=14).is_open
    else:
        assert now.until is None and now.next_open is not None  # within the next week
        assert now.next_open > at
        assert schedule.status(directory, line, now.next_open, search_days=14).is_open
        assert not schedule.status(directory, line, now.next_open - just, search_days=14).is_open


# -- what the page carries ------------------------------------------------------------------


def test_the_horizon_warns_under_60_days():
    assert schedule.Horizon(MONDAY, MONDAY + datetime.timedelta(days=60)).days == 60
    assert not schedule.Horizon(MONDAY, MONDAY + datetime.timedelta(days=60)).ends_soon()
    assert schedule.Horizon(MONDAY, MONDAY + datetime.timedelta(days=59)).ends_soon()


def test_the_horizon_runs_the_days_asked_for_from_the_build():
    assert schedule.horizon(MONDAY, 10) == schedule.Horizon(MONDAY, datetime.date(2026, 11, 19))
    assert schedule.horizon(MONDAY, 10).days == 10


@pytest.mark.parametrize(("time", "text"), [
    (datetime.time(0, 0), "0000"),
    (datetime.time(9, 5), "0905"),
    (datetime.time(23, 59), "2359"),
    (END_OF_DAY, "2400"),
    (datetime.time(23, 59, 59, 999999), "2400"),  # the same value as END_OF_DAY, another object
])
def test_a_time_on_the_page_is_hhmm_and_the_end_of_the_day_2400(time, text):
    assert schedule._hhmm(time) == text


@pytest.mark.parametrize(("offsets", "text"), [
    ([], ""),
    ([5], "5"),
    ([3, 4, 5, 9], "3-5 9"),
    ([1, 3, 4], "1 3-4"),
    ([0, 1, 3, 4, 6], "0-1 3-4 6"),  # runs one day apart stay apart
    ([255, 256, 257, 258], "255-258"),
    ([300, 301, 302, 399], "300-302 399"),  # past 256: numbers CPython does not share
])
def test_closed_days_are_written_as_runs(offsets, text):
    assert schedule._ranges(offsets) == text


def test_embedded_writes_each_rule_of_the_horizon_both_ends_included():
    """Nine days from Monday 11/9 to Wednesday 11/18: an odd count, and something on each end."""
    directory, line = built(
        ("mon wed", "17:00", "20:00"), ("sat", "10:00", "12:00"), ("sat", "17:00", "20:00"),
        closed_dates=("2026-11-09", "2026-11-11", "2026-11-12", "2026-11-18", "2026-11-19"),
        extra=(("2026-11-14", "09:00", "10:00"), ("2026-11-14", "18:00", "24:00"), ("2026-11-17", "09:00", "10:00")),
    )
    within = schedule.Horizon(MONDAY, datetime.date(2026, 11, 18))
    assert within.days == 9
    assert schedule.embedded(directory, line, within) == {
        "week": "025:1700-2000 5:1000-1200",
        "closed": "0 2-3 9",
        "extra": "5:0900-1000 5:1800-2400 8:0900-1000",
        "from": "2026-11-09",
        "until": "2026-11-18",
    }
    shorter = schedule.Horizon(MONDAY, datetime.date(2026, 11, 17))
    assert schedule.embedded(directory, line, shorter)["closed"] == "0 2-3"
    assert schedule.embedded(directory, line, shorter)["extra"] == "5:0900-1000 5:1800-2400 8:0900-1000"


def test_embedded_writes_a_late_new_year_as_one_run():
    """From 1 March the New Year period is days 303 to 308 of the page's 400."""
    directory, line = built(("mon tue wed thu fri", "09:00", "17:00"), periods={"new-year": ("12-29", "01-03")})
    data = schedule.embedded(directory, line, schedule.horizon(datetime.date(2026, 3, 1)))
    assert data["closed"] == "303-308"
    assert data["week"] == "01234:0900-1700" and data["extra"] == ""
