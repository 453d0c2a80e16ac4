"""The confirmation pages: what they say about the report, and what their address does not.

The address of a confirmation stays in the browser's history, so it must hold nothing that can
be read (relay.receipt); the page says what happens next for the report that was sent: with
addresses or only where the images are, with or without the police box.
"""

from __future__ import annotations

import base64
import binascii
import datetime
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

import relay
from relay import receipt as receipt_module
from relay.receipt import Receipt, Receipts
from tests.support.relay_app import Clock, deliver
from tests.support.reports import MORE_PATHS, decrypt_mail, get_token, parse, sent_codes, submit, submit_more

ASK_SITES = {"ja": "サイトに画像や動画の削除をお願いします", "en": "ask the websites to remove"}
READ_WHERE = {"ja": "画像や動画のある場所として書いていただいた内容を読み", "en": "read where you said the images are"}
POLICE = {"ja": "警察の相談窓口の紹介のご希望を受け付けました", "en": "We have received your request to be introduced to the police consultation desk"}
FOR_AN_HOUR = {"ja": "ここに1時間だけ表示されます", "en": "shown here only for an hour. Note them now."}
NO_LONGER = {"ja": "ここにはもう表示されません", "en": "so they are no longer shown here"}
PLACE = "LINEのグループ「高校の同級生」、投稿したアカウントは @example_taro"


def sealed_value(location: str) -> str:
    return parse_qs(urlsplit(location).query)["r"][0]


def decodings(value: str) -> list[bytes]:
    """Every reading of ``value`` someone might try: as it is, URL-decoded, base64 of each kind."""
    texts = [value, unquote(value)]
    found = [text.encode() for text in texts]
    for text in texts:
        for part in [text, *text.split(".")]:
            for decode in (base64.urlsafe_b64decode, base64.b64decode):
                try:
                    found.append(decode(part + "=" * (-len(part) % 4)))
                except (binascii.Error, ValueError):
                    pass
    return found


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_the_address_holds_nothing_readable(client, lang):
    response = submit(client, lang=lang, police="yes")
    reference, code = sent_codes(client, response)
    location = response.headers["Location"]
    compact = reference.replace("-", "")
    for encoded in (reference, compact, code):
        for form in (encoded.encode(), base64.b64encode(encoded.encode()), base64.urlsafe_b64encode(encoded.encode())):
            assert form.rstrip(b"=").decode() not in location
    for decoded in decodings(sealed_value(location)):
        for secret in (reference, compact, code, "SL-"):
            assert secret.encode() not in decoded, (secret, decoded)


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_a_changed_value_shows_the_general_confirmation(client, lang):
    location = submit(client, lang=lang).headers["Location"]
    value = sealed_value(location)
    for changed in (value[:-2] + ("AA" if value[-2:] != "AA" else "BB"), value[:20], value + "A", "", "x" * 3000,
                    "あ" * 22):  # not even ASCII: base64 refuses it with a plain ValueError
        page = parse(client.get(location.split("?")[0] + "?r=" + changed))
        assert page.status == 200
        assert not page.has_id("reference") and not page.has_id("followup-code")
        assert NO_LONGER[lang] in page.text
    # A report's value does not open the addition's confirmation, though both use one secret.
    page = parse(client.get(MORE_PATHS[lang] + "sent/?r=" + value))
    assert page.status == 200 and not page.has_id("reference")


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_the_numbers_are_shown_for_an_hour_and_say_so(relay_env, catalogs, lang):
    clock = Clock(datetime.datetime(2026, 12, 8, 5, 0, tzinfo=datetime.timezone.utc))
    client = relay.create_app(relay_env, clock=clock).test_client()
    location = submit(client, lang=lang).headers["Location"]
    page = parse(client.get(location))
    assert page.has_id("reference") and page.has_id("followup-code")
    assert FOR_AN_HOUR[lang] in " ".join(page.by_id("numbers-for-an-hour").text.split())
    clock.advance(3599)
    assert parse(client.get(location)).has_id("reference")
    clock.advance(2)
    page = parse(client.get(location))
    assert not page.has_id("reference") and not page.has_id("followup-code")
    assert NO_LONGER[lang] in page.text


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_the_police_box_is_confirmed_with_what_happens_next(client, lang):
    page = parse(client.get(submit(client, lang=lang, police="yes").headers["Location"]))
    assert POLICE[lang] in " ".join(page.by_id("police-desk").parent.text.split())
    assert POLICE[lang] not in parse(client.get(submit(client, lang=lang).headers["Location"])).text


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_a_report_without_an_address_is_not_promised_a_request_to_sites(client, lang):
    page = parse(client.get(submit(client, lang=lang, urls="", where=PLACE).headers["Location"]))
    assert page.has_id("reference")
    assert READ_WHERE[lang] in page.text and ASK_SITES[lang] not in page.text
    page = parse(client.get(submit(client, lang=lang).headers["Location"]))
    assert ASK_SITES[lang] in page.text and READ_WHERE[lang] not in page.text


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_a_confirmation_whose_report_is_not_known_says_only_the_general_things(app, lang):
    """A double click that reaches the POST limit, its second copy no longer valid: the numbers
    of the report already sent, and nothing about a police request or a missing address that
    this copy cannot tell (relay.responses.too_many)."""
    client = app(RELAY_RATELIMIT_POSTS="1 per hour").test_client()
    token = get_token(client)
    first = submit(client, lang=lang, token=token, police="yes", urls="", where=PLACE)
    assert POLICE[lang] in parse(client.get(first.headers["Location"])).text
    again = submit(client, lang=lang, token=token, police="yes", urls="", where="")
    assert again.status_code == 303
    page = parse(client.get(again.headers["Location"]))
    assert page.has_id("reference")
    assert POLICE[lang] not in page.text and READ_WHERE[lang] not in page.text
    assert ASK_SITES[lang] in page.text


# -- the sealed value itself (relay.receipt) --------------------------------------------------

KNOWN_MOMENT = datetime.datetime(2026, 12, 8, 5, 0, tzinfo=datetime.timezone.utc)
KNOWN_VALUES = {  # sealed by relay.receipt with the key "known-answer secret" and nonce bytes 1…12
    (False, False): "AQIDBAUGBwgJCgsMwA6_Wonai1dHDyAeNhDXz36Nc0hcCW71HeQf_DKDmZTwEjyF3g",
    (False, True): "AQIDBAUGBwgJCgsMwA6_Wonai1dFDyAeNhDXz36Nc0hc2O5_XWflmKnZHndmItTmdg",
    (True, False): "AQIDBAUGBwgJCgsMwA6_Wonai1dGDyAeNhDXz36Nc0hcYa6wPaXizn8u2mU7Cki0Cg",
    (True, True): "AQIDBAUGBwgJCgsMwA6_Wonai1dEDyAeNhDXz36Nc0hcsC46fSYYquR0XYatOqDXog",
}


@pytest.mark.parametrize("police, no_address", sorted(KNOWN_VALUES))
def test_the_sealed_format_does_not_change(monkeypatch, police, no_address):
    """Addresses given out in the last hour must still open after a deploy: the nonce's size,
    the flags' bits and the head's layout are fixed (a known answer, each pair of flags)."""
    receipts = Receipts("known-answer secret", clock=Clock(KNOWN_MOMENT))
    receipt = Receipt("SL-2345-6789", police=police, no_address=no_address)
    assert receipts.open("report", KNOWN_VALUES[police, no_address]) == receipt
    monkeypatch.setattr(receipt_module.os, "urandom", lambda size: bytes(range(1, size + 1)))
    assert receipts.seal("report", receipt) == KNOWN_VALUES[police, no_address]


@pytest.mark.parametrize("seconds, opens", [(-61, False), (-60, True), (0, True), (3600, True), (3601, False)])
def test_a_value_opens_for_an_hour_with_a_minutes_grace_for_clocks(seconds, opens):
    """An hour after sealing, to the second; a worker whose clock is up to a minute behind the
    one that sealed still opens it."""
    clock = Clock(KNOWN_MOMENT)
    receipts = Receipts("a secret", clock=clock)
    value = receipts.seal("report", Receipt("SL-2345-6789"))
    clock.advance(seconds)
    assert (receipts.open("report", value) == Receipt("SL-2345-6789")) is opens


def test_a_value_cut_short_anywhere_opens_to_nothing():
    receipts = Receipts("a secret")
    sealed = base64.urlsafe_b64decode(receipts.seal("report", Receipt("SL-2345-6789")) + "==")
    for size in range(len(sealed)):  # from nothing to one byte short, nonce and head included
        value = base64.urlsafe_b64encode(sealed[:size]).rstrip(b"=").decode()
        assert receipts.open("report", value) is None, size


def test_a_value_longer_than_any_real_one_is_not_even_decrypted(monkeypatch):
    """A real value has 66 characters; up to 200 are tried, anything longer costs no work."""
    tried = []

    class CountingAESGCM:  # AESGCM itself cannot be subclassed
        def __init__(self, key: bytes):
            self.cipher = AESGCM(key)

        def decrypt(self, nonce, data, associated_data):
            tried.append(len(data))
            return self.cipher.decrypt(nonce, data, associated_data)

    monkeypatch.setattr(receipt_module, "AESGCM", CountingAESGCM)
    receipts = Receipts("a secret")
    assert receipts.open("report", "A" * 200) is None
    assert tried, "a value of 200 characters was not even tried"
    # Each longer one would decode (base64 skips the ".") to enough bytes to be tried.
    for longer in ("A" * 200 + ".", "A" * 204, "A" * 3000):
        tried.clear()
        assert receipts.open("report", longer) is None
        assert not tried, len(longer)


# -- the addition: where, as in a report ------------------------------------------------------

@pytest.mark.parametrize("lang", ["ja", "en"])
def test_an_addition_may_say_where_instead_of_an_address(app, client, mail_server, staff_keys, lang):
    reference, code = sent_codes(client, submit(client, lang=lang))
    response = submit_more(client, lang=lang, reference=reference, code=code, urls="", where=PLACE)
    assert response.status_code == 303, parse(response).text
    page = parse(client.get(response.headers["Location"]))
    assert page.by_id("reference").text.strip() == reference
    assert READ_WHERE[lang] in page.text

    deliver(app())
    _, addition = (path.read_bytes() for path in mail_server.messages())
    subject, text, record = decrypt_mail(addition, staff_keys.secrets["gnupg-v4"])
    assert record["format"] == 1 and record["kind"] == "addition"
    assert record["urls"] == [] and record["where"] == PLACE
    assert PLACE in text and subject == f"セーフライン通報 {reference} への追加（URLなし）"


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_an_addition_follows_the_reports_rule_for_where(client, lang):
    """Neither an address nor where: the report's message, at the same field; too long a where:
    the report's message and limit."""
    reference, code = sent_codes(client, submit(client, lang=lang))
    report = parse(submit(client, lang=lang, urls="", where=""))
    addition = parse(submit_more(client, lang=lang, reference=reference, code=code, urls="", where=""))
    assert addition.status == report.status == 422
    assert addition.by_id("urls-error").text == report.by_id("urls-error").text

    report = parse(submit(client, lang=lang, urls="", where="あ" * 1001))
    addition = parse(submit_more(client, lang=lang, reference=reference, code=code, urls="", where="あ" * 1001))
    assert addition.status == report.status == 422
    assert addition.by_id("where-error").text == report.by_id("where-error").text
    assert addition.value("where") == "あ" * 1001
    assert submit_more(client, lang=lang, reference=reference, code=code, urls="",
                       where="あ" * 1000).status_code == 303
