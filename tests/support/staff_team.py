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
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
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
