"""A report from start to finish in Debian's Chromium, with JavaScript on and off, in both languages.

Home page → the report form → a mistake → the form again, with what was typed and the error
tied to its field → corrected → sent → the reference number.  Then the real delivery worker
hands the sealed mail to the real SMTP server (aiosmtpd), and the GnuPG fixture key decrypts
it to exactly what was typed.

All along, the test records every request the browser makes and every way a page could store
something (an init script wraps the storage APIs before any page script runs): nothing may go to
another host than the site (the quick exit's neutral site is answered locally), and nothing may
be stored: no cookie, localStorage, sessionStorage, IndexedDB, Cache Storage or service worker.
Last, the quick exit leaves the confirmation with no history entry to go back to.
"""

from __future__ import annotations

import re
import time

import pytest

from tests.support.browser import (
    EMPTY_STORAGE, QUICK_EXIT_URL, READ_STORAGE, RECORD_STORAGE_WRITES, Recorder, route_quick_exit, send_form,
)
from tests.support.keys import GPG_SECRET
from tests.support.reports import FORM_PATHS, REFERENCE, decrypt_mail

HOME = {"ja": "/", "en": "/en/"}
# What the reporter types, the mistake they make first, and how they put it right.
TYPED = {
    "ja": {
        "role": "self",
        "email": "hanako.yamada@example.jp",
        "urls": ["https://images.example.com/p/12345", "https://sns.example.net/hanako_fake/status/987654321"],
        "description": "知らないうちに、元交際相手が写真を投稿しました。\n黒い服を着ています。2026年10月ごろから見られます。",
        "mistake": ("email", "hanako.yamada.example.jp"),  # the @ forgotten
    },
    "en": {
        "role": "guardian",
        "email": "parent+report@example.org",
        "urls": ["https://forum.example.com/t/4242?page=2"],
        "description": "Photos of my son (16) at a party.\nHe is wearing a red T-shirt.",
        "mistake": ("consent", None),  # the box left unticked
    },
}
# The staff's text part is in Japanese whatever the form's language.
ROLE_WORDS = {"self": "本人", "guardian": "保護者"}
LANGUAGE_WORDS = {"ja": "日本語（ja）", "en": "英語（en）"}


def fill(page, typed: dict, *, email: str, consent: bool) -> None:
    page.locator(f"#role-{typed['role']}").check()
    page.locator("#email").fill(email)
    page.locator("#urls").fill("\n".join(typed["urls"]))
    page.locator("#description").fill(typed["description"])
    page.locator("#consent").set_checked(consent)


def writes(page, js: bool) -> list[str]:
    """What the page tried to store since it loaded (JavaScript on: the init script's record)."""
    if not js:
        return []
    recorded = page.evaluate("window.__storageWrites")
    assert recorded is not None, "the storage recorder did not run before the page's scripts"
    return recorded


@pytest.mark.parametrize("lang", ["ja", "en"])
@pytest.mark.parametrize("js", [True, False], ids=["js", "no-js"])
def test_a_report_from_the_home_page_to_the_staff_mailbox(browser, stack, js, lang):
    typed = TYPED[lang]
    context = browser.new_context(java_script_enabled=js)
    route_quick_exit(context)
    recorder = Recorder(context)
    context.add_init_script(RECORD_STORAGE_WRITES)
    stored: dict[str, list[str]] = {}
    try:
        page = context.new_page()
        page.goto(stack.url(HOME[lang]))
        stored["home"] = writes(page, js)

        # Reach the form from the home page, as a visitor does.
        page.locator(f"main a.button[href='{FORM_PATHS[lang]}']").click()  # the home page's button
        page.wait_for_url(stack.url(FORM_PATHS[lang]))
        opened = time.monotonic()
        stored["form"] = writes(page, js)

        # A mistake…
        field, wrong = typed["mistake"]
        fill(page, typed, email=wrong if field == "email" else typed["email"], consent=field != "consent")
        send_form(page, stack, opened)
        assert page.url == stack.url(FORM_PATHS[lang])
        summary = page.locator(".error-summary")
        assert summary.count() == 1 and page.title().startswith("エラー" if lang == "ja" else "Error")
        assert summary.locator("a").count() == 1
        assert summary.locator("a").get_attribute("href") == ("#email" if field == "email" else "#consent")
        assert page.evaluate("document.activeElement.classList.contains('error-summary')")  # autofocus
        error = page.locator(f"#{field}-error")
        assert error.is_visible()
        described = page.locator(f"#{field}" if field == "email" else "fieldset:has(#consent)").get_attribute("aria-describedby")
        assert f"{field}-error" in described.split()
        # … and everything typed is still there.
        assert page.locator(f"#role-{typed['role']}").is_checked()
        assert page.locator("#urls").input_value() == "\n".join(typed["urls"])
        assert page.locator("#description").input_value() == typed["description"]
        stored["error"] = writes(page, js)

        # Corrected and sent.
        if field == "email":
            page.locator("#email").fill(typed["email"])
        else:
            page.locator("#consent").check()
        send_form(page, stack, opened)
        assert page.url.startswith(stack.url(FORM_PATHS[lang] + "sent/?r="))
        reference = page.locator("#reference").inner_text().strip()
        assert re.fullmatch(REFERENCE, reference)
        sent_url = page.url
        stored["sent"] = writes(page, js)
        assert stored == {name: [] for name in stored}

        posts = [url for method, url, _ in recorder.requests if method == "POST"]
        assert posts == [stack.url(FORM_PATHS[lang])] * 2  # the mistake, then the report

        # The quick exit from the confirmation.
        page.locator("a.quick-exit").click()
        page.wait_for_url(QUICK_EXIT_URL)
        if js:  # location.replace: no entry to go back to
            # The entry before is the answer to the first POST (the form with the mistake), which
            # headless Chromium posts again (a person is asked first): go_back() waits for that
            # answer, the relay's own for a spent form (409), never the confirmation again.  The
            # safety page advises closing the tab.
            response = page.go_back()
            assert response is not None and (response.request.method, response.status) == ("POST", 409)
            assert page.url == stack.url(FORM_PATHS[lang])
            assert page.url != sent_url
            shown = page.content()
            assert reference not in shown
            # If it was posted again, the relay recognises the spent form: nothing typed is shown.
            for value in (typed["description"].split("\n")[0], typed["urls"][0]):
                assert value not in shown
        else:  # an ordinary link: Back returns, as the safety page says
            page.go_back()
            assert page.url == sent_url

        # Nothing stored, whatever the page did: look with a fresh page of the same origin.
        assert context.cookies() == []
        probe = context.new_page()
        probe.goto(stack.url(HOME[lang]))
        assert probe.evaluate(READ_STORAGE) == EMPTY_STORAGE
        assert context.storage_state()["origins"] == []
        # Nothing went to another host; no answer tried to set a cookie.
        assert recorder.foreign(stack.origin) == []
        assert recorder.set_cookies == []
        assert len(recorder.exits()) == 1 and "referer" not in recorder.exits()[0][2]
    finally:
        context.close()

    # The staff receive it: the worker delivers the outbox, the mail decrypts to what was typed.
    assert stack.deliver().sent >= 1
    mail = stack.received(reference)
    for secret in (typed["email"], typed["description"].split("\n")[0], typed["urls"][0]):
        assert secret.encode() not in mail  # the outer mail carries none of it
    subject, text, record = decrypt_mail(mail, GPG_SECRET)
    assert reference in subject
    assert record["reference"] == reference
    assert {name: record[name] for name in ("role", "email", "urls", "description", "consent", "language")} == {
        "role": typed["role"], "email": typed["email"], "urls": typed["urls"], "description": typed["description"],
        "consent": True, "language": lang,
    }
    text = text.replace("\r\n", "\n")  # a text part's line ends are CRLF on the wire (RFC 2046)
    lines = text.split("\n")
    assert f"受付番号: {reference}" in lines
    assert f"フォームの言語: {LANGUAGE_WORDS[lang]}" in lines
    assert f"通報者: {ROLE_WORDS[typed['role']]}" in lines
    assert f"メールアドレス: {typed['email']}" in lines
    assert f"URL（{len(typed['urls'])}件）:" in lines
    for number, url in enumerate(typed["urls"], start=1):
        assert f"  {number}. {url}" in lines
    assert f"\n内容:\n{typed['description']}\n" in text
    assert "同意: はい" in lines


def test_the_storage_recorder_sees_every_kind_of_write(browser, stack):
    """The instrument of the journey works: each write a page could make is recorded."""
    context = browser.new_context()
    context.add_init_script(RECORD_STORAGE_WRITES)
    try:
        page = context.new_page()
        page.goto(stack.url("/"))
        assert page.evaluate("window.__storageWrites") == []
        page.evaluate("""async () => {
          localStorage.setItem('a', '1');
          sessionStorage.setItem('b', '2');
          document.cookie = 'c=3';
          indexedDB.open('d');
          await caches.open('e');
          await navigator.serviceWorker.register('/sw.js').catch(() => null);
        }""")
        recorded = [entry.split(" ")[0] for entry in page.evaluate("window.__storageWrites")]
        assert recorded == ["Storage.setItem", "Storage.setItem", "document.cookie", "indexedDB.open", "caches.open",
                            "serviceWorker.register"]
        # And the fresh look finds what was stored.
        found = context.new_page()
        found.goto(stack.url("/"))
        state = found.evaluate(READ_STORAGE)
        assert state["local"] == 1 and state["cookie"] == "c=3" and state != EMPTY_STORAGE
        assert context.cookies() != []
    finally:
        context.close()
