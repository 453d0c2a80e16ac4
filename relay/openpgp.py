"""The relay's only door to OpenPGP: small wrappers around pysequoia.

No other module imports pysequoia, so an upgrade touches this file alone.  Every pysequoia
call passes keyword arguments because the positional order changed between releases.  Every
pysequoia error becomes an ``OpenPGPError`` carrying only the first line of its message: with
RUST_BACKTRACE set, pysequoia appends a Rust stack backtrace that must never reach a user.

Certificates are handed out as opaque objects (``Cert``); the rest of the relay only passes
them back to the functions here.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TypeVar

import pysequoia
from pysequoia.packet import PacketPile, SignatureType, Tag

Cert = pysequoia.Cert

_T = TypeVar("_T")

_PRIMARY_TAGS = (Tag.PublicKey, Tag.SecretKey)
_SUBKEY_TAGS = (Tag.PublicSubkey, Tag.SecretSubkey)
_SELF_SIGNATURE_TYPES = (
    SignatureType.DirectKey,
    SignatureType.PositiveCertification,
    SignatureType.GenericCertification,
    SignatureType.CasualCertification,
    SignatureType.PersonaCertification,
)


class OpenPGPError(Exception):
    """An OpenPGP operation failed; the message is one short line, safe to show."""


def _call(what: str, function: Callable[[], _T]) -> _T:
    """Run a pysequoia call, turning its errors into a one-line ``OpenPGPError``."""
    try:
        return function()
    except Exception as error:  # pysequoia raises bare RuntimeError/ValueError from Rust
        first_line = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise OpenPGPError(f"{what}: {first_line}") from None


def parse_certs(data: bytes) -> list[Cert]:
    """Every certificate in ``data`` (armored or binary; one or several keys; maybe none)."""
    # Cert.from_bytes refuses several keys ("is this a keyring?"): split_bytes takes them all.
    return _call("cannot read the OpenPGP key", lambda: pysequoia.Cert.split_bytes(bytes=data))


def fingerprint(cert: Cert) -> str:
    """The primary key's fingerprint in upper case, as GnuPG prints it."""
    return cert.fingerprint.upper()


def user_ids(cert: Cert) -> list[str]:
    """The certificate's non-revoked user IDs.  Sequoia's policy checks the primary key here:
    a key it refuses outright (RSA-1024, say) raises OpenPGPError."""
    return _call("refused by the OpenPGP policy", lambda: [str(user_id) for user_id in cert.user_ids])


def expiration(cert: Cert) -> datetime | None:
    """When the certificate (its primary key) expires, or None if never.  Sequoia's policy
    checks the primary key here too (as for ``user_ids``), so a refusal is an OpenPGPError."""
    return _call("refused by the OpenPGP policy", lambda: cert.expiration)


def is_revoked(cert: Cert) -> bool:
    """Whether the certificate carries a valid revocation."""
    return _call("refused by the OpenPGP policy", lambda: cert.is_revoked)


def has_secret_keys(cert: Cert) -> bool:
    """Whether ``cert`` holds secret key material (parsing a secret key keeps it)."""
    with warnings.catch_warnings():
        # Reading this on a Cert is deprecated in favour of Tsk, yet it is exactly what
        # we need to ask of a certificate that was supposed to be public.
        warnings.simplefilter("ignore", DeprecationWarning)
        return cert.has_secret_keys


@dataclass(frozen=True)
class EncryptionKey:
    """A (sub)key that its certificate's self-signatures allow to encrypt."""

    fingerprint: str
    created: datetime
    expires: datetime | None
    revoked: bool

    def alive(self, now: datetime) -> bool:
        return not self.revoked and self.created <= now and (self.expires is None or now < self.expires)


def encryption_keys(cert: Cert, now: datetime | None = None) -> list[EncryptionKey]:
    """The encryption-capable keys of ``cert``, per its newest self-signatures up to ``now``.

    pysequoia encrypts to an expired encryption subkey when there is no live one, so the
    relay has to read subkey lifetimes itself; this does, from the certificate's packets.
    """
    now = now or datetime.now(timezone.utc)
    pile = _call("cannot read the OpenPGP key", lambda: PacketPile.from_bytes(bytes=bytes(cert)))
    primary_fpr = cert.fingerprint.lower()
    keys: list[dict] = []  # one per key packet: the primary first, then each subkey
    for packet in pile:
        tag = packet.tag
        if tag in _PRIMARY_TAGS or tag in _SUBKEY_TAGS:
            keys.append({"packet": packet, "primary": tag in _PRIMARY_TAGS, "binding": None, "revoked": False})
            continue
        if tag != Tag.Signature or not keys:
            continue
        created = packet.signature_created
        if created is None or created > now or not _issued_by_primary(packet, primary_fpr):
            continue
        current = keys[-1]
        kind = packet.signature_type
        if current["primary"]:
            # The primary key's flags may sit on a direct-key or on a user ID self-signature.
            if kind in _SELF_SIGNATURE_TYPES and packet.key_flags is not None:
                _keep_newest(current, packet)
        elif kind == SignatureType.SubkeyBinding:
            _keep_newest(current, packet)
        elif kind == SignatureType.SubkeyRevocation:
            current["revoked"] = True
    result = []
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
        result.append(EncryptionKey(packet.fingerprint.upper(), packet.key_created, expires, key["revoked"]))
    return result


def _issued_by_primary(signature, primary_fpr: str) -> bool:
    issuer = signature.issuer_fingerprint
    if issuer is not None:
        return issuer.lower() == primary_fpr
    key_id = signature.issuer_key_id
    return key_id is not None and primary_fpr.endswith(key_id.lower())  # v4 key ID: last 64 bits


def _keep_newest(key: dict, signature) -> None:
    binding = key["binding"]
    if binding is None or signature.signature_created >= binding.signature_created:
        key["binding"] = signature


def encrypt(data: bytes, certs: Sequence[Cert]) -> bytes:
    """One ASCII-armored message that every one of ``certs`` can decrypt."""
    if not certs:
        raise OpenPGPError("cannot encrypt: no recipient keys")
    return _call("cannot encrypt", lambda: pysequoia.encrypt(bytes=data, recipients=list(certs), armor=True))


@dataclass(frozen=True)
class KeyPair:
    """A generated key: ASCII-armored public and secret halves."""

    fingerprint: str
    public: bytes
    secret: bytes


def generate_key(user_id: str, *, validity_seconds: int | None = None, v6: bool = False) -> KeyPair:
    """A new key with an encryption subkey, for tests and development tools only.

    ``v6=False`` makes a classic v4 key (RFC 4880); ``v6=True`` an RFC 9580 key, which
    GnuPG 2.2 cannot read.
    """
    profile = pysequoia.Profile.RFC9580 if v6 else pysequoia.Profile.RFC4880
    tsk = _call("cannot generate a key", lambda: pysequoia.Tsk.generate(
        user_id=user_id, profile=profile, validity_seconds=validity_seconds))
    public = tsk.extract_certificate()
    return KeyPair(fingerprint(public), str(public).encode("ascii"), str(tsk).encode("ascii"))


def decrypt(data: bytes, secret_key: bytes) -> bytes:
    """The plaintext of ``data`` decrypted with an unprotected armored ``secret_key``."""
    tsk = _call("cannot read the secret key", lambda: pysequoia.Tsk.from_bytes(bytes=secret_key))
    decrypted = _call("cannot decrypt", lambda: pysequoia.decrypt(bytes=data, decryptor=tsk.decryptor()))
    return decrypted.bytes
