"""Staff keys made by GnuPG for a test, in a throw-away GNUPGHOME: the classic v4 keys that
staff's own OpenPGP programs make, and the only way to get one that expires in seconds
(``seconds=N``), as a key does while the relay runs.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from email import message_from_bytes, policy
from pathlib import Path

import pytest

GPG = shutil.which("gpg") or "/usr/bin/gpg"


@pytest.fixture
def gnupg_home(tmp_path):
    """A throw-away GNUPGHOME.  GnuPG starts a gpg-agent daemon for it that outlives the test
    (and, left running, slows every later run on the machine); it is stopped afterwards."""
    home = tmp_path / "gnupg"
    yield home
    stop_agent(home)


def stop_agent(home: Path) -> None:
    """Stop the gpg-agent of the throw-away ``home``, if GnuPG started one."""
    if home.exists() and shutil.which("gpgconf"):
        subprocess.run(["gpgconf", "--homedir", str(home), "--kill", "all"], capture_output=True, timeout=30)


@dataclass(frozen=True)
class GnupgKey:
    public: bytes  # armored
    secret: bytes  # armored, no passphrase
    fingerprint: str


def make_key(home: Path, user_id: str, *, seconds: int | None = None) -> GnupgKey:
    """A new key pair (primary key and encryption subkey), expiring ``seconds`` from now."""
    home.mkdir(parents=True, exist_ok=True)
    home.chmod(0o700)
    env = {**os.environ, "GNUPGHOME": str(home)}

    def gpg(*args: str) -> bytes:
        return subprocess.run([GPG, "--batch", "--quiet", "--pinentry-mode", "loopback", "--passphrase", "", *args],
                              env=env, check=True, capture_output=True, timeout=60).stdout

    expiry = f"seconds={seconds}" if seconds else "never"
    gpg("--quick-gen-key", user_id, "default", "default", expiry)
    listing = gpg("--with-colons", "--list-keys", user_id).decode()
    fingerprint = next(line.split(":")[9] for line in listing.splitlines() if line.startswith("fpr:"))
    return GnupgKey(public=gpg("--armor", "--export", fingerprint),
                    secret=gpg("--armor", "--export-secret-keys", fingerprint), fingerprint=fingerprint)


def decrypt_record(home: Path, mail: bytes) -> dict:
    """The JSON part of a sealed mail, decrypted by GnuPG with the keys in ``home``, as staff's
    mail client does: also with a key that has expired since (Sequoia's policy refuses that)."""
    outer = message_from_bytes(mail, policy=policy.default)
    armored = next(part for part in outer.iter_parts() if part.get_content_type() == "application/octet-stream")
    clear = subprocess.run([GPG, "--batch", "--quiet", "--decrypt"], input=armored.get_payload(decode=True),
                           env={**os.environ, "GNUPGHOME": str(home)}, check=True, capture_output=True,
                           timeout=60).stdout
    inner = message_from_bytes(clear, policy=policy.default)
    part = next(part for part in inner.walk() if part.get_content_type() == "application/json")
    return json.loads(part.get_payload(decode=True).decode("utf-8"))
