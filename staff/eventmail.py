"""One event of the team as one mail, and back: ``seal`` and ``unseal``.

The mail (the brief's binding shape) says nothing of the case outside its encryption:

- outer headers: ``From``/``To`` the neutral ``safeline-staff@invalid``, ``Subject:
  safeline-staff event``, ``Date`` (when it was sealed, in UTC), a random ``Message-ID``
  (``<HEX@safeline-staff.invalid>``), ``X-Safeline-Staff: event 1`` (how sync knows its mail),
  and the MIME headers; never the reference, the event's type or author, or anything else;
- the body: PGP/MIME (RFC 3156) ``multipart/encrypted``, its second part the armored OpenPGP
  message encrypted (pysequoia) to every staff key that can be encrypted to now
  (``Team.recipients``); inside it, the event's bytes inline-signed by the author's own key
  (``Identity.sign``: the GnuPG key or the key file, see staff/openpgp.py for why inline).
  A mail client that opens it shows that signed message as data: the events folder is the
  kit's, not for reading by hand.

The size of the mail still tells roughly how long the event is (a long note from a status
change): the only thing a server holding the folder learns, with when each was appended.

``unseal`` reads such a mail with the reader's own identity and the team's keys and returns
the event's bytes and the signer's fingerprint, or raises ``Rejected`` with one of ``KINDS``:

- ``malformed``: not an event mail (no ``X-Safeline-Staff: event 1``, not PGP/MIME, damaged
  ciphertext, not a signed message, not an event (``staff.events.Event.from_bytes``));
- ``not for this key``: not encrypted to the reader's key (a member who joined later reads
  none of the events made before; see README, "A team with one history");
- ``unsigned``: no signature, or none that verifies; ``unknown signer``: signed by a key that
  is not in ``staff_keys``; ``signer not current``: signed by a key of the folder that is
  expired or revoked now, or was at the event's time;
- ``author mismatch``: signed by one member, made in the name of another (``event.author``).

Only ``KeyUnavailable`` (the reader's own key cannot be used at all) passes through.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timezone
from email.utils import format_datetime

from .message import Skipped, envelope
from .openpgp import Identity, KeyUnavailable, NotForThisKey, OpenPGPError, short
from .problems import StaffError
from .team import Team, NotVerified, NOT_CURRENT

ADDRESS = "safeline-staff@invalid"
SUBJECT = "safeline-staff event"
MARK_HEADER = "X-Safeline-Staff"
MARK = "event 1"
KINDS = ("unsigned", "unknown signer", "signer not current", "author mismatch", "not for this key", "malformed")


class Rejected(Exception):
    """This mail is no event of the team; ``kind`` (one of ``KINDS``) says why. Never carries its text."""

    def __init__(self, kind: str):
        super().__init__(kind)
        self.kind = kind


class SealError(StaffError):
    """An event cannot be sealed now (the author's key is not a current key of the team)."""


def seal(event_bytes: bytes, identity: Identity, team: Team, *, now: datetime | None = None) -> bytes:
    """The mail carrying ``event_bytes``, signed by ``identity`` and encrypted to ``team`` (CRLF lines)."""
    import pysequoia

    now = now or datetime.now(timezone.utc)
    member = team.member(identity.fingerprint)
    if member is None:
        raise SealError(f"your key {short(identity.fingerprint)} is not among the staff keys in {team.path}: "
                        "add your public key there (the others would ignore your changes)")
    if not member.current(now):
        raise SealError(f"your key {short(identity.fingerprint)} in {member.path} has expired or is revoked: "
                        "extend it and put the new public key there (the others would ignore your changes)")
    recipients = team.recipients(now)
    if not recipients:
        raise SealError(f"no key in {team.path} can be encrypted to now: every one is expired or revoked")
    signed = identity.sign(event_bytes)
    try:
        armored = pysequoia.encrypt(bytes=signed, recipients=[member.cert for member in recipients], armor=True)
    except Exception as error:
        first = (str(error).strip().splitlines() or [type(error).__name__])[0][:120]
        raise SealError(f"cannot encrypt to the staff keys in {team.path}: {first}") from None
    return _mail(bytes(armored), now)


def _mail(armored: bytes, now: datetime) -> bytes:
    boundary = f"=-{secrets.token_hex(16)}"
    head = [
        f"From: {ADDRESS}",
        f"To: {ADDRESS}",
        f"Subject: {SUBJECT}",
        f"Date: {format_datetime(now.astimezone(timezone.utc))}",
        f"Message-ID: <{secrets.token_hex(16)}@safeline-staff.invalid>",
        f"{MARK_HEADER}: {MARK}",
        "MIME-Version: 1.0",
        f'Content-Type: multipart/encrypted; protocol="application/pgp-encrypted"; boundary="{boundary}"',
        "",
        "This is an OpenPGP/MIME encrypted message (RFC 3156).",
        f"--{boundary}",
        "Content-Type: application/pgp-encrypted",
        "Content-Description: PGP/MIME version identification",
        "",
        "Version: 1",
        "",
        f"--{boundary}",
        'Content-Type: application/octet-stream; name="encrypted.asc"',
        "Content-Description: OpenPGP encrypted message",
        'Content-Disposition: inline; filename="encrypted.asc"',
        "",
    ]
    body = armored.replace(b"\r\n", b"\n").rstrip(b"\n").split(b"\n")
    lines = [line.encode("ascii") for line in head] + body + [f"--{boundary}--".encode("ascii"), b""]
    return b"\r\n".join(lines)


def is_event_mail(mail: bytes) -> bool:
    """Whether the outer headers carry ``X-Safeline-Staff: event 1`` (cheap: no decryption)."""
    head = mail.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
    for line in head.replace(b"\r\n", b"\n").split(b"\n"):
        name, colon, value = line.partition(b":")
        if colon and name.strip().lower() == MARK_HEADER.lower().encode():
            return value.strip() == MARK.encode()
    return False


def unseal(mail: bytes, identity: Identity, team: Team, *, now: datetime | None = None) -> tuple[bytes, str]:
    """(the event's bytes, the signer's fingerprint) of an event mail, or ``Rejected``."""
    now = now or datetime.now(timezone.utc)
    if not is_event_mail(mail):
        raise Rejected("malformed")
    try:
        _, ciphertext = envelope(mail)
    except Skipped:
        raise Rejected("malformed") from None
    try:
        signed = identity.decrypt(ciphertext)
    except KeyUnavailable:
        raise
    except NotForThisKey:
        raise Rejected("not for this key") from None
    except OpenPGPError:
        raise Rejected("malformed") from None
    try:
        data, signer = team.verify(signed, now=now)
    except NotVerified as refused:
        raise Rejected(refused.kind) from None
    _check_event(data, signer, team)
    return data, signer


def _check_event(data: bytes, signer: str, team: Team) -> None:
    """The event is well formed, made in the signer's name, while the signer's key was current."""
    from .events import BadEvent, Event

    try:
        event = Event.from_bytes(data)
    except BadEvent:
        raise Rejected("malformed") from None
    if event.author.upper() != signer:
        raise Rejected("author mismatch")
    member = team.member(signer)
    if member is None or not member.current(event.at):
        raise Rejected(NOT_CURRENT)
