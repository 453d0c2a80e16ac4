"""The staff keys of the tests: key files made once with GnuPG (tests/fixtures/keys,
make-keys.sh), and a key pysequoia makes in each session.

``GPG_PUBLIC`` and ``GPG_SECRET`` are the pair most tests encrypt to and decrypt with.
Fixtures: ``generated_key`` (a second staff member's pair, made once per session) and
``staff_keys`` (RELAY_STAFF_KEYS: a folder with both public keys, ``StaffKeyFixtures``).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from relay import openpgp
from tests.support.site import ROOT

FIXTURES = ROOT / "tests" / "fixtures" / "keys"
GPG_PUBLIC = FIXTURES / "staff-gpg-v4.pub.asc"
GPG_SECRET = (FIXTURES / "staff-gpg-v4.sec.asc").read_bytes()
GPG_USER_ID = "Safeline Test Staff <staff@example.org>"
GENERATED_USER_ID = "Safeline Generated Staff <generated@safeline.example>"


@pytest.fixture(scope="session")
def generated_key() -> openpgp.KeyPair:
    """A second staff member, whose key pysequoia made in this test session."""
    return openpgp.generate_key(GENERATED_USER_ID)


@dataclass(frozen=True)
class StaffKeyFixtures:
    """The ``staff_keys`` fixture: a folder of public keys, and what the tests know of each
    (not ``relay.keys.StaffKeys``, which is what the relay loads from such a folder)."""

    folder: Path
    secrets: dict[str, bytes]  # name → armored secret key, one per staff key in the folder
    fingerprints: dict[str, str]
    user_ids: dict[str, str]


@pytest.fixture
def staff_keys(tmp_path, generated_key) -> StaffKeyFixtures:
    """RELAY_STAFF_KEYS: a folder with the GnuPG-made v4 key and the generated key."""
    folder = tmp_path / "staff-keys"
    folder.mkdir()
    shutil.copyfile(GPG_PUBLIC, folder / "a-gnupg-v4.asc")
    (folder / "b-generated.asc").write_bytes(generated_key.public)
    gpg_cert = openpgp.parse_certs(GPG_PUBLIC.read_bytes())[0]
    return StaffKeyFixtures(
        folder=folder,
        secrets={"gnupg-v4": GPG_SECRET, "generated": generated_key.secret},
        fingerprints={"gnupg-v4": openpgp.fingerprint(gpg_cert), "generated": generated_key.fingerprint},
        user_ids={"gnupg-v4": GPG_USER_ID, "generated": GENERATED_USER_ID},
    )
