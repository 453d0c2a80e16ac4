"""The lines one can call now, first on the consultation page (issue 20, point 2), in Chromium.

The site is built with its first day pinned (``HOTLINES_TODAY``) and the browser's clock fixed at
Tokyo instants on a working Tuesday; its time zone is London's, so the page must reckon in Tokyo
time by itself.  A 390 × 844 phone: with JavaScript, at 23:00 a line that is open (#8103) is a
number to tap on the first screen; at 10:00 the Ministry of Justice's lines are listed as open.
Without JavaScript the 24-hour lines are within the first two screens.  Which lines are open is
the schedule engine's answer (safeline.hotlines.schedule), not a list kept here.
"""

from __future__ import annotations

import datetime
from zoneinfo import ZoneInfo

import pytest

from safeline.hotlines import hours, schedule
from tests.support.browser import new_page
from tests.support.hotlines import DIRECTORY, LINES, open_around_the_clock, tokyo_only
from tests.support.site import LANGS, catalog, output_file

TOKYO = ZoneInfo("Asia/Tokyo")
FIRST_DAY = datetime.date(2026, 12, 1)
PHONE = {"width": 390, "height": 844}
NIGHT = datetime.datetime(2026, 12, 8, 23, 0, tzinfo=TOKYO)  # a Tuesday, no holiday
MORNING = datetime.datetime(2026, 12, 8, 10, 0, tzinfo=TOKYO)
MINISTRY_OF_JUSTICE = ["moj-minna-no-jinken", "moj-women", "moj-children"]

# Each item of #now: its line, whether it shows, its words, and where its number is.
READ_NOW = """() => Array.from(document.querySelectorAll('#now li[data-line]'), (item) => {
  const link = item.querySelector('a[href^="tel:"]');
  const box = link.getBoundingClientRect();
  return {id: item.dataset.line, shown: !item.hidden && item.getClientRects().length > 0,
          text: item.innerText, href: link.getAttribute('href'), top: box.top, bottom: box.bottom};
})"""
# The bottom of the sticky quick-exit band: a number under it is not on the screen to tap.
BAND_BOTTOM = "() => document.querySelector('.exit-bar').getBoundingClientRect().bottom"


@pytest.fixture(scope="module")
def pinned_site(site_built_on) -> str:
    return site_built_on(FIRST_DAY)


def support_url(base: str, lang: str) -> str:
    return base + output_file("support", lang).removesuffix("index.html")


def open_now(instant: datetime.datetime) -> list[str]:
    """The engine's answer: the lines for advice open at ``instant``, in the page's order."""
    lines = [line for line in DIRECTORY.lines if line.regular and not line.emergency]
    open_lines = [line for line in lines if schedule.status(DIRECTORY, line, instant).is_open]
    return [line.id for line in sorted(open_lines, key=lambda line: (not open_around_the_clock(line), tokyo_only(line)))]


def words_for(line_id: str, instant: datetime.datetime, lang: str) -> str:
    texts = hours.badge_texts(catalog(lang).gettext, lang)
    return hours.status_text(schedule.status(DIRECTORY, LINES[line_id], instant), instant, texts)


def read_at(browser, url: str, instant: datetime.datetime | None, lang: str):
    """The items of #now at ``instant`` on a phone, once hours.js has written them (or, without
    JavaScript, as the page comes)."""
    context = browser.new_context(viewport=PHONE, device_scale_factor=1, timezone_id="Europe/London",
                                  java_script_enabled=instant is not None)
    try:
        watched = new_page(context)
        page = watched.page
        if instant is not None:
            page.clock.set_fixed_time(instant)
        page.goto(url)
        if instant is not None:
            # hours.js writes every item in one pass: once the first 24-hour line has its live
            # words, the whole list is in the state to measure.
            page.locator('#now li[data-line="police-8103"] .when').filter(
                has_text=words_for("police-8103", instant, lang)).wait_for()
        items = page.evaluate(READ_NOW)
        band = page.evaluate(BAND_BOTTOM)
        height = page.evaluate("window.innerHeight")
        assert watched.errors == []
        return items, band, height
    finally:
        context.close()


@pytest.mark.parametrize("lang", LANGS)
def test_at_23_on_a_weekday_an_open_line_is_a_number_on_the_first_screen(browser, pinned_site, lang):
    items, band, height = read_at(browser, support_url(pinned_site, lang), NIGHT, lang)
    shown = [item["id"] for item in items if item["shown"]]
    assert shown == open_now(NIGHT)
    assert "police-8103" in shown and "tokyo-womens-plaza-women" not in shown  # closed at 21:00
    [line] = [item for item in items if item["id"] == "police-8103"]
    assert line["href"] == "tel:%238103"
    assert band <= line["top"] and line["bottom"] <= height, (band, line, height)


@pytest.mark.parametrize("lang", LANGS)
def test_at_10_on_a_weekday_the_ministry_of_justice_lines_are_open(browser, pinned_site, lang):
    items, _, _ = read_at(browser, support_url(pinned_site, lang), MORNING, lang)
    shown = {item["id"]: item for item in items if item["shown"]}
    assert list(shown) == open_now(MORNING)
    for line_id in MINISTRY_OF_JUSTICE:
        assert line_id in shown
        assert words_for(line_id, MORNING, lang) in shown[line_id]["text"]  # e.g. open until 17:15
    # Tokyo Women's Plaza's line for women is open too, and says for whom
    assert ("東京都の方のみ" if lang == "ja" else "Tokyo only") in shown["tokyo-womens-plaza-women"]["text"]
    assert "tokyo-womens-plaza-men" not in shown  # Mondays and Wednesdays only


@pytest.mark.parametrize("lang", LANGS)
def test_without_javascript_the_24_hour_lines_are_within_two_screens(browser, pinned_site, lang):
    items, band, height = read_at(browser, support_url(pinned_site, lang), None, lang)
    shown = [item for item in items if item["shown"]]
    assert [item["id"] for item in shown] == [line.id for line in DIRECTORY.lines
                                             if open_around_the_clock(line) and not line.emergency]
    for item in shown:
        assert band <= item["top"] and item["bottom"] <= 2 * height, item


def test_a_page_with_a_marker_shows_live_badges(browser, pinned_site):
    """The police page's cards come with the badge, in the page's language."""
    context = browser.new_context(viewport=PHONE, timezone_id="Europe/London")
    try:
        watched = new_page(context)
        watched.page.clock.set_fixed_time(NIGHT)
        watched.page.goto(pinned_site + output_file("police", "en").removesuffix("index.html"))
        badge = watched.page.locator("#police-8103 .now")
        badge.filter(has_text=words_for("police-8103", NIGHT, "en")).wait_for()
        assert watched.page.locator("#police-9110 .now").count() == 0  # hours in words only
        assert watched.errors == []
    finally:
        context.close()
