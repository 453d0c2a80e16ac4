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

``seal_event`` also gives back what sync keeps in the store (``Store.mark_sent``): the signed
form (``signed``) and the mail's Message-ID. ``reseal`` puts a kept signed form, unchanged, in
a new mail encrypted to one member only, for ``safeline-staff team share``: a member who joined
later gets the events made before (the original author's signature still verifies, so their
kit applies them as if received then). Such a mail also carries ``X-Safeline-Staff-Share: 1``,
so that the other kits, which cannot decrypt it, count it as "for another member" rather
than as an ignored mail (the recipient's key ID is in the OpenPGP message's clear header
anyway, so the mark tells the server nothing more than the ciphertext does).

``open_mail`` (and ``unseal``, its first two fields) reads such a mail with the reader's own
identity and the team's keys and returns the event's bytes, the signer's fingerprint, the
signed form, the signature's time and the ``Event`` read (once), or raises ``Rejected`` with
one of ``KINDS``. A mail in exactly the shape ``_mail`` writes (every kit's, byte for byte
apart from the armored part, the boundary, the date and the Message-ID) is taken apart by
``_armored`` without Python's ``email`` parser, which cost as much as the decryption itself
(BENCHMARKS.md, (g)); any other shape, or one that merely looks like it, goes through the
parser as before (``staff.message.envelope``), so both read the same mails alike.

The signer rule (staff/team.py has the reasons and the trade-off): the signer is a key of
``staff_keys``, not revoked, and valid (not expired) both when it signed (the signature's
creation time, at most ``CLOCK_SKEW`` later than the reader's clock) and at the event's time
``at``; its fingerprint is the event's ``author``. So an event signed while its author's key
was valid is applied by every kit, including one that syncs after the key expired; a revoked
key's events are ignored by a kit that reads them after it learnt of the revocation. The kinds:

- ``malformed``: not an event mail (no ``X-Safeline-Staff: event 1``, not PGP/MIME, damaged
  ciphertext, not a signed message, not an event (``staff.events.Event.from_bytes``));
- ``not for this key``: not encrypted to the reader's key (a member who joined later reads
  none of the events made before; see README, "A team with one history");
- ``unsigned``: no signature, or none that verifies; ``unknown signer``: signed by a key that
  is not in ``staff_keys``; ``signer not current``: signed by a key of the folder that is
  revoked, or was expired when it signed or at the event's time ``at``, or a signature dated
  more than ``CLOCK_SKEW`` ahead of the reader's clock;
- ``author mismatch``: signed by one member, made in the name of another (``event.author``).

Only ``KeyUnavailable`` (the reader's own key cannot be used at all) passes through.
"""

from __future__ import annotations

import re
import secrets
from datetime import datetime, timezone
from email.utils import format_datetime
from typing import TYPE_CHECKING, NamedTuple

from .message import Skipped, envelope
from .openpgp import Identity, KeyUnavailable, NotForThisKey, OpenPGPError, short
from .problems import StaffError
from .team import Member, Team, NotVerified, NOT_CURRENT

if TYPE_CHECKING:
    from .events import Event

ADDRESS = "safeline-staff@invalid"
SUBJECT = "safeline-staff event"
MARK_HEADER = "X-Safeline-Staff"
MARK = "event 1"
SHARE_HEADER = "X-Safeline-Staff-Share"  # on a mail of ``reseal``: for one member only
KINDS = ("unsigned", "unknown signer", "signer not current", "author mismatch", "not for this key", "malformed")


class Rejected(Exception):
    """This mail is no event of the team; ``kind`` (one of ``KINDS``) says why. Never carries its text."""

    def __init__(self, kind: str):
        super().__init__(kind)
        self.kind = kind


class Sealed(NamedTuple):
    mail: bytes  # the mail to append (CRLF lines)
    signed: bytes  # the event's bytes as its author signed them (kept for sharing)
    message_id: str  # the mail's Message-ID, with its angle brackets


class Opened(NamedTuple):
    data: bytes  # the event's bytes
    signer: str  # the signer's primary key fingerprint (= the event's author)
    signed: bytes  # the signed form, as its author made it
    signed_at: datetime | None  # the signature's creation time
    event: Event | None = None  # the event read from ``data``


class SealError(StaffError):
    """An event cannot be sealed now (the author's key is not a current key of the team)."""


def seal(event_bytes: bytes, identity: Identity, team: Team, *, now: datetime | None = None) -> bytes:
    """The mail carrying ``event_bytes``, signed by ``identity`` and encrypted to ``team`` (CRLF lines)."""
    return seal_event(event_bytes, identity, team, now=now).mail


def seal_event(event_bytes: bytes, identity: Identity, team: Team, *, now: datetime | None = None) -> Sealed:
    """``seal``, with the signed form and the Message-ID of the mail."""
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
    signed = bytes(identity.sign(event_bytes))
    armored = _encrypt(signed, recipients, team.path)
    message_id = _new_message_id()
    return Sealed(_mail(armored, now, message_id=message_id), signed, message_id)


def reseal(signed: bytes, member: Member, *, now: datetime | None = None) -> bytes:
    """A mail carrying ``signed`` (an event's signed form, as kept by the store) encrypted to
    ``member`` only, marked as shared (``SHARE_HEADER``)."""
    now = now or datetime.now(timezone.utc)
    if not member.can_encrypt(now):
        raise SealError(f"the key {member.label} cannot be encrypted to now: it has expired or is revoked")
    return _mail(_encrypt(signed, [member], member.path), now, message_id=_new_message_id(), shared=True)


def _encrypt(signed: bytes, recipients: list[Member], where) -> bytes:
    import pysequoia

    try:
        armored = pysequoia.encrypt(bytes=signed, recipients=[member.cert for member in recipients], armor=True)
    except Exception as error:
        first = (str(error).strip().splitlines() or [type(error).__name__])[0][:120]
        raise SealError(f"cannot encrypt to the staff keys in {where}: {first}") from None
    return bytes(armored)


def _new_message_id() -> str:
    return f"<{secrets.token_hex(16)}@safeline-staff.invalid>"


_PREAMBLE = "This is an OpenPGP/MIME encrypted message (RFC 3156)."
_CONTROL = ("Content-Type: application/pgp-encrypted", "Content-Description: PGP/MIME version identification",
            "", "Version: 1", "")
_PAYLOAD = ('Content-Type: application/octet-stream; name="encrypted.asc"',
            "Content-Description: OpenPGP encrypted message", 'Content-Disposition: inline; filename="encrypted.asc"',
            "")
# The outer Content-Type as _mail writes it: the only place the fast reader takes the boundary from.
_CONTENT_TYPE = re.compile(rb'\r\nContent-Type: multipart/encrypted; protocol="application/pgp-encrypted"; '
                           rb'boundary="(=-[0-9a-f]{32})"\r\n')
_ARMOR = re.compile(rb"-----BEGIN PGP MESSAGE-----\r\n[\x20-\x7e\r\n]*\r\n-----END PGP MESSAGE-----")


def _mail(armored: bytes, now: datetime, *, message_id: str | None = None, shared: bool = False) -> bytes:
    boundary = f"=-{secrets.token_hex(16)}"
    head = [
        f"From: {ADDRESS}",
        f"To: {ADDRESS}",
        f"Subject: {SUBJECT}",
        f"Date: {format_datetime(now.astimezone(timezone.utc))}",
        f"Message-ID: {message_id or _new_message_id()}",
        f"{MARK_HEADER}: {MARK}",
        *([f"{SHARE_HEADER}: 1"] if shared else []),
        "MIME-Version: 1.0",
        f'Content-Type: multipart/encrypted; protocol="application/pgp-encrypted"; boundary="{boundary}"',
        "",
        _PREAMBLE,
        f"--{boundary}",
        *_CONTROL,
        f"--{boundary}",
        *_PAYLOAD,
    ]
    body = armored.replace(b"\r\n", b"\n").rstrip(b"\n").split(b"\n")
    lines = [line.encode("ascii") for line in head] + body + [f"--{boundary}--".encode("ascii"), b""]
    return b"\r\n".join(lines)


def _header(mail: bytes, name: str) -> bytes | None:
    """The value of the outer header ``name`` (the first), stripped; None when there is none."""
    head = mail.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
    for line in head.replace(b"\r\n", b"\n").split(b"\n"):
        key, colon, value = line.partition(b":")
        if colon and key.strip().lower() == name.lower().encode():
            return value.strip()
    return None


def _armored(mail: bytes) -> bytes | None:
    """The armored part of a mail in exactly ``_mail``'s shape (CRLF lines), or None for any
    other: the body between the outer headers and the end must be what ``_mail`` writes for
    that boundary, around one armored OpenPGP message and nothing else."""
    head, blank, body = mail.partition(b"\r\n\r\n")
    found = _CONTENT_TYPE.search(head + b"\r\n")
    if not blank or found is None or head.count(b"Content-Type:") != 1:
        return None
    boundary = found.group(1).decode("ascii")
    before = "\r\n".join((_PREAMBLE, f"--{boundary}", *_CONTROL, f"--{boundary}", *_PAYLOAD, "")).encode("ascii")
    after = f"\r\n--{boundary}--\r\n".encode("ascii")
    if not (body.startswith(before) and body.endswith(after)):
        return None
    armored = body[len(before):-len(after)]
    return armored if _ARMOR.fullmatch(armored) else None


def is_event_mail(mail: bytes) -> bool:
    """Whether the outer headers carry ``X-Safeline-Staff: event 1`` (cheap: no decryption)."""
    return _header(mail, MARK_HEADER) == MARK.encode()


def is_shared(mail: bytes) -> bool:
    """Whether the mail was made by ``reseal`` (for one member only)."""
    return _header(mail, SHARE_HEADER) == b"1"


def message_id_of(mail: bytes) -> str | None:
    """The mail's Message-ID as its header gives it (ASCII), or None."""
    value = _header(mail, "Message-ID")
    if not value:
        return None
    try:
        return value.decode("ascii")[:998]
    except UnicodeDecodeError:
        return None


def unseal(mail: bytes, identity: Identity, team: Team, *, now: datetime | None = None) -> tuple[bytes, str]:
    """(the event's bytes, the signer's fingerprint) of an event mail, or ``Rejected``."""
    opened = open_mail(mail, identity, team, now=now)
    return opened.data, opened.signer


def open_mail(mail: bytes, identity: Identity, team: Team, *, now: datetime | None = None) -> Opened:
    """The event of an event mail with its signer, signed form and signature time, or
    ``Rejected``: ``ciphertext_of``, ``decrypted`` and ``check_signed``, which sync runs apart
    (staff/decryption.py)."""
    return check_signed(decrypted(ciphertext_of(mail), identity), team, now=now)


def ciphertext_of(mail: bytes) -> bytes:
    """The armored OpenPGP message of an event mail, or ``Rejected`` ("malformed")."""
    if not is_event_mail(mail):
        raise Rejected("malformed")
    ciphertext = _armored(mail)
    if ciphertext is None:
        try:
            _, ciphertext = envelope(mail)
        except Skipped:
            raise Rejected("malformed") from None
    return ciphertext


def decrypted(ciphertext: bytes, identity: Identity) -> bytes:
    """The signed form an event mail's ciphertext holds, decrypted with ``identity``, or
    ``Rejected`` ("not for this key", "malformed"); ``KeyUnavailable`` passes through."""
    try:
        return bytes(identity.decrypt(ciphertext))
    except KeyUnavailable:
        raise
    except NotForThisKey:
        raise Rejected("not for this key") from None
    except OpenPGPError:
        raise Rejected("malformed") from None


def check_signed(signed: bytes, team: Team, *, now: datetime | None = None) -> Opened:
    """An event's signed form checked as ``open_mail`` checks what it decrypted (the signer
    rule, the author), or ``Rejected``; ``team share`` checks what it shares so."""
    try:
        data, signer, signed_at = team.verify(signed, now=now)
    except NotVerified as refused:
        raise Rejected(refused.kind) from None
    return Opened(data, signer, signed, signed_at, _check_event(data, signer, team))


def _check_event(data: bytes, signer: str, team: Team):
    """The event read from ``data``: well formed, made in the signer's name, at a time the
    signer's key was valid (not revoked, not expired at ``at``)."""
    from .events import BadEvent, Event

    try:
        event = Event.from_bytes(data)
    except BadEvent:
        raise Rejected("malformed") from None
    if event.author.upper() != signer:
        raise Rejected("author mismatch")
    member = team.member(signer)
    if member is None or not member.valid_at(event.at):
        raise Rejected(NOT_CURRENT)
    return event
