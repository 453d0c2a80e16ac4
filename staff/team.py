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
  with its detached ``signature``), verified by pysequoia against these certificates only (no
  GnuPG keyring on the reading side). The signer must be a member that is neither revoked nor
  expired now; Sequoia itself checks that the signing key was alive when it signed. Otherwise
  ``NotVerified`` with a ``kind``: ``unsigned`` (data that is no OpenPGP, a message without a
  signature, or with none that verifies),
  ``unknown signer`` (signed by a key that is not in the folder), ``signer not current``
  (a member's key, expired or revoked), ``malformed`` (OpenPGP, but not a signed message).
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import NamedTuple

from .problems import StaffError

# As the relay reads RELAY_STAFF_KEYS (relay/keys.py KEY_SUFFIXES): one folder serves both.
KEY_SUFFIXES = (".asc", ".pub")

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
        """Who signed ``signed``, and what; ``NotVerified`` (with its kind) otherwise."""
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
            if not all(member.current(now) for member in known):
                raise NotVerified(NOT_CURRENT) from None
            raise NotVerified(UNSIGNED) from None  # a member's key, but the signature does not verify
        signers = [member for valid in result.valid_sigs if (member := self.member(valid.certificate))]
        if not signers:
            raise NotVerified(UNKNOWN_SIGNER)
        current = [member for member in signers if member.current(now)]
        if not current:
            raise NotVerified(NOT_CURRENT)
        data = signed if signature is not None else result.bytes
        if data is None:
            raise NotVerified(MALFORMED)
        return Verified(bytes(data), current[0].fingerprint)


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
