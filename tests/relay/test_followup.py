"""Back to the same report: the follow-up code, and /report/more/ through the real relay.

A report is sent and delivered to the real SMTP server; its confirmation shows the reference
and the follow-up code; an addition sent with both reaches staff as a second PGP/MIME mail,
decrypted here with the real staff keys, whose outer In-Reply-To and References name the
report's Message-ID (so a mail client threads them) and whose outer headers say nothing else.
A wrong pair sends nothing, keeps what was typed and is counted by the limits.
"""

from __future__ import annotations

import logging
import re
from email import message_from_bytes, policy

import pytest

import relay
from devtools.mailbox import unseal
from relay.delivery import Counts
from tests.support.relay_app import deliver, outbox_files
from tests.support.reports import (
    MORE_PATHS, OUTER_HEADERS, OUTER_REPLY_HEADERS, REFERENCE, decrypt_mail, get_token, parse, sent_codes, submit,
    submit_more,
)

WRONG = {"ja": "受付番号と追加用コードの組み合わせが合わない", "en": "do not belong together"}
ADDED = {"ja": "追加の内容はセーフラインに届きました", "en": "What you added has reached the hotline."}


def other_code(code: str) -> str:
    return f"{(int(code) + 1) % 10 ** len(code):0{len(code)}d}"


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_the_confirmation_shows_the_reference_and_its_follow_up_code(client, lang):
    reference, code = sent_codes(client, submit(client, lang=lang))
    assert REFERENCE.match(reference)
    assert re.fullmatch(r"\d{8}", code), code
    page = parse(client.get(MORE_PATHS[lang]))  # the confirmation links to the form that uses them
    assert page.status == 200 and page.find("form").get("action") == MORE_PATHS[lang]


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_the_confirmation_says_how_to_add_and_to_keep_both_safe(client, lang):
    response = submit(client, lang=lang)
    page = parse(client.get(response.headers["Location"]))
    assert {"ja": "パスワードと同じように", "en": "Keep them like a password"}[lang] in page.text
    assert page.find("a", href=MORE_PATHS[lang])
    # One support block (the page's own), and the quick exit and safety page recalled.
    assert len(page.find_all("aside")) == 1
    assert page.find("a", href={"ja": "/safety/", "en": "/en/safety/"}[lang])
    assert {"ja": "すぐにこのサイトを離れる", "en": "Leave this site now"}[lang] in page.by_id("main").text


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_an_addition_reaches_staff_threaded_under_its_report(app, client, mail_server, staff_keys, outbox_dir,
                                                             caplog, lang):
    caplog.set_level(logging.INFO, logger="relay")
    reference, code = sent_codes(client, submit(client, lang=lang))
    assert deliver(app()) == Counts(sent=1)

    # Copied as people copy: lower case, full-width digits, spaces.
    typed_reference = reference.lower().replace("-", " ")
    typed_code = "".join(chr(ord(c) + 0xFEE0) for c in code[:4]) + " " + code[4:]
    added = "https://more.example.com/p/secret-path-77\nmore.example.net/album/9"
    response = submit_more(client, lang=lang, reference=typed_reference, code=typed_code, urls=added,
                           description="同じ写真がほかにもありました。")
    assert response.status_code == 303, parse(response).text
    assert response.headers["Location"].startswith(MORE_PATHS[lang] + "sent/?r=")
    done = parse(client.get(response.headers["Location"]))
    assert ADDED[lang] in done.text and done.by_id("reference").text.strip() == reference
    assert not done.has_id("followup-code")

    assert deliver(app()) == Counts(sent=1)
    report_mail, addition_mail = (path.read_bytes() for path in mail_server.messages())
    report_outer = message_from_bytes(report_mail, policy=policy.default)
    outer = message_from_bytes(addition_mail, policy=policy.default)
    assert sorted(outer.keys()) == sorted(OUTER_REPLY_HEADERS)
    assert sorted(report_outer.keys()) == sorted(OUTER_HEADERS)
    assert outer["In-Reply-To"] == outer["References"] == report_outer["Message-ID"]
    assert outer["Message-ID"] != report_outer["Message-ID"]
    assert outer["Subject"] == f"Re: Safeline report {reference}"
    for value in ("secret-path-77", "more.example", code):
        assert value.encode() not in addition_mail
        assert value not in caplog.text

    for name, secret in staff_keys.secrets.items():
        subject, text, record = decrypt_mail(addition_mail, secret)
        assert subject == f"セーフライン通報 {reference} への追加（URL 2件）", name
        assert record == {
            "format": 1, "kind": "addition", "reference": reference, "received_at": record["received_at"],
            "urls": ["https://more.example.com/p/secret-path-77", "https://more.example.net/album/9"],
            "where": "", "description": "同じ写真がほかにもありました。", "language": lang,
        }, name
        assert "セーフライン通報への追加" in text and f"受付番号: {reference}" in text
        protected = unseal(addition_mail, secret)  # the protected headers say the same
        assert protected["In-Reply-To"] == protected["References"] == report_outer["Message-ID"]
    assert outbox_files(outbox_dir) == []


def test_the_code_outlives_a_restart_and_depends_on_the_secret(app, relay_env):
    first = app()
    reference, code = sent_codes(first.test_client(), submit(first.test_client()))
    again = relay.create_app(relay_env).test_client()
    assert submit_more(again, reference=reference, code=code).status_code == 303
    other = relay.create_app({**relay_env, "RELAY_SECRET_KEY": "another-secret-key-of-enough-length-0123"})
    assert submit_more(other.test_client(), reference=reference, code=code).status_code == 422


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_a_wrong_pair_sends_nothing_and_keeps_what_was_typed(client, outbox_dir, lang):
    reference, code = sent_codes(client, submit(client, lang=lang))
    before = outbox_files(outbox_dir)
    typed = {"reference": reference, "code": other_code(code), "urls": "https://more.example.com/x",
             "description": "ほかにも見つけました"}
    response = submit_more(client, lang=lang, **typed)
    assert response.status_code == 422
    page = parse(response)
    for name, value in typed.items():
        assert page.value(name) == value, name
    assert [href for href, _ in page.summary_links()] == ["#code"]
    assert WRONG[lang] in page.by_id("code-error").text
    assert "code-error" in page.described_by("code")
    assert outbox_files(outbox_dir) == before

    # A reference that was never given is refused the same way: nothing tells it apart.
    response = submit_more(client, lang=lang, reference="SL-2222-2222", code=code)
    assert response.status_code == 422 and WRONG[lang] in parse(response).by_id("code-error").text


def test_wrong_codes_are_counted_by_the_limits(app, relay_env, outbox_dir):
    limited = relay.create_app({**relay_env, "RELAY_RATELIMIT": "3 per hour"}).test_client()
    reference, code = sent_codes(limited, submit(limited))  # one of the three
    for _ in range(2):
        assert submit_more(limited, reference=reference, code=other_code(code)).status_code == 422
    # The limit is spent by the guesses: even the right pair now waits.
    response = submit_more(limited, reference=reference, code=code)
    assert response.status_code == 429
    page = parse(response)
    assert page.value("reference") == reference and page.value("code") == code
    assert len(outbox_files(outbox_dir)) == 1


@pytest.mark.parametrize("fields, field, message", [
    ({"reference": "", "code": "12345678"}, "reference", "Enter the reference number"),
    ({"reference": "SL-7K3F", "code": "12345678"}, "reference", "Enter the reference number"),
    ({"reference": "SL-7K3F-Q9XD", "code": "1234"}, "code", "8 digits"),
    ({"reference": "SL-7K3F-Q9XD", "code": "abcdefgh"}, "code", "8 digits"),
    ({"reference": "SL-7K3F-Q9XD", "code": "12345678", "urls": ""}, "urls", "at least one page"),
    ({"reference": "SL-7K3F-Q9XD", "code": "12345678", "urls": "file:///home/me/a.jpg"}, "urls", "a file on your device"),
    ({"reference": "SL-7K3F-Q9XD", "code": "12345678", "description": "x" * 4001}, "description", "4,000"),
])
def test_the_addition_form_explains_each_problem(client, outbox_dir, fields, field, message):
    response = submit_more(client, lang="en", **fields)
    assert response.status_code == 422
    page = parse(response)
    assert message in page.by_id(f"{field}-error").text
    assert outbox_files(outbox_dir) == []


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_the_addition_form_has_the_report_forms_guards(client, lang):
    page = parse(client.get(MORE_PATHS[lang]))
    form = page.find("form")
    assert "novalidate" in form.attrs and form.get("method") == "post"
    controls = [e for e in page.elements if e.tag in ("input", "textarea") and e.get("type") != "hidden"]
    assert {c.get("name") for c in controls} == {"reference", "code", "urls", "where", "description", "website"}
    for control in controls:
        assert len(page.find_all("label", for_=control.get("id"))) == 1

    # No token: 400 with what was typed; the honeypot: 422; another site: 403.
    response = submit_more(client, lang=lang, token="", reference="SL-7K3F-Q9XD", code="12345678")
    assert response.status_code == 400 and parse(response).value("reference") == "SL-7K3F-Q9XD"
    assert submit_more(client, lang=lang, website="http://spam.example").status_code == 422
    response = submit_more(client, lang=lang, headers={"Origin": "https://evil.example"})
    assert response.status_code == 403


def test_the_same_addition_sent_twice_is_one_mail(client, outbox_dir):
    reference, code = sent_codes(client, submit(client))
    token = get_token(client, "ja", MORE_PATHS)
    first = submit_more(client, token=token, reference=reference, code=code)
    second = submit_more(client, token=token, reference=reference, code=code)
    assert first.status_code == second.status_code == 303
    assert first.headers["Location"].split("?")[0] == second.headers["Location"].split("?")[0]
    assert len(outbox_files(outbox_dir)) == 2  # the report and one addition
