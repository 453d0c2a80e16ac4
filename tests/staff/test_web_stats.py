"""The statistics page of the staff kit's interface (staff/web/stats.py): the period form (by
default the last calendar year, as Safe Line publishes), the table of ``staff.stats.compute``
with the config's threshold, the CSV download, and a page that prints cleanly.

The real Flask app through its test client over a real store; then real Chromium through the
real ``safeline-staff serve``: axe at 1280 px and 390 px, the print media's layout (no menu, no
form, nothing wider than the page), and screenshots at 390 × 844 under /tmp.
"""

from __future__ import annotations

import csv
import html
import io
import re
from datetime import date
from pathlib import Path

import pytest

from staff import stats
from staff.home import Home
from staff.web.work import today
from tests.support.site import ROOT
from tests.support.staff_browser import SCROLLS_SIDEWAYS, check
from tests.support.staff_web import ORIGIN, client_for, filled_into, get, kit_app, running_serve

CSS = ROOT / "staff" / "web" / "static" / "staff.css"


@pytest.fixture
def kit(tmp_path):
    # Five cases received from 2026-12-01 to 2026-12-05.
    with kit_app(tmp_path / "kit", {"key": "0" * 40, "stats_threshold": 3}) as made:
        yield made


@pytest.fixture
def client(kit):
    return client_for(kit[0])


def cells(page: str) -> dict[str, list[str]]:
    """Each table row's header → its cells."""
    found = {}
    for row in re.findall(r"<tr[^>]*>(.*?)</tr>", page, re.S):
        head = re.search(r'<th scope="row">(.*?)</th>', row)
        if head:
            found[html.unescape(head.group(1))] = [html.unescape(cell) for cell in
                                                   re.findall(r'<td class="number">(.*?)</td>', row)]
    return found


def test_the_default_period_is_the_last_calendar_year(client):
    year = today().year - 1
    page = get(client, "/en/stats").get_data(as_text=True)
    assert f"{year}-01-01 to {year}-12-31" in page
    assert f'value="{year}-01-01"' in page and f'value="{year}-12-31"' in page
    # Nothing was received then: zeros, shown (zero tells about no one).
    assert cells(page)["Reports received"] == ["0"]
    # Other periods one click away: this year so far, the last fiscal year (April to March).
    assert f"from={today().year}-01-01" in page and "Last fiscal year (April" in page
    assert f"{year}-01-01〜{year}-12-31" in get(client, "/stats").get_data(as_text=True)


def test_the_table_is_computed_with_the_configs_threshold(client, kit):
    _, store, _ = kit
    page = get(client, "/en/stats?from=2026-12-01&to=2026-12-31").get_data(as_text=True)
    expected = stats.compute(store.facts(), date(2026, 12, 1), date(2026, 12, 31), 3)
    table = cells(page)
    for row in expected.rows:
        if row.key in stats.REPORT_ROWS:
            assert table[row.label("en")] == [row.shown], row.key
    assert table["Reports received"] == [expected.shown("reports")] == ["5"]
    assert "&lt;3" in page  # small counts under the config's threshold of 3, not the default 5
    assert "<3: from 1 to 2." in page.replace("&lt;", "<")
    # The addresses' table: total and the three places, as compute says.
    labels = stats.LABELS
    for stat in stats.URL_STATS:
        assert table[labels[stat][1]] == [expected.shown(stat)] + \
            [expected.shown(f"{stat}.{place}") for place in stats.LOCATIONS], stat
    # Japanese at /, with the module's own Japanese labels.
    page = get(client, "/stats?from=2026-12-01&to=2026-12-31").get_data(as_text=True)
    assert cells(page)["受け付けた通報"] == ["5"] and "国外" in page


def test_the_csv_download(client, kit):
    _, store, _ = kit
    response = get(client, "/en/stats.csv?from=2026-12-01&to=2026-12-31")
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"] == 'attachment; filename="safeline-stats-2026-12-01-2026-12-31.csv"'
    assert response.headers["Cache-Control"] == "no-store"
    data = response.get_data()
    assert data.startswith("\ufeff".encode()) and b"\r\n" in data
    assert data == stats.compute(store.facts(), date(2026, 12, 1), date(2026, 12, 31), 3).csv_bytes()
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[0] == ["key", "label_ja", "label_en", "value"]
    assert ["threshold", "この数未満は非表示", "numbers under this are hidden", "3"] in rows
    # The page links to it for the period shown.
    page = get(client, "/en/stats?from=2026-12-01&to=2026-12-31").get_data(as_text=True)
    assert 'href="/en/stats.csv?from=2026-12-01&amp;to=2026-12-31"' in page


@pytest.mark.parametrize("query, field", [
    ("?from=2026-02-30&to=2026-12-31", "stats-from"),
    ("?from=2026-01-01&to=31.12.2026", "stats-to"),
    ("?from=&to=", "stats-from"),
    ("?from=2026-12-31&to=2026-01-01", "stats-to"),
    ("?from=2026-1-1&to=2026-12-31", "stats-from"),
    ("?from=%00&to=%E2%80%AE", "stats-from"),
])
def test_a_wrong_period_is_a_field_error_and_the_csv_a_400(client, query, field):
    page = get(client, "/en/stats" + query, 422).get_data(as_text=True)
    block = re.search(r'<div class="error-summary".*?</div>', page, re.S).group(0)
    assert re.findall(r'href="#([^"]+)"', block)[0] == field
    assert f'id="{field}-error"' in page and 'aria-invalid="true"' in page
    get(client, "/en/stats.csv" + query, 400)


def test_a_long_period_and_odd_queries_are_never_a_500(client):
    get(client, "/stats?from=2000-01-01&to=9999-12-31")
    get(client, "/stats?from=0001-01-01&to=0001-01-01")
    for query in ("?from=" + "9" * 5000, "?to=%ff%fe", "?from=2026-12-01&from=2026-12-02", "?lang=xx",
                  "?from=2026-12-01T00:00&to=2026-12-31"):
        assert client.get(ORIGIN + "/stats" + query).status_code in (200, 422), query
        assert client.get(ORIGIN + "/stats.csv" + query).status_code in (200, 400), query


def test_the_print_style_sheet():
    text = CSS.read_text()
    block = text[text.index("@media print"):]
    for rule in (".top nav", ".sync-bar", "form", "button", ".no-print", ".print-only { display: block; }"):
        assert rule in block, rule
    assert "@page" in block


def test_the_menu_links_to_the_statistics(client):
    page = get(client, "/en/").get_data(as_text=True)
    assert '<a href="/en/stats">Statistics</a>' in page
    assert '<a href="/stats">統計</a>' in get(client, "/").get_data(as_text=True)


def test_last_year_is_the_default_for_a_year_that_just_began(monkeypatch, client):
    # On 1 January the last calendar year has just ended: the default shows it whole.
    import staff.web.stats as module

    monkeypatch.setattr(module, "today", lambda: date(2027, 1, 1))
    page = get(client, "/en/stats").get_data(as_text=True)
    assert "2026-01-01 to 2026-12-31" in page
    assert cells(page)["Reports received"] == ["5"]
    assert "Last fiscal year (April 2025 – March 2026)" in page


# -- in a real browser --------------------------------------------------------------------------

SHOTS = "/tmp/safeline-web-shots"


@pytest.fixture(scope="module")
def served(tmp_path_factory, staff_gnupg):
    from staff.home import Config
    from staff.setup import init, open_store

    home = Home(tmp_path_factory.mktemp("web-stats") / "staff-home")
    init(home, Config(key=staff_gnupg.fingerprint, gnupg_home=str(staff_gnupg.home), stats_threshold=3))
    with open_store(home) as store:
        filled_into(store)
    with running_serve(home) as running:
        yield running


@pytest.fixture(scope="module")
def page(browser, served):
    context = browser.new_context(java_script_enabled=True, viewport={"width": 1280, "height": 800})
    made = context.new_page()
    assert made.goto(served.url).ok
    yield made
    context.close()


def test_the_statistics_pages_pass_axe_and_print_cleanly(page, served):
    from pathlib import Path

    Path(SHOTS).mkdir(exist_ok=True)
    for name, path, status in (("stats", "/stats?from=2026-12-01&to=2026-12-31", 200),
                               ("stats-en", "/en/stats?from=2026-12-01&to=2026-12-31", 200),
                               ("stats-default", "/stats", 200),
                               ("stats-errors", "/en/stats?from=2026-02-30&to=2026-01-01", 422)):
        assert page.goto(served.at(path)).status == status, path
        check(page, name)
        page.set_viewport_size({"width": 390, "height": 844})
        page.screenshot(path=f"{SHOTS}/{name}.png", full_page=True)
        page.set_viewport_size({"width": 1280, "height": 800})
    # The browser's Print: no menu, no form, no button, no sync bar; the tables whole.
    page.goto(served.at("/en/stats?from=2026-12-01&to=2026-12-31"))
    page.emulate_media(media="print")
    try:
        for selector in (".top nav", "form", ".skip-link", ".bottom", "a.button"):
            assert not page.locator(selector).first.is_visible(), selector
        assert page.locator("table.stats").count() == 2 and page.locator("table.stats").first.is_visible()
        assert page.locator(".print-only").is_visible()
        page.set_viewport_size({"width": 700, "height": 1000})  # about an A4 page's width
        assert page.evaluate(SCROLLS_SIDEWAYS) is None
        page.screenshot(path=f"{SHOTS}/stats-print.png", full_page=True)
    finally:
        page.emulate_media(media="screen")
        page.set_viewport_size({"width": 1280, "height": 800})


def test_the_csv_link_downloads_without_javascript(browser, served):
    context = browser.new_context(java_script_enabled=False, accept_downloads=True)
    try:
        made = context.new_page()
        assert made.goto(served.url).ok
        made.goto(served.at("/en/stats?from=2026-12-01&to=2026-12-31"))
        with made.expect_download() as waiting:
            made.click("text=Download as CSV (for Excel)")
        download = waiting.value
        assert download.suggested_filename == "safeline-stats-2026-12-01-2026-12-31.csv"
        data = Path(download.path()).read_bytes()
        assert data.startswith("\ufeffkey,label_ja,label_en,value\r\n".encode())
    finally:
        context.close()



# The addresses' table and its scrolling region, as the page lays them out.
TABLE_FIT = """() => {
  const region = document.querySelector('.table-scroll');
  const box = region.getBoundingClientRect();
  const heads = Array.from(region.querySelectorAll('th'));
  return {clientWidth: document.documentElement.clientWidth, hidden: region.scrollWidth - region.clientWidth,
          scrolled: region.scrollLeft,
          outside: heads.filter((th) => th.getBoundingClientRect().right > box.right + 0.5).length,
          rowHeadLeft: Math.min(...Array.from(region.querySelectorAll('tbody th')).map(
            (th) => th.getBoundingClientRect().left)) - box.left};
}"""


def test_the_statistics_fit_a_phone_and_scroll_inside_their_region_when_narrower(page, served):
    from pathlib import Path

    Path(SHOTS).mkdir(exist_ok=True)
    period = "?from=2026-12-01&to=2026-12-31"
    try:
        # A phone, 390 x 844: every column of both tables in view, nothing scrolls sideways.
        page.set_viewport_size({"width": 390, "height": 844})
        for lang, path in (("ja", "/stats"), ("en", "/en/stats")):
            assert page.goto(served.at(path + period)).ok
            page.wait_for_function("() => document.documentElement.clientWidth === 390")
            assert page.evaluate(SCROLLS_SIDEWAYS) is None, lang
            fit = page.evaluate(TABLE_FIT)
            assert (fit["hidden"], fit["outside"]) == (0, 0), (lang, fit)
            page.screenshot(path=f"{SHOTS}/stats-phone-{lang}.png", full_page=True)
        # 320 px (WCAG's reflow width): the page still does not scroll sideways; the table
        # scrolls inside its region, which is focusable and named by its heading, and its row
        # heads stay in view while it does.
        page.set_viewport_size({"width": 320, "height": 640})
        assert page.goto(served.at("/en/stats" + period)).ok
        page.wait_for_function("() => document.documentElement.clientWidth === 320")
        assert page.evaluate(SCROLLS_SIDEWAYS) is None
        region = page.locator(".table-scroll")
        assert region.get_attribute("role") == "region" and region.get_attribute("tabindex") == "0"
        assert page.locator("#" + region.get_attribute("aria-labelledby")).inner_text() == "Addresses and removal"
        assert page.evaluate(TABLE_FIT)["hidden"] > 0
        region.focus()
        page.keyboard.press("ArrowRight")
        page.keyboard.press("ArrowRight")
        # The browser scrolls in a later frame (smoothly): wait for it before measuring.
        page.wait_for_function("() => document.querySelector('.table-scroll').scrollLeft > 0")
        fit = page.evaluate(TABLE_FIT)
        assert fit["scrolled"] > 0 and abs(fit["rowHeadLeft"]) < 1, fit
        page.screenshot(path=f"{SHOTS}/stats-320-scrolled.png", full_page=True)
    finally:
        page.set_viewport_size({"width": 1280, "height": 800})
