"""Decrypting many event mails beside the store's work (staff/decryption.py): a key file's
batches after the first go to a second process and give what decrypting here gives, the
rejections included; a second process that dies or cannot unlock the key costs no batch; a
GnuPG key never starts one."""

from __future__ import annotations

import base64
import os
import signal
import time

import pysequoia
import pytest

from staff import decryption
from staff.decryption import Decryptions
from staff.eventmail import Rejected, ciphertext_of, decrypted, seal
from staff.events import new_event
from staff.openpgp import GnuPGIdentity, KeyFileIdentity, KeyUnavailable, dearmor
from staff.team import Team
from tests.support.staff_team import key_folder

REFERENCE = "SL-7KQ3-9MXA"


@pytest.fixture
def b(staff_gnupg, tmp_path) -> KeyFileIdentity:
    """A key file with a passphrase: the second process must unlock it too."""
    path = tmp_path / "b.sec.asc"
    path.write_bytes(staff_gnupg.locked_secret)
    return KeyFileIdentity.load(path, staff_gnupg.passphrase)


@pytest.fixture
def team(tmp_path, staff_gnupg) -> Team:
    return Team.load(key_folder(tmp_path / "staff-keys", {"a.asc": staff_gnupg.public,
                                                          "b.asc": staff_gnupg.locked_public}))


@pytest.fixture(autouse=True)
def small_batches(monkeypatch):
    monkeypatch.setattr(decryption, "SECOND_PROCESS_FROM", 2)


def ciphertexts(b, team, count: int) -> list[bytes]:
    return [ciphertext_of(seal(new_event(REFERENCE, "note", {"text": f"メモ {n} Marmoset7341"},
                                         author=b.fingerprint).to_bytes(), b, team)) for n in range(count)]


def oddities(team, staff_gnupg) -> list[bytes]:
    """Encrypted to another key only, and damaged."""
    other = pysequoia.Cert.from_bytes(staff_gnupg.other_public)
    good = bytes(pysequoia.encrypt(bytes=b"x", recipients=[m.cert for m in team.recipients()], armor=True))
    binary = bytearray(dearmor(good))
    binary[-5] ^= 0x55  # the encrypted data's end (its integrity check) damaged
    damaged = b"-----BEGIN PGP MESSAGE-----\n\n" + base64.encodebytes(bytes(binary)) + b"-----END PGP MESSAGE-----\n"
    return [bytes(pysequoia.encrypt(bytes=b"x", recipients=[other], armor=True)), damaged]


def here(identity, items: list[bytes]) -> list:
    found = []
    for item in items:
        try:
            found.append(decrypted(item, identity))
        except Rejected as rejected:
            found.append(rejected.kind)
    return found


def kinds(outcomes: list) -> list:
    return [outcome.kind if isinstance(outcome, Rejected) else outcome for outcome in outcomes]


def test_later_batches_of_a_key_file_are_decrypted_in_a_second_process_alike(b, team, staff_gnupg):
    items = ciphertexts(b, team, 6) + oddities(team, staff_gnupg)
    with Decryptions(b) as decryptions:
        batches = [decryptions.submit(items[start:start + 4]) for start in range(0, len(items), 4)]
        got = [outcome for batch in batches for outcome in decryptions.results(batch)]
        assert decryptions.elsewhere == 1  # the second batch; the first is decrypted here
        assert decryptions.helper_pid not in (None, os.getpid())
    assert kinds(got) == here(b, items)
    assert kinds(got)[-2:] == ["not for this key", "malformed"]


def test_a_second_process_that_dies_costs_no_batch(b, team):
    items = ciphertexts(b, team, 8)
    with Decryptions(b) as decryptions:
        first = decryptions.results(decryptions.submit(items[:2]))
        second = decryptions.results(decryptions.submit(items[2:4]))
        os.kill(decryptions.helper_pid, signal.SIGKILL)
        third = decryptions.results(decryptions.submit(items[4:6]))  # queued to the dead one, or not
        fourth = decryptions.results(decryptions.submit(items[6:]))
        assert decryptions.elsewhere == 1
        assert decryptions.helper_pid is None
    assert first + second + third + fourth == here(b, items)


def test_a_second_process_that_cannot_unlock_the_key_costs_no_batch(b, team):
    items = ciphertexts(b, team, 4)
    b._password = "not the passphrase"  # what the second process gets; this one's key is unlocked already
    with Decryptions(b) as decryptions:
        got = [decryptions.results(decryptions.submit(items[start:start + 2])) for start in (0, 2)]
        assert decryptions.elsewhere == 0
    assert got[0] + got[1] == here(b, items)


def test_a_small_batch_is_decrypted_here(b, team, monkeypatch):
    monkeypatch.setattr(decryption, "SECOND_PROCESS_FROM", 3)
    items = ciphertexts(b, team, 4)
    with Decryptions(b) as decryptions:
        got = [decryptions.results(decryptions.submit(items[start:start + 2])) for start in (0, 2)]
        assert (decryptions.elsewhere, decryptions.helper_pid) == (0, None)
    assert got[0] + got[1] == here(b, items)


def test_a_gnupg_key_decrypts_in_gpg_processes_only(staff_gnupg, team):
    a = GnuPGIdentity(staff_gnupg.fingerprint, gnupg_home=staff_gnupg.home)
    items = [ciphertext_of(seal(new_event(REFERENCE, "status", {"status": "closed"},
                                          author=a.fingerprint).to_bytes(), a, team)) for _ in range(4)]
    with Decryptions(a) as decryptions:
        got = [decryptions.results(decryptions.submit(items[start:start + 2])) for start in (0, 2)]
        assert (decryptions.elsewhere, decryptions.helper_pid) == (0, None)
    assert got[0] + got[1] == here(a, items)


def test_a_key_that_cannot_be_used_at_all_stops_the_reading(tmp_path, b, team):
    """KeyUnavailable comes through from either place, as from Identity.decrypt."""
    items = ciphertexts(b, team, 4)

    class Gone:
        fingerprint = b.fingerprint

        def decrypt(self, data):
            raise KeyUnavailable("the key is gone")

    with Decryptions(Gone()) as decryptions:
        with pytest.raises(KeyUnavailable):
            decryptions.results(decryptions.submit(items))

