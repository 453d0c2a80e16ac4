"""The friend and the reporter without a web address, in Debian's Chromium, JavaScript on and off.

Someone who is neither the person shown nor a guardian chooses "someone else": the rest of
the form goes away and what they can do takes its place (the style sheet does it, so it is
the same without JavaScript), before they type anything.  Someone whose images are in an app
or in messages leaves the address empty, says where they are, and the report reaches staff
(real relay, real SMTP server, decrypted with the fixture key) saying that no address was given.
"""

from __future__ import annotations

import time

import pytest

from tests.support.browser import Recorder, route_quick_exit, send_form
from tests.support.keys import GPG_SECRET
from tests.support.reports import FORM_PATHS, OTHER_PATHS, decrypt_mail

JS = pytest.mark.parametrize("js", [True, False], ids=["js", "no-js"])
LANGS = pytest.mark.parametrize("lang", ["ja", "en"])


@pytest.fixture
def context(browser, js):
    made = browser.new_context(java_script_enabled=js, viewport={"width": 390, "height": 844})
    route_quick_exit(made)
    yield made
    made.close()


@JS
@LANGS
def test_someone_else_sees_what_they_can_do_before_typing_anything(context, stack, lang, js):
    recorder = Recorder(context)
    page = context.new_page()
    page.goto(stack.url(FORM_PATHS[lang]))
    assert page.locator("#role-other-note").is_visible()  # said before any choice is made
    assert not page.locator(".other-panel").is_visible()
    page.check("#role-other")
    panel = page.locator(".other-panel")
    assert panel.is_visible()
    for hidden in ("#email", "#urls", "#description", "#consent", "form.report-form button[type=submit]"):
        assert not page.locator(hidden).is_visible(), hidden
    words = {"ja": "写っているご本人か", "en": "from the person in the images"}[lang]
    assert words in panel.inner_text()
    # Changing one's mind brings the form back, as it was.
    page.check("#role-self")
    assert page.locator("#email").is_visible() and not panel.is_visible()
    page.check("#role-other")
    with page.expect_navigation():
        panel.locator(f"a[href='{OTHER_PATHS[lang]}']").click()
    assert page.url == stack.url(OTHER_PATHS[lang])
    assert page.locator("h1").is_visible()
    assert recorder.foreign(stack.origin) == []


@JS
@LANGS
def test_a_report_without_a_web_address(context, stack, lang, js):
    where = {"ja": "Instagramのダイレクトメッセージ。送ってきたアカウント: @someone_x",
             "en": "A closed Discord server called 'class of 2024', posted by user someone_x"}[lang]
    page = context.new_page()
    page.goto(stack.url(FORM_PATHS[lang]))
    opened = time.monotonic()
    page.check("#role-self")
    page.fill("#email", "hanako@example.jp")
    page.fill("#where", where)
    page.fill("#description", "Photos from 2023.")
    page.check("#consent")
    send_form(page, stack, opened)
    reference = page.locator("#reference").inner_text().strip()
    assert page.locator("#followup-code").inner_text().strip().isdigit()

    assert stack.deliver().sent >= 1
    subject, text, record = decrypt_mail(stack.received(reference), GPG_SECRET)
    assert record["urls"] == [] and record["where"] == where
    assert "URL: なし" in text and subject.endswith("URLなし）")


# The panel in view, below the quick-exit band, with focus on it: measured once the page's
# script has moved it there (report.js scrolls in the frame after focus moves).
PANEL_IN_VIEW = """() => {
  const panel = document.getElementById("role-other-panel");
  const band = document.querySelector(".exit-bar").getBoundingClientRect();
  const box = panel.getBoundingClientRect();
  const text = [...panel.querySelectorAll("p")].map((p) => p.getBoundingClientRect());
  const shown = text.filter((r) => r.top >= band.bottom - 1 && r.bottom <= innerHeight + 1);
  return document.activeElement === panel && box.top >= band.bottom - 1
    && shown.length >= Math.min(2, text.length) && text[0].bottom <= innerHeight;
}"""


@LANGS
@pytest.mark.parametrize("width, height", [(390, 844), (320, 640)])
def test_choosing_someone_else_brings_the_explanation_into_view_with_focus(browser, stack, lang, width, height):
    context = browser.new_context(viewport={"width": width, "height": height})
    route_quick_exit(context)
    try:
        page = context.new_page()
        page.goto(stack.url(FORM_PATHS[lang]))
        page.check("#role-other")
        page.wait_for_function(PANEL_IN_VIEW, timeout=10_000)
        assert page.evaluate("document.activeElement.getAttribute('tabindex')") == "-1"
        # The quick exit's band still covers nothing of it after the page settles.
        page.wait_for_timeout(300)
        assert page.evaluate(PANEL_IN_VIEW)
    finally:
        context.close()
