"""The team: every staff member's public key, from ``Config.staff_keys``.

``staff_keys`` names the same file or folder as the relay's ``RELAY_STAFF_KEYS``, read the same
way (relay/keys.py; not imported: the kit imports nothing from ``relay/``): a file holding one
key or several, armored or binary, or a folder whose ``*.asc`` and ``*.pub`` files are read in
sorted name order (hidden files skipped; any other entry is left out with a warning, so that a
key saved under another name is noticed). Every key of the folder is a ``Member``, including
one that has expired or been revoked: the team's old events name it, and "signed by a former
member" (``signer not current``) is a different finding from "signed by a stranger".

What the relay refuses, the kit refuses too, as one ``TeamError`` line naming the file: a file
it cannot read or parse, secret key material, the same key twice, no key at all.

Two uses:

- ``recipients(now)``: the members one can encrypt to now (not revoked, not expired, with an
  encryption (sub)key alive now: pysequoia would otherwise encrypt to an expired subkey
  without a word, pitfalls.md). Events are encrypted to all of them.
- ``verify(signed, signature=None)``: who signed ``signed`` (an inline-signed message, or data
  with its detached ``signature``), and when, verified by pysequoia against these certificates
  only (no GnuPG keyring on the reading side). The signer rule (``Member.valid_at``): the
  signer is a member that is **not revoked**, and its key was **not expired when it signed**
  (the signature's creation time, which must not be later than ``now`` plus ``CLOCK_SKEW``);
  ``staff.eventmail`` adds: nor at the event's own time ``at``. A key that has expired since
  does not undo what it signed while it was valid: otherwise a kit that syncs after a
  member's key expired would ignore events that the kits which synced before applied, and
  the kits would no longer reach the same state. Otherwise ``NotVerified`` with a ``kind``:
  ``unsigned`` (data that is no OpenPGP, a message without a signature, or with none that
  verifies), ``unknown signer`` (signed by a key that is not in the folder), ``signer not
  current`` (a member's key that is revoked, or was expired when it signed, or a signature
  dated later than now plus ``CLOCK_SKEW``), ``malformed`` (OpenPGP, but not a signed message).

The trade-off of that rule. A revoked key's signatures are all refused, whenever they were
made: a revocation may mean the key was stolen, and both the signature's time and ``at`` are
only what the signer claims. An *expired* key's old signatures are accepted, so whoever gets
hold of an expired (not revoked) member's secret key could sign events back-dated to before
its expiry and have them applied. They would still need the mailbox's password to put them
in the events folder. So: a member who leaves, or whose key may be lost, is **revoked** (put
the revoked public key in ``staff_keys``), not merely left to expire. A revocation is not
retroactive on kits that already applied the key's events (they keep them; a kit that syncs
later ignores them): after revoking a stolen key, look at what it signed.

The members are also listed by ``safeline-staff team`` (name, fingerprint, expiry, revoked;
a key that expires within ``EXPIRY_WARNING_DAYS`` is flagged), and ``safeline-staff team
share FINGERPRINT`` gives a member who joined later the team's history (``share``).
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import NamedTuple

from .problems import StaffError

# As the relay reads RELAY_STAFF_KEYS (relay/keys.py KEY_SUFFIXES): one folder serves both.
KEY_SUFFIXES = (".asc", ".pub")

# How much later than the reader's clock a signature may be dated (the signer's clock may be ahead).
CLOCK_SKEW = timedelta(minutes=10)
EXPIRY_WARNING_DAYS = 30  # `team` flags a key that expires within this many days
JAPAN = timezone(timedelta(hours=9), "JST")

UNSIGNED, UNKNOWN_SIGNER, NOT_CURRENT, MALFORMED = "unsigned", "unknown signer", "signer not current", "malformed"


class TeamError(StaffError):
    """The staff keys cannot be used as they are; the message names the file."""


class NotVerified(StaffError):
    """A signature that does not make its data an event of the team; ``kind`` says why."""

    def __init__(self, kind: str):
        super().__init__(f"not verified: {kind}")
        self.kind = kind


class Verified(NamedTuple):
    data: bytes  # what was signed (for an inline-signed message: its content)
    signer: str  # the signing member's primary key fingerprint, upper case
    signed_at: datetime | None = None  # the signature's creation time (what the signer claims)


@dataclass(frozen=True)
class Member:
    """One staff key of the folder."""

    fingerprint: str  # the primary key's, upper case
    user_id: str  # the first user ID ("" when there is none)
    created: datetime
    expires: datetime | None  # the primary key's expiry; None: never
    revoked: bool
    path: Path  # the file it came from
    cert: object = field(repr=False, compare=False)  # pysequoia.Cert
    key_ids: frozenset[str] = field(repr=False, compare=False, default=frozenset())  # fingerprints and
    # 16-hex-digit IDs of the key and its subkeys, upper case
    encryption: tuple[tuple[datetime, datetime | None, bool], ...] = field(repr=False, compare=False, default=())
    # each encryption-capable (sub)key: (created, expires, revoked)

    @property
    def label(self) -> str:
        return f"{self.fingerprint} ({self.user_id or 'no user ID'})"

    def current(self, at: datetime | None = None) -> bool:
        """Neither revoked nor expired at ``at`` (default: now)."""
        at = at or _now()
        return not self.revoked and (self.expires is None or at < self.expires)

    def valid_at(self, moment: datetime) -> bool:
        """The signer rule's test: not revoked (ever: see the module's docstring), and not expired
        at ``moment`` (a signature's creation time, an event's ``at``)."""
        return not self.revoked and (self.expires is None or moment < self.expires)

    def can_encrypt(self, now: datetime | None = None) -> bool:
        """Current, with an encryption (sub)key alive at ``now``."""
        now = now or _now()
        return self.current(now) and any(not revoked and created <= now and (expires is None or now < expires)
                                         for created, expires, revoked in self.encryption)


class Team:
    """The members read from ``path``; ``warnings``: entries of the folder left out."""

    def __init__(self, path: Path, members: tuple[Member, ...], warnings: list[str] | None = None):
        self.path = path
        self.members = members
        self.warnings = warnings or []
        self._by_key = {key_id: member for member in members for key_id in member.key_ids}

    def __iter__(self):
        return iter(self.members)

    def __len__(self) -> int:
        return len(self.members)

    @classmethod
    def load(cls, source: str | os.PathLike | None) -> Team:
        """The keys at ``source`` (``Config.staff_keys``); ``TeamError`` naming the file when unusable."""
        if source is None or (isinstance(source, str) and not source.strip()):
            raise TeamError('no "staff_keys" in config.json: set it to the file or folder of every staff '
                            "member's public key (the relay's RELAY_STAFF_KEYS)")
        path = Path(source)
        warned: list[str] = []
        if path.is_dir():
            try:
                entries = sorted(path.iterdir())
            except OSError as error:
                raise TeamError(f"{path}: cannot list this folder ({error.strerror or error})") from None
            files = []
            for entry in entries:
                if entry.name.startswith("."):
                    continue
                if entry.is_file() and entry.suffix.lower() in KEY_SUFFIXES:
                    files.append(entry)
                else:
                    warned.append(f"{entry}: left out, staff keys are read from *.asc and *.pub files only")
            if not files:
                raise TeamError(f"{path}: no *.asc or *.pub key files in this folder (staff_keys)")
        elif path.exists():
            files = [path]
        else:
            raise TeamError(f"{path}: no such file or folder (staff_keys in config.json)")
        members: list[Member] = []
        seen: dict[str, Path] = {}
        for file in files:
            for member in _read_file(file):
                if member.fingerprint in seen:
                    raise TeamError(f"{file}: key {member.label} is also in {seen[member.fingerprint]}: keep one copy")
                seen[member.fingerprint] = file
                members.append(member)
        return cls(path, tuple(members), warned)

    def member(self, fingerprint: str) -> Member | None:
        """The member whose key (or one of its subkeys) has this fingerprint or key ID."""
        return self._by_key.get(fingerprint.upper())

    def recipients(self, now: datetime | None = None) -> list[Member]:
        """The members one can encrypt to at ``now`` (default: now)."""
        now = now or _now()
        return [member for member in self.members if member.can_encrypt(now)]

    def verify(self, signed: bytes, signature: bytes | None = None, *, now: datetime | None = None) -> Verified:
        """Who signed ``signed``, what, and when; ``NotVerified`` (with its kind) otherwise."""
        import pysequoia

        now = now or _now()
        asked: list[str] = []
        called = False

        def lookup(ids):
            nonlocal called
            called = True
            asked.extend(str(key_id).upper() for key_id in ids)
            found = {member.fingerprint: member.cert for key_id in asked if (member := self.member(key_id))}
            return list(found.values())

        try:
            if signature is not None:
                try:
                    detached = pysequoia.Sig.from_bytes(bytes=signature)
                except Exception:
                    raise NotVerified(MALFORMED) from None
                result = pysequoia.verify(bytes=signed, store=lookup, signature=detached)
            else:
                result = pysequoia.verify(bytes=signed, store=lookup)
        except NotVerified:
            raise
        except Exception:
            # Sequoia says only "no valid signatures found": which keys it looked for tells why.
            if not called:
                # Sequoia stopped before looking for a signer: data that is no OpenPGP at all
                # (the first octet of a packet has its high bit set) carries no signature;
                # OpenPGP that does not parse as a signed message is malformed.
                raise NotVerified(UNSIGNED if not signed[:1] or not signed[0] & 0x80 else MALFORMED) from None
            known = [member for key_id in asked if (member := self.member(key_id))]
            if not known:
                raise NotVerified(UNSIGNED if not asked else UNKNOWN_SIGNER) from None
            # Sequoia refuses a signature made when its key was not alive (expired): that is the
            # signer rule's finding; one that does not verify at all is unsigned.
            times = self._times(signature if signature is not None else signed)
            for member in known:
                if member.revoked or any(not self._in_time(member, moment, now)
                                         for moment in times.get(member.fingerprint, ())):
                    raise NotVerified(NOT_CURRENT) from None
            raise NotVerified(UNSIGNED) from None  # a member's key, but the signature does not verify
        signers = [member for valid in result.valid_sigs if (member := self.member(valid.certificate))]
        if not signers:
            raise NotVerified(UNKNOWN_SIGNER)
        times = self._times(signature if signature is not None else signed)
        usable = [(member, moment) for member in signers for moment in times.get(member.fingerprint, ())
                  if self._in_time(member, moment, now)]
        if not usable:
            raise NotVerified(NOT_CURRENT)
        data = signed if signature is not None else result.bytes
        if data is None:
            raise NotVerified(MALFORMED)
        member, moment = usable[0]
        return Verified(bytes(data), member.fingerprint, moment)

    def _times(self, data: bytes) -> dict[str, list[datetime]]:
        """The signatures' creation times in ``data``, by their member's (primary) fingerprint."""
        found: dict[str, list[datetime]] = {}
        for issuer, moment in _signature_times(data):
            if (member := self.member(issuer)) is not None:
                found.setdefault(member.fingerprint, []).append(moment)
        return found

    def _in_time(self, member: Member, signed_at: datetime, now: datetime) -> bool:
        """The signer rule for one signature: not revoked, not expired when it signed, and not
        signed later than ``now`` allows (``CLOCK_SKEW``)."""
        return member.valid_at(signed_at) and signed_at <= now + CLOCK_SKEW


def _signature_times(data: bytes) -> list[tuple[str, datetime]]:
    """(issuer: a key's fingerprint or ID, upper case; creation time) of each signature in
    ``data`` (a signed message, compressed or not, or a detached signature)."""
    from pysequoia.packet import PacketPile, Tag

    found: list[tuple[str, datetime]] = []
    try:
        packets = PacketPile.from_bytes(bytes=data)
    except Exception:
        return found
    for packet in packets:
        if packet.tag != Tag.Signature or packet.signature_created is None:
            continue
        issuer = packet.issuer_fingerprint or packet.issuer_key_id
        if issuer:
            found.append((str(issuer).upper(), packet.signature_created))
    return found


def _read_file(file: Path) -> list[Member]:
    import pysequoia

    try:
        data = file.read_bytes()
    except OSError as error:
        raise TeamError(f"{file}: cannot read it ({error.strerror or error})") from None
    secret_advice = "keep only public keys there (gpg --armor --export FINGERPRINT)"
    if b"PRIVATE KEY BLOCK" in data:
        # pysequoia would quietly read the public half of a secret key.
        raise TeamError(f"{file}: holds SECRET key material: {secret_advice}")
    try:
        certs = pysequoia.Cert.split_bytes(bytes=data)
    except Exception as error:
        raise TeamError(f"{file}: not an OpenPGP public key ({_first_line(error)})") from None
    if not certs:
        raise TeamError(f"{file}: holds no OpenPGP key")
    members = []
    for cert in certs:
        fingerprint = cert.fingerprint.upper()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            secret = cert.has_secret_keys
        if secret:
            raise TeamError(f"{file}: key {fingerprint} holds SECRET key material: {secret_advice}")
        try:
            user_ids = [str(user_id) for user_id in cert.user_ids]
            expires, revoked = cert.expiration, cert.is_revoked
            created, key_ids, encryption = _keys(cert)
        except Exception as error:  # Sequoia's policy refuses the key outright (a weak algorithm)
            raise TeamError(f"{file}: key {fingerprint} cannot be used ({_first_line(error)}): "
                            "ask its owner for a new key") from None
        members.append(Member(fingerprint, user_ids[0] if user_ids else "", created, expires, revoked, file, cert,
                              key_ids, encryption))
    return members


def _keys(cert) -> tuple[datetime, frozenset[str], tuple[tuple[datetime, datetime | None, bool], ...]]:
    """The primary key's creation, every (sub)key's fingerprint and ID, and each encryption-capable
    (sub)key's (created, expires, revoked) per its newest self-signature (as relay/openpgp.py's
    ``encryption_keys``: pysequoia exposes no subkey lifetimes, the packets do)."""
    from pysequoia.packet import PacketPile, SignatureType, Tag

    primary_tags, subkey_tags = (Tag.PublicKey, Tag.SecretKey), (Tag.PublicSubkey, Tag.SecretSubkey)
    self_signatures = (SignatureType.DirectKey, SignatureType.PositiveCertification,
                       SignatureType.GenericCertification, SignatureType.CasualCertification,
                       SignatureType.PersonaCertification)
    now = _now()
    primary_fpr = cert.fingerprint.lower()
    keys: list[dict] = []
    ids: set[str] = set()
    for packet in PacketPile.from_bytes(bytes=bytes(cert)):
        tag = packet.tag
        if tag in primary_tags or tag in subkey_tags:
            keys.append({"packet": packet, "primary": tag in primary_tags, "binding": None, "revoked": False})
            ids.update((packet.fingerprint.upper(), packet.key_id.upper()))
            continue
        if tag != Tag.Signature or not keys:
            continue
        created = packet.signature_created
        if created is None or created > now or not _issued_by(packet, primary_fpr):
            continue
        key, kind = keys[-1], packet.signature_type
        if key["primary"]:
            if kind in self_signatures and packet.key_flags is not None:
                _keep_newest(key, packet)
        elif kind == SignatureType.SubkeyBinding:
            _keep_newest(key, packet)
        elif kind == SignatureType.SubkeyRevocation:
            key["revoked"] = True
    encryption = []
    for key in keys:
        binding = key["binding"]
        flags = binding.key_flags if binding is not None else None
        if flags is None or not (flags.transport_encryption or flags.storage_encryption):
            continue
        packet = key["packet"]
        if key["primary"]:
            expires = cert.expiration
        else:
            period = binding.key_validity_period
            expires = packet.key_created + period if period else None
        encryption.append((packet.key_created, expires, key["revoked"]))
    return keys[0]["packet"].key_created, frozenset(ids), tuple(encryption)


def _issued_by(signature, primary_fpr: str) -> bool:
    issuer = signature.issuer_fingerprint
    if issuer is not None:
        return issuer.lower() == primary_fpr
    key_id = signature.issuer_key_id
    return key_id is not None and primary_fpr.endswith(key_id.lower())


def _keep_newest(key: dict, signature) -> None:
    binding = key["binding"]
    if binding is None or signature.signature_created >= binding.signature_created:
        key["binding"] = signature


def _first_line(error: Exception) -> str:
    # pysequoia's messages may end in a Rust backtrace (RUST_BACKTRACE): keep the first line.
    return (str(error).strip().splitlines() or [type(error).__name__])[0][:120]


def _now() -> datetime:
    return datetime.now(timezone.utc)


# -- the command: who is in the team, and sharing the history with a new member ---------------

@dataclass
class ShareTally:
    shared: int = 0  # signed forms appended for the member
    left_out: Counter = field(default_factory=Counter)  # kept forms the rule now refuses, by kind
    unsigned: int = 0  # events this kit holds without their signed form
    pending: int = 0  # changes made here, not sent yet (the next sync sends them to everyone)
    offline: str | None = None

    def summary(self, member: Member) -> str:
        line = f"shared {self.shared} event{'' if self.shared == 1 else 's'} with {member.label}"
        notes = []
        if self.unsigned:
            notes.append(f"{self.unsigned} this kit holds without their signed form (received or made before "
                         "it kept them, or not sent from here) cannot be shared")
        if self.left_out:
            notes.append(f"{sum(self.left_out.values())} left out (" +
                         ", ".join(f"{count} {kind}" for kind, count in sorted(self.left_out.items())) + ")")
        if self.pending:
            notes.append(f"{self.pending} change{'' if self.pending == 1 else 's'} not sent yet reach"
                         f"{'es' if self.pending == 1 else ''} them with your next sync")
        return line + ("; " + "; ".join(notes) if notes else "")


def share(store, folder, team: Team, member: Member, *, tally: ShareTally | None = None) -> ShareTally:
    """Append every signed form ``store`` keeps, each in a mail encrypted to ``member`` only
    (``eventmail.reseal``): the authors' signatures stay theirs, so ``member``'s kit applies
    them as the events they are. Each is checked first as a kit reading it would
    (``eventmail.check_signed``: one the signer rule now refuses, e.g. its signer's key was
    revoked since, is left out). A folder that cannot be reached midway ends it with
    ``tally.offline`` set: sharing again is harmless, as every kit applies an event once."""
    from .eventfolder import FolderUnreachable
    from .eventmail import Rejected, check_signed, reseal

    tally = tally if tally is not None else ShareTally()
    counts = store.signed_counts()
    tally.unsigned, tally.pending = counts["unsigned"], counts["pending"]
    try:
        for signed in store.signed_events():
            try:
                check_signed(signed, team)
            except Rejected as rejected:
                tally.left_out[rejected.kind] += 1
                continue
            folder.append(reseal(signed, member))
            tally.shared += 1
    except FolderUnreachable as error:
        tally.offline = str(error)
    return tally


def describe(member: Member, now: datetime) -> str:
    """One line of ``safeline-staff team``: fingerprint, name, and the key's state (Japan dates)."""
    name = member.user_id or "(no user ID)"
    if member.revoked:
        state = "REVOKED: its events are ignored"
    elif member.expires is None:
        state = "never expires"
    else:
        day = member.expires.astimezone(JAPAN).date()
        left = (day - now.astimezone(JAPAN).date()).days
        if member.expires <= now:
            state = f"expired {day} (what it signed before stays valid; it can no longer sign or read new events)"
        elif left <= EXPIRY_WARNING_DAYS:
            when = "today" if left == 0 else f"in {left} day{'' if left == 1 else 's'}"
            state = f"expires {day}: expires {when}, ask them to extend it and send the new public key"
        else:
            state = f"expires {day}"
    if member.current(now) and not member.can_encrypt(now):
        state += "; no encryption key usable now: events cannot be encrypted to it"
    return f"{member.fingerprint}  {name}  {state}"


def register(commands) -> None:
    parser = commands.add_parser(
        "team", help="list the staff keys; `team share FINGERPRINT` gives a new member the history",
        description="List the team's keys (staff_keys): fingerprint, name, expiry (a key that expires within "
                    f"{EXPIRY_WARNING_DAYS} days is flagged), revoked. `team share FINGERPRINT` appends every "
                    "event this kit holds, as its author signed it, encrypted to that member's key only, so a "
                    "member who joined later gets the whole history with their next sync.")
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    shares = actions.add_parser("share", help="append the history for one member (their next sync applies it)",
                                description="Append every event this kit holds, as its author signed it, in "
                                            "mails encrypted to this member's key only. Events this kit holds "
                                            "without their signed form cannot be shared (see README).")
    shares.add_argument("fingerprint", metavar="FINGERPRINT", help="the member's key, as `team` lists it")
    shares.add_argument("--imap-ca", metavar="FILE", help="trust only this CA certificate (PEM) for the IMAP "
                        "server (default: the imap_ca setting, else the system's authorities)")
    shares.set_defaults(func=run_share)
    parser.set_defaults(func=run_team)


def run_team(args: argparse.Namespace) -> int:
    from .home import Home

    config = Home(args.home).config()
    team = Team.load(config.staff_keys)
    for warning in team.warnings:
        print(f"safeline-staff: {warning}", file=sys.stderr)
    now = _now()
    for member in team:
        print(describe(member, now))
    return 0


def run_share(args: argparse.Namespace) -> int:
    from .eventfolder import FolderUnreachable, check_where, open_folder
    from .home import Home
    from .openpgp import identity_of
    from .setup import open_store
    from .sync import OFFLINE_STATUS

    home = Home(args.home)
    config = home.config()
    team = Team.load(config.staff_keys)
    check_where(config.events)
    member = team.member(args.fingerprint.replace(" ", ""))
    if member is None:
        raise TeamError(f"no key {args.fingerprint} in {team.path}: add the member's public key there first "
                        "(safeline-staff team lists the keys)")
    if not member.can_encrypt():
        raise TeamError(f"the key {member.label} cannot be encrypted to now (expired, revoked or without an "
                        "encryption key): ask for their current public key")
    identity = identity_of(home)
    store = open_store(home, identity=identity)
    tally = ShareTally()
    try:
        try:
            folder = open_folder(config.events, ca_file=args.imap_ca or config.imap_ca)
        except FolderUnreachable as error:
            tally.offline = str(error)
        else:
            try:
                share(store, folder, team, member, tally=tally)
            except KeyboardInterrupt:
                print(f"stopped: {tally.summary(member)}; share again to go on (each event is applied once)",
                      file=sys.stderr)
                return 130
            finally:
                folder.close()
    finally:
        store.close()
    print(tally.summary(member))
    if tally.offline:
        print(f"offline: {tally.offline}; share again when the server can be reached (each event is applied once)",
              file=sys.stderr)
        return OFFLINE_STATUS
    return 0
