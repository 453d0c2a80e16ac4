"""What ``staff.message`` takes for a relay mail, shape by shape, before and after decryption.

The relay-made mailbox (test_message.py) shows the mails that must import; these are the ones
that must not, each one step away from the right shape, in both directions where names sort:
the outer ``multipart/encrypted`` with its two parts (RFC 3156), one Message-ID, one JSON part.
"""

from __future__ import annotations

import pytest

from staff.message import Skipped, envelope, record_of
from tests.support.staff_records import report

ARMOR = "-----BEGIN PGP MESSAGE-----\r\n\r\nhQEMA1234\r\n-----END PGP MESSAGE-----\r\n"
CONTROL = ("application/pgp-encrypted", "Version: 1\r\n")
PAYLOAD = ("application/octet-stream", ARMOR)


def outer(*, content_type: str = "multipart/encrypted", parts=(CONTROL, PAYLOAD),
          headers: str = "Message-ID: <m1@relay.example>\r\n") -> bytes:
    body = "".join(f"--b\r\nContent-Type: {kind}\r\n\r\n{text}\r\n" for kind, text in parts)
    return (f"{headers}MIME-Version: 1.0\r\n"
            f'Content-Type: {content_type}; protocol="application/pgp-encrypted"; boundary="b"\r\n\r\n'
            f"{body}--b--\r\n").encode()


def test_the_right_shape_gives_its_message_id_and_ciphertext():
    message_id, ciphertext = envelope(outer())
    assert message_id == "<m1@relay.example>" and ciphertext.startswith(b"-----BEGIN PGP MESSAGE-----")


@pytest.mark.parametrize("content_type", ["multipart/alternative", "multipart/mixed", "text/plain"])
def test_another_outer_type_is_not_encrypted(content_type):
    with pytest.raises(Skipped) as skipped:
        envelope(outer(content_type=content_type))
    assert skipped.value.kind == "not encrypted"


@pytest.mark.parametrize("parts", [
    pytest.param((CONTROL,), id="one-part"),
    pytest.param((CONTROL, PAYLOAD, PAYLOAD), id="three-parts"),
    pytest.param((("application/pgp-cleartext", "x"), PAYLOAD), id="control-sorts-before"),
    pytest.param((("application/pgp-keys", "x"), PAYLOAD), id="control-sorts-after"),
    pytest.param((CONTROL, ("application/json", ARMOR)), id="payload-sorts-before"),
    pytest.param((CONTROL, ("text/plain", ARMOR)), id="payload-sorts-after"),
    pytest.param((PAYLOAD, CONTROL), id="swapped"),
    pytest.param((CONTROL, ("application/octet-stream", "")), id="empty-ciphertext"),
])
def test_a_pgp_mime_mail_of_another_shape_is_malformed(parts):
    with pytest.raises(Skipped) as skipped:
        envelope(outer(parts=parts))
    assert skipped.value.kind == "malformed"


def test_anything_that_is_not_mail_bytes_is_malformed_not_a_crash():
    with pytest.raises(Skipped) as skipped:
        envelope("a str, not bytes")
    assert skipped.value.kind == "malformed"


def test_message_ids_none_one_or_two():
    assert envelope(outer(headers=""))[0] is None  # decided after decryption (the protected one)
    for headers in ("Message-ID: <a@x>\r\nMessage-ID: <b@x>\r\n", "Message-ID: not-an-id\r\n"):
        with pytest.raises(Skipped) as skipped:
            envelope(outer(headers=headers))
        assert skipped.value.kind == "malformed"


def entity(*parts: tuple[str, bytes], headers: str = "Message-ID: <m1@relay.example>\r\n") -> bytes:
    import base64

    body = b"".join(f"--i\r\nContent-Type: {kind}\r\nContent-Transfer-Encoding: base64\r\n\r\n".encode()
                    + base64.encodebytes(data) + b"\r\n" for kind, data in parts)
    return (f'{headers}Content-Type: multipart/mixed; protected-headers="v1"; boundary="i"\r\n\r\n'.encode()
            + body + b"--i--\r\n")


def json_of(record) -> bytes:
    import json

    return json.dumps({"format": 1, "kind": record.kind, "reference": record.reference,
                       "received_at": record.received_at.isoformat(), **record.fields}).encode()


def test_one_json_part_among_others_is_the_record():
    made = report()
    clear = entity(("text/plain", "読める文".encode()), ("application/ecmascript", b"x"), ("application/json",
                   json_of(made)), ("application/pgp-keys", b"k"))
    message_id, record = record_of(clear, "<m1@relay.example>")
    assert (message_id, record.reference) == ("<m1@relay.example>", made.reference)


def test_two_json_parts_are_malformed_and_none_is_not_a_report():
    made = json_of(report())
    for clear, kind in ((entity(("application/json", made), ("application/json", made)), "malformed"),
                        (entity(("text/plain", b"hello")), "not a report")):
        with pytest.raises(Skipped) as skipped:
            record_of(clear, "<m1@relay.example>")
        assert skipped.value.kind == kind


@pytest.mark.parametrize(("data", "kind"), [(b'{"format": 2}', "unknown format"), (b"{", "malformed"),
                                            (b'{"format": 1, "kind": "x"}', "malformed")])
def test_a_record_that_is_not_one_says_which_way(data, kind):
    with pytest.raises(Skipped) as skipped:
        record_of(entity(("application/json", data)), "<m1@relay.example>")
    assert skipped.value.kind == kind


@pytest.mark.parametrize("outer_id", ["<m0@relay.example>", "<m2@relay.example>"])
def test_the_protected_message_id_must_be_the_outer_one(outer_id):
    # A genuine ciphertext in a new mail with another Message-ID (sorting before or after).
    with pytest.raises(Skipped) as skipped:
        record_of(entity(("application/json", json_of(report()))), outer_id)
    assert skipped.value.kind == "malformed"


def test_one_message_id_is_enough_and_none_is_malformed():
    clear = entity(("application/json", json_of(report())), headers="")
    assert record_of(clear, "<m1@relay.example>")[0] == "<m1@relay.example>"
    with pytest.raises(Skipped) as skipped:
        record_of(clear, None)
    assert skipped.value.kind == "malformed"
