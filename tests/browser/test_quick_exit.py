"""The quick exit (theme/static/js/exit.js) in a real browser, on a site page and a relay page.

What theme/static/js/exit.js and the safety page (content/pages/safety.*.md) promise:
a click, Esc (not while typing in a text field) or Shift three times within three seconds
(no other key between) hides the page at once and replaces it in the tab's history by the
neutral site, so Back leads to the page before it, never to the one left.  Without JavaScript
it is an ordinary link, rel="noreferrer nofollow".  It stays on screen, and covers no focused
element, on a 320 px wide phone.

The neutral site (https://tenki.jp/) is answered by a Playwright route: nothing here reaches
the internet, and every test fails on a request to any other host.
"""

from __future__ import annotations

import json
import time

import pytest
from playwright.sync_api import Error as PlaywrightError

from tests.support.browser import QUICK_EXIT_URL, Recorder, open_relay_state, route_quick_exit
from tests.support.site import ROOT

# A page of the static site and a page of the relay, each opened after the home page.
PAGES = {"site": "/safety/", "relay": "/report/"}
HOME = "/"


@pytest.fixture
def context(browser, stack):
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    route_quick_exit(context)
    context.recorder = Recorder(context)
    yield context
    assert context.recorder.foreign(stack.origin) == []
    context.close()


def visit(context, stack, path: str):
    """Home, then ``path`` in the same tab: the history holds [home, path]."""
    page = context.new_page()
    page.goto(stack.url(HOME))
    page.goto(stack.url(path))
    page.locator("a.quick-exit").wait_for()
    return page


def assert_left(page, stack, left: str) -> None:
    """On the neutral site; Back leads to the page before the one left, never to it."""
    page.wait_for_url(QUICK_EXIT_URL)
    assert page.title() == "neutral"
    page.go_back()
    assert page.url == stack.url(HOME), f"Back led to {page.url}, not to the page before {left}"
    assert page.url != stack.url(left)


def assert_stays(page, stack, path: str) -> None:
    """Still on ``path``, now: exit.js leaves inside the key's own handler, which has run by the
    time a key press returns, and it hides the page and empties its title before anything else;
    so a key that left shows here at once, on this page or (if the next one came) by the URL."""
    try:
        class_name, title = page.evaluate("[document.documentElement.className, document.title]")
    except PlaywrightError as error:  # the page is being replaced: it left
        raise AssertionError(f"left {path}: {error}") from None
    assert page.url == stack.url(path)
    assert "leaving" not in class_name and title != ""


@pytest.mark.parametrize("where", PAGES)
def test_a_click_leaves_and_back_does_not_return(context, stack, where):
    page = visit(context, stack, PAGES[where])
    page.locator("a.quick-exit").click()
    assert_left(page, stack, PAGES[where])
    # One request to the neutral site, telling it nothing about where the visitor was.
    exits = context.recorder.exits()
    assert len(exits) == 1 and "referer" not in exits[0][2]


@pytest.mark.parametrize("where", PAGES)
def test_escape_leaves_from_the_page(context, stack, where):
    page = visit(context, stack, PAGES[where])
    assert page.evaluate("document.activeElement === document.body")
    page.keyboard.press("Escape")
    assert_left(page, stack, PAGES[where])


def test_escape_in_a_text_field_keeps_what_was_typed(context, stack):
    page = visit(context, stack, PAGES["relay"])
    for field in ("#description", "#email", "#urls"):
        page.locator(field).click()
        page.keyboard.type("what I typed")
        page.keyboard.press("Escape")
        assert_stays(page, stack, PAGES["relay"])
        assert page.locator(field).input_value() == "what I typed"
    # Esc from a choice (not a text field) does leave.
    page.locator("#consent").focus()
    page.keyboard.press("Escape")
    assert_left(page, stack, PAGES["relay"])


@pytest.mark.parametrize("where", PAGES)
def test_shift_three_times_leaves(context, stack, where):
    page = visit(context, stack, PAGES[where])
    for _ in range(3):
        page.keyboard.press("Shift")
    assert_left(page, stack, PAGES[where])


def test_shift_three_times_in_a_text_field_leaves_too(context, stack):
    page = visit(context, stack, PAGES["relay"])
    page.locator("#description").click()
    for _ in range(3):
        page.keyboard.press("Shift")
    assert_left(page, stack, PAGES["relay"])


def test_another_key_between_shifts_starts_the_count_again(context, stack):
    page = visit(context, stack, PAGES["site"])
    for key in ("Shift", "a", "Shift", "Shift"):
        page.keyboard.press(key)
    assert_stays(page, stack, PAGES["site"])
    page.keyboard.press("Shift")  # now three in a row
    assert_left(page, stack, PAGES["site"])


def test_capitals_typed_in_the_form_do_not_leave(context, stack):
    page = visit(context, stack, PAGES["relay"])
    page.locator("#description").click()
    # As a person types them: Shift held down for each capital, a letter between.
    # (keyboard.type() would send the letters alone, without a Shift to count.)
    for char in "ABC DEF GHI":
        page.keyboard.press(f"Shift+{char}" if char.isupper() else char)
    assert_stays(page, stack, PAGES["relay"])
    assert page.locator("#description").input_value() == "ABC DEF GHI"


def test_shifts_spread_over_more_than_three_seconds_do_not_leave(context, stack):
    page = visit(context, stack, PAGES["site"])
    page.clock.install()
    page.reload()
    for _ in range(3):
        page.keyboard.press("Shift")
        page.clock.fast_forward(1600)
    assert_stays(page, stack, PAGES["site"])


# Reports, from inside the page, the moment it starts to leave.  (While a tab navigates to
# another site, Chromium holds back DevTools commands until the new page arrives, so the test
# cannot look from outside; console messages sent before then still reach it.)
WATCH_LEAVING = """() => new MutationObserver(() => {
  if (!document.documentElement.classList.contains('leaving')) return;
  console.log('leaving ' + JSON.stringify({at: Date.now(), display: getComputedStyle(document.body).display,
    boxes: document.body.getClientRects().length, title: document.title, href: location.href}));
}).observe(document.documentElement, {attributes: true})"""


def test_shifts_within_three_seconds_leave(context, stack):
    page = visit(context, stack, PAGES["site"])
    page.clock.install()
    page.reload()
    for _ in range(3):
        page.keyboard.press("Shift")
        page.clock.fast_forward(1400)  # the third press comes 2.8 s after the first
    assert_left(page, stack, PAGES["site"])


# What the safety page tells a visitor, and the numbers in exit.js it depends on.
SAFETY_SAYS = {
    "ja": ["Shiftキーを3秒以内に3回続けて押して", "入力欄で文字を書いている間は、Escキーでは切り替わりません",
           "ほかのキーを押すと、数えなおし", "履歴から外れるのは、ボタンを押したときに見ていたページだけ",
           "その前に同じタブ（画面）で開いたこのサイトのページは履歴に残り",
           "JavaScriptがオフになっているときは、天気予報のサイトへのふつうのリンク", "「戻る」ボタンでこのサイトに戻ります"],
    "en": ["pressing the Shift key three times within three seconds", "While you are typing in a box of the report form, Esc does not leave",
           "any other key between the Shift presses starts the count again",
           "Only the page you were on when you pressed it is taken out of the history",
           "Pages of this site that you opened before it in the same tab stay in the history",
           "If JavaScript is turned off, the button is an ordinary link", "the Back button leads back here"],
}


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_the_safety_page_says_what_exit_js_does(page, lang):
    script = (ROOT / "theme" / "static" / "js" / "exit.js").read_text(encoding="utf-8")
    assert "now - at < 3000" in script and "shifts.length >= 3" in script  # three presses, three seconds
    assert "location.replace(" in script and "!typing(event.target)" in script
    text = " ".join(page("safety", lang).text.split())
    assert [claim for claim in SAFETY_SAYS[lang] if claim not in text] == []
    # No promise that Back never returns to this site: only the page left is gone from the history.
    assert "このサイトには戻りません" not in text and "does not lead back here" not in text


@pytest.mark.parametrize("where", PAGES)
def test_the_page_is_hidden_at_once_even_if_the_neutral_site_is_slow(browser, stack, where):
    context = browser.new_context()
    answered: list[float] = []
    route_quick_exit(context, delay=1.5, answered=answered)
    try:
        page = context.new_page()
        seen: list[dict] = []
        page.on("console", lambda message: message.text.startswith("leaving ") and seen.append(json.loads(message.text[8:])))
        page.goto(stack.url(PAGES[where]))
        assert page.locator("main").is_visible() and page.title()
        page.evaluate(WATCH_LEAVING)
        box = page.locator("a.quick-exit").evaluate(BOX)
        clicked = time.time() * 1000
        page.mouse.click(box["x"] + box["w"] / 2, box["y"] + box["h"] / 2)
        page.wait_for_url(QUICK_EXIT_URL)
        assert len(seen) == 1 and len(answered) == 1
        hidden = seen[0]
        # Still on this page, the neutral site not yet answered: nothing of it shows, not even its title.
        assert hidden["href"] == stack.url(PAGES[where])
        assert hidden["display"] == "none" and hidden["boxes"] == 0 and hidden["title"] == ""
        assert hidden["at"] - clicked < 500 and hidden["at"] < answered[0] - 1000
    finally:
        context.close()


@pytest.mark.parametrize("where", PAGES)
def test_without_javascript_it_is_an_ordinary_link(browser, stack, where):
    context = browser.new_context(java_script_enabled=False)
    route_quick_exit(context)
    recorder = Recorder(context)
    try:
        page = context.new_page()
        page.goto(stack.url(HOME))
        page.goto(stack.url(PAGES[where]))
        link = page.locator("a.quick-exit")
        assert link.get_attribute("href") == QUICK_EXIT_URL
        assert link.get_attribute("rel").split() == ["noreferrer", "nofollow"]
        assert link.is_visible()
        link.click()
        page.wait_for_url(QUICK_EXIT_URL)
        exits = recorder.exits()
        assert len(exits) == 1 and "referer" not in exits[0][2]
        # An ordinary link adds to the history: Back returns to the page (the safety page says so).
        page.go_back()
        assert page.url == stack.url(PAGES[where])
        assert recorder.foreign(stack.origin) == []
    finally:
        context.close()


# -- on a small screen ---------------------------------------------------------------------------

BOX = "(e) => { const r = e.getBoundingClientRect(); return {x: r.left, y: r.top, w: r.width, h: r.height}; }"
FOCUSED_BOX = """() => {
  const e = document.activeElement;
  if (!e || e === document.body) return null;
  const r = e.getBoundingClientRect();
  return {what: e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + (e.className ? '.' + e.className : ''),
          exit: e.classList.contains('quick-exit'), x: r.left, y: r.top, w: r.width, h: r.height, scrolled: window.scrollY};
}"""


def intersects(a: dict, b: dict) -> bool:
    return a["x"] < b["x"] + b["w"] and b["x"] < a["x"] + a["w"] and a["y"] < b["y"] + b["h"] and b["y"] < a["y"] + a["h"]


def inside_viewport(box: dict, width: int, height: int) -> bool:
    return box["x"] >= 0 and box["y"] >= 0 and box["x"] + box["w"] <= width and box["y"] + box["h"] <= height


@pytest.fixture
def phone(browser, stack):
    context = browser.new_context(viewport={"width": 320, "height": 640}, device_scale_factor=2, is_mobile=True, has_touch=True)
    route_quick_exit(context)
    recorder = Recorder(context)
    yield context
    assert recorder.foreign(stack.origin) == []
    context.close()


@pytest.mark.parametrize("path", ["/", "/en/faq/", "/support/", "/report/", "/en/report/"])
def test_at_320_px_the_button_stays_in_view(phone, stack, path):
    page = phone.new_page()
    page.goto(stack.url(path))
    button = page.locator("a.quick-exit")
    for scroll in ("0", "document.documentElement.scrollHeight / 2", "document.documentElement.scrollHeight"):
        page.evaluate(f"window.scrollTo(0, {scroll})")
        box = button.evaluate(BOX)
        assert button.is_visible() and inside_viewport(box, 320, 640), (scroll, box)
        assert box["h"] >= 44 and box["w"] >= 44  # a target a thumb can hit
    assert page.evaluate("window.scrollY") > 0  # the page was long enough to scroll at all


def tab_through(page, *, limit: int = 80) -> list[dict]:
    """Tab from the top of the page until focus comes round again; each stop's box and the button's."""
    stops = []
    for _ in range(limit):
        page.keyboard.press("Tab")
        focused = page.evaluate(FOCUSED_BOX)
        if focused is None or (stops and focused["what"] == stops[0]["what"]):
            break
        focused["button"] = page.locator("a.quick-exit").evaluate(BOX)
        stops.append(focused)
    return stops


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_at_320_px_the_button_covers_no_focused_element(phone, stack, lang):
    """WCAG 2.4.11 Focus Not Obscured: after the browser scrolls each stop into view, it is clear of the button."""
    page = phone.new_page()
    page.goto(stack.url("/report/" if lang == "ja" else "/en/report/"))
    stops = tab_through(page)
    whats = [stop["what"] for stop in stops]
    assert {"input#email", "textarea#urls", "textarea#description", "input#consent", "button.button"} <= set(whats)
    assert max(stop["scrolled"] for stop in stops) > 640  # the browser scrolled down the page to reach them
    covered = [(stop["what"], stop) for stop in stops if not stop["exit"] and intersects(stop, stop["button"])]
    assert covered == []
    # And each is on screen (the browser may leave a tall field cut by the bottom edge: that is no cover).
    screen = {"x": 0, "y": 0, "w": 320, "h": 640}
    assert [stop["what"] for stop in stops if not intersects(stop, screen)] == []


FIELD_PARTS = """(id) => {
  const control = document.getElementById(id);
  const field = control.closest('.field');
  const parts = [control, ...field.querySelectorAll('label, legend, .error-message')];
  return {focused: document.activeElement === control,
          top: Math.min(...parts.map((e) => e.getBoundingClientRect().top)),
          bottom: Math.max(...parts.map((e) => e.getBoundingClientRect().bottom)),
          band: document.querySelector('.exit-bar').getBoundingClientRect().bottom};
}"""


@pytest.mark.parametrize("lang", ["ja", "en"])
@pytest.mark.parametrize("js", [True, False], ids=["js", "no-js"])
def test_at_320_px_error_links_bring_their_field_clear_of_the_button(browser, stack, lang, js):
    """The error summary's links lead to each field below the sticky band, not under it: with
    JavaScript, focused and shown with its label and error message (as GOV.UK's summary does);
    without, the browser's jump leaves at least the control itself clear (scroll-padding)."""
    phone = browser.new_context(viewport={"width": 320, "height": 640}, device_scale_factor=2, is_mobile=True,
                                has_touch=True, java_script_enabled=js)
    route_quick_exit(phone)
    try:
        page = phone.new_page()
        open_relay_state(page, stack, "errors", lang)
        links = page.locator(".error-summary a")
        assert links.count() == 5
        for index in range(links.count()):
            target = links.nth(index).get_attribute("href")
            links.nth(index).focus()
            page.keyboard.press("Enter")
            if js:
                page.wait_for_function("(id) => document.activeElement && document.activeElement.id === id",
                                       arg=target[1:])
                parts = page.evaluate(FIELD_PARTS, target[1:])
                assert parts["focused"], target
                if parts["bottom"] - parts["top"] <= 640 - parts["band"]:  # the whole field fits: all of it shows
                    assert parts["band"] <= parts["top"] and parts["bottom"] <= 640, (target, parts)
                else:  # taller than the screen: its control shows, from its top
                    box = page.locator(target).evaluate(BOX)
                    assert parts["band"] <= box["y"] and box["y"] + 48 <= 640, (target, parts, box)
            else:
                page.wait_for_function("(id) => location.hash === id", arg=target)
            box = page.locator(target).evaluate(BOX)
            button = page.locator("a.quick-exit").evaluate(BOX)
            assert not intersects(box, button), (target, box, button)
            # Without JavaScript the browser shows the control whole; with it, the label comes
            # first and a tall text box may run on below the screen, its first lines in view.
            assert inside_viewport(box, 320, 640) or (js and box["y"] + 48 <= 640), (target, box)
            page.evaluate("window.scrollTo(0, 0)")
    finally:
        phone.close()


# exit.js moves a field that took focus in the next animation frame (after the browser's own
# scrolling), and on a busy machine later still: measure once the field has stood still for
# two frames in a row, never right after the key press.
SETTLED = """async (id) => {
  const top = () => document.getElementById(id).closest('.field').getBoundingClientRect().top;
  const frame = () => new Promise((resolve) => requestAnimationFrame(resolve));
  let last = top(), still = 0;
  for (let i = 0; i < 120 && still < 2; i += 1) {
    await frame();
    const now = top();
    still = now === last ? still + 1 : 0;
    last = now;
  }
  return still >= 2;
}"""


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_at_320_px_tab_shows_each_field_with_its_label(phone, stack, lang):
    """Moving through the form by keyboard, each field comes into view whole below the band."""
    page = phone.new_page()
    open_relay_state(page, stack, "errors", lang)
    page.evaluate("window.scrollTo(0, 0)")
    seen = []
    for _ in range(60):
        page.keyboard.press("Tab")
        control = page.evaluate("document.activeElement.closest('.field') ? document.activeElement.id : null")
        if control and control not in seen:
            seen.append(control)
            assert page.evaluate(SETTLED, control), control
            parts = page.evaluate(FIELD_PARTS, control)
            if parts["bottom"] - parts["top"] <= 640 - parts["band"]:  # a field taller than the screen cannot
                assert parts["top"] >= parts["band"], (control, parts)
    assert {"email", "urls", "description", "consent"} <= set(seen)


@pytest.mark.parametrize("path", ["/", "/en/faq/", "/report/"])
def test_the_band_has_its_own_space_and_text_never_shows_around_the_button(phone, stack, path):
    page = phone.new_page()
    page.goto(stack.url(path))
    band = page.evaluate("""() => { const b = document.querySelector('.exit-bar'); const r = b.getBoundingClientRect();
        const header = document.querySelector('.site-header').getBoundingClientRect();
        return {top: r.top, bottom: r.bottom, width: r.width, header: header.top,
                background: getComputedStyle(b).backgroundColor}; }""")
    assert band["top"] == 0 and band["width"] == 320 and band["header"] >= band["bottom"]  # a row of its own
    assert band["background"] in ("rgb(255, 255, 255)", "rgba(255, 255, 255, 1)")  # opaque
    page.evaluate("window.scrollTo(0, document.documentElement.scrollHeight / 2)")
    # What is under the band's empty left side is the band, not text showing through it.
    for x in (4, 60, 120):
        assert page.evaluate("([x, y]) => !!document.elementFromPoint(x, y).closest('.exit-bar')",
                             [x, band["bottom"] - 4])


@pytest.mark.parametrize("lang, path", [("ja", "/"), ("en", "/en/")])
def test_on_a_phone_the_home_heading_and_report_button_are_on_the_first_screen(browser, stack, lang, path):
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    try:
        page = context.new_page()
        page.goto(stack.url(path))
        where = page.evaluate("""() => ({h1: document.querySelector('h1').getBoundingClientRect().top,
            button: document.querySelector('main a.button').getBoundingClientRect().bottom})""")
        assert where["h1"] <= 0.3 * 844, where  # the band and the header take less than a third
        assert where["button"] <= 844, where
    finally:
        context.close()
