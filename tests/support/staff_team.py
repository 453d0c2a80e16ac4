"""Staff keys for the team tests (staff/team.py, eventmail, sync), made by GnuPG as staff make theirs.

- ``fast_key(home, user_id, seconds=N)``: a classic v4 key (Ed25519 to sign, Curve25519 to
  encrypt: GnuPG's ``future-default``, made in milliseconds, where ``default`` RSA takes
  seconds), so that a key can expire ``seconds`` after it was made while a test waits.
- ``revoke(home, fingerprint)``: the key revoked with the revocation certificate GnuPG made
  with it; its public key (with the revocation) is returned.
- ``key_folder(path, {name: public})``: a folder of ``name`` files, as ``staff_keys`` names one.
- ``short_home()``: a throw-away GnuPG home in a short path under /tmp, its agent stopped and
  the folder removed after. gpg-agent's socket lives in the home, a Unix socket's path may not
  pass 107 bytes, and pytest's ``tmp_path`` under xdist (``…/popen-gw1/test_a_long_name_0/``)
  easily does: gpg then fails with "No agent running".
- ``wait_until(moment)``: sleep until a key made with ``seconds=`` has expired.
- ``sign_at(home, fingerprint, data, moment)``: ``data`` inline-signed as GnuPG signs it at
  ``moment`` (``--faked-system-time``): a signature made in the past or dated ahead.
- ``past_keys(folder, reference)``: keys whose history is in the past, made with
  ``--faked-system-time`` so that no test waits: ``expired`` (made 10 days ago, expired 9
  days ago: what it signed while valid is ``sign_expired(data, at)``), and ``late``, whose
  event ``late_event`` (dated while the key was valid) was signed 2 days ago, after the
  expiry its owner back-dated to 4 days ago: the signed form ``after_expiry``.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from tests.support.gnupg import GnupgKey, stop_agent
from tests.support.staffkit import gpg


def fast_key(home: Path, user_id: str, *, seconds: int | None = None) -> GnupgKey:
    home.mkdir(parents=True, exist_ok=True)
    home.chmod(0o700)
    expiry = f"seconds={seconds}" if seconds else "never"
    gpg(home, "--quick-gen-key", user_id, "future-default", "default", expiry, passphrase="")
    listing = gpg(home, "--with-colons", "--list-keys", user_id).decode()
    fingerprint = next(line.split(":")[9] for line in listing.splitlines() if line.startswith("fpr:"))
    return GnupgKey(public=gpg(home, "--armor", "--export", fingerprint),
                    secret=gpg(home, "--armor", "--export-secret-keys", fingerprint, passphrase=""),
                    fingerprint=fingerprint)


@contextmanager
def short_home() -> Iterator[Path]:
    home = Path(tempfile.mkdtemp(prefix="gpg-", dir="/tmp"))
    try:
        yield home
    finally:
        stop_agent(home)
        shutil.rmtree(home, ignore_errors=True)


def revoke(home: Path, fingerprint: str) -> bytes:
    """Revoke ``fingerprint`` in ``home`` (GnuPG keeps a revocation certificate for each key it
    makes, its armor line guarded by a colon); the revoked public key."""
    certificate = (home / "openpgp-revocs.d" / f"{fingerprint}.rev").read_text()
    gpg(home, "--import", input=certificate.replace(":-----BEGIN", "-----BEGIN").encode())
    return gpg(home, "--armor", "--export", fingerprint)


def key_folder(path: Path, files: dict[str, bytes]) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (path / name).write_bytes(data)
    return path


def expiry_of(home: Path, fingerprint: str) -> datetime:
    listing = gpg(home, "--with-colons", "--list-keys", fingerprint).decode()
    field = next(line.split(":")[6] for line in listing.splitlines() if line.startswith("pub:"))
    return datetime.fromtimestamp(int(field), timezone.utc)


def wait_until(moment: datetime) -> None:
    left = (moment - datetime.now(timezone.utc)).total_seconds()
    if left > -0.01:
        time.sleep(left + 1.1)  # expiry is in whole seconds


def _at(moment: datetime) -> str:
    return f"{int(moment.timestamp())}!"  # "!": the clock stays at that moment


def sign_at(home: Path, fingerprint: str, data: bytes, moment: datetime) -> bytes:
    return gpg(home, "--faked-system-time", _at(moment), "--local-user", fingerprint, "--sign", input=data,
               passphrase="")


def _key_at(home: Path, user_id: str, moment: datetime, expiry: str) -> GnupgKey:
    home.mkdir(parents=True, exist_ok=True)
    home.chmod(0o700)
    gpg(home, "--faked-system-time", _at(moment), "--quick-gen-key", user_id, "future-default", "default", expiry,
        passphrase="")
    listing = gpg(home, "--with-colons", "--list-keys", user_id).decode()
    fingerprint = next(line.split(":")[9] for line in listing.splitlines() if line.startswith("fpr:"))
    return GnupgKey(public=gpg(home, "--armor", "--export", fingerprint), secret=b"", fingerprint=fingerprint)


@dataclass
class PastKeys:
    expired: GnupgKey
    expired_home: Path
    made: datetime  # when both keys were made
    expires: datetime  # when ``expired`` expired
    late: GnupgKey
    late_event: object  # staff.events.Event by ``late``, dated while its key was valid
    after_expiry: bytes  # late_event signed after the key expired
    late_expires: datetime
    while_valid: bytes  # b"signed while valid", signed by ``expired`` while it was
    folder: Path  # a staff_keys folder with both public keys

    def sign_expired(self, data: bytes, moment: datetime) -> bytes:
        return sign_at(self.expired_home, self.expired.fingerprint, data, moment)


@contextmanager
def past_keys(folder: Path, reference: str = "SL-7KQ3-9MXA") -> Iterator[PastKeys]:
    from staff.events import new_event

    now = datetime.now(timezone.utc).replace(microsecond=0)
    made = now - timedelta(days=10)
    with short_home() as expired_home, short_home() as late_home:
        expired = _key_at(expired_home, "Expired <expired@safeline.example>", made, "1d")
        expires = expiry_of(expired_home, expired.fingerprint)
        while_valid = sign_at(expired_home, expired.fingerprint, b"signed while valid", made + timedelta(hours=12))
        late = _key_at(late_home, "Late <late@safeline.example>", made, "never")
        late_expires = now - timedelta(days=4)
        late_event = new_event(reference, "note", {"text": "back-dated"}, author=late.fingerprint,
                               at=late_expires - timedelta(hours=1))
        after_expiry = sign_at(late_home, late.fingerprint, late_event.to_bytes(), now - timedelta(days=2))
        # The expiry comes after the signature, in a self-signature dated before it.
        gpg(late_home, "--faked-system-time", _at(late_expires - timedelta(days=1)), "--quick-set-expire",
            late.fingerprint, "1d", passphrase="")
        late = GnupgKey(public=gpg(late_home, "--armor", "--export", late.fingerprint), secret=b"",
                        fingerprint=late.fingerprint)
        keys = key_folder(folder, {"expired.asc": expired.public, "late.asc": late.public})
        yield PastKeys(expired, expired_home, made, expires, late, late_event, after_expiry,
                       expiry_of(late_home, late.fingerprint), while_valid, keys)


def subkeys_key(home: Path, user_id: str, *lifetimes: str, revoked: tuple[int, ...] = (),
                at: datetime | None = None) -> GnupgKey:
    """A key whose primary key (Ed25519, never expiring) only certifies and signs, with one
    Curve25519 encryption subkey per lifetime in ``lifetimes`` ("never", "10d", …); the subkeys
    numbered (from 1) in ``revoked`` revoked; made at ``at`` (default: now)."""
    home.mkdir(parents=True, exist_ok=True)
    home.chmod(0o700)
    clock = ("--faked-system-time", _at(at)) if at else ()
    gpg(home, *clock, "--quick-gen-key", user_id, "ed25519", "cert,sign", "never", passphrase="")
    listing = gpg(home, "--with-colons", "--list-keys", user_id).decode()
    fingerprint = next(line.split(":")[9] for line in listing.splitlines() if line.startswith("fpr:"))
    for lifetime in lifetimes:
        gpg(home, *clock, "--quick-add-key", fingerprint, "cv25519", "encr", lifetime, passphrase="")
    for number in revoked:  # select the subkey, revoke it (reason 0, no text), save
        gpg(home, *clock, "--command-fd", "0", "--edit-key", fingerprint,
            input=f"key {number}\nrevkey\ny\n0\n\ny\nsave\n".encode(), passphrase="")
    return GnupgKey(public=gpg(home, "--armor", "--export", fingerprint), secret=b"", fingerprint=fingerprint)


def subkey_fingerprints(home: Path, fingerprint: str) -> list[str]:
    """The fingerprints of ``fingerprint``'s subkeys, in the key's order."""
    listing = gpg(home, "--with-colons", "--with-subkey-fingerprints", "--list-keys", fingerprint).decode()
    lines = listing.splitlines()
    return [lines[index + 1].split(":")[9] for index, line in enumerate(lines) if line.startswith("sub:")]
