"""WCAG 2.2 AA in a real browser: axe-core, the keyboard alone, words for what is required, reflow.

Every built page and every state of the relay a reporter can meet (the empty form, the form
with every field wrong, the confirmation, the page for someone else, a page that does not
exist), in both languages, on the real stack (tests/support/browser.py): the site and the relay
on one origin, under the production Content-Security-Policy.

- axe-core (axe-playwright-python, offline) with all of its rules: no violation at all.
- Reflow (1.4.10): at 320 CSS px, on a 390 × 844 phone and at 1280 px zoomed to 200% (a
  640 CSS px viewport at device scale factor 2), nothing scrolls sideways and no phone
  number breaks across lines.
- The whole report made with ``page.keyboard`` alone, from the top of the page, every stop
  with a visible focus indicator; then the mail is read back.
"""

from __future__ import annotations

import re
import time

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from tests.support.browser import RELAY_STATES, Recorder, new_page, open_relay_state, route_quick_exit, start
from tests.support.keys import GPG_SECRET
from tests.support.reports import FORM_PATHS, REFERENCE, decrypt_mail
from tests.support.site import LANGS, SLUGS, output_file

AXE = Axe()
# Every rule axe runs by default (WCAG 2.0–2.2 A/AA and best practices), plus the WCAG 2.2 AA
# and 2.1 AA rules it leaves off by default: target size (2.5.8), orientation (1.3.4) and a
# visible label that matches the accessible name (2.5.3).
AXE_OPTIONS = {
    "resultTypes": ["violations"],
    "rules": {name: {"enabled": True} for name in ("target-size", "css-orientation-lock", "label-content-name-mismatch")},
}
BUILT_PAGES = [(slug, lang) for lang in LANGS for slug in SLUGS]
RELAY_PAGES = [(state, lang) for lang in LANGS for state in RELAY_STATES]
# (width, height) in CSS px: the narrowest phone, the phone the readers most often hold, and
# 1280 × 800 at 200% zoom.
REFLOW = {"320 px": (320, 800), "a 390 × 844 phone": (390, 844), "1280 px at 200%": (640, 400)}

SCROLLS_SIDEWAYS = """() => {
  const root = document.documentElement;
  if (root.scrollWidth <= root.clientWidth) return null;
  // Name the widest culprits, to make a failure easy to fix.
  return [root.scrollWidth, root.clientWidth, Array.from(document.body.querySelectorAll('*'))
    .filter((e) => e.getBoundingClientRect().right > root.clientWidth + 0.5)
    .slice(0, 5).map((e) => e.tagName + (e.id ? '#' + e.id : '') + (e.className ? '.' + e.className : ''))];
}"""

# A phone number is read off the screen and dialled: it must not break at its hyphen.
BROKEN_NUMBERS = """() => Array.from(document.querySelectorAll('a[href^="tel:"]'))
  .filter((a) => a.getClientRects().length > 1).map((a) => a.textContent)"""


@pytest.fixture(scope="module")
def context(browser):
    # Scale factor 2 throughout: at a 640 px viewport that is 1280 device px at 200% zoom.
    context = browser.new_context(viewport={"width": 1280, "height": 800}, device_scale_factor=2)
    route_quick_exit(context)
    context.recorder = Recorder(context)
    yield context
    context.close()


# The page's own status (a 404 page, the form with errors) shows as a console message; any other
# console error would be a CSP violation or a script error.
OWN_STATUS = re.compile(r"Failed to load resource: the server responded with a status of (404|422) \(.*\)")


@pytest.fixture
def watched(context, stack):
    """A fresh page of the module's context; at the end it must have stayed on the site, without errors."""
    seen = len(context.recorder.requests)
    watched = new_page(context)
    yield watched
    watched.page.close()
    elsewhere = [url for _, url, _ in context.recorder.requests[seen:] if not url.startswith(stack.origin + "/")]
    assert elsewhere == []
    assert [error for error in watched.errors if not OWN_STATUS.fullmatch(error)] == []


def built_url(stack, slug: str, lang: str) -> str:
    return stack.url("/" + output_file(slug, lang).removesuffix("index.html"))


def check_page(page, where: str) -> None:
    """axe at 1280 × 800, then reflow at each width; every problem is printed before failing."""
    results = AXE.run(page, options=AXE_OPTIONS)
    if results.violations_count:
        print(f"{where}:\n{results.generate_report()}")
    assert results.violations_count == 0, [v["id"] for v in results.response["violations"]]
    # The rules that ran include the ones this site is most at risk of failing.
    ran = {rule["id"] for kind in ("passes", "incomplete", "inapplicable", "violations") for rule in results.response[kind]}
    assert {"color-contrast", "label", "region", "landmark-one-main", "html-has-lang", *AXE_OPTIONS["rules"]} <= ran
    for name, (width, height) in REFLOW.items():
        page.set_viewport_size({"width": width, "height": height})
        assert page.evaluate("window.innerWidth") == width
        assert page.evaluate(SCROLLS_SIDEWAYS) is None, f"{where} scrolls sideways at {name}"
        assert page.evaluate(BROKEN_NUMBERS) == [], f"{where}: a phone number breaks across lines at {name}"


@pytest.mark.parametrize(("slug", "lang"), BUILT_PAGES)
def test_every_built_page_passes_axe_and_reflows(watched, stack, slug, lang):
    response = watched.page.goto(built_url(stack, slug, lang))
    assert response.ok
    check_page(watched.page, f"{slug} ({lang})")


@pytest.mark.parametrize(("state", "lang"), RELAY_PAGES)
def test_every_relay_state_passes_axe_and_reflows(watched, stack, state, lang):
    open_relay_state(watched.page, stack, state, lang)
    assert watched.page.evaluate("document.documentElement.lang") == lang
    check_page(watched.page, f"relay {state} ({lang})")


@pytest.fixture(scope="module")
def waiting_stack(site, tmp_path_factory):
    """A stack whose relay takes one report an hour from a client: after it, every form is 429."""
    running = start(site, tmp_path_factory.mktemp("waiting"), RELAY_RATELIMIT="1 per hour")
    try:
        yield running
    finally:
        running.stop()


def test_the_pages_that_say_please_wait_pass_axe_and_reflow(context, waiting_stack):
    """429 of both forms in both languages: the heading, the lines open now, the lost code."""
    stack = waiting_stack
    watched = new_page(context)
    page = watched.page
    open_relay_state(page, stack, "sent", "ja")
    reference = page.locator("#reference").inner_text().strip()
    code = page.locator("#followup-code").inner_text().strip()
    for lang in LANGS:
        for form, fields in ((FORM_PATHS[lang], {"#email": "hanako@example.jp", "#urls": "https://images.example.com/p/3",
                                                  "#description": "A photo of me."}),
                             (FORM_PATHS[lang] + "more/", {"#reference": reference, "#code": code,
                                                           "#urls": "https://images.example.com/p/4"})):
            page.goto(stack.url(form))
            opened = time.monotonic()
            if "#email" in fields:
                page.check("#role-self")
                page.check("#consent")
            for selector, value in fields.items():
                page.fill(selector, value)
            stack.wait_to_send(opened)
            with page.expect_navigation() as navigation:
                page.locator("form.report-form button[type=submit]").click()
            assert navigation.value.status == 429
            assert page.locator("section.lines-now a[href='tel:110']").count() == 1
            page.set_viewport_size({"width": 1280, "height": 800})
            check_page(page, f"relay 429 {form}")
    page.close()
    assert [e for e in watched.errors if not re.fullmatch(r"Failed to load resource: .* 429 .*", e)] == []


# -- required in words; hints and errors tied to their fields --------------------------------

FIELDS = {  # the element that carries aria-describedby → (its hint, its error, its question)
    "role": ("fieldset:has(#role-self)", "role-hint", "role-error", "fieldset:has(#role-self) > legend"),
    "email": ("#email", "email-hint", "email-error", "label[for=email]"),
    "urls": ("#urls", "urls-hint", "urls-error", "label[for=urls]"),
    "description": ("#description", "description-hint", "description-error", "label[for=description]"),
    "consent": ("fieldset:has(#consent)", "consent-hint", "consent-error", "fieldset:has(#consent) > legend"),
}
REQUIRED = {"ja": "※必須", "en": "Required"}


@pytest.mark.parametrize("lang", LANGS)
def test_required_in_words_and_hints_and_errors_described(watched, stack, lang):
    page = watched.page
    for state in ("form", "errors"):
        open_relay_state(page, stack, state, lang)
        for name, (control, hint, error, question) in FIELDS.items():
            assert REQUIRED[lang] in page.locator(question).inner_text(), f"{name}: required not said in words"
            described = (page.locator(control).get_attribute("aria-describedby") or "").split()
            wanted = [hint, error] if state == "errors" else [hint]
            assert described == wanted, (state, name, described)
            texts = []
            for element_id in described:
                assert page.locator(f"#{element_id}").count() == 1
                texts.append(" ".join(page.locator(f"#{element_id}").inner_text().split()))
                assert texts[-1]
            # What the browser gives assistive technology: the hint, then the error, as the description.
            expect(page.locator(control)).to_have_accessible_description(" ".join(texts))
            if state == "errors" and control.startswith("#"):
                assert page.locator(control).get_attribute("aria-invalid") == "true"
        if state == "errors":
            # The summary links to each field, and each link's target exists.
            targets = page.locator(".error-summary a").evaluate_all("(links) => links.map((a) => a.getAttribute('href'))")
            assert len(targets) == 5
            for target in targets:
                assert page.locator(target).count() == 1


# -- the whole report with the keyboard alone ----------------------------------------------------

# How every element looks without focus, noted before the first Tab: a focus indicator is an
# outline or a box-shadow that the element does not have at rest (the button's and the quick
# exit's drop shadows do not count).
NOTE_RESTING_LOOK = """() => {
  window.__resting = new Map();
  for (const e of document.querySelectorAll('a, button, input, textarea, select, [tabindex]')) {
    const style = getComputedStyle(e);
    window.__resting.set(e, {outline: style.outlineStyle + ' ' + style.outlineWidth, shadow: style.boxShadow});
  }
}"""
FOCUSED = """() => {
  const e = document.activeElement;
  const style = getComputedStyle(e);
  const resting = window.__resting.get(e) || {outline: 'none 0px', shadow: 'none'};
  return {
    what: e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + (e.className ? '.' + e.className : ''),
    id: e.id,
    outline: style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) > 0
      && style.outlineStyle + ' ' + style.outlineWidth !== resting.outline,
    shadow: style.boxShadow !== 'none' && style.boxShadow !== resting.shadow,
  };
}"""

TYPED = {
    "ja": {"email": "hanako.yamada@example.jp",
           "urls": ["https://images.example.com/p/1", "https://video.example.net/watch?v=abc123"],
           "description": "海で撮られた写真です。\n青い水着を着ています。"},
    "en": {"email": "parent@example.org",
           "urls": ["https://forum.example.com/thread/42"],
           "description": "My daughter's photo from her school trip.\nPosted last week."},
}


def tab_until(page, element_id: str, stops: list[dict], limit: int = 60) -> None:
    """Press Tab until ``element_id`` has focus; every stop on the way must show its focus."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        focused = page.evaluate(FOCUSED)
        stops.append(focused)
        assert focused["outline"] or focused["shadow"], f"no visible focus on {focused['what']}"
        if focused["id"] == element_id:
            return
    raise AssertionError(f"#{element_id} never received focus; stops: {[s['what'] for s in stops]}")


def type_lines(page, lines: list[str]) -> None:
    for number, line in enumerate(lines):
        if number:
            page.keyboard.press("Enter")
        page.keyboard.type(line)


@pytest.mark.parametrize("lang", LANGS)
def test_a_whole_report_by_keyboard_alone(browser, stack, lang):
    typed = TYPED[lang]
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    route_quick_exit(context)
    recorder = Recorder(context)
    try:
        page = context.new_page()
        page.goto(stack.url(FORM_PATHS[lang]))
        opened = time.monotonic()
        page.evaluate(NOTE_RESTING_LOOK)
        stops: list[dict] = []
        tab_until(page, "role-self", stops)
        assert [stop["what"] for stop in stops[:2]] == ["a.skip-link", "a.quick-exit"]  # the way out comes first
        if lang == "ja":
            page.keyboard.press("Space")  # the first choice
            role = "self"
        else:
            page.keyboard.press("ArrowDown")  # arrows move through a group of radio buttons
            role = "guardian"
        assert page.locator(f"#role-{role}").is_checked()
        tab_until(page, "email", stops, limit=2)  # one Tab leaves the group, one passes the note for others
        page.keyboard.type(typed["email"])
        tab_until(page, "urls", stops, limit=2)  # past the optional contact_safety
        type_lines(page, typed["urls"])
        tab_until(page, "description", stops, limit=2)  # past the optional where
        type_lines(page, typed["description"].split("\n"))
        tab_until(page, "consent", stops, limit=4)  # past the police box and the two links of the hint
        page.keyboard.press("Space")
        assert page.locator("#consent").is_checked()
        page.keyboard.press("Tab")
        focused = page.evaluate(FOCUSED)
        assert focused["what"] == "button.button" and (focused["outline"] or focused["shadow"])
        assert "website" not in [stop["id"] for stop in stops]  # the trap for robots is not a stop
        stack.wait_to_send(opened)
        with page.expect_navigation():
            page.keyboard.press("Enter")
        reference = page.locator("#reference").inner_text().strip()
        assert re.fullmatch(REFERENCE, reference)
        assert recorder.foreign(stack.origin) == []
    finally:
        context.close()

    assert stack.deliver().sent >= 1
    _, _, record = decrypt_mail(stack.received(reference), GPG_SECRET)
    assert {name: record[name] for name in ("role", "email", "urls", "description", "consent", "language")} == {
        "role": role, "email": typed["email"], "urls": typed["urls"], "description": typed["description"],
        "consent": True, "language": lang,
    }
