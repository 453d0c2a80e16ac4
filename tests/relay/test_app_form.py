"""The report form through the real relay: what it shows, what it refuses, what it seals.

Every request goes through the Flask app built by ``relay.create_app``; accepted reports are
sealed with the real staff keys, written to a real outbox, delivered to a real SMTP server
and decrypted again with each staff member's secret key.
"""

from __future__ import annotations

import html
import logging
from email import message_from_bytes, policy
from urllib.parse import unquote

import pytest

from relay.delivery import Counts
from tests.support.relay_app import (
    RELAY_MAIL_FROM, RELAY_MAIL_TO, accepted_record, deliver, outbox_files, stored_record,
)
from tests.support.reports import FORM_PATHS, OUTER_HEADERS, REFERENCE, VALID, decrypt_mail, get_token, parse, submit

FIELD_ORDER = ["role", "email", "urls", "description", "consent"]
ANCHORS = {"role": "#role-self", "email": "#email", "urls": "#urls", "description": "#description", "consent": "#consent"}
ERROR_PREFIX = {"ja": "エラー：", "en": "Error:"}
REQUIRED = {"ja": "※必須", "en": "Required"}
TITLE = {"ja": "通報フォーム | セーフライン", "en": "Report form | Safeline"}

# The message of each check, in each language (from the catalogs, written out here so that a
# wrong or missing translation fails).
MESSAGES = {
    "role": {"en": "Choose who you are", "ja": "どなたからの通報かを選んでください"},
    "email_missing": {"en": "Enter your e-mail address", "ja": "メールアドレスを書いてください"},
    "email_invalid": {"en": "Enter an e-mail address in the form name@example.jp.",
                      "ja": "メールアドレスは name@example.jp のような形で書いてください。"},
    "email_long": {"en": "This e-mail address is too long.", "ja": "メールアドレスが長すぎます。"},
    "urls_missing": {"en": "Enter the address (URL) of at least one page", "ja": "少なくとも1つ書いてください"},
    "urls_many": {"en": "Enter at most 30 addresses.", "ja": "アドレスは30件までにしてください。"},
    "url_long": {"en": "this address is longer than 2,048 characters", "ja": "このアドレスは2,048文字をこえています"},
    "url_scheme": {"en": "only web addresses starting with http:// or https://", "ja": "確認できるのは http:// か https:// で始まるウェブのアドレスだけです"},
    "url_file": {"en": "this is a file on your device", "ja": "これはお使いの端末の中のファイルで"},
    "url_search": {"en": "this is a page of search results", "ja": "これは検索結果のページです"},
    "url_host": {"en": "this does not look like a web address", "ja": "ウェブのアドレスではないようです"},
    "url_space": {"en": "an address cannot contain spaces", "ja": "アドレスに空白は入りません"},
    "description_missing": {"en": "Describe the images", "ja": "画像の説明を書いてください"},
    "description_long": {"en": "Shorten the description to 4,000 characters or fewer (it has 4,001).",
                         "ja": "説明を4,000文字以内にしてください（いまは4,001文字です）。"},
    "consent": {"en": "Tick the box to confirm that you understand the points", "ja": "上の注意点を確認したら、チェックを入れてください"},
}
LINE = {"en": "Line {n}: ", "ja": "{n}行目："}


def field_control(page, field: str):
    """The element whose aria-describedby names the field's hint and error."""
    if field in ("role", "consent"):
        return page.by_id(f"{field}-hint").parent  # the fieldset of the choices
    return page.by_id(field)


def assert_form_back(response, lang: str, typed: dict, errors: dict[str, list[str]]):
    """422 and the same form, everything typed kept, each message in the summary and at its field."""
    assert response.status_code == 422
    page = parse(response)
    assert page.lang == lang
    assert page.title.startswith(ERROR_PREFIX[lang]), page.title
    summary = page.find(class_="error-summary")
    assert summary.get("role") == "alert"
    links = page.summary_links()
    # Every field with a problem is linked, in the order of the form, to an element that exists.
    assert [href for href, _ in links] == [ANCHORS[f] for f in FIELD_ORDER for _ in errors.get(f, [])], links
    for href, _ in links:
        assert page.has_id(href[1:])
    for field in FIELD_ORDER:
        control = field_control(page, field)
        if field in errors:
            at_field = " ".join(page.by_id(f"{field}-error").text.split())
            assert at_field.startswith(ERROR_PREFIX[lang])
            for fragment in errors[field]:
                assert fragment in at_field, (field, fragment, at_field)
                assert any(fragment in text for href, text in links if href == ANCHORS[field])
            assert f"{field}-error" in control.get("aria-describedby").split()
            assert f"{field}-hint" in control.get("aria-describedby").split()
        else:
            assert not page.has_id(f"{field}-error")
            assert f"{field}-error" not in control.get("aria-describedby").split()
    assert_values_kept(page, typed)
    return page


def assert_values_kept(page, typed: dict):
    for name in ("email", "urls", "description"):
        assert page.value(name) == typed.get(name, ""), name
    role = typed.get("role")
    assert page.value("role") == (role if role in ("self", "guardian", "other") else None)
    assert page.value("consent") == ("yes" if typed.get("consent") == "yes" else None)
    assert page.value("website") == ""


def post(client, lang="ja", **fields):
    """Submit and return (response, what was typed)."""
    typed = {**VALID, **fields}
    typed = {name: value for name, value in typed.items() if value is not None}
    return submit(client, lang=lang, **fields), typed


# -- the empty form --------------------------------------------------------------------------

@pytest.mark.parametrize("lang", ["ja", "en"])
def test_the_form_is_served_in_its_language(client, lang):
    response = client.get(FORM_PATHS[lang])
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    page = parse(response)
    assert page.lang == lang
    assert page.title == TITLE[lang]
    assert page.find("h1").text.strip() == TITLE[lang].split(" | ")[0]
    assert page.find_all(class_="error-summary") == []


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_every_control_has_a_label_and_required_fields_say_so_in_words(client, lang):
    page = parse(client.get(FORM_PATHS[lang]))
    form = page.find("form")
    assert "novalidate" in form.attrs
    assert form.get("method") == "post"
    assert form.get("action") == FORM_PATHS[lang]
    assert form.get("enctype") in (None, "application/x-www-form-urlencoded")
    assert "multipart" not in page.html
    assert page.find_all("input", type="file") == []

    controls = [e for e in page.elements if e.tag in ("input", "textarea", "select") and e.get("type") != "hidden"]
    assert {c.get("name") for c in controls} == {"role", "email", "contact_safety", "urls", "where", "description",
                                                 "police", "consent", "website"}
    for control in controls:
        labels = page.find_all("label", for_=control.get("id"))
        assert len(labels) == 1 and labels[0].text.strip(), control
    # Nothing the browser would check by itself: the relay's own messages say what is wrong.
    assert not any("required" in c.attrs for c in controls)

    required = page.find_all("span", class_="required")
    assert len(required) == 5
    assert all(span.text.strip() == REQUIRED[lang] for span in required)
    optional = page.find_all("span", class_="optional")
    assert len(optional) == 3 and all(span.text.strip() == {"ja": "任意", "en": "Optional"}[lang] for span in optional)
    for field in ("contact_safety", "where"):
        assert REQUIRED[lang] not in page.find("label", for_=field).text
    for field in ("email", "urls", "description"):
        assert REQUIRED[lang] in page.find("label", for_=field).text
    for field in ("role", "consent"):
        fieldset = page.by_id(f"{field}-hint").parent
        assert fieldset.tag == "fieldset"
        assert REQUIRED[lang] in [e for e in page.find_all("legend") if e.parent is fieldset][0].text


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_hints_are_tied_to_their_fields(client, lang):
    page = parse(client.get(FORM_PATHS[lang]))
    for field in FIELD_ORDER:
        control = field_control(page, field)
        assert control.get("aria-describedby").split() == [f"{field}-hint"]
        hint = page.by_id(f"{field}-hint")
        assert "hint" in hint.classes and hint.text.strip()
    # The honeypot is hidden from people and assistive technology alike.
    trap = page.by_id("website").parent
    assert trap.get("aria-hidden") == "true" and page.by_id("website").get("tabindex") == "-1"


# -- what the checks refuse ------------------------------------------------------------------

@pytest.mark.parametrize("lang", ["ja", "en"])
def test_missing_role(client, outbox_dir, lang):
    response, typed = post(client, lang, role=None)
    assert_form_back(response, lang, typed, {"role": [MESSAGES["role"][lang]]})
    assert outbox_files(outbox_dir) == []


def test_an_unknown_role_is_refused(client, outbox_dir):
    response, typed = post(client, role="admin")
    assert_form_back(response, "ja", typed, {"role": [MESSAGES["role"]["ja"]]})


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_someone_else_is_told_why_and_nothing_is_sent(client, outbox_dir, lang):
    response = submit(client, lang=lang, role="other")
    assert response.status_code == 200
    page = parse(response)
    assert page.lang == lang
    expected = {"ja": "通報は送られていません", "en": "Nothing has been sent."}[lang]
    assert expected in page.text
    assert page.find_all("form") == []
    assert page.find("a", href=FORM_PATHS[lang])  # back to the form
    assert outbox_files(outbox_dir) == []


@pytest.mark.parametrize("email, message", [
    ("", "email_missing"),
    ("   ", "email_missing"),
    ("hanako", "email_invalid"),
    ("hanako@", "email_invalid"),
    ("@example.jp", "email_invalid"),
    ("hanako@example", "email_invalid"),
    ("hanako@@example.jp", "email_invalid"),
    ("hanako yamada@example.jp", "email_invalid"),
    ("hanako@example..jp", "email_invalid"),
    ("<hanako@example.jp>", "email_invalid"),
    ("hanako@example.jp, taro@example.jp", "email_invalid"),
    ("a" * 250 + "@example.jp", "email_long"),
])
@pytest.mark.parametrize("lang", ["ja", "en"])
def test_a_missing_or_invalid_email_is_refused(client, outbox_dir, email, message, lang):
    response, typed = post(client, lang, email=email)
    assert_form_back(response, lang, typed, {"email": [MESSAGES[message][lang]]})
    assert outbox_files(outbox_dir) == []


@pytest.mark.parametrize("email, stored", [
    ("山田@例え.jp", "山田@例え.jp"),
    ("user@bücher.de", "user@bücher.de"),
    ("  Hanako.Yamada+safeline@Example.JP ", "Hanako.Yamada+safeline@example.jp"),
])
def test_international_and_untidy_addresses_are_accepted(client, outbox_dir, staff_keys, email, stored):
    assert accepted_record(client, outbox_dir, staff_keys, email=email)["email"] == stored


@pytest.mark.parametrize("urls, message, line", [
    ("", "urls_missing", None),
    ("\n \n\t\n", "urls_missing", None),
    ("https://example.com/a\nftp://example.com/b", "url_scheme", 2),
    ("javascript:alert(document.cookie)", "url_scheme", 1),
    ("data:text/html,<script>alert(1)</script>", "url_scheme", 1),
    ("file:///Users/hanako/Pictures/img.jpg", "url_file", 1),
    ("C:\\Users\\hanako\\Pictures\\img.jpg", "url_file", 1),
    ("/Users/x/img.jpg", "url_file", 1),
    ("https://www.google.com/search?q=hanako+yamada", "url_search", 1),
    ("https://www.google.co.jp/search?q=%E5%B1%B1%E7%94%B0&tbm=isch", "url_search", 1),
    ("https://search.yahoo.co.jp/search?p=%E5%B1%B1%E7%94%B0", "url_search", 1),
    ("https://search.yahoo.co.jp/image/search?p=hanako", "url_search", 1),
    ("https://www.bing.com/search?q=hanako", "url_search", 1),
    ("https://www.bing.com/images/search?q=hanako", "url_search", 1),
    ("https://localhost/img.jpg", "url_host", 1),
    ("intranet/img.jpg", "url_host", 1),
    ("https://example.com/a b", "url_space", 1),
    ("https://example.com/a https://example.com/b", "url_space", 1),
])
@pytest.mark.parametrize("lang", ["ja", "en"])
def test_addresses_that_cannot_be_checked_are_refused(client, outbox_dir, urls, message, line, lang):
    response, typed = post(client, lang, urls=urls)
    expected = MESSAGES[message][lang]
    if line is not None:
        expected = LINE[lang].format(n=line) + expected
    assert_form_back(response, lang, typed, {"urls": [expected]})
    assert outbox_files(outbox_dir) == []


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_at_most_30_addresses(client, outbox_dir, staff_keys, lang):
    many = "\n".join(f"https://example.com/{n}" for n in range(31))
    response, typed = post(client, lang, urls=many)
    assert_form_back(response, lang, typed, {"urls": [MESSAGES["urls_many"][lang]]})
    assert outbox_files(outbox_dir) == []

    thirty = "\n".join(f"https://example.com/{n}" for n in range(30))
    assert submit(client, lang=lang, urls=thirty).status_code == 303
    assert len(stored_record(outbox_dir, staff_keys)["urls"]) == 30


def test_an_address_longer_than_2048_characters_is_refused(client, outbox_dir, staff_keys):
    base = "https://example.com/"
    too_long = base + "a" * (2049 - len(base))
    assert len(too_long) == 2049
    response, typed = post(client, "en", urls=f"https://example.com/ok\n{too_long}")
    assert_form_back(response, "en", typed, {"urls": ["Line 2: " + MESSAGES["url_long"]["en"]]})
    assert outbox_files(outbox_dir) == []

    longest = base + "a" * (2048 - len(base))
    assert submit(client, urls=longest).status_code == 303
    assert stored_record(outbox_dir, staff_keys)["urls"] == [longest]


def test_every_bad_line_is_named(client):
    response, typed = post(client, "en", urls="ftp://example.com/a\nhttps://example.com/ok\nC:\\img.jpg\n\nhttps://localhost/")
    assert_form_back(response, "en", typed, {"urls": [
        "Line 1: " + MESSAGES["url_scheme"]["en"],
        "Line 3: " + MESSAGES["url_file"]["en"],
        "Line 5: " + MESSAGES["url_host"]["en"],
    ]})


def test_addresses_are_normalised_and_duplicates_dropped(client, outbox_dir, staff_keys):
    typed = "\n".join([
        "example.com/x",                        # no scheme: https added
        "HTTPS://Example.COM:443/y#photo-3",    # host lowercased, default port and fragment dropped
        "http://EXAMPLE.com:80/z?b=1#c",        # http kept, its default port dropped
        "https://example.com:8443/w",           # another port kept
        "https://例え.jp/パス",                  # IDN to punycode, path percent-encoded
        "  https://example.com/x  ",            # the first one again, with blanks
        "https://EXAMPLE.com/x#other",          # and again, differently written
        "<https://example.org/quoted>",
    ])
    assert accepted_record(client, outbox_dir, staff_keys, urls=typed)["urls"] == [
        "https://example.com/x",
        "https://example.com/y",
        "http://example.com/z?b=1",
        "https://example.com:8443/w",
        "https://xn--r8jz45g.jp/%E3%83%91%E3%82%B9",
        "https://example.org/quoted",
    ]


@pytest.mark.parametrize("description, message", [
    ("", "description_missing"),
    (" \n\t ", "description_missing"),
    ("あ" * 4001, "description_long"),
])
@pytest.mark.parametrize("lang", ["ja", "en"])
def test_a_missing_or_too_long_description_is_refused(client, outbox_dir, description, message, lang):
    response, typed = post(client, lang, description=description)
    assert_form_back(response, lang, typed, {"description": [MESSAGES[message][lang]]})
    assert outbox_files(outbox_dir) == []


def test_a_description_of_4000_characters_is_accepted(client, outbox_dir, staff_keys):
    description = "写" * 3999 + "。"
    assert submit(client, description=description).status_code == 303
    assert stored_record(outbox_dir, staff_keys)["description"] == description


@pytest.mark.parametrize("consent", [None, "", "no", "on", "YES"])
@pytest.mark.parametrize("lang", ["ja", "en"])
def test_consent_is_needed(client, outbox_dir, consent, lang):
    response, typed = post(client, lang, consent=consent)
    assert_form_back(response, lang, typed, {"consent": [MESSAGES["consent"][lang]]})
    assert outbox_files(outbox_dir) == []


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_several_problems_are_listed_in_the_order_of_the_form(client, outbox_dir, lang):
    response, typed = post(client, lang, consent=None, description="", urls="ftp://example.com/a", email="hanako",
                           role=None)
    page = assert_form_back(response, lang, typed, {
        "role": [MESSAGES["role"][lang]],
        "email": [MESSAGES["email_invalid"][lang]],
        "urls": [LINE[lang].format(n=1) + MESSAGES["url_scheme"][lang]],
        "description": [MESSAGES["description_missing"][lang]],
        "consent": [MESSAGES["consent"][lang]],
    })
    assert [href for href, _ in page.summary_links()] == [ANCHORS[f] for f in FIELD_ORDER]
    assert outbox_files(outbox_dir) == []


def test_what_was_typed_comes_back_escaped_and_intact(client, outbox_dir):
    typed = {
        "role": "guardian",
        "email": '"><script>alert(1)</script>@example.jp',
        "urls": "https://example.com/a?x=1&y=<b>\njavascript:alert('x')\n「https://例え.jp/」",
        "description": "</textarea><script>alert(1)</script>\n& &amp; \"引用\" 'x'\n写真です。",
        "consent": "yes",
    }
    response = submit(client, **typed)
    page = assert_form_back(response, "ja", typed, {
        "email": [MESSAGES["email_invalid"]["ja"]],
        "urls": [LINE["ja"].format(n=2) + MESSAGES["url_scheme"]["ja"]],
    })
    assert "<script>" not in page.html
    assert html.escape("</textarea><script>", quote=False) in page.html
    assert 'value="&#34;&gt;&lt;script&gt;' in page.html
    assert outbox_files(outbox_dir) == []


def test_the_token_is_kept_when_the_form_comes_back(client, outbox_dir):
    token = get_token(client)
    response = submit(client, token=token, email="hanako")
    assert response.status_code == 422
    assert parse(response).value("token") == token
    # Corrected and sent again with that form's token: accepted.
    assert submit(client, token=token).status_code == 303
    assert len(outbox_files(outbox_dir)) == 1


# -- an accepted report, from the form to the staff's mailbox --------------------------------

MARKER = "qz7mark3r"
REPORT = {
    "role": "guardian",
    "email": f"hanako.{MARKER}@example.jp",
    "urls": f"https://images.example.com/p/{MARKER}-1\nexample.net/{MARKER}/2?page=3",
    "description": f"娘の写真が無断で投稿されています。\n制服姿で、駅のホームで撮られたものです。{MARKER}",
    "consent": "yes",
}
EXPECTED_URLS = [f"https://images.example.com/p/{MARKER}-1", f"https://example.net/{MARKER}/2?page=3"]


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_an_accepted_report_is_confirmed_sealed_and_delivered(
        app, client, outbox_dir, staff_keys, mail_server, caplog, capfd, lang):
    caplog.set_level(logging.INFO)
    response = submit(client, lang=lang, **REPORT)

    # 303 to the confirmation, with nothing typed in the address.
    assert response.status_code == 303
    location = response.headers["Location"]
    assert location.startswith({"ja": "/report/sent/?r=", "en": "/en/report/sent/?r="}[lang])
    for value in (MARKER, REPORT["email"], "hanako", "example", "images", "娘"):
        assert value not in location and value not in unquote(location)

    confirmation = client.get(location)
    assert confirmation.status_code == 200
    page = parse(confirmation)
    assert page.lang == lang
    reference = page.find(class_="reference").text.strip()
    assert REFERENCE.match(reference), reference
    assert {"ja": "このあとの流れ", "en": "What happens next"}[lang] in page.text
    assert {"ja": "受付番号", "en": "Your reference number"}[lang] in page.text

    # Exactly one message in the outbox, sealed.
    files = outbox_files(outbox_dir)
    assert len(files) == 1 and reference in files[0].name
    stored = files[0].read_bytes()

    assert deliver(app()) == Counts(sent=1)
    assert outbox_files(outbox_dir) == []
    received = mail_server.messages()
    assert len(received) == 1
    mail = received[0].read_bytes()
    assert mail == stored  # byte for byte

    # Each staff member can read all of it, exactly as typed (after normalisation).
    for name, secret in staff_keys.secrets.items():
        subject, text, record = decrypt_mail(mail, secret)
        assert reference in subject, name
        assert record == {
            "format": 1,
            "reference": reference,
            "received_at": record["received_at"],
            "kind": "report",
            "role": "guardian",
            "email": REPORT["email"],
            "contact_safety": "",
            "urls": EXPECTED_URLS,
            "where": "",
            "description": REPORT["description"],
            "police_referral": False,
            "consent": True,
            "language": lang,
        }, name
        assert record["received_at"].endswith("+09:00")
        for line in (REPORT["email"], *EXPECTED_URLS, *REPORT["description"].splitlines(), reference, "保護者"):
            assert line in text, (name, line)

    # Outside the ciphertext: the envelope headers and nothing else.
    outer = message_from_bytes(mail, policy=policy.default)
    assert sorted(outer.keys()) == sorted(OUTER_HEADERS)
    assert outer["Subject"] == f"Safeline report {reference}"
    assert outer["From"] == RELAY_MAIL_FROM and outer["To"] == RELAY_MAIL_TO
    assert outer["Reply-To"] is None
    assert outer.get_content_type() == "multipart/encrypted"

    # What was typed is nowhere in clear: not in the outbox, the mail, or any log.
    logs = caplog.text
    out, err = capfd.readouterr()
    assert f"accepted {reference}" in logs  # the logs were captured
    for value in (MARKER, REPORT["email"], "娘の写真"):
        assert value.encode() not in stored
        assert value.encode() not in mail
        assert value not in logs
        assert value not in out + err


def test_nothing_typed_reaches_the_logs_when_a_form_is_refused(app, caplog, capfd):
    caplog.set_level(logging.INFO)
    client = app(RELAY_RATELIMIT_POSTS="6 per hour").test_client()
    refused = [
        {"email": f"{MARKER}@@example.jp"},
        {"urls": f"ftp://example.com/{MARKER}", "description": MARKER},
        {"description": MARKER * 500, "email": f"{MARKER}@example.jp"},
        {"website": MARKER, "urls": f"https://example.com/{MARKER}"},
        {"token": MARKER, "description": MARKER},
        {"role": MARKER},
        {"description": MARKER},  # over the POST limit: 429
    ]
    statuses = [submit(client, **fields).status_code for fields in refused]
    assert statuses == [422, 422, 422, 422, 400, 422, 429]
    out, err = capfd.readouterr()
    assert "invalid: fields email" in caplog.text and "refused: rate limit" in caplog.text
    for text in (caplog.text, out, err):
        assert MARKER not in text
    # Nor the client's address (the test mail server's own "mail.log" lines may name theirs).
    relay_lines = [r.getMessage() for r in caplog.records if r.name.split(".")[0] in ("relay", "flask-limiter")]
    assert len(relay_lines) >= 8 and not any("127.0.0.1" in line for line in relay_lines)
