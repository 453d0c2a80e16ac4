"""One mail's bytes → the relay record it carries, or ``Skipped`` with the kind of mail it is.

A relay mail is PGP/MIME (RFC 3156): ``multipart/encrypted`` whose ``application/octet-stream``
part holds the armored ciphertext; decrypted, a ``multipart/mixed`` entity with protected
headers, a text part and one ``application/json`` part, the record (``safeline.record``).

The mailbox is open to anyone who can send mail, so every mail is hostile until proven
otherwise: whatever goes wrong while reading one (bad MIME, bad JSON, a recursion bomb) becomes
``Skipped`` with one of ``KINDS``, never an exception that stops the import, and no message
carries a word of the mail. Only ``KeyUnavailable`` (the staff member's key cannot be used at
all) passes through: then no mail can be read and the import must stop.

Reading is split so the importer can decrypt several mails at once: ``envelope`` (the outer
mail: Message-ID and ciphertext, cheap), the identity's ``decrypt`` (gpg), ``record_of`` (the
clear entity → record). ``read`` does all three.
"""

from __future__ import annotations

import re
from email import message_from_bytes
from email.message import Message
from email.policy import compat32

from safeline.record import NotARecord, Record, parse

from .openpgp import Identity, KeyUnavailable, NotEncrypted, NotForThisKey

# The kinds of skipped mail, in the order the summary line names them.
KINDS = ("already imported", "duplicate", "case deleted", "not encrypted", "not for this key", "not a report",
         "unknown format", "malformed")
# A Message-ID as the relay writes it (and as RFC 5322 allows, without comments or spaces).
_MESSAGE_ID = re.compile(r"<[!-=?-~]{1,250}>")


class Skipped(Exception):
    """This mail is not imported; ``kind`` (one of ``KINDS``) says why. Never carries the mail's text."""

    def __init__(self, kind: str):
        super().__init__(kind)
        self.kind = kind


def read(mail: bytes, identity: Identity) -> tuple[str, Record]:
    """(message_id, record) of a relay mail decrypted with ``identity``, or ``Skipped``."""
    message_id, ciphertext = envelope(mail)
    return record_of(decrypt(ciphertext, identity), message_id)


def envelope(mail: bytes) -> tuple[str | None, bytes]:
    """The outer Message-ID (None when missing) and the armored ciphertext of a PGP/MIME mail."""
    try:
        outer = message_from_bytes(mail, policy=compat32)
        if outer.get_content_type() != "multipart/encrypted" or not outer.is_multipart():
            raise Skipped("not encrypted")
        # RFC 3156: exactly two parts; any other number fails to unpack, and is malformed below.
        control, payload = outer.get_payload()
        if control.get_content_type() != "application/pgp-encrypted" or \
                payload.get_content_type() != "application/octet-stream":
            raise Skipped("malformed")
        ciphertext = payload.get_payload(decode=True)
        if not isinstance(ciphertext, bytes) or not ciphertext:
            raise Skipped("malformed")
        return _message_id(outer), ciphertext
    except Skipped:
        raise
    except Exception:  # noqa: BLE001 -- hostile input: any failure is this one mail's
        raise Skipped("malformed") from None


def decrypt(ciphertext: bytes, identity: Identity) -> bytes:
    """The clear entity; ``Skipped`` for a mail the key cannot or should not read."""
    try:
        return identity.decrypt(ciphertext)
    except KeyUnavailable:
        raise
    except NotForThisKey:
        raise Skipped("not for this key") from None
    except NotEncrypted:
        raise Skipped("malformed") from None
    except Exception:  # noqa: BLE001 -- damaged ciphertext, whatever the library says
        raise Skipped("malformed") from None


def record_of(clear: bytes, outer_id: str | None) -> tuple[str, Record]:
    """(message_id, record) from the decrypted entity of a mail whose outer Message-ID is ``outer_id``.

    The protected Message-ID (inside the encryption) must agree with the outer one: a genuine
    ciphertext wrapped in a new mail with another Message-ID would otherwise import twice.
    """
    try:
        inner = message_from_bytes(clear, policy=compat32)
        parts = [part for part in inner.walk() if part.get_content_type() == "application/json"]
        if not parts:
            raise Skipped("not a report")
        if len(parts) > 1:
            raise Skipped("malformed")
        data = parts[0].get_payload(decode=True)
        if not isinstance(data, bytes):
            raise Skipped("malformed")
        try:
            record = parse(data)
        except NotARecord as problem:
            raise Skipped("unknown format" if problem.reason == "unknown format" else "malformed") from None
        protected_id = _message_id(inner)
        if protected_id and outer_id and protected_id != outer_id:
            raise Skipped("malformed")
        message_id = protected_id or outer_id
        if not message_id:
            raise Skipped("malformed")
        return message_id, record
    except Skipped:
        raise
    except Exception:  # noqa: BLE001 -- hostile input: any failure is this one mail's
        raise Skipped("malformed") from None


def _message_id(message: Message) -> str | None:
    values = message.get_all("Message-ID") or []
    if len(values) != 1:
        if len(values) > 1:
            raise Skipped("malformed")
        return None
    value = str(values[0]).strip()
    if not _MESSAGE_ID.fullmatch(value):
        raise Skipped("malformed")
    return value
