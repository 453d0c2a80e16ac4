"""One mail → its record, or the kind of mail it is: every mail of the relay-made mailbox, and
hostile ones made here. No mail, however odd, raises anything but ``Skipped``."""

from __future__ import annotations

import json

import pytest

from relay import openpgp
from staff import message
from staff.mailbox import MaildirSource
from staff.message import KINDS, Skipped, read
from staff.openpgp import GnuPGIdentity, KeyUnavailable
from tests.support.staffkit import HOSTILE, REPORTS, _inner, _pgp_mime, _record


@pytest.fixture(scope="module")
def identity(staff_gnupg) -> GnuPGIdentity:
    return GnuPGIdentity(staff_gnupg.fingerprint, gnupg_home=staff_gnupg.home)


@pytest.fixture(scope="module")
def read_all(relay_maildir, identity) -> dict[str, tuple]:
    """Every mail of the corpus: its Maildir key → (message_id, record) or the skip kind."""
    found = {}
    for mail in MaildirSource(relay_maildir):
        try:
            found[mail.ident] = read(mail.data, identity)
        except Skipped as skipped:
            found[mail.ident] = skipped.kind
    return found


def sealed_to(staff_gnupg, clear: bytes, *, message_id: str = "<m@test>") -> bytes:
    certs = openpgp.parse_certs(staff_gnupg.public)
    return _pgp_mime(openpgp.encrypt(clear, certs), message_id=message_id)


def kind_of(mail: bytes, identity) -> str:
    with pytest.raises(Skipped) as raised:
        read(mail, identity)
    assert str(raised.value) == raised.value.kind  # the kind alone: never a word of the mail
    return raised.value.kind


def test_every_relay_mail_gives_its_record(read_all, relay_corpus):
    records = [value for value in read_all.values() if isinstance(value, tuple)]
    assert sorted(record.kind for _, record in records) == ["addition"] * relay_corpus.additions + \
        ["report"] * relay_corpus.reports
    assert {record.reference for _, record in records} == set(relay_corpus.references)
    # The Message-ID is the relay's, one per mail; an addition threads under its report's.
    assert len({message_id for message_id, _ in records}) == len(records)


def test_the_skipped_mails_by_kind(read_all, relay_corpus):
    kinds = [value for value in read_all.values() if isinstance(value, str)]
    assert {kind: kinds.count(kind) for kind in set(kinds)} == relay_corpus.skipped
    assert set(kinds) <= set(KINDS)
    assert read_all["1765000100.M100P1.plain"] == "not encrypted"  # plain mail
    assert read_all["1765000101.M101P1.forged"] == "not encrypted"  # a forged clear-text "report"


def test_the_fields_arrive_as_typed(read_all):
    reports = {record.fields["email"]: record for value in read_all.values() if isinstance(value, tuple)
               for _, record in [value] if record.kind == "report"}
    for lang, fields in REPORTS:
        record = reports[fields["email"]]
        assert record.fields["language"] == lang
        assert record.fields["role"] == fields["role"]
        assert record.fields["police_referral"] is (fields.get("police") == "yes")
    hostile = reports["hostile.corpus@example.com"]
    assert hostile.fields["contact_safety"] == HOSTILE and hostile.fields["where"] == HOSTILE
    long = reports["long.corpus@example.jp"]
    assert len(long.urls) == 30 and len(long.fields["description"]) == 4000
    odd = reports["odd.corpus@example.com"]
    assert "👩\u200d👩\u200d👧" in odd.fields["where"] and "\u0229\u0301" in odd.fields["where"]  # NFC by the relay
    assert "\u202e" not in odd.fields["where"]  # control characters: dropped by the relay
    assert reports["hogosha.corpus@example.jp"].urls == []


def test_the_steps_give_what_read_gives(relay_maildir, identity):
    mail = next(iter(MaildirSource(relay_maildir)))
    outer_id, ciphertext = message.envelope(mail.data)
    assert message.record_of(message.decrypt(ciphertext, identity), outer_id) == read(mail.data, identity)


@pytest.mark.parametrize("mail", [
    b"", b"\x00" * 100, b"\xff\xfe garbage", "Subject: ☃\r\n\r\n".encode(),
    b"Content-Type: multipart/encrypted; boundary=x\r\n\r\n--x\r\n",
    b"Content-Type: multipart/encrypted; boundary=x\r\n\r\n" + b"--x\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n" * 2000,
    b"Content-Type: multipart/encrypted; boundary=x\r\n\r\n--x\r\nContent-Type: application/pgp-encrypted\r\n\r\n"
    b"Version: 1\r\n--x\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n"
    b"!!!not base64!!!\r\n--x--\r\n",
    b"Content-Type: multipart/encrypted; boundary=x\r\n\r\n--x\r\nContent-Type: text/plain\r\n\r\na\r\n--x--\r\n",
])
def test_hostile_outer_mails_are_skipped(mail, identity):
    assert kind_of(mail, identity) in ("not encrypted", "malformed")


def inner_json(data: bytes, *, message_id: str = "<m@test>", extra: list[tuple[str, bytes]] = ()) -> bytes:
    return _inner([("application/json", data), *extra], message_id=message_id)


@pytest.mark.parametrize("data, kind", [
    (b"[1, 2]", "malformed"),
    (b"\xff\xfe{}", "malformed"),
    (b'{"format": "1"}', "unknown format"),
    (b'{"format": 1.0}', "unknown format"),
    (_record(kind="deletion"), "malformed"),
    (_record(received_at="yesterday"), "malformed"),
    (_record(received_at="2026-12-01T10:00:00"), "malformed"),
    (_record(urls=[1, 2]), "malformed"),
    (_record(role="other"), "malformed"),
    (_record(police_referral="yes"), "malformed"),
    (b'{"format": 1, "kind": "report", "reference": "SL-ZZZZ-ZZZZ"' + b", " * 10000 + b"}", "malformed"),
    (b"[" * 100000 + b"]" * 100000, "malformed"),
])
def test_bad_records_inside_the_encryption(staff_gnupg, identity, data, kind):
    assert kind_of(sealed_to(staff_gnupg, inner_json(data)), identity) == kind


def test_a_good_record_made_here_is_read(staff_gnupg, identity):
    message_id, record = read(sealed_to(staff_gnupg, inner_json(_record())), identity)
    assert message_id == "<m@test>" and record.reference == "SL-ZZZZ-ZZZZ"


def test_two_json_parts_or_none(staff_gnupg, identity):
    two = inner_json(_record(), extra=[("application/json", _record())])
    assert kind_of(sealed_to(staff_gnupg, two), identity) == "malformed"
    none = _inner([("text/html", b"<p>hello</p>")], message_id="<m@test>")
    assert kind_of(sealed_to(staff_gnupg, none), identity) == "not a report"
    assert kind_of(sealed_to(staff_gnupg, b"\x00\xff binary, no MIME at all"), identity) == "not a report"


def test_the_protected_message_id_must_agree_with_the_outer_one(staff_gnupg, identity):
    rewrapped = sealed_to(staff_gnupg, inner_json(_record(), message_id="<original@test>"), message_id="<new@test>")
    assert kind_of(rewrapped, identity) == "malformed"


@pytest.mark.parametrize("message_id", ["<a b@test>", "no-brackets@test", "<" + "a" * 300 + "@test>", "<>"])
def test_odd_message_ids(staff_gnupg, identity, message_id):
    assert kind_of(sealed_to(staff_gnupg, inner_json(_record(), message_id=message_id), message_id=message_id),
                   identity) == "malformed"


def test_a_mail_without_any_message_id(staff_gnupg, identity):
    clear = _inner([("application/json", _record())], message_id="<x@test>").replace(b"Message-ID: <x@test>\r\n", b"")
    mail = sealed_to(staff_gnupg, clear).replace(b"Message-ID: <m@test>\r\n", b"")
    assert kind_of(mail, identity) == "malformed"
    # The protected one alone is enough.
    mail = sealed_to(staff_gnupg, inner_json(_record(), message_id="<inner@test>")).replace(b"Message-ID: <m@test>\r\n", b"")
    assert read(mail, identity)[0] == "<inner@test>"


def test_base64_json_with_a_charset_or_quoted_printable(staff_gnupg, identity):
    qp = ('Message-ID: <m@test>\r\nContent-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\n'
          "Content-Type: application/json\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
          + _record(description="é").decode() + "\r\n--b--\r\n").encode()
    assert read(sealed_to(staff_gnupg, qp), identity)[1].fields["description"] == "é"


def test_a_key_that_cannot_be_used_stops_rather_than_skips(staff_gnupg, relay_maildir):
    locked = GnuPGIdentity(staff_gnupg.locked_fingerprint, gnupg_home=staff_gnupg.locked_home, passphrase="wrong")
    mail = next(iter(MaildirSource(relay_maildir)))
    with pytest.raises(KeyUnavailable):
        read(mail.data, locked)


def test_whatever_the_identity_raises_is_one_mail_s_problem(relay_maildir):
    class Broken:
        fingerprint = "0" * 40
        key_ids = frozenset()

        def decrypt(self, data):
            raise RuntimeError("library bug with secret words")

    mail = next(iter(MaildirSource(relay_maildir)))
    assert kind_of(mail.data, Broken()) == "malformed"


def test_the_record_json_is_the_relay_s_own(read_all):
    _, record = next(value for value in read_all.values() if isinstance(value, tuple))
    assert json.loads(json.dumps(record.fields)) == record.fields  # plain JSON types only
