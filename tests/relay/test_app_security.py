"""What keeps the relay safe to run in the open: headers, tokens, limits, refusals; never a 500."""

from __future__ import annotations

import datetime
import io
import random
import time
from email import message_from_bytes, policy

import pytest

from relay.abuse import Pseudonyms, client_key, client_key_tomorrow, network_block, same_origin
from relay.services import services
from relay.token import FormTokens, MemorySpentTokens
from tests.support.relay_app import SECRET_KEY, SITE_ORIGIN, Clock, deliver, outbox_files
from tests.support.reports import (
    FORM_PATHS, OUTER_HEADERS, VALID, decrypt_mail, get_token, parse, sent_reference, submit,
)

NOTICES = {
    "invalid": {"ja": "このフォームを確認できませんでした。", "en": "This form could not be checked."},
    "too_fast": {"ja": "フォームを開いてすぐに送られました。", "en": "The form was sent very quickly after it opened."},
    "expired": {"ja": "このフォームは開いてから2時間で使えなくなります", "en": "this form expires after two hours"},
    "honeypot": {"ja": "フォームを送れませんでした。", "en": "The form could not be sent."},
    "ratelimited": {"ja": "この接続から多くの通報が送られています。", "en": "Many reports have been sent from this connection."},
}
TYPED = {
    "role": "self",
    "email": "hanako@example.jp",
    "urls": "https://images.example.com/p/1\nexample.net/2",
    "description": "駅で撮られた写真が投稿されています。\n<b>&</b>",
    "consent": "yes",
}


def assert_form_again(response, status: int, notice: str, lang: str = "ja", typed: dict = TYPED):
    """The form again, with what was typed and the plain explanation in the page's language."""
    assert response.status_code == status
    page = parse(response)
    assert page.lang == lang
    assert page.find("form")
    summary = page.find(class_="error-summary")
    assert summary.get("role") == "alert"
    assert NOTICES[notice][lang] in " ".join(summary.text.split())
    assert page.title.startswith({"ja": "エラー：", "en": "Error:"}[lang])
    for name in ("email", "urls", "description"):
        assert page.value(name) == typed[name], name
    assert page.value("role") == typed["role"]
    assert page.value("consent") == typed["consent"]
    assert page.value("website") == ""
    assert page.value("token")  # a token to send it again with
    return page


def aged_token(seconds: float) -> str:
    """A token as the relay would have issued it ``seconds`` ago (only the issuing clock is fake)."""
    tokens = FormTokens(SECRET_KEY, min_fill_seconds=0, spent=MemorySpentTokens(), clock=lambda: time.time() - seconds)
    return tokens.issue()


# -- security headers on every response ------------------------------------------------------

def _form(client):
    return client.get("/report/")


def _invalid(client):
    return submit(client, lang="en", email="nope")


def _accepted(client):
    return submit(client)


def _confirmation(client):
    return client.get(submit(client).headers["Location"])


def _other(client):
    return submit(client, role="other")


def _not_found(client):
    return client.get("/en/no-such-page/")


def _too_large(client):
    return submit(client, description="x" * (70 * 1024))


def _bad_request(client):
    return client.post("/report/", data="{}", content_type="application/json")


def _forbidden(client):
    return submit(client, headers={"Sec-Fetch-Site": "cross-site"})


def _bad_token(client):
    return submit(client, token="garbage")


def _method_not_allowed(client):
    return client.put("/report/", data={"role": "self"})


RESPONSES = {
    "form": (_form, 200), "invalid": (_invalid, 422), "accepted": (_accepted, 303),
    "confirmation": (_confirmation, 200), "other": (_other, 200), "not found": (_not_found, 404),
    "too large": (_too_large, 413), "bad request": (_bad_request, 400), "forbidden": (_forbidden, 403),
    "bad token": (_bad_token, 400), "method": (_method_not_allowed, 405),
}


@pytest.mark.parametrize("kind", RESPONSES)
def test_every_response_carries_the_security_headers(client, kind):
    make, status = RESPONSES[kind]
    response = make(client)
    assert response.status_code == status
    csp = response.headers["Content-Security-Policy"]
    directives = {part.split()[0]: part.split()[1:] for part in csp.split(";") if part.strip()}
    assert "'unsafe-inline'" not in csp and "'unsafe-eval'" not in csp
    assert directives["frame-ancestors"] == ["'none'"]
    assert directives["form-action"] == ["'self'"]
    assert directives["default-src"] == ["'none'"]
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cache-Control"] == "no-store"


def test_a_rate_limited_response_carries_the_security_headers_too(app):
    client = app(RELAY_RATELIMIT_POSTS="1 per hour").test_client()
    submit(client, email="nope")
    response = submit(client)
    assert response.status_code == 429
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["Cache-Control"] == "no-store"


# -- bodies the form never sends -------------------------------------------------------------

@pytest.mark.parametrize("lang", ["ja", "en"])
def test_a_body_over_64_kb_gets_a_page_not_a_traceback(client, outbox_dir, lang):
    response = submit(client, lang=lang, description="写" * 30000)  # 30,000 × 9 bytes once %-encoded
    assert response.status_code == 413
    page = parse(response)
    assert page.lang == lang
    assert {"ja": "送られた内容が大きすぎます", "en": "The form is too large"}[lang] in page.title
    assert page.find("a", href=FORM_PATHS[lang])
    assert "Traceback" not in page.html and "RequestEntityTooLarge" not in page.html
    assert outbox_files(outbox_dir) == []


def test_a_body_just_under_the_limit_is_read(client):
    # Far over the description's limit but under 64 KB: the form's own message, not a 413.
    response = submit(client, description="x" * 60000)
    assert response.status_code == 422


@pytest.mark.parametrize("with_file", [False, True])
def test_multipart_bodies_are_refused(client, outbox_dir, with_file):
    data = {**VALID, "token": get_token(client)}
    if with_file:
        data["image"] = (io.BytesIO(b"\xff\xd8\xff\xe0 not really a jpeg"), "photo.jpg", "image/jpeg")
    response = client.post("/report/", data=data, content_type="multipart/form-data")
    assert response.request.headers["Content-Type"].startswith("multipart/form-data")
    assert response.status_code == 400
    assert "Traceback" not in response.get_data(as_text=True)
    assert outbox_files(outbox_dir) == []


@pytest.mark.parametrize("content_type, body", [
    ("text/plain", "role=self&email=hanako@example.jp"),
    ("application/json", '{"role": "self", "email": "hanako@example.jp"}'),
    ("application/xml", "<report/>"),
    (None, ""),
])
def test_bodies_of_other_types_are_refused(client, outbox_dir, content_type, body):
    token = get_token(client)
    if content_type == "application/json":
        response = client.post("/report/", json={**VALID, "token": token})
    elif content_type is None:
        response = client.post("/report/")
    else:
        response = client.post("/report/", data=body + f"&token={token}", content_type=content_type)
    assert response.status_code == 400
    page = parse(response)
    assert "送られた内容を読み取れませんでした" in page.title
    assert outbox_files(outbox_dir) == []


# -- where the POST comes from ---------------------------------------------------------------

@pytest.mark.parametrize("headers, status", [
    ({"Sec-Fetch-Site": "cross-site"}, 403),
    ({"Sec-Fetch-Site": "same-site"}, 403),
    ({"Sec-Fetch-Site": "cross-site", "Origin": SITE_ORIGIN}, 403),
    ({"Sec-Fetch-Site": "same-origin"}, 303),
    ({"Sec-Fetch-Site": "same-origin", "Origin": SITE_ORIGIN}, 303),
    ({"Origin": "https://evil.example"}, 403),
    ({"Origin": "http://safeline.example"}, 403),  # same host, another scheme: another origin
    ({"Origin": "https://safeline.example.evil.example"}, 403),
    ({"Origin": "null"}, 403),
    ({"Origin": SITE_ORIGIN}, 303),
    ({"Origin": SITE_ORIGIN.upper().replace("HTTPS", "https")}, 303),  # hosts compare without case
    ({"Origin": SITE_ORIGIN + ":443"}, 303),  # the default port, written out
    ({"Origin": SITE_ORIGIN + ":8443"}, 403),
    ({"Origin": SITE_ORIGIN + ":99999"}, 403),  # a port no URL can have: refused, not a 500
    ({}, 303),
])
def test_only_our_own_pages_may_post(client, outbox_dir, headers, status):
    response = submit(client, lang="en", headers=headers)
    assert response.status_code == status
    if status == 403:
        page = parse(response)
        assert page.lang == "en"
        assert "The form must be sent from this site" in page.title
        assert outbox_files(outbox_dir) == []
    else:
        assert len(outbox_files(outbox_dir)) == 1


# -- the form token --------------------------------------------------------------------------

@pytest.mark.parametrize("lang", ["ja", "en"])
def test_a_form_sent_too_fast_comes_back(app, outbox_dir, lang):
    client = app(RELAY_MIN_FILL_SECONDS="2").test_client()
    response = submit(client, lang=lang, **TYPED)
    assert_form_again(response, 400, "too_fast", lang)
    assert outbox_files(outbox_dir) == []


def test_the_same_form_is_accepted_once_the_minimum_time_has_passed(app, outbox_dir):
    client = app(RELAY_MIN_FILL_SECONDS="1").test_client()
    token = get_token(client)
    assert_form_again(submit(client, token=token, **TYPED), 400, "too_fast")
    time.sleep(1.05)
    assert submit(client, token=token, **TYPED).status_code == 303
    assert len(outbox_files(outbox_dir)) == 1


# What the pages promise ("this form expires after two hours"), stated here on its own rather
# than read from relay.token.MAX_AGE, so that a changed limit fails until the words change too.
TWO_HOURS = 2 * 60 * 60


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_a_form_older_than_two_hours_comes_back(client, outbox_dir, lang):
    response = submit(client, lang=lang, token=aged_token(TWO_HOURS + 60), **TYPED)
    assert_form_again(response, 400, "expired", lang)
    assert outbox_files(outbox_dir) == []


def test_a_form_almost_two_hours_old_is_accepted(client, outbox_dir):
    assert submit(client, token=aged_token(TWO_HOURS - 60), **TYPED).status_code == 303
    assert len(outbox_files(outbox_dir)) == 1


@pytest.mark.parametrize("token", [
    None, "", "garbage", "eyJuIjoiYWJjIiwidCI6MH0.invalid-signature",
    # A fixed id: the token differs in each process that collects it (pytest-xdist's workers).
    pytest.param(FormTokens("another-secret-key-of-another-relay-instance-000", min_fill_seconds=0,
                            spent=MemorySpentTokens()).issue(), id="signed-by-another-relay"),
])
@pytest.mark.parametrize("lang", ["ja", "en"])
def test_a_missing_or_forged_token_sends_the_form_back(client, outbox_dir, token, lang):
    response = submit(client, lang=lang, token=token, **TYPED)
    assert_form_again(response, 400, "invalid", lang)
    assert outbox_files(outbox_dir) == []


def test_a_form_sent_twice_is_one_report_with_one_confirmation(client, outbox_dir, mail_server, app):
    token = get_token(client)
    first = submit(client, token=token, **TYPED)
    again = submit(client, token=token, **TYPED)
    assert first.status_code == again.status_code == 303
    reference = sent_reference(client, first)
    assert sent_reference(client, again) == reference
    files = outbox_files(outbox_dir)
    assert len(files) == 1 and reference in files[0].name
    deliver(app())
    assert len(mail_server.messages()) == 1


def test_a_replayed_token_with_other_content_still_makes_no_second_report(client, outbox_dir):
    token = get_token(client)
    reference = sent_reference(client, submit(client, token=token, **TYPED))
    response = submit(client, token=token, **{**TYPED, "description": "another report"})
    assert sent_reference(client, response) == reference
    assert len(outbox_files(outbox_dir)) == 1


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_a_filled_honeypot_is_refused_and_nothing_written(client, outbox_dir, lang):
    response = submit(client, lang=lang, website="https://spam.example/buy", **TYPED)
    assert_form_again(response, 422, "honeypot", lang)
    assert outbox_files(outbox_dir) == []


# -- CR/LF injection -------------------------------------------------------------------------

INJECTION = "\r\nBcc: victim-list@attacker.example\r\nX-Injected: yes\r\n\r\nbody"


@pytest.mark.parametrize("field", ["role", "email", "urls", "description", "consent", "token", "website"])
@pytest.mark.parametrize("newline", ["\r\n", "\n", "\r", "%0d%0a"])
def test_line_breaks_in_any_field_inject_nothing(client, app, outbox_dir, staff_keys, mail_server, field, newline):
    injected = INJECTION.replace("\r\n", newline)
    fields = dict(VALID)
    fields["token"] = get_token(client)
    fields["website"] = ""
    fields[field] += injected
    response = submit(client, **fields)
    assert response.status_code < 500

    if field != "description":
        # Refused, with the line break still in the form for the reporter to see.
        assert response.status_code == (400 if field == "token" else 422)
        assert outbox_files(outbox_dir) == []
        return
    # Cleaned: plain text inside the ciphertext, never a header.
    assert response.status_code == 303
    assert deliver(app()).sent == 1
    mail = mail_server.messages()[0].read_bytes()
    assert_only_the_outer_headers(mail)
    for secret in staff_keys.secrets.values():
        subject, _, record = decrypt_mail(mail, secret)
        assert "\n" not in subject
        assert record["description"] == (VALID["description"] + injected).replace("\r\n", "\n").replace(
            "\r", "\n").strip()


def assert_only_the_outer_headers(mail: bytes) -> None:
    outer = message_from_bytes(mail, policy=policy.default)
    assert sorted(outer.keys()) == sorted(OUTER_HEADERS)
    head = mail.split(b"\r\n\r\n", 1)[0]
    assert b"attacker.example" not in mail and b"X-Injected" not in mail and b"Bcc" not in head


def test_an_encoded_line_break_in_an_address_stays_encoded(client, app, staff_keys, mail_server):
    url = "https://example.com/a%0D%0ABcc:list@attacker.example%0d%0a%0d%0ax"
    assert submit(client, urls=url).status_code == 303
    assert deliver(app()).sent == 1
    mail = mail_server.messages()[0].read_bytes()
    assert_only_the_outer_headers(mail)
    for secret in staff_keys.secrets.values():
        assert decrypt_mail(mail, secret)[2]["urls"] == [url]


def test_an_email_with_a_bcc_header_is_refused(client, outbox_dir):
    response = submit(client, lang="en", email="hanako@example.jp\r\nBcc: list@attacker.example")
    assert response.status_code == 422
    page = parse(response)
    assert "Enter an e-mail address in the form name@example.jp." in page.by_id("email-error").text
    assert page.value("email") == "hanako@example.jp\r\nBcc: list@attacker.example"
    assert outbox_files(outbox_dir) == []


# -- rate limits -----------------------------------------------------------------------------

def test_accepted_reports_are_limited_per_connection(app, outbox_dir):
    client = app(RELAY_RATELIMIT="2 per hour").test_client()
    assert submit(client, **TYPED).status_code == 303
    # Refused forms are not reports: they do not count.
    for _ in range(3):
        assert submit(client, email="nope").status_code == 422
    assert submit(client, lang="en", **TYPED).status_code == 303

    response = submit(client, lang="en", **TYPED)
    assert_form_again(response, 429, "ratelimited", "en")
    response = submit(client, lang="ja", **TYPED)
    assert_form_again(response, 429, "ratelimited", "ja")
    assert len(outbox_files(outbox_dir)) == 2
    # The form itself can still be read.
    assert client.get("/report/").status_code == 200


def test_a_form_sent_twice_counts_once_towards_the_limit(app, outbox_dir):
    client = app(RELAY_RATELIMIT="2 per hour").test_client()
    token = get_token(client)
    reference = sent_reference(client, submit(client, token=token, **TYPED))
    # A double click, or a reload of the POST: the same report, not a second one.
    assert sent_reference(client, submit(client, token=token, **TYPED)) == reference
    assert submit(client, **TYPED).status_code == 303
    assert len(outbox_files(outbox_dir)) == 2
    assert submit(client, **TYPED).status_code == 429


def test_a_double_click_on_the_report_that_reaches_the_limit_still_confirms_it(app, outbox_dir):
    client = app(RELAY_RATELIMIT="1 per hour").test_client()
    token = get_token(client)
    reference = sent_reference(client, submit(client, token=token, **TYPED))
    # The second click arrives after the limit was reached: it must not say "too many".
    assert sent_reference(client, submit(client, token=token, **TYPED)) == reference
    assert len(outbox_files(outbox_dir)) == 1


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_a_rate_limited_body_over_64_kb_gets_a_page_not_a_500(app, outbox_dir, caplog, lang):
    client = app(RELAY_RATELIMIT_POSTS="1 per hour").test_client()
    assert submit(client, lang=lang, email="nope").status_code == 422
    response = submit(client, lang=lang, description="x" * (70 * 1024))
    assert response.status_code in (413, 429)
    page = parse(response)
    assert page.lang == lang
    assert "Traceback" not in caplog.text and "Traceback" not in page.html
    assert outbox_files(outbox_dir) == []


def test_any_post_is_limited_per_connection(app, outbox_dir):
    client = app(RELAY_RATELIMIT_POSTS="5 per hour").test_client()
    for _ in range(3):
        assert submit(client, email="nope").status_code == 422
    assert submit(client, token="garbage").status_code == 400
    assert submit(client, **TYPED).status_code == 303
    response = submit(client, lang="en", **TYPED)
    assert_form_again(response, 429, "ratelimited", "en")
    assert len(outbox_files(outbox_dir)) == 1


def test_the_two_limits_count_separately_even_when_set_alike(app, outbox_dir):
    # "5 per hour" is also part of the default RELAY_RATELIMIT: each limit keeps its own count.
    client = app(RELAY_RATELIMIT="3 per hour", RELAY_RATELIMIT_POSTS="3 per hour").test_client()
    assert [submit(client, **TYPED).status_code for _ in range(4)] == [303, 303, 303, 429]
    assert len(outbox_files(outbox_dir)) == 3


def test_the_limit_is_per_connection_but_the_store_never_holds_an_address(app):
    relay_app = app(RELAY_RATELIMIT="1 per hour")
    first = relay_app.test_client()
    second = relay_app.test_client()
    second.environ_base["REMOTE_ADDR"] = "203.0.113.7"
    assert submit(first, **TYPED).status_code == 303
    assert submit(first, **TYPED).status_code == 429
    assert submit(second, **TYPED).status_code == 303  # another address: its own limit

    [limiter] = relay_app.extensions["limiter"]  # Flask-Limiter's: the limit on any POST
    storage = limiter.storage
    keys = [*storage.events, *storage.storage, *storage.expirations]
    assert keys, "the limiter stored nothing"
    counted = services(relay_app).quota.store._members  # relay.quota's: accepted reports
    assert counted, "the quota stored nothing"
    for key in [*keys, *counted, *(member for members in counted.values() for member in members)]:
        assert "127.0.0.1" not in key and "203.0.113.7" not in key
        assert "203-0-113-7" not in key and "2030113" not in key


@pytest.mark.parametrize("address, same_client", [
    ("2001:db8:1:2:ffff:ffff:ffff:ffff", True),   # another address of the same /64
    ("2001:db8:1:3::a", False),                    # the next /64: another household
])
def test_an_ipv6_client_is_its_64_block(app, address, same_client):
    relay_app = app(RELAY_RATELIMIT="1 per hour")
    first, second = relay_app.test_client(), relay_app.test_client()
    first.environ_base["REMOTE_ADDR"] = "2001:db8:1:2::17"
    second.environ_base["REMOTE_ADDR"] = address
    assert submit(first, **TYPED).status_code == 303
    assert submit(second, **TYPED).status_code == (429 if same_client else 303)


def test_client_blocks():
    from relay.abuse import client_block

    assert client_block("203.0.113.7") == "203.0.113.7"
    assert client_block("::ffff:203.0.113.7") == "203.0.113.7"  # IPv4 on a dual-stack socket
    assert client_block("2001:DB8:0:0:1::9") == client_block("2001:db8::ffff") == "2001:db8::/64"
    assert client_block("unknown") == "unknown"


def test_network_blocks():
    """An IPv6 client's /48: its first three groups, whatever follows; IPv4 has none."""
    assert network_block("2001:db8:1:ffff:ffff::1") == network_block("2001:db8:1::") == "2001:db8:1::/48"
    assert network_block("2001:db8:0:ffff::1") == "2001:db8::/48"  # the /48 just before: another network
    assert network_block("2001:db8:2::") == "2001:db8:2::/48"  # and the one just after
    for address in ("203.0.113.7", "::ffff:203.0.113.7", "unknown"):  # the last: no address was known
        assert network_block(address) is None, address
        assert Pseudonyms(SECRET_KEY).of(address).network == ()


def test_pseudonyms_do_not_change_between_versions():
    """Every worker and instance counts in one shared store, across deploys: a new version must
    name a client as the old one does, or its counts would split or start again at zero."""
    noon = Clock(datetime.datetime(2026, 12, 2, 12, 0, tzinfo=datetime.timezone.utc))
    pseudonyms = Pseudonyms("known-answer secret", noon)
    assert pseudonyms.of("203.0.113.7").client == ("d2e42557f0ec9bcb0088abb78e64b050",
                                                   "7634ee4583d85fdce0d692bfe5cc5ee1")
    assert pseudonyms.of("2001:db8:1:2::17").client == ("4a83d2b3ef30d617748927d59228ba96",
                                                        "4d6cf19eb3bcf7108fe37ed79a76c895")
    assert pseudonyms.of("2001:db8:1:2::17").network == ("734c130fdc8cda21f3fffa9330d1ec79",
                                                         "cb7e797fcc12e6b2a3aee0b9474c7722")


@pytest.mark.parametrize("address", ["203.0.113.7", "2001:db8:1:2::17"])
def test_tomorrows_pseudonym_is_the_next_days_own(address):
    """What is counted under tomorrow's name is there when the day changes at 00:00 UTC
    (relay.quota), for the client and for its /48."""
    clock = Clock(datetime.datetime(2026, 12, 2, 23, 59, 59, tzinfo=datetime.timezone.utc))
    pseudonyms = Pseudonyms(SECRET_KEY, clock)
    before = pseudonyms.of(address)
    clock.advance(1)
    after = pseudonyms.of(address)
    assert after.client[0] == before.client[1] != before.client[0]
    assert after.network[:1] == before.network[1:]


def test_the_post_limit_counts_under_todays_and_tomorrows_pseudonym(app):
    """Flask-Limiter's two keys (relay.views).  A key that raises is swallowed like the store's
    errors (swallow_errors), so every POST here would pass with a broken second key; what it
    does across midnight is in test_quota."""
    relay_app = app()
    with relay_app.test_request_context("/report/", method="POST", environ_base={"REMOTE_ADDR": "203.0.113.7"}):
        assert (client_key(), client_key_tomorrow()) == services(relay_app).pseudonyms.of("203.0.113.7").client


@pytest.mark.parametrize("origin, site, same", [
    ("http://relay.test", "http://relay.test:80", True),  # each scheme's default port, implied
    ("https://relay.test:443/", "https://relay.test", True),
    ("http://relay.test:81", "http://relay.test", False),
    ("http://relay.test:79", "http://relay.test", False),
    ("http://relay.test:99999", "http://relay.test", False),  # urllib cannot read the port
    ("http://relay.test:x", "http://relay.test", False),
])
def test_same_origin(origin, site, same):
    assert same_origin(origin, site) is same
    assert same_origin(site, origin) is same


# -- unknown paths and garbage ----------------------------------------------------------------

@pytest.mark.parametrize("path, lang, title", [
    ("/no-such-page/", "ja", "ページが見つかりません"),
    ("/report/nope", "ja", "ページが見つかりません"),
    ("/en/no-such-page/", "en", "Page not found"),
    ("/en/report/sent/more/", "en", "Page not found"),
])
def test_an_unknown_path_gets_a_404_page_in_its_language(client, path, lang, title):
    response = client.get(path)
    assert response.status_code == 404
    page = parse(response)
    assert page.lang == lang
    assert title in page.title
    assert page.find("a", href=FORM_PATHS[lang])


def test_a_confirmation_link_that_was_tampered_with_shows_no_number(client):
    response = client.get("/report/sent/?r=SL-AAAA-BBBB")
    assert response.status_code == 200
    page = parse(response)
    assert page.find_all(class_="reference") == []
    assert "SL-AAAA-BBBB" not in page.html


@pytest.mark.parametrize("seed", range(8))
def test_random_bytes_as_a_form_body_are_refused_without_a_500(client, outbox_dir, seed):
    body = random.Random(seed).randbytes(random.Random(seed).randint(1, 4000))
    response = client.post("/report/", data=body, content_type="application/x-www-form-urlencoded")
    assert 400 <= response.status_code < 500
    assert "Traceback" not in response.get_data(as_text=True)
    assert outbox_files(outbox_dir) == []


@pytest.mark.parametrize("body", [
    b"role=%ff%fe&email=%c3%28&urls=%80&description=%ed%a0%80&consent=yes",
    b"role=\xff\xfe&email=\xc3\x28@example.jp&urls=\x80&description=\xed\xa0\x80&consent=yes",
    b"\xef\xbb\xbfrole=self&&&==&%&%%&=%zz&token",
    b"token=" + b"A" * 5000,
    b"&".join(b"k%d=v" % n for n in range(2000)),
])
def test_invalid_utf8_and_odd_bodies_are_refused_without_a_500(client, outbox_dir, body):
    response = client.post("/report/", data=body, content_type="application/x-www-form-urlencoded")
    assert 400 <= response.status_code < 500
    assert outbox_files(outbox_dir) == []


@pytest.mark.parametrize("value", ["%ff%fe", "\x00\x01\x1b[31m", "\ufeff", "𠮷" * 10])
def test_odd_characters_in_a_valid_form_never_cause_a_500(client, value):
    for field in ("role", "email", "urls", "description", "consent"):
        data = {**VALID, "token": get_token(client), field: VALID[field] + value}
        body = "&".join(f"{name}={text}" for name, text in data.items()).encode("utf-8")
        response = client.post("/report/", data=body, content_type="application/x-www-form-urlencoded")
        assert response.status_code in (303, 422), (field, response.status_code)
