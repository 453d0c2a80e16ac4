"""Decrypting many event mails beside the store's work (staff/decryption.py): a key file's
batches after the first go to a second process and give what decrypting here gives, the
rejections included; a second process that dies or cannot unlock the key costs no batch; a
GnuPG key never starts one."""

from __future__ import annotations

import base64
import multiprocessing
import os
import signal
import threading
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


THRESHOLD = decryption.SECOND_PROCESS_FROM


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


def in_pairs(decryptions: Decryptions, items: list[bytes]) -> list:
    """Every outcome, the items submitted two to a batch (the first batch here, the next ones
    in the second process when one may start)."""
    return [outcome for start in range(0, len(items), 2)
            for outcome in decryptions.results(decryptions.submit(items[start:start + 2]))]


def only_here(identity, items: list[bytes]) -> None:
    """Every batch decrypted in this process, and each as decrypting it here gives."""
    with Decryptions(identity) as decryptions:
        got = in_pairs(decryptions, items)
        assert (decryptions.elsewhere, decryptions.helper_pid) == (0, None)
    assert got == here(identity, items)


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
        got = in_pairs(decryptions, items)
        assert decryptions.elsewhere == 0
    assert got == here(b, items)


def test_a_small_batch_is_decrypted_here(b, team, monkeypatch):
    monkeypatch.setattr(decryption, "SECOND_PROCESS_FROM", 3)
    items = ciphertexts(b, team, 4)
    only_here(b, items)


def test_a_gnupg_key_decrypts_in_gpg_processes_only(staff_gnupg, team):
    a = GnuPGIdentity(staff_gnupg.fingerprint, gnupg_home=staff_gnupg.home)
    items = [ciphertext_of(seal(new_event(REFERENCE, "status", {"status": "closed"},
                                          author=a.fingerprint).to_bytes(), a, team)) for _ in range(4)]
    only_here(a, items)


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



# -- how many at once, and where ----------------------------------------------------------------

def counted(identity):
    """The same identity (of its own class), counting how many of its decryptions in this
    process run at once."""
    import copy

    class Counted(type(identity)):
        def decrypt(self, data):
            with self.lock:
                self.running += 1
                self.most = max(self.most, self.running)
            try:
                time.sleep(0.02)  # long enough for another to start beside it, when one may
                return super().decrypt(data)
            finally:
                with self.lock:
                    self.running -= 1

    twin = copy.copy(identity)
    twin.__class__ = Counted
    twin.running = twin.most = 0
    twin.lock = threading.Lock()
    return twin


def test_a_gnupg_key_decrypts_two_at_a_time_and_a_key_file_one(staff_gnupg, b, team):
    a = GnuPGIdentity(staff_gnupg.fingerprint, gnupg_home=staff_gnupg.home)
    for identity, expected in ((a, 2), (b, 1)):
        items = ciphertexts(b, team, 6)
        counting = counted(identity)
        with Decryptions(counting) as decryptions:  # one batch: in this process
            got = decryptions.results(decryptions.submit(items))
        assert counting.most == expected
        assert got == here(identity, items)


def test_the_second_process_takes_a_batch_from_fifty_mails_on(b, team, monkeypatch):
    monkeypatch.setattr(decryption, "SECOND_PROCESS_FROM", THRESHOLD)  # the module's own
    assert THRESHOLD == 50
    items = ciphertexts(b, team, 2 + 49 + 50)
    with Decryptions(b) as decryptions:
        first = decryptions.results(decryptions.submit(items[:2]))
        fewer = decryptions.results(decryptions.submit(items[2:51]))
        assert (decryptions.elsewhere, decryptions.helper_pid) == (0, None)
        fifty = decryptions.results(decryptions.submit(items[51:]))
        assert decryptions.elsewhere == 1
    assert first + fewer + fifty == here(b, items)


def test_one_second_process_only_and_nothing_left_running_after_close(b, team):
    items = ciphertexts(b, team, 40)
    with Decryptions(b) as decryptions:
        decryptions.results(decryptions.submit(items[:2]))
        batches = [decryptions.submit(items[start:start + 2]) for start in range(2, 40, 2)]
        helpers = {child.pid for child in multiprocessing.active_children()}
        pid = decryptions.helper_pid
        assert helpers == {pid}
        decryptions.close()  # with batches still queued: they are dropped, the process ends
        assert not any(child.pid == pid for child in multiprocessing.active_children())
        assert batches[-1][1][0].cancelled()
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def test_closing_waits_for_a_decryption_under_way_and_drops_the_rest(b, team):
    items = ciphertexts(b, team, 3)
    decryptions = Decryptions(counted(b))
    kind, futures = decryptions.submit(items * 20)
    decryptions.close()
    assert all(future.done() for future in futures)
    assert futures[-1].cancelled() and not futures[0].cancelled()


@pytest.mark.parametrize("error", [OSError, RuntimeError, NotImplementedError, ImportError])
def test_a_system_that_cannot_make_a_second_process_decrypts_here(b, team, monkeypatch, error):
    """As where multiprocessing has no working semaphores (some sandboxes): it says so when the
    pool is made."""
    items = ciphertexts(b, team, 4)

    def cannot(method):
        raise error("no semaphores here")

    monkeypatch.setattr(decryption.multiprocessing, "get_context", cannot)
    only_here(b, items)


def test_a_second_process_that_cannot_start_costs_no_batch(b, team, monkeypatch):
    """The pool is made, but the process cannot be started (too many processes): OSError."""
    items = ciphertexts(b, team, 6)
    def refuse(self):
        raise OSError(11, "Resource temporarily unavailable")

    monkeypatch.setattr(multiprocessing.get_context("spawn").Process, "start", refuse)
    only_here(b, items)


def test_a_second_process_found_dead_before_a_batch_costs_it_nothing(b, team):
    items = ciphertexts(b, team, 6)
    with Decryptions(b) as decryptions:
        decryptions.results(decryptions.submit(items[:2]))
        decryptions.results(decryptions.submit(items[2:4]))
        pool = decryptions._process
        os.kill(decryptions.helper_pid, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while not pool._broken and time.monotonic() < deadline:  # the pool's own thread notices
            time.sleep(0.01)
        assert pool._broken
        batch = decryptions.submit(items[4:])  # refused by the dead pool: decrypted here
        assert batch[0] == "threads"
        assert decryptions.results(batch) == here(b, items[4:])
