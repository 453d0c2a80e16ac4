"""The words of safeline/hotlines/hours.py, called directly, in both languages.

Small directories are written here as YAML and loaded through the real model, so each case
holds only what it is about: a closed period over the year end or on a leap day, one-off
closures and openings around today, a day set, a clock time, the badge's words far ahead.
The expected words are the site's: full-width （ ） and the wave dash 〜 (U+301C) in Japanese,
Babel's English (a thin space around the en dash of a date range).
"""

from __future__ import annotations

import datetime
from zoneinfo import ZoneInfo

import pytest

from safeline.hotlines import hours, schedule
from safeline.hotlines.model import END_OF_DAY, Line, load
from tests.support.site import catalog

LANGS = ("ja", "en")
TOKYO = ZoneInfo("Asia/Tokyo")
TODAY = datetime.date(2027, 5, 6)  # a Thursday

PERIODS = """\
closed_periods:
  new-year:
    name: {ja: 年末年始, en: the New Year holidays}
    from: "12-29"
    to: "01-03"
  new-year-assumed:
    name: {ja: 年末年始, en: the New Year holidays}
    from: "12-29"
    to: "01-03"
    assumed: {ja: 役所の休みにならった日付です。, en: Dates of the government offices' closure.}
  summer:
    name: {ja: 夏季休業, en: the summer break}
    from: "08-13"
    to: "08-16"
  leap-day:
    name: {ja: 点検日, en: the maintenance day}
    from: "02-29"
    to: "02-29"
  to-leap-day:
    name: {ja: 冬季休業, en: the winter break}
    from: "02-20"
    to: "02-29"
  over-the-year-to-leap-day:
    name: {ja: 冬季休業, en: the winter break}
    from: "12-01"
    to: "02-29"
  from-leap-day:
    name: {ja: 点検期間, en: the maintenance days}
    from: "02-29"
    to: "03-01"
"""

LINE = """\
organisations:
  - id: test-organisation
    name: {{ja: 相談窓口, en: Helpline}}
    lines:
      - id: test-line
        name: {{ja: 相談の電話, en: Helpline}}
        audience: anyone
        phone: "03-5467-2455"
        hours:
          - days: [mon]
            open: "17:00"
            close: "20:00"
        closed_on_holidays: {holidays}
        closed_periods: [{periods}]
        closed_dates: [{dates}]
        extra_openings: [{extra}]
        eligibility: {{ja: 全国どこからでも, en: Anyone in Japan}}
        source: "https://www.example.go.jp/hotline.html"
        checked: "2026-12-02"
"""


def directory(tmp_path, *, holidays=False, periods=(), dates=(), extra=()):
    """A directory of one line (Mondays 17:00–20:00) with these closures and one-off openings."""
    path = tmp_path / "hotlines.yaml"
    path.write_text(PERIODS + LINE.format(
        holidays="true" if holidays else "false",
        periods=", ".join(periods),
        dates=", ".join(f'"{day}"' for day in dates),
        extra=", ".join(f'{{date: "{day}", open: "{start}", close: "{end}"}}' for day, start, end in extra),
    ), encoding="utf-8")
    return load(path)


def closures(found, lang: str, today: datetime.date | None = None) -> str | None:
    return hours.closures_text(found, found.lines[0], catalog(lang).gettext, lang, today=today)


def jst(text: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(text).replace(tzinfo=TOKYO)


# -- typeset: the site's Japanese marks --------------------------------------------------------


BABEL_MARKS = "12月29日～1月3日、2027年5月6日(木)"


@pytest.mark.parametrize("locale", ["ja", "ja_JP"])
def test_japanese_gets_the_wave_dash_and_full_width_brackets(locale):
    assert hours.typeset(BABEL_MARKS, locale) == "12月29日\u301c1月3日、2027年5月6日\uff08木\uff09"


@pytest.mark.parametrize("locale", ["en", "en_GB", "fr", "ko", "zh_Hant"])
def test_other_languages_keep_their_marks(locale):
    """Only Japanese is retypeset, whatever sorts before or after "ja"."""
    assert hours.typeset("Dec 29 ～ Jan 3 (Thu)", locale) == "Dec 29 ～ Jan 3 (Thu)"


# -- days and clock times ----------------------------------------------------------------------


@pytest.mark.parametrize(("days", "ja", "en"), [
    (["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "毎日", "Every day"),
    (["mon", "tue", "wed", "thu", "fri"], "平日", "Weekdays"),
    (["sat", "sun"], "土曜日・日曜日", "Weekends"),
    (["sun", "sat"], "土曜日・日曜日", "Weekends"),  # in the week's order, however written
    (["sun"], "日曜日", "Sunday"),
    (["fri", "sat", "sun"], "金曜日、土曜日、日曜日", "Friday, Saturday, and Sunday"),
    (["mon", "wed"], "月曜日、水曜日", "Monday and Wednesday"),
])
def test_days_in_words(days, ja, en):
    assert hours.days_text(days, catalog("ja").gettext, "ja") == ja
    assert hours.days_text(days, catalog("en").gettext, "en") == en


@pytest.mark.parametrize("lang", LANGS)
def test_clock_times(lang):
    assert hours.clock_text(datetime.time(9, 0), lang) == "9:00"
    assert hours.clock_text(datetime.time(17, 15), lang) == "17:15"
    assert hours.clock_text(END_OF_DAY, lang) == "24:00"
    # the end of the day by its value, not only the model's own object
    assert hours.clock_text(datetime.time(23, 59, 59, 999999), lang) == "24:00"


# -- closures ----------------------------------------------------------------------------------


def test_no_closure_is_no_words(tmp_path):
    found = directory(tmp_path)
    assert closures(found, "ja") is None
    assert closures(found, "en") is None


def test_a_period_over_the_year_end_reads_forward(tmp_path):
    found = directory(tmp_path, periods=["new-year"])
    assert closures(found, "ja") == "年末年始（12月29日〜1月3日）"
    assert closures(found, "en") == "the New Year holidays (Dec 29\u2009–\u2009Jan 3)"


def test_holidays_then_periods_in_order_an_assumed_one_by_name_alone(tmp_path):
    found = directory(tmp_path, holidays=True, periods=["new-year-assumed", "summer"])
    assert closures(found, "ja") == "祝日、年末年始、夏季休業（8月13日〜16日）"
    assert closures(found, "en") == "national holidays, the New Year holidays, and the summer break (Aug 13\u2009–\u200916)"


@pytest.mark.parametrize(("period", "ja", "en"), [
    ("leap-day", "点検日（2月29日）", "the maintenance day (Feb 29)"),
    ("to-leap-day", "冬季休業（2月20日〜29日）", "the winter break (Feb 20\u2009–\u200929)"),
    ("over-the-year-to-leap-day", "冬季休業（12月1日〜2月29日）", "the winter break (Dec 1\u2009–\u2009Feb 29)"),
    ("from-leap-day", "点検期間（2月29日〜3月1日）", "the maintenance days (Feb 29\u2009–\u2009Mar 1)"),
])
def test_a_period_may_start_or_end_on_the_leap_day(tmp_path, period, ja, en):
    """The model accepts "02-29" as a bound (it checks month-days against a leap year)."""
    found = directory(tmp_path, periods=[period])
    assert closures(found, "ja") == ja
    assert closures(found, "en") == en


def test_one_off_closures_from_today_on_in_date_order(tmp_path):
    found = directory(tmp_path, holidays=True, dates=["2027-05-20", "2027-05-05", "2027-05-06", "2027-05-07"])
    assert closures(found, "ja", today=TODAY) == "祝日、2027年5月6日（木）、2027年5月7日（金）、2027年5月20日（木）"
    assert closures(found, "en", today=TODAY) == (
        "national holidays, Thu, May 6, 2027, Fri, May 7, 2027, and Thu, May 20, 2027"
    )


def test_without_a_today_every_one_off_closure_is_listed(tmp_path):
    found = directory(tmp_path, dates=["2027-05-06", "2027-05-05"])
    assert closures(found, "ja") == "2027年5月5日（水）、2027年5月6日（木）"
    assert closures(found, "en") == "Wed, May 5, 2027 and Thu, May 6, 2027"


def test_past_one_off_closures_alone_are_no_words(tmp_path):
    found = directory(tmp_path, dates=["2027-05-05"])
    assert closures(found, "ja", today=TODAY) is None
    assert closures(found, "en", today=TODAY) is None


# -- one-off openings --------------------------------------------------------------------------


def test_one_off_openings_from_today_on_by_date_then_time(tmp_path):
    found = directory(tmp_path, extra=[("2027-05-07", "13:00", "15:00"), ("2027-05-05", "10:00", "12:00"),
                                       ("2027-05-07", "09:00", "11:00"), ("2027-05-06", "10:00", "16:00")])
    line: Line = found.lines[0]
    upcoming = [(e.date.isoformat(), f"{e.open:%H:%M}") for e in hours.upcoming_extra_openings(line, today=TODAY)]
    assert upcoming == [("2027-05-06", "10:00"), ("2027-05-07", "09:00"), ("2027-05-07", "13:00")]
    every = [(e.date.isoformat(), f"{e.open:%H:%M}") for e in hours.upcoming_extra_openings(line)]
    assert every == [("2027-05-05", "10:00"), *upcoming]
    first = hours.upcoming_extra_openings(line, today=TODAY)[0]
    assert hours.extra_opening_text(first, catalog("ja").gettext, "ja") == "2027年5月6日（木） 10:00〜16:00"
    assert hours.extra_opening_text(first, catalog("en").gettext, "en") == "Thu, May 6, 2027, 10:00–16:00"


def test_no_one_off_opening_is_left_once_they_are_past(tmp_path):
    found = directory(tmp_path, extra=[("2027-05-05", "10:00", "12:00")])
    assert hours.upcoming_extra_openings(found.lines[0], today=TODAY) == []


# -- the badge ---------------------------------------------------------------------------------


def test_the_badge_carries_all_twelve_months():
    assert hours.badge_texts(catalog("ja").gettext, "ja")["months"] == "|".join(f"{m}月" for m in range(1, 13))
    assert hours.badge_texts(catalog("en").gettext, "en")["months"] == (
        "Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec"
    )


@pytest.mark.parametrize(("at", "next_open", "ja", "en"), [
    # six days ahead: the weekday alone
    ("2027-02-01 12:00", "2027-02-07 09:00", "受付時間外（次は 日曜 9:00 から）", "Closed now (next: Sunday 9:00)"),
    # a week or more ahead: the date, its month counted from January (even months too)
    ("2027-02-01 12:00", "2027-02-09 09:00", "受付時間外（次は 2月9日 火曜 9:00 から）",
     "Closed now (next: Tuesday 9 Feb 9:00)"),
    ("2027-04-01 12:00", "2027-04-19 17:00", "受付時間外（次は 4月19日 月曜 17:00 から）",
     "Closed now (next: Monday 19 Apr 17:00)"),
    ("2026-12-01 12:00", "2026-12-14 17:00", "受付時間外（次は 12月14日 月曜 17:00 から）",
     "Closed now (next: Monday 14 Dec 17:00)"),
    ("2026-12-28 21:00", "2027-01-11 17:00", "受付時間外（次は 1月11日 月曜 17:00 から）",
     "Closed now (next: Monday 11 Jan 17:00)"),
])
def test_the_next_opening_in_words(at, next_open, ja, en):
    status = schedule.Status(False, next_open=jst(next_open))
    for lang, words in (("ja", ja), ("en", en)):
        assert hours.status_text(status, jst(at), hours.badge_texts(catalog(lang).gettext, lang)) == words
