"""The schedule engine at fixed instants: open or not, until when, and when next.

The lines are the real ones of data/hotlines.yaml:
- tokyo-womens-plaza-women: every day 9:00–21:00, open on holidays, closed 12/29–1/3;
- tokyo-womens-plaza-men: Monday and Wednesday 17:00–20:00, closed on holidays and 12/29–1/3;
- moj-minna-no-jinken (and moj-women): weekdays 8:30–17:15, closed on holidays and 12/29–1/3.
"""

from __future__ import annotations

import datetime
from zoneinfo import ZoneInfo

import jpholiday
import pytest

from tests.support.hotlines import with_men_line
from tests.support.site import ROOT
from safeline.hotlines import hours, schedule
from safeline.hotlines.model import load

DIRECTORY = load(ROOT / "data" / "hotlines.yaml")
LINES = {line.id: line for line in DIRECTORY.lines}
TOKYO = ZoneInfo("Asia/Tokyo")
WOMEN, MEN, MOJ = "tokyo-womens-plaza-women", "tokyo-womens-plaza-men", "moj-minna-no-jinken"


def jst(text: str) -> datetime.datetime:
    """'2026-09-21 17:00' on the Tokyo clock."""
    return datetime.datetime.fromisoformat(text).replace(tzinfo=TOKYO)


def status(line_id: str, at: str, directory=DIRECTORY):
    return schedule.status(directory, directory_line(directory, line_id), jst(at))


def directory_line(directory, line_id):
    return next(line for line in directory.lines if line.id == line_id)


def is_open(line_id, at, until):
    return status(line_id, at) == schedule.Status(True, until=jst(until))


def is_closed(line_id, at, next_open):
    return status(line_id, at) == schedule.Status(False, next_open=jst(next_open))


# (what, line, instant, open?, until or next opening)
CASES = [
    ("20:59 is open until 21:00", WOMEN, "2026-10-07 20:59", True, "2026-10-07 21:00"),
    ("20:59:59 too", WOMEN, "2026-10-07 20:59:59", True, "2026-10-07 21:00"),
    ("21:00 is closed, next tomorrow 9:00", WOMEN, "2026-10-07 21:00", False, "2026-10-08 09:00"),
    ("before opening: today", WOMEN, "2026-10-08 08:59", False, "2026-10-08 09:00"),
    ("opening time is open", MOJ, "2026-10-08 08:30", True, "2026-10-08 17:15"),
    ("17:15 is closed", MOJ, "2026-10-08 17:15", False, "2026-10-09 08:30"),
    ("Friday evening: next Monday", MOJ, "2026-10-09 18:00", False, "2026-10-13 08:30"),  # 10/12 スポーツの日
    # a national holiday on a Monday: 2026-09-21 敬老の日, then 9/22 国民の休日, 9/23 秋分の日
    ("holiday Monday, a line that opens on holidays", WOMEN, "2026-09-21 12:00", True, "2026-09-21 21:00"),
    ("holiday Monday, the men's line", MEN, "2026-09-21 17:30", False, "2026-09-28 17:00"),
    ("holiday Monday, weekdays line", MOJ, "2026-09-21 12:00", False, "2026-09-24 08:30"),
    ("citizens' holiday 2026-09-22", MOJ, "2026-09-22 12:00", False, "2026-09-24 08:30"),
    ("citizens' holiday, open on holidays", WOMEN, "2026-09-22 12:00", True, "2026-09-22 21:00"),
    ("autumn equinox on a Wednesday", MEN, "2026-09-23 17:30", False, "2026-09-28 17:00"),
    ("the next ordinary Monday", MEN, "2026-09-28 17:00", True, "2026-09-28 20:00"),
    # a substitute holiday: 2026-05-03 (Sunday) moves to Wednesday 5/6
    ("substitute holiday on Wednesday", MEN, "2026-05-06 17:30", False, "2026-05-11 17:00"),
    ("substitute holiday, weekdays line", MOJ, "2026-05-06 09:00", False, "2026-05-07 08:30"),
    ("substitute holiday 2027-03-22", MOJ, "2027-03-22 09:00", False, "2027-03-23 08:30"),
    # the New Year period 12/29 to 1/3
    ("12/28 open until 21:00", WOMEN, "2026-12-28 20:59", True, "2026-12-28 21:00"),
    ("12/28 21:00: next after the New Year", WOMEN, "2026-12-28 21:00", False, "2027-01-04 09:00"),
    ("12/29 0:00", WOMEN, "2026-12-29 00:00", False, "2027-01-04 09:00"),
    ("12/28 Monday, weekdays line", MOJ, "2026-12-28 17:14", True, "2026-12-28 17:15"),
    ("12/29 weekdays line", MOJ, "2026-12-29 09:00", False, "2027-01-04 08:30"),
    ("1/3 23:59", WOMEN, "2027-01-03 23:59", False, "2027-01-04 09:00"),
    ("1/4 9:00", WOMEN, "2027-01-04 09:00", True, "2027-01-04 21:00"),
    ("1/4 Monday, the men's line", MEN, "2027-01-04 17:00", True, "2027-01-04 20:00"),
    ("New Year's Day", MEN, "2027-01-01 12:00", False, "2027-01-04 17:00"),
    ("weekend", MOJ, "2026-10-03 12:00", False, "2026-10-05 08:30"),
]


@pytest.mark.parametrize(("line_id", "at", "opened", "when"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_status_at_fixed_instants(line_id, at, opened, when):
    assert is_open(line_id, at, when) if opened else is_closed(line_id, at, when)


def test_the_visitors_time_zone_does_not_matter():
    """The same instant written in Los Angeles time gives the same answer as in Tokyo time."""
    los_angeles = ZoneInfo("America/Los_Angeles")
    for _, line_id, at, _, _ in CASES:
        instant = jst(at)
        elsewhere = instant.astimezone(los_angeles)
        assert elsewhere.date() != instant.date() or elsewhere.hour != instant.hour
        line = LINES[line_id]
        assert schedule.status(DIRECTORY, line, elsewhere) == schedule.status(DIRECTORY, line, instant)
    utc = jst("2026-12-28 20:59").astimezone(datetime.timezone.utc)  # 11:59 UTC
    assert schedule.status(DIRECTORY, LINES[WOMEN], utc).is_open


def test_a_naive_instant_is_refused():
    with pytest.raises(ValueError, match="naive"):
        schedule.status(DIRECTORY, LINES[WOMEN], datetime.datetime(2026, 10, 7, 12, 0))


def test_national_holidays_agree_with_jpholiday_this_year_and_next():
    year = schedule.today().year
    day = datetime.date(year, 1, 1)
    checked = disagreements = 0
    while day.year <= year + 1:
        if schedule.is_national_holiday(day) != jpholiday.is_holiday(day):
            disagreements += 1
            print(day, schedule.holiday_name(day), jpholiday.is_holiday_name(day))
        checked += 1
        day += datetime.timedelta(days=1)
    assert checked >= 730 and disagreements == 0


@pytest.mark.parametrize(("day", "name"), [
    ("2026-09-21", "敬老の日"), ("2026-09-22", "国民の休日"), ("2026-09-23", "秋分の日"),
    ("2026-05-06", "振替休日"), ("2027-03-22", "振替休日"), ("2027-01-01", "元日"),
])
def test_the_holidays_the_cases_rely_on(day, name):
    assert name in schedule.holiday_name(datetime.date.fromisoformat(day))


def test_the_new_year_period_is_no_national_holiday_but_closes_lines():
    assert not schedule.is_national_holiday(datetime.date(2026, 12, 29))
    rule = schedule.day_rule(DIRECTORY, LINES[WOMEN], datetime.date(2026, 12, 29))
    assert (rule.kind, rule.reason) == ("closed", "new-year")


# -- one-off closures and extra openings ----------------------------------------------------

ONE_OFFS = with_men_line(
    '        closed_dates: ["2026-10-07"]\n'
    "        extra_openings:\n"
    '          - date: "2026-09-21"\n            open: "13:00"\n            close: "16:00"\n'
    '          - date: "2027-01-02"\n            open: "10:00"\n            close: "12:00"\n'
    '          - date: "2026-10-05"\n            open: "10:00"\n            close: "12:00"\n'
)


@pytest.fixture(scope="module")
def one_offs(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "hotlines.yaml"
    path.write_text(ONE_OFFS, encoding="utf-8")
    directory = load(path)
    assert directory_line(directory, MEN).closed_dates  # the edit reached the men's line
    return directory


@pytest.mark.parametrize(("at", "opened", "when"), [
    ("2026-09-21 12:59", False, "2026-09-21 13:00"),  # an extra opening on a holiday opens the line…
    ("2026-09-21 13:00", True, "2026-09-21 16:00"),
    ("2026-09-21 17:30", False, "2026-09-28 17:00"),  # …with its own hours, instead of the usual ones
    ("2026-10-05 11:00", True, "2026-10-05 12:00"),  # an ordinary Monday with other hours
    # 10/7 (Wednesday) is a one-off closure, 10/12 (Monday) スポーツの日
    ("2026-10-05 17:30", False, "2026-10-14 17:00"),
    ("2026-10-07 17:30", False, "2026-10-14 17:00"),
    ("2027-01-02 11:00", True, "2027-01-02 12:00"),  # an extra opening in the New Year period opens
    ("2026-12-31 12:00", False, "2027-01-02 10:00"),
])
def test_one_off_closures_and_extra_openings(one_offs, at, opened, when):
    expected = schedule.Status(True, until=jst(when)) if opened else schedule.Status(False, next_open=jst(when))
    assert status(MEN, at, one_offs) == expected


# -- what the page carries ------------------------------------------------------------------


def days_of(runs: str) -> set[int]:
    """ "3-5 9" → {3, 4, 5, 9}, as hours.js reads it."""
    days = set()
    for run in runs.split():
        first, _, last = run.partition("-")
        days.update(range(int(first), int(last or first) + 1))
    return days


def test_embedded_data_covers_400_days_in_a_compact_form(one_offs):
    within = schedule.horizon(datetime.date(2026, 9, 1))
    assert within.days >= 400 and not within.ends_soon()
    data = schedule.embedded(one_offs, directory_line(one_offs, MEN), within)
    assert data["week"] == "02:1700-2000"
    assert (data["from"], data["until"]) == ("2026-09-01", (datetime.date(2026, 9, 1) + datetime.timedelta(days=400)).isoformat())
    # day 20 (9/21) is an extra opening, not a closed day; 9/22 and 9/23 are holidays; 10/7 (36) a one-off
    # closure; the New Year period is 119 to 124, less 1/2 (123), an extra opening
    assert data["extra"] == "20:1300-1600 34:1000-1200 123:1000-1200"
    assert {"21-22", "36", "119-122", "124"} <= set(data["closed"].split())
    assert not {20, 34, 123} & days_of(data["closed"])


def test_embedded_closed_days_are_exactly_the_engines():
    """Decode the compact list and compare it with day_rule for every day of the horizon."""
    within = schedule.horizon(datetime.date(2026, 1, 1))
    for line in DIRECTORY.lines:
        closed = days_of(schedule.embedded(DIRECTORY, line, within)["closed"])
        for offset in range(within.days + 1):
            day = within.start + datetime.timedelta(days=offset)
            assert (offset in closed) == (schedule.day_rule(DIRECTORY, line, day).kind == "closed"), (line.id, day)


def test_the_horizon_stops_where_the_holiday_data_stops():
    near_the_end = schedule.horizon(datetime.date(2099, 12, 1))
    assert near_the_end.end == datetime.date(2099, 12, 31)
    assert near_the_end.ends_soon()


# -- the badge's words ----------------------------------------------------------------------


def texts(lang: str) -> dict[str, str]:
    from tests.support.site import catalog

    return hours.badge_texts(catalog(lang).gettext, lang)


@pytest.mark.parametrize(("line_id", "at", "ja", "en"), [
    (WOMEN, "2026-10-07 20:59", "受付中（21:00まで）", "Open now (until 21:00)"),
    (WOMEN, "2026-10-07 21:00", "受付時間外（次は 明日 9:00 から）", "Closed now (next: tomorrow 9:00)"),
    (MOJ, "2026-10-08 08:00", "受付時間外（次は 今日 8:30 から）", "Closed now (next: today 8:30)"),
    (MEN, "2026-10-08 12:00", "受付時間外（次は 水曜 17:00 から）", "Closed now (next: Wednesday 17:00)"),
    (MEN, "2026-09-21 17:30", "受付時間外（次は 9月28日 月曜 17:00 から）", "Closed now (next: Monday 28 Sep 17:00)"),
])
def test_status_in_words(line_id, at, ja, en):
    result = status(line_id, at)
    assert hours.status_text(result, jst(at), texts("ja")) == ja
    assert hours.status_text(result, jst(at), texts("en")) == en
