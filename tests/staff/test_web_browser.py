"""The staff kit's interface in a real browser, served by the real command.

``safeline-staff serve --no-browser --port 0`` runs as a subprocess over a staff folder made by
``init`` for a real GnuPG key, whose store holds cases made as the relay makes them
(tests/support/staff_web.py). Debian's Chromium (tests/support/browser.py) opens the link the
command printed, with JavaScript DISABLED: the forms are sent by clicking, every page is used
without script, and nothing is requested from any other host.

axe is itself a script that the test injects into the page (Playwright cannot evaluate anything
in a page whose JavaScript is off), so the same pages are also opened in a second context with
JavaScript on, only for axe: the pages hold no script of their own (asserted), and the CSP would
refuse one. Every page of the interface (the list, a case, a hostile case, the reply drafts,
the phone form empty and with errors, the delete confirmation, a deleted case, 400, 403 and
404) passes axe with no violation at 1280 px and at 390 px, and nothing scrolls sideways.
"""

from __future__ import annotations

import re

import pytest
from staff.setup import open_store
from tests.support.staff_browser import check
from tests.support.staff_web import HOSTILE, RecordingBrowser, filled_into, running_serve, serving

@pytest.fixture(scope="module")
def served(tmp_path_factory, staff_gnupg):
    from staff.home import Config, Home
    from staff.setup import init

    home = Home(tmp_path_factory.mktemp("web-home") / "staff-home")
    init(home, Config(key=staff_gnupg.fingerprint, gnupg_home=str(staff_gnupg.home)))
    with open_store(home) as store:
        cases = filled_into(store)
    with running_serve(home) as running:
        running.cases = cases
        yield running


def opened(browser, served, *, js: bool):
    """A context that has opened the printed link: the token became a cookie, and left the address."""
    made = browser.new_context(java_script_enabled=js, viewport={"width": 1280, "height": 800})
    made.requests = []
    made.on("request", lambda request: made.requests.append(request.url))
    page = made.new_page()
    response = page.goto(served.url)
    assert response.ok and page.url == served.at("/")
    assert "token" not in page.url
    page.close()
    return made


@pytest.fixture(scope="module")
def context(browser, served):
    """JavaScript off: how the interface is used in these tests."""
    made = opened(browser, served, js=False)
    yield made
    made.close()


@pytest.fixture(scope="module")
def axe_context(browser, served):
    """JavaScript on, only so that the test can inject axe."""
    made = opened(browser, served, js=True)
    yield made
    made.close()


def watch(context, served):
    page = context.new_page()
    page.seen = len(context.requests)
    page.errors = []
    page.on("console", lambda message: page.errors.append(message.text) if message.type == "error" else None)
    return page


def done(page, context, served):
    page.close()
    assert [url for url in context.requests[page.seen:] if not url.startswith(served.origin + "/")] == []
    # A page's own 4xx shows as a console message; nothing else may (a CSP violation would).
    assert [text for text in page.errors
            if not re.fullmatch(r"Failed to load resource: .* (400|403|404|422) .*", text)] == []


@pytest.fixture
def page(context, served):
    page = watch(context, served)
    yield page
    done(page, context, served)


@pytest.fixture
def axe_page(axe_context, served):
    page = watch(axe_context, served)
    yield page
    done(page, axe_context, served)


def open_page(page, served, path: str, status: int = 200):
    response = page.goto(served.at(path))
    assert response.status == status, (path, response.status)
    assert "<script" not in response.text().lower()
    return response


PAGES = {
    "list": lambda s: "/", "list-en": lambda s: "/en/", "list-filtered": lambda s: "/?status=new&q=example",
    "case": lambda s: f"/case/{s.cases.plain}", "case-en": lambda s: f"/en/case/{s.cases.english}",
    "case-hostile": lambda s: f"/case/{s.cases.hostile}", "case-orphan": lambda s: f"/en/case/{s.cases.orphan}",
    "case-phone": lambda s: f"/case/{s.cases.phone}",
    "reply": lambda s: f"/case/{s.cases.plain}/reply", "reply-en": lambda s: f"/en/case/{s.cases.english}/reply",
    "reply-hostile": lambda s: f"/case/{s.cases.hostile}/reply",
    "phone": lambda s: "/phone", "phone-en": lambda s: "/en/phone",
    "delete": lambda s: f"/case/{s.cases.english}/delete", "delete-en": lambda s: f"/en/case/{s.cases.english}/delete",
}
ERRORS = {"404": ("/no/such/page", 404), "404-en": ("/en/case/SL-2345-6789", 404), "400": ("/?page=0", 400),
          "400-en": ("/en/?status=nope", 400)}


@pytest.mark.parametrize("name", PAGES)
def test_every_page_works_without_javascript_and_passes_axe_at_both_widths(page, axe_page, served, name):
    open_page(page, served, PAGES[name](served))
    assert page.locator("main h1").is_visible()
    open_page(axe_page, served, PAGES[name](served))
    check(axe_page, name)


@pytest.mark.parametrize("name", ERRORS)
def test_every_error_page_passes_axe(axe_page, served, name):
    path, status = ERRORS[name]
    open_page(axe_page, served, path, status)
    check(axe_page, name)


def test_the_403_page_without_the_secret_passes_axe(browser, served):
    context = browser.new_context(java_script_enabled=True)
    try:
        page = context.new_page()
        assert page.goto(served.at("/en/")).status == 403
        assert "?token=" in page.inner_text("main")
        check(page, "403")
    finally:
        context.close()


def test_forms_with_errors_and_a_deleted_case_pass_axe(axe_page, served):
    page = axe_page
    open_page(page, served, f"/en/case/{served.cases.orphan}")
    with page.expect_navigation():
        page.click("text=Add the note")
    assert page.locator(".error-summary").is_visible()
    # The summary takes the focus, without script (autofocus).
    # Autofocus is applied at a rendering update after the load: wait for it (it fails after 30 s).
    page.wait_for_function("document.activeElement && document.activeElement.className === 'error-summary'")
    check(page, "case with a note error")
    open_page(page, served, "/phone")
    with page.expect_navigation():
        page.click("button[type=submit]")
    check(page, "phone with errors")
    page.check("#role-self")
    page.fill("#description", "axe の確認")
    with page.expect_navigation():
        page.click("button[type=submit]")
    reference = page.url.rsplit("/", 1)[1]
    open_page(page, served, f"/case/{reference}/delete")
    with page.expect_navigation():
        page.click("button.danger")
    check(page, "deleted")


def test_forms_work_by_clicking_without_javascript(page, served):
    cases = served.cases
    # A note with an error first: the summary, then the note added.
    open_page(page, served, f"/en/case/{cases.plain}")
    with page.expect_navigation():
        page.click("text=Add the note")
    assert page.locator(".error-summary").is_visible()
    page.fill("#note", "Called back <b>at 18:00</b>.")
    with page.expect_navigation():
        page.click("text=Add the note")
    assert "Called back <b>at 18:00</b>." in page.inner_text("#notes")
    # The status.
    page.select_option("#new-status", "in_progress")
    with page.expect_navigation():
        page.click("text=Change the status")
    assert page.locator(".facts .status").inner_text() == "In progress"
    # A phone case, with errors first.
    open_page(page, served, "/phone")
    with page.expect_navigation():
        page.click("button[type=submit]")
    assert page.locator(".error-summary li").count() == 2  # who called, what they said (Japanese is chosen)
    page.check("#role-guardian")
    page.fill("#description", "電話での相談")
    page.fill("#urls", "https://phone.example.jp/a\nhttps://phone.example.jp/b")
    with page.expect_navigation():
        page.click("button[type=submit]")
    assert re.search(r"/case/TEL-\d{8}-\d{3}-[0-9A-F]{4}$", page.url)
    assert "phone.example.jp" in page.inner_text("main")
    # Delete it: the confirmation, then the page that says the mails stay.
    reference = page.url.rsplit("/", 1)[1]
    with page.expect_navigation():
        page.click(f"a[href='/case/{reference}/delete']")
    with page.expect_navigation():
        page.click("button.danger")
    assert "メールボックスに残ります" in page.inner_text("main")
    assert open_page(page, served, f"/case/{reference}", 404)


def test_report_text_shows_as_text_and_urls_are_not_links(page, served):
    open_page(page, served, f"/case/{served.cases.hostile}")
    text = page.inner_text("main")
    assert HOSTILE in text
    assert page.locator("main a[href^='http']").count() == 0
    assert page.locator("main img, main script, main iframe").count() == 0


def test_the_reply_link_is_a_mailto_beside_the_contact_safety_notes(page, served):
    open_page(page, served, f"/en/case/{served.cases.english}/reply")
    links = page.locator("a[href^='mailto:']")
    assert links.count() == 2
    assert links.first.get_attribute("href").startswith("mailto:alex@example.org?subject=")
    assert page.locator(".caution").inner_text().count("Only write after 6 pm.") == 1


def test_the_launcher_page_opens_the_kit_in_a_real_browser(browser, staff_home, tmp_path):
    # serve hands the browser a file:// page that forwards to the link (no secret on a command
    # line). A navigation begun by a file:// page is cross-site: Chromium sends no
    # SameSite=Strict cookie on a redirect of it, so the guard answers with a page that goes
    # on by itself. Without JavaScript, as always.
    recording = RecordingBrowser(tmp_path)
    context = browser.new_context(java_script_enabled=False)
    try:
        with serving(staff_home, env=recording.env) as (_, line):
            origin = re.search(r"http://127\.0\.0\.1:\d+", line).group(0)
            page = context.new_page()
            page.goto(recording.opened())
            page.wait_for_url(origin + "/", timeout=30_000)
            page.wait_for_load_state()
            # The case list, not the page that asks for the link (403).
            assert "safeline-staff serve" not in page.content()
            assert page.locator("form[role=search], input[name=q]").count() > 0
            assert "token" not in page.url
    finally:
        context.close()
