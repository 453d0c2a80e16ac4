"""The staff's OpenPGP public keys, which every report is encrypted to.

``RELAY_STAFF_KEYS`` names a file or a folder.  A file may hold one key or several, ASCII-
armored (``gpg --armor --export``) or binary.  In a folder, the relay reads every ``*.asc``
and ``*.pub`` file, in sorted name order; hidden files are skipped without a word and any
other entry is skipped with a warning, so that a key saved under another name is noticed
rather than silently left out.

Loading fails closed: one unusable key stops the relay with ``StaffKeyError``, whose
``.lines`` name each file, key and problem, since a report that some of the staff cannot
read, or that goes to a key nobody holds any more, is worse than no relay.  Refused: an
unreadable or unparsable file, secret key material, an expired or revoked key, a key with
no encryption (sub)key usable now, the same key twice, and no keys at all.  A key that
stops being usable within ``WARN_BEFORE`` gives a warning, logged on ``relay.keys``.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import NamedTuple

from . import openpgp
from .problems import Problems

log = logging.getLogger("relay.keys")

ENV_VAR = "RELAY_STAFF_KEYS"
KEY_SUFFIXES = (".asc", ".pub")
WARN_BEFORE = timedelta(days=30)
DEVELOPMENT_MARK = "(Safeline development key"


class StaffKeyError(Problems):
    """The staff keys cannot be used; ``.lines`` lists each problem on one line.

    Raised at start (the relay refuses to start) and before each report (a key expired while
    the relay ran: that report is refused with a 503 and the form kept, see relay.submit).
    """


@dataclass(frozen=True)
class StaffKey:
    """One staff certificate and where it came from."""

    path: Path
    cert: openpgp.Cert
    fingerprint: str
    user_ids: tuple[str, ...]

    @property
    def label(self) -> str:
        """How problems name this key: fingerprint and first user ID."""
        return f"{self.fingerprint} ({self.user_ids[0] if self.user_ids else 'no user ID'})"

    def usable_until(self, now: datetime | None = None) -> datetime | None:
        """When the relay can no longer encrypt to this key: the earlier of the key's own
        expiry and that of its last-living encryption subkey; None if never."""
        now = now or _now()
        ends = [key.expires for key in openpgp.encryption_keys(self.cert, now) if key.alive(now)]
        subkey_end = None if not ends or None in ends else max(ends)
        primary_end = openpgp.expiration(self.cert)
        return min((end for end in (primary_end, subkey_end) if end is not None), default=None)

    def problems(self, now: datetime) -> list[str]:
        """Why this key cannot be encrypted to at ``now``, one phrase each; empty if usable."""
        if openpgp.is_revoked(self.cert):
            return ["is revoked: remove it and ask its owner for their new key"]
        expires = openpgp.expiration(self.cert)
        if expires is not None and expires <= now:
            return [f"expired on {_day(expires)}: ask its owner to extend it, or remove it"]
        subkeys = openpgp.encryption_keys(self.cert, now)
        if not any(key.alive(now) for key in subkeys):
            if not subkeys:
                return ["has no encryption subkey (a sign-only key?): cannot encrypt to it"]
            ended = [key.expires for key in subkeys if key.expires is not None and key.expires <= now]
            if ended:
                return [f"its encryption subkey expired on {_day(max(ended))}: ask its owner to extend it"]
            if any(key.revoked for key in subkeys):
                return ["its encryption subkey is revoked: cannot encrypt to it"]
            return ["its encryption subkey is not valid yet: check the server's clock"]
        return []

    def refused_by_policy(self) -> list[str]:
        """What only Sequoia's policy knows (weak algorithms, broken bindings), found by
        encrypting a few bytes to this key alone; empty if it takes them.

        Run once, at start: the policy judges the key's algorithms and signatures, not the
        moment (pysequoia's encrypt ignores expiry and revocation; ``problems`` reads those).
        Should one of the policy's cut-off dates pass while the relay runs, sealing a report
        fails and the form says so, keeping what was typed (relay/submit.py).
        """
        try:
            openpgp.encrypt(b"probe", [self.cert])
        except openpgp.OpenPGPError as error:
            return [f"has no encryption key usable now ({error})"]
        return []


class StaffKeys:
    """The loaded staff keys, with the warnings found when loading them."""

    def __init__(self, keys: Iterable[StaffKey], warnings: Iterable[str] = ()):
        self.keys = tuple(keys)
        self.warnings = list(warnings)
        self._usable: tuple[datetime, datetime] | None = None

    def __iter__(self) -> Iterator[StaffKey]:
        return iter(self.keys)

    def __len__(self) -> int:
        return len(self.keys)

    @property
    def certs(self) -> list[openpgp.Cert]:
        return [key.cert for key in self.keys]

    def check_usable(self, now: datetime | None = None) -> list[str]:
        """Raise StaffKeyError if any key cannot be encrypted to at ``now`` (default: now).

        Keys expire while the relay runs, so this runs before every send.  Returns the
        warnings for keys that stop being usable soon (not logged here: it runs per send).
        """
        now = now or _now()
        lines = [f"{key.path}: key {key.label} {problem}" for key in self.keys for problem in key.problems(now)]
        if not self.keys:
            lines.append("no staff keys loaded")
        if lines:
            raise StaffKeyError(lines)
        return [warning for key in self.keys if (warning := _expiry_warning(key, now))]

    def ensure_usable(self, now: datetime | None = None) -> None:
        """``check_usable`` without the warnings, cheap enough for every report.

        Certificates in memory never change, so keys found usable at one moment stay usable
        until the first of them expires: until then this is one comparison, not a walk
        through every key's subkeys (0.13 ms a report, BENCHMARKS.md).
        """
        now = now or _now()
        window = self._usable
        if window is not None and window[0] <= now < window[1]:
            return
        self.check_usable(now)
        ends = [until for key in self.keys if (until := key.usable_until(now)) is not None]
        self._usable = (now, min(ends, default=datetime.max.replace(tzinfo=timezone.utc)))


def load_staff_keys(source: str | os.PathLike | None = None, *, now: datetime | None = None) -> StaffKeys:
    """Load and check the keys at ``source`` (default: $RELAY_STAFF_KEYS); fail closed."""
    now = now or _now()
    if source is None:
        source = os.environ.get(ENV_VAR, "")
    if isinstance(source, str) and not source.strip():  # Path("") would be the working folder
        raise StaffKeyError([f"{ENV_VAR} is not set: set it to the file or folder of the staff's public keys"])
    path = Path(source)
    warnings: list[str] = []
    lines: list[str] = []
    if path.is_dir():
        try:
            entries = sorted(path.iterdir())
        except OSError as error:
            raise StaffKeyError([f"{path}: cannot list this folder ({error.strerror or error})"]) from None
        files = []
        for entry in entries:
            if entry.name.startswith("."):
                continue
            if entry.is_file() and entry.suffix.lower() in KEY_SUFFIXES:
                files.append(entry)
            else:
                warnings.append(f"{entry}: ignored, staff keys are read from {_patterns(' and ')} files only")
        if not files:
            lines.append(f"{path}: no {_patterns(' or ')} key files in this folder")
    elif path.exists():
        files = [path]
    else:
        raise StaffKeyError([f"{path}: no such file or folder ({ENV_VAR})"])

    keys: list[StaffKey] = []
    seen: dict[str, Path] = {}
    for file in files:
        file_keys, file_lines = _read_file(file)
        lines += file_lines
        for key in file_keys:
            if key.fingerprint in seen:
                lines.append(f"{file}: key {key.label} is also in {seen[key.fingerprint]}: keep one copy")
                continue
            seen[key.fingerprint] = file
            lines += [f"{file}: key {key.label} {problem}" for problem in key.problems(now) or key.refused_by_policy()]
            keys.append(key)
    if lines:
        raise StaffKeyError(lines)

    loaded = StaffKeys(keys)
    warnings += loaded.check_usable(now)
    for warning in warnings:
        log.warning("%s", warning)
    loaded.warnings = warnings
    return loaded


def _read_file(file: Path) -> tuple[list[StaffKey], list[str]]:
    """The keys in one file, and the problems that forbid using any key of it."""
    try:
        data = file.read_bytes()
    except OSError as error:
        return [], [f"{file}: cannot read it ({error.strerror or error})"]
    # Checked on the text too: parsing a secret key quietly yields its public half, and a
    # file pysequoia cannot parse must still be reported as the secret it is.
    armored_secret = b"PRIVATE KEY BLOCK" in data
    try:
        certs = openpgp.parse_certs(data)
    except openpgp.OpenPGPError as error:
        if armored_secret:
            return [], [f"{file}: holds SECRET key material: {_secret_advice('FINGERPRINT')}"]
        return [], [f"{file}: not an OpenPGP public key ({error})"]

    def holds_secret(label: str, fingerprint: str) -> str:
        return f"{file}: key {label} holds SECRET key material: {_secret_advice(fingerprint)}"

    keys: list[StaffKey] = []
    refused: list[str] = []
    for cert in certs:
        fingerprint = openpgp.fingerprint(cert)
        try:
            keys.append(StaffKey(file, cert, fingerprint, tuple(openpgp.user_ids(cert))))
        except openpgp.OpenPGPError as error:  # a weak key, which pysequoia will not even read
            refused.append(holds_secret(fingerprint, fingerprint) if armored_secret or openpgp.has_secret_keys(cert)
                           else f"{file}: key {fingerprint} is {error}: ask its owner for a new key")
    secret = [key for key in keys if armored_secret or openpgp.has_secret_keys(key.cert)]
    if secret or refused:
        return [], refused + [holds_secret(key.label, key.fingerprint) for key in secret]
    if not keys:
        return [], [f"{file}: holds no OpenPGP key"]
    return keys, []


def _secret_advice(fingerprint: str) -> str:
    return ("delete this file from the server and give the relay only the public key "
            f"(gpg --armor --export {fingerprint})")


def _patterns(joiner: str) -> str:
    return joiner.join("*" + suffix for suffix in KEY_SUFFIXES)


class KeyRow(NamedTuple):
    """One line of a key listing."""

    fingerprint: str
    user_ids: tuple[str, ...]
    expires: str  # YYYY-MM-DD (UTC) when encrypting to it stops working, or "never"
    path: str


def describe(keys: Iterable[StaffKey], now: datetime | None = None) -> list[KeyRow]:
    """Rows for a CLI listing of ``keys`` (a StaffKeys or any StaffKey iterable)."""
    rows = []
    for key in keys:
        until = key.usable_until(now)
        rows.append(KeyRow(key.fingerprint, key.user_ids, _day(until) if until else "never", str(key.path)))
    return rows


def is_development_key(key: StaffKey | openpgp.Cert) -> bool:
    """Whether a user ID marks the key as a development key, which production must refuse."""
    ids = key.user_ids if isinstance(key, StaffKey) else openpgp.user_ids(key)
    return any(DEVELOPMENT_MARK in user_id for user_id in ids)


def _expiry_warning(key: StaffKey, now: datetime) -> str | None:
    until = key.usable_until(now)
    if until is None or until - now > WARN_BEFORE:
        return None
    return f"staff key {key.label} expires on {_moment(until, now)} (in {_how_long(until - now)}): extend or replace it"


def _how_long(left: timedelta) -> str:
    """``left`` in days, or in hours or minutes when less than a day is left (never "0")."""
    seconds = left.total_seconds()
    if seconds >= 86400:
        count, unit = math.ceil(seconds / 86400), "day"
    elif seconds >= 3600:
        count, unit = int(seconds // 3600), "hour"
    else:
        count, unit = max(1, math.ceil(seconds / 60)), "minute"
    return f"{count} {unit}{'' if count == 1 else 's'}"


def _moment(when: datetime, now: datetime) -> str:
    # Within a day the date alone hides how urgent it is: give the time too.
    if when - now < timedelta(days=1):
        return when.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return _day(when)


def _day(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%d")


def _now() -> datetime:
    return datetime.now(timezone.utc)
