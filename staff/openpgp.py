"""The staff member's own OpenPGP key: decrypting mail and the store's key, encrypting to self.

Two kinds of identity, one protocol (``Identity``):

- ``GnuPGIdentity``: the staff member's own GnuPG (through python-gnupg), so gpg-agent, its
  pinentry and smartcards work exactly as in their mail client. A passphrase given here (tests,
  scripts: ``SAFELINE_STAFF_PASSPHRASE``) goes to gpg through loopback pinentry on its stdin;
  the home's gpg-agent.conf must then say ``allow-loopback-pinentry``.
- ``KeyFileIdentity``: an armored secret key file and its passphrase, in process (pysequoia).

Clear text only ever travels through pipes and memory: python-gnupg writes the ciphertext to
gpg's stdin and reads the clear text from its stdout (``decrypt``/``encrypt`` with no output
file never make a temporary file); pysequoia works on bytes.

Before anything is decrypted, the message's session-key packets are read here
(``addressed_to``): a message not encrypted to one of this key's own (sub)keys is
``NotForThisKey`` without starting gpg at all, and a message encrypted with a password or to a
hidden recipient is never handed to gpg, which would otherwise open a pinentry for a mail
nobody sent to this key.

Signing (``sign``: the team's events, staff/eventmail.py) makes an **inline-signed** binary
OpenPGP message (one-pass signature, literal data, signature), not a detached signature: the
reader takes the event's bytes out of the very message it verified (pysequoia's ``verify``
returns them), so no valid signature can ever be paired with other bytes; it is one blob to
encrypt; and binary mode signs the bytes as they are (a text-mode or MIME multipart/signed
signature would depend on line endings that mail servers rewrite). The reader needs only the
team's certificates, never a GnuPG keyring (staff/team.py verifies with pysequoia).

Errors are one line and never carry clear text: ``NotForThisKey`` and ``NotEncrypted`` (that
mail is skipped), ``OpenPGPError`` (that mail is damaged), ``KeyUnavailable`` (the key cannot be
used at all: wrong passphrase, pinentry cancelled, no such key; the import stops).
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Protocol

from .problems import StaffError

PASSPHRASE_ENV = "SAFELINE_STAFF_PASSPHRASE"

# OpenPGP packet tags (RFC 9580 §5).
_PKESK, _SKESK = 1, 3
_ENCRYPTED_DATA = (9, 18, 20)  # SED, SEIPD, AEAD (OCB) encrypted data
# gpg-error codes (the low 16 bits of the number in an ERROR status line).
_GPG_ERRORS = {11: "wrong passphrase", 99: "cancelled", 177: "no pinentry", 85: "no PIN given",
               100: "no smartcard", 112: "card not present"}


class OpenPGPError(StaffError):
    """A message could not be decrypted (damaged, or not what it claims)."""


class NotForThisKey(OpenPGPError):
    """The message is not encrypted to this key (import counts it as a kind of skip)."""


class NotEncrypted(OpenPGPError):
    """The data is not an OpenPGP message encrypted to a public key."""


class KeyUnavailable(StaffError):
    """The key exists but cannot be used now: wrong passphrase, pinentry cancelled, card missing."""


class Identity(Protocol):
    """The staff member's own key."""

    fingerprint: str  # upper-case hex
    key_ids: frozenset[str]  # the 16-hex-digit IDs of the key and its subkeys, upper case

    def decrypt(self, data: bytes) -> bytes: ...

    def encrypt_to_self(self, data: bytes) -> bytes: ...

    def sign(self, data: bytes) -> bytes:
        """``data`` as an inline-signed binary OpenPGP message made with this key
        (``KeyUnavailable`` when the key cannot sign now: expired, revoked, locked)."""
        ...


# -- which keys a message is for ------------------------------------------------------------

_ARMOR_BEGIN = re.compile(rb"-----BEGIN PGP MESSAGE-----\r?\n")
_ARMOR_END = b"-----END PGP MESSAGE-----"


def dearmor(data: bytes) -> bytes:
    """The binary packets of ``data``, armored or already binary."""
    found = _ARMOR_BEGIN.search(data[:4096])
    if not found:
        return data
    body = data[found.end():]
    end = body.find(_ARMOR_END)
    if end < 0:
        raise NotEncrypted("the OpenPGP armor has no end")
    lines = body[:end].splitlines()
    # Armor headers (Version:, Comment:) come first, up to an empty line.
    if b"" in (line.strip() for line in lines):
        lines = lines[[line.strip() for line in lines].index(b"") + 1:]
    text = b"".join(line.strip() for line in lines if not line.startswith(b"="))
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise NotEncrypted("the OpenPGP armor is not base64") from None


def addressed_to(data: bytes) -> list[str]:
    """The recipients named by ``data``'s public-key session key packets: 16 hex digits each
    (a v3 packet's key ID) or a fingerprint (v6), upper case; ``""`` for a hidden recipient.

    ``NotEncrypted`` when the data does not start with such packets followed by encrypted data;
    a message that also (or only) carries a password-encrypted session key gives ``"*"``.
    """
    packets = dearmor(data)
    recipients: list[str] = []
    offset = 0
    while offset < len(packets):
        tag, body_start, length = _packet_header(packets, offset)
        if tag in _ENCRYPTED_DATA:
            if not recipients:
                raise NotEncrypted("no session key packet")
            return recipients
        if tag == _SKESK:
            recipients.append("*")
        elif tag == _PKESK:
            recipients.append(_pkesk_recipient(packets[body_start:body_start + length]))
        else:
            raise NotEncrypted(f"OpenPGP packet {tag} where an encrypted message starts")
        if length is None:
            raise NotEncrypted("a session key packet of open length")
        offset = body_start + length
    raise NotEncrypted("no encrypted data")


def _packet_header(packets: bytes, offset: int) -> tuple[int, int, int | None]:
    """(tag, where the body starts, body length or None for a partial/indeterminate length)."""
    first = packets[offset]
    if not first & 0x80:
        raise NotEncrypted("not OpenPGP data")
    if first & 0x40:  # new format
        tag = first & 0x3F
        octet = _byte(packets, offset + 1)
        if octet < 192:
            return tag, offset + 2, octet
        if octet < 224:
            return tag, offset + 3, ((octet - 192) << 8) + _byte(packets, offset + 2) + 192
        if octet == 255:
            return tag, offset + 6, int.from_bytes(_bytes(packets, offset + 2, 4), "big")
        return tag, offset + 2, None
    tag, kind = (first >> 2) & 0x0F, first & 0x03
    if kind == 3:
        return tag, offset + 1, None
    size = 1 << kind
    return tag, offset + 1 + size, int.from_bytes(_bytes(packets, offset + 1, size), "big")


def _byte(data: bytes, offset: int) -> int:
    if offset >= len(data):
        raise NotEncrypted("an OpenPGP packet is cut short")
    return data[offset]


def _bytes(data: bytes, offset: int, size: int) -> bytes:
    if offset + size > len(data):
        raise NotEncrypted("an OpenPGP packet is cut short")
    return data[offset:offset + size]


def _pkesk_recipient(body: bytes) -> str:
    version = _byte(body, 0)
    if version == 3:
        key_id = _bytes(body, 1, 8)
        return "" if key_id == bytes(8) else key_id.hex().upper()
    if version == 6:
        size = _byte(body, 1)
        if size == 0:
            return ""
        return _bytes(body, 3, size - 1).hex().upper()  # after the key version octet
    raise NotEncrypted(f"session key packet version {version}")


def check_addressed(data: bytes, identity: Identity) -> None:
    """``NotForThisKey`` unless ``data`` is encrypted to one of ``identity``'s own keys."""
    recipients = addressed_to(data)
    if "*" in recipients:
        # GnuPG would ask for the password in a pinentry: nobody sent this to the staff key alone.
        raise NotForThisKey("encrypted with a password")
    for recipient in recipients:
        if recipient in identity.key_ids or (len(recipient) > 16 and recipient == identity.fingerprint):
            return
        if len(recipient) > 16 and any(recipient.endswith(key_id) or recipient.startswith(key_id)
                                       for key_id in identity.key_ids):
            return
    raise NotForThisKey(f"not encrypted to {short(identity.fingerprint)}")


def short(fingerprint: str) -> str:
    """A fingerprint in groups of four, as GnuPG shows it."""
    return " ".join(fingerprint[index:index + 4] for index in range(0, len(fingerprint), 4))


# -- the staff member's GnuPG ----------------------------------------------------------------

class GnuPGIdentity:
    """The key ``fingerprint`` in the staff member's GnuPG (``gnupg_home``, default: GnuPG's own)."""

    def __init__(self, fingerprint: str, *, gnupg_home: str | os.PathLike | None = None,
                 passphrase: str | None = None, gpg_binary: str = "gpg"):
        import gnupg  # only here: a key file works without python-gnupg's gpg

        self.fingerprint = _fingerprint(fingerprint)
        if gnupg_home is not None and not Path(gnupg_home).is_dir():
            # python-gnupg would quietly make a new, empty GnuPG home there.
            raise KeyUnavailable(f"no GnuPG folder {gnupg_home}: give the folder that holds your keys")
        if passphrase is not None and ("\n" in passphrase or "\r" in passphrase):
            raise KeyUnavailable("a passphrase cannot contain a line break")
        self._passphrase = passphrase or None
        try:
            self._gpg = gnupg.GPG(gpgbinary=gpg_binary, gnupghome=str(gnupg_home) if gnupg_home else None)
        except (OSError, ValueError):
            raise KeyUnavailable(f"cannot run {gpg_binary}: install GnuPG (gnupg.org) or use --key-file") from None
        self._gpg.encoding = "utf-8"
        keys = [key for key in self._gpg.list_keys(True, keys=self.fingerprint)
                if key.get("fingerprint", "").upper() == self.fingerprint]
        where = f" in {gnupg_home}" if gnupg_home else ""
        if not keys:
            raise KeyUnavailable(f"no secret key {short(self.fingerprint)} in your GnuPG{where}: "
                                 "check the fingerprint (gpg --list-secret-keys)")
        key = keys[0]
        self.key_ids = frozenset([key["keyid"].upper(), *(sub[0].upper() for sub in key.get("subkeys", []))])

    def decrypt(self, data: bytes) -> bytes:
        check_addressed(data, self)
        result = self._gpg.decrypt(data, passphrase=self._passphrase)
        statuses = _statuses(result.stderr)
        if "DECRYPTION_OKAY" in statuses and "DECRYPTION_FAILED" not in statuses:
            return result.data
        failed = [value.split()[-1] for value in statuses.get("ERROR", []) if value.startswith("pkdecrypt_failed")]
        if failed:
            code = int(failed[0]) & 0xFFFF if failed[0].isdigit() else 0
            reason = _GPG_ERRORS.get(code) or _gpg_says(result.stderr, "public key decryption failed:") or "refused"
            raise KeyUnavailable(f"GnuPG cannot use your key {short(self.fingerprint)}: {reason}"
                                 + (" (check the passphrase)" if code == 11 else ""))
        if "NO_SECKEY" in statuses and "BEGIN_DECRYPTION" in statuses:
            raise NotForThisKey(f"not encrypted to {short(self.fingerprint)}")
        if "NODATA" in statuses:
            raise NotEncrypted("not an OpenPGP message")
        raise OpenPGPError("GnuPG could not decrypt the message (damaged?)")

    def encrypt_to_self(self, data: bytes) -> bytes:
        result = self._gpg.encrypt(data, [self.fingerprint], armor=True, always_trust=True,
                                   extra_args=["--no-encrypt-to"])
        if not result.ok or not result.data:
            raise KeyUnavailable(f"GnuPG cannot encrypt to your key {short(self.fingerprint)}: "
                                 f"{result.status or 'failed'} (is it expired or revoked?)")
        return result.data


    def sign(self, data: bytes) -> bytes:
        """Inline-signed, binary (see the module's docstring); the passphrase, if given, goes by
        loopback pinentry as for ``decrypt``, else GnuPG's own pinentry asks."""
        result = self._gpg.sign(data, keyid=self.fingerprint, passphrase=self._passphrase, binary=True,
                                clearsign=False, detach=False)
        statuses = _statuses(result.stderr)
        signer = (result.fingerprint or "").upper()
        # The signature must come from this key (its primary key or one of its subkeys): GnuPG
        # falls back to another secret key of the home when --default-key cannot sign.
        ours = signer == self.fingerprint or signer[-16:] in self.key_ids
        if result.data and "SIG_CREATED" in statuses and ours:
            return result.data
        failed = [value.split()[-1] for value in statuses.get("ERROR", []) + statuses.get("FAILURE", [])
                  if value.split() and value.split()[-1].isdigit()]
        code = int(failed[0]) & 0xFFFF if failed else 0
        if "BAD_PASSPHRASE" in statuses or code == 11:
            reason = "wrong passphrase (check the passphrase)"
        elif "KEYEXPIRED" in statuses or "SIGEXPIRED" in statuses:
            reason = "it has expired: extend it (gpg --quick-set-expire)"
        elif "KEYREVOKED" in statuses:
            reason = "it is revoked"
        else:
            reason = (_GPG_ERRORS.get(code) or _gpg_says(result.stderr, "signing failed:")
                      or result.status or "refused")
        raise KeyUnavailable(f"GnuPG cannot sign with your key {short(self.fingerprint)}: {reason}")


def _statuses(stderr: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for line in stderr.splitlines():
        if line.startswith("[GNUPG:] "):
            keyword, _, value = line[9:].partition(" ")
            found.setdefault(keyword, []).append(value)
    return found


def _gpg_says(stderr: str, prefix: str) -> str:
    """What gpg said after ``prefix`` (its own words, never the message's)."""
    for line in stderr.splitlines():
        if prefix in line:
            return line.split(prefix, 1)[1].strip()[:80]
    return ""


def _fingerprint(value: str) -> str:
    fingerprint = "".join(value.split()).upper()
    if fingerprint.startswith("0X"):
        fingerprint = fingerprint[2:]
    if not re.fullmatch(r"[0-9A-F]{40}|[0-9A-F]{64}", fingerprint):
        raise KeyUnavailable(f"{value[:80]!r} is not a key fingerprint: give all 40 hex digits "
                             "(gpg --list-secret-keys)")
    return fingerprint


# -- an armored secret key file --------------------------------------------------------------

def _expired(tsk, path: Path) -> str | None:
    """Why an expired key file cannot decrypt, and what to do; None when it has not expired.

    Sequoia's policy uses no key past its expiry, not even to decrypt what was sent to it
    before (GnuPG does). The store's key and every mail stay encrypted to this key, so
    nothing is lost: extending the expiry brings them back.
    """
    try:
        expiry = tsk.extract_certificate().expiration
    except Exception:
        return None
    if expiry is None or expiry > datetime.now(timezone.utc):
        return None
    return (f"the key in {path} expired on {expiry:%Y-%m-%d}: extend it in your OpenPGP program "
            "(gpg --quick-set-expire FINGERPRINT 1y, then the same with '*' for its subkeys) and "
            "export it to this file again; the cases "
            "and the mails stay encrypted to it, nothing is lost")


class KeyFileIdentity:
    """An armored secret key, unlocked in memory (pysequoia); ``load`` reads it from a file."""

    def __init__(self, tsk, decryptor, *, source: str = "the key"):
        self._tsk = tsk
        self._decryptor = decryptor
        self._password: str | None = None  # set by load: the signer is unlocked when first used
        self._cert = tsk.extract_certificate()
        self.fingerprint = self._cert.fingerprint.upper()
        self.key_ids = _key_ids(self._cert)
        self._source = source

    @classmethod
    def load(cls, path: str | os.PathLike, passphrase: str | None = None, *,
             ask: Callable[[], str] | None = None) -> KeyFileIdentity:
        """The key in ``path``, unlocked with ``passphrase``; when it has one and none was
        given, ``ask()`` for it (``getpass``), else ``KeyUnavailable``."""
        import pysequoia

        path = Path(path)
        try:
            data = path.read_bytes()
        except OSError as error:
            raise KeyUnavailable(f"cannot read the key file {path}: {error.strerror or error}") from None
        if b"PRIVATE KEY BLOCK" not in data:
            # pysequoia would quietly read a public key, which can decrypt nothing.
            raise KeyUnavailable(f"{path} holds no secret key: export it with gpg --armor --export-secret-keys")
        try:
            tsk = pysequoia.Tsk.from_bytes(bytes=data)
        except Exception as error:
            raise KeyUnavailable(f"cannot read the key in {path}: {_first_line(error)}") from None
        try:
            return cls(tsk, tsk.decryptor(password=None), source=str(path))
        except Exception as error:
            if "encrypted" not in str(error):
                raise KeyUnavailable(_expired(tsk, path) or f"the key in {path} cannot decrypt: "
                                     f"{_first_line(error)}") from None
        if passphrase is None and ask is not None:
            passphrase = ask()
        if not passphrase:
            raise KeyUnavailable(f"the key in {path} is protected by a passphrase: give it "
                                 f"(or set {PASSPHRASE_ENV})")
        try:
            identity = cls(tsk, tsk.decryptor(password=passphrase), source=str(path))
        except Exception:
            raise KeyUnavailable(_expired(tsk, path) or f"wrong passphrase for the key in {path}") from None
        identity._password = passphrase
        return identity

    def recipe(self) -> tuple[bytes, str | None, str]:
        """What ``from_recipe`` needs to make this identity again in another process (the
        secret key as loaded, still protected by its passphrase, and that passphrase): for
        staff/decryption.py's second process only, handed over through a pipe."""
        return bytes(self._tsk), self._password, self._source

    @classmethod
    def from_recipe(cls, secret_key: bytes, passphrase: str | None, source: str) -> KeyFileIdentity:
        import pysequoia

        try:
            tsk = pysequoia.Tsk.from_bytes(bytes=secret_key)
            identity = cls(tsk, tsk.decryptor(password=passphrase), source=source)
        except Exception as error:
            raise KeyUnavailable(f"cannot use the key in {source}: {_first_line(error)}") from None
        identity._password = passphrase
        return identity

    def decrypt(self, data: bytes) -> bytes:
        import pysequoia

        check_addressed(data, self)
        try:
            clear = pysequoia.decrypt(bytes=data, decryptor=self._decryptor).bytes
        except Exception as error:
            if "No key to decrypt" in str(error):
                raise NotForThisKey(f"not encrypted to {short(self.fingerprint)}") from None
            raise OpenPGPError(f"could not decrypt the message: {_first_line(error)}") from None
        if clear is None:
            raise OpenPGPError("the message holds no data")
        return clear

    def encrypt_to_self(self, data: bytes) -> bytes:
        import pysequoia

        try:
            return pysequoia.encrypt(bytes=data, recipients=[self._cert], armor=True)
        except Exception as error:
            raise KeyUnavailable(f"cannot encrypt to {self._source}: {_first_line(error)}") from None


    def sign(self, data: bytes) -> bytes:
        """Inline-signed, binary (see the module's docstring), with the key's signing (sub)key."""
        import pysequoia

        try:
            signer = self._tsk.signer(password=self._password)
            return bytes(pysequoia.sign(signer=signer, bytes=data, mode=pysequoia.SignatureMode.INLINE,
                                        armor=False))
        except Exception as error:
            raise KeyUnavailable(f"cannot sign with {self._source}: {_first_line(error)} "
                                 "(is it expired or revoked?)") from None


def _key_ids(cert) -> frozenset[str]:
    from pysequoia.packet import PacketPile, Tag

    ids = set()
    for packet in PacketPile.from_bytes(bytes=bytes(cert)):
        if packet.tag in (Tag.PublicKey, Tag.PublicSubkey, Tag.SecretKey, Tag.SecretSubkey):
            ids.add(packet.key_id.upper())
    return frozenset(ids)


def _first_line(error: Exception) -> str:
    # pysequoia's messages may end in a Rust backtrace (RUST_BACKTRACE): keep the first line.
    return (str(error).strip().splitlines() or [type(error).__name__])[0][:120]


def passphrase_from_env() -> str | None:
    """``SAFELINE_STAFF_PASSPHRASE``, for tests and scripts (never stored by the kit)."""
    return os.environ.get(PASSPHRASE_ENV) or None


def identity_of(home, *, passphrase: str | None = None, ask: Callable[[], str] | None = None) -> Identity:
    """The identity ``home``'s config names. ``passphrase`` (else ``SAFELINE_STAFF_PASSPHRASE``)
    unlocks a key file, or goes to GnuPG by loopback pinentry; without either a key file's
    passphrase is asked with ``ask`` (default ``getpass``) and GnuPG asks with its own pinentry."""
    config = home.config()
    passphrase = passphrase if passphrase is not None else passphrase_from_env()
    if config.key_file:
        if ask is None:
            import getpass

            def ask() -> str:
                return getpass.getpass(f"Passphrase of {config.key_file}: ")
        return KeyFileIdentity.load(config.key_file, passphrase, ask=ask)
    if config.key:
        return GnuPGIdentity(config.key, gnupg_home=config.gnupg_home, passphrase=passphrase)
    raise StaffError(f"{home.config_file} names no key: run `safeline-staff init` again")
