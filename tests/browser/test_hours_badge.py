"""The live badge in a real browser says what the Python schedule engine says.

The site is built with its first day pinned (``HOTLINES_TODAY``) so that the instants below,
around real transitions of the real lines of data/hotlines.yaml, lie inside the data it
carries.  The browser's clock is fixed at each instant and its time zone is Los Angeles (16
or 17 hours behind Tokyo, with daylight saving time): the badge must still speak Tokyo time.
The expected words are the engine's answer, written with the same catalog strings.
"""

from __future__ import annotations

import datetime
from zoneinfo import ZoneInfo

import pytest

from safeline.hotlines import hours, schedule
from safeline.hotlines.model import load
from tests.support.browser import new_page
from tests.support.site import ROOT, catalog, output_file

DIRECTORY = load(ROOT / "data" / "hotlines.yaml")
TOKYO = ZoneInfo("Asia/Tokyo")
FIRST_DAY = datetime.date(2026, 1, 1)
HORIZON = schedule.horizon(FIRST_DAY)

# Tokyo wall-clock instants; the comments say which line they test.
INSTANTS = [
    "2026-03-08 19:00",  # the hour Los Angeles changes to daylight saving time (Sunday in Tokyo)
    "2026-05-01 08:29",  # weekdays lines: a minute before opening
    "2026-05-01 08:30",  # … opening
    "2026-05-01 17:14",  # … a minute before closing
    "2026-05-01 17:15",  # … closing: next is after the weekend and Golden Week
    "2026-05-02 12:00",  # Saturday
    "2026-05-03 10:00",  # 憲法記念日 on a Sunday
    "2026-05-04 17:30",  # みどりの日, a Monday holiday: the men's line is closed
    "2026-05-06 17:30",  # 振替休日 (substitute holiday) on a Wednesday
    "2026-05-07 08:30",  # the first working day after
    "2026-05-11 16:59",  # the men's line: opens today at 17:00
    "2026-05-11 17:00",
    "2026-05-11 19:59",
    "2026-05-11 20:00",
    "2026-06-14 23:59",  # Sunday night: weekdays lines open tomorrow
    "2026-06-15 00:00",  # … and now today
    "2026-09-18 17:15",  # Friday evening before the September holidays: next is 6 days ahead
    "2026-09-20 20:00",  # the men's line: next is 8 days ahead (a date, not a weekday)
    "2026-09-21 12:00",  # 敬老の日 (Monday)
    "2026-09-22 12:00",  # 国民の休日 (the citizens' holiday between two holidays)
    "2026-09-23 17:30",  # 秋分の日 (Wednesday)
    "2026-09-24 08:29",
    "2026-11-01 18:00",  # the hour Los Angeles leaves daylight saving time (Sunday in Tokyo)
    "2026-11-23 17:30",  # 勤労感謝の日 (Monday)
    "2026-12-28 08:59",  # the last working day of the year
    "2026-12-28 17:14",
    "2026-12-28 20:59",  # the women's line open until 21:00…
    "2026-12-28 21:00",  # … then closed until 1/4
    "2026-12-29 00:00",  # the New Year period begins
    "2026-12-29 09:00",
    "2027-01-01 12:00",  # 元日
    "2027-01-03 23:59",  # the last minute of the period
    "2027-01-04 00:00",  # the first minute after it
    "2027-01-04 08:59",
    "2027-01-04 09:00",
    "2027-01-04 17:00",  # the men's line opens on the first Monday of the year
    "2027-01-11 17:30",  # 成人の日 (Monday)
]


def at(text: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(text).replace(tzinfo=TOKYO)


def expected(instant: datetime.datetime, lang: str) -> dict[str, str | None]:
    """Each line's words by the engine, searching no further than the page's data reaches;
    ``None`` for a line whose hours differ from place to place (it has no badge)."""
    texts = hours.badge_texts(catalog(lang).gettext, lang)
    reach = (HORIZON.end - instant.date()).days
    return {
        line.id: hours.status_text(schedule.status(DIRECTORY, line, instant, search_days=reach), instant, texts)
        if line.regular else None
        for line in DIRECTORY.lines
    }


READ_BADGES = """() => Object.fromEntries(Array.from(document.querySelectorAll('article.line'), (line) => {
  const badge = line.querySelector('.now');
  return [line.id, !badge || badge.hidden ? null : badge.textContent];
}))"""


@pytest.fixture(scope="module")
def pinned_site(site_built_on) -> str:
    return site_built_on(FIRST_DAY)


@pytest.fixture(scope="module")
def in_los_angeles(browser):
    context = browser.new_context(timezone_id="America/Los_Angeles")
    yield context
    context.close()


def badges_at(context, url: str, instant: datetime.datetime):
    watched = new_page(context)
    try:
        watched.page.clock.set_fixed_time(instant)
        watched.page.goto(url)
        local = watched.page.evaluate("() => [new Date().getHours(), new Date().getTimezoneOffset()]")
        return watched, watched.page.evaluate(READ_BADGES), local
    finally:
        watched.page.close()


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_the_badge_agrees_with_the_engine(in_los_angeles, pinned_site, lang):
    assert len(INSTANTS) >= 30
    url = pinned_site + output_file("support", lang).removesuffix("index.html")
    mismatches = []
    for text in INSTANTS:
        instant = at(text)
        watched, shown, (local_hour, offset) = badges_at(in_los_angeles, url, instant)
        assert offset in (420, 480), "the browser is not on Los Angeles time"
        assert local_hour == instant.astimezone(ZoneInfo("America/Los_Angeles")).hour
        assert watched.errors == [] and watched.foreign_requests(pinned_site) == []
        want = expected(instant, lang)
        if shown != want:
            mismatches.append((text, shown, want))
    assert mismatches == []


def test_the_words_read_as_intended(in_los_angeles, pinned_site):
    """A few answers spelled out, so that the engine and the badge cannot agree on nonsense."""
    url = pinned_site + "support/"
    _, shown, _ = badges_at(in_los_angeles, url, at("2026-12-28 20:59"))
    assert shown["tokyo-womens-plaza-women"] == "受付中（21:00まで）"
    assert shown["moj-minna-no-jinken"] == "受付時間外（次は 1月4日 月曜 8:30 から）"
    _, shown, _ = badges_at(in_los_angeles, url, at("2026-05-11 16:59"))
    assert shown["tokyo-womens-plaza-men"] == "受付時間外（次は 今日 17:00 から）"
    _, shown, _ = badges_at(in_los_angeles, pinned_site + "en/support/", at("2026-06-14 23:59"))
    assert shown["moj-women"] == "Closed now (next: tomorrow 8:30)"
    assert shown["tokyo-womens-plaza-women"] == "Closed now (next: tomorrow 9:00)"
    assert shown["police-8103"] == "Open now (24 hours)" and shown["police-9110"] is None
    _, shown, _ = badges_at(in_los_angeles, url, at("2027-01-01 03:00"))
    assert shown["mext-children-sos"] == "受付中（24時間）"


@pytest.mark.parametrize(("instant", "shown"), [
    ("2025-12-31 23:59", False),  # before the first day the page carries
    ("2026-01-01 00:00", True),
    (f"{HORIZON.end} 23:59", True),  # the last minute it carries
    (f"{HORIZON.end + datetime.timedelta(days=1)} 00:00", False),  # past the horizon: hidden, no guess
])
def test_the_badge_hides_outside_the_data(in_los_angeles, pinned_site, instant, shown):
    _, badges, _ = badges_at(in_los_angeles, pinned_site + "support/", at(instant))
    assert all((badges[line.id] is not None) == shown for line in DIRECTORY.lines if line.regular), badges


def test_the_badge_refreshes_every_minute_without_chatter(browser, pinned_site):
    """At 21:00 the women's line closes by itself; a minute that changes nothing writes nothing."""
    context = browser.new_context(timezone_id="America/Los_Angeles")
    try:
        page = context.new_page()
        page.clock.install(time=at("2026-12-28 20:58:30"))
        page.goto(pinned_site + "support/")
        women = page.locator("#tokyo-womens-plaza-women .now")
        assert women.text_content() == "受付中（21:00まで）"
        page.evaluate("""() => {
          window.changes = 0;
          new MutationObserver((records) => { window.changes += records.length; })
            .observe(document.querySelector('main'), { subtree: true, childList: true, characterData: true, attributes: true });
        }""")
        page.clock.run_for(60_000)  # 20:59:30: still open, nothing rewritten
        assert women.text_content() == "受付中（21:00まで）"
        assert page.evaluate("window.changes") == 0
        page.clock.run_for(60_000)  # 21:00:30
        assert women.text_content() == "受付時間外（次は 1月4日 月曜 9:00 から）"
        assert page.evaluate("window.changes") > 0
        # Plain text, not a live region: nothing is announced by itself every minute.
        assert women.get_attribute("role") is None and women.get_attribute("aria-live") is None
    finally:
        context.close()


def test_the_badge_speaks_tokyo_time_in_any_time_zone(browser, pinned_site):
    instant = at("2027-01-04 08:59")
    for zone in ("Pacific/Kiritimati", "UTC", "Asia/Tokyo", "Pacific/Pago_Pago"):
        context = browser.new_context(timezone_id=zone)
        try:
            _, shown, _ = badges_at(context, pinned_site + "en/support/", instant)
        finally:
            context.close()
        assert shown == expected(instant, "en"), zone


def test_without_javascript_the_hours_in_words_alone_show(browser, pinned_site):
    context = browser.new_context(java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto(pinned_site + "support/")
        assert page.locator(".now").count() == len([line for line in DIRECTORY.lines if line.regular])
        assert not any(badge.is_visible() for badge in page.locator(".now").all())
        assert page.get_by_text("毎日 9:00〜21:00").is_visible()
    finally:
        context.close()


def test_the_normal_build_shows_a_badge_now(browser, served_site):
    """The session's ordinary build carries data from today: at this very moment the badge shows."""
    context = browser.new_context(timezone_id="America/Los_Angeles")
    try:
        now = datetime.datetime.now(TOKYO).replace(microsecond=0)
        watched, shown, _ = badges_at(context, served_site + "en/support/", now)
        assert shown == expected_for_build(now)
        assert watched.errors == [] and watched.foreign_requests(served_site) == []
    finally:
        context.close()


def expected_for_build(now: datetime.datetime) -> dict[str, str]:
    texts = hours.badge_texts(catalog("en").gettext, "en")
    reach = (schedule.horizon(now.date()).end - now.date()).days
    return {
        line.id: hours.status_text(schedule.status(DIRECTORY, line, now, search_days=reach), now, texts)
        if line.regular else None
        for line in DIRECTORY.lines
    }
