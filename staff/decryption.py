"""Decrypting many mails beside the store's work: ``Decryptions``.

sync reads the whole events folder when a member joins (or after long offline): tens of
thousands of event mails, each decrypted, checked and applied to the store. Done one after
the other, the store's work and the signature check add more than half again to the
decryption (BENCHMARKS.md, (g)); done side by side, they hide behind it. How depends on the key:

- a **GnuPG** key decrypts in gpg processes: threads that wait for them (``GPG_WORKERS`` at
  a time, as the import) leave this process free;
- a **key file** decrypts in this process, by pysequoia, which keeps Python's lock for the
  whole decryption: a thread would only take turns with the store's work, not overlap it
  (measured: no gain at all). So from the second batch on, the key file's decryptions go to
  one second process (``multiprocessing``, started fresh by "spawn" on every system, not
  forked from a process that has threads), which loads the same secret key, unlocked with
  the same passphrase; both reach it through a pipe between the two processes of this
  user, never a file or a command line. The first batch (every sync of a few events, the
  common case) is decrypted here, in a thread, and so is any batch of fewer than
  ``SECOND_PROCESS_FROM`` mails: starting a process costs more than a few events. When the second process cannot start or dies, its batches are decrypted here
  instead; nothing is lost, it is only slower.

Decrypting is all the second process does: the signature, the event and the store stay
here. Each result is the decrypted bytes, or ``Rejected`` with the kind ``open_mail`` would
give ("not for this key", "malformed"); ``KeyUnavailable`` (the key cannot be used at all)
passes through, as from ``Identity.decrypt``.
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool, ProcessPoolExecutor

from .eventmail import Rejected, decrypted
from .openpgp import GnuPGIdentity, Identity, KeyFileIdentity, KeyUnavailable

GPG_WORKERS = 2  # gpg processes at once (as the import): the work is gpg's
# A smaller batch is decrypted here even after the first: starting the second process (a new
# Python, pysequoia loaded, the key unlocked) takes longer than decrypting a few dozen mails.
SECOND_PROCESS_FROM = 50


class Decryptions:
    """``submit(ciphertexts)`` starts decrypting a batch, ``results(batch)`` waits for its
    outcomes (bytes or ``Rejected``, in order). ``close()`` (or ``with``) stops the helpers,
    dropping batches not started. ``elsewhere`` counts the batches the second process
    decrypted; ``helper_pid`` is its process id while it runs."""

    def __init__(self, identity: Identity):
        self._identity = identity
        workers = GPG_WORKERS if isinstance(identity, GnuPGIdentity) else 1
        self._threads = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="decrypt")
        self._process: Executor | None | bool = None  # False: none, and none will be tried
        self._batches = 0
        self.elsewhere = 0

    def __enter__(self) -> Decryptions:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def submit(self, ciphertexts: list[bytes]) -> tuple[str, object]:
        self._batches += 1
        process = self._second_process() if self._batches > 1 and len(ciphertexts) >= SECOND_PROCESS_FROM else None
        if process is not None:
            try:
                return "process", (process.submit(_decrypt_many, ciphertexts), ciphertexts)
            except (BrokenProcessPool, OSError):  # it died since the last batch, or cannot start
                self._give_up_process()
        return "threads", [self._threads.submit(_decrypt_one, self._identity, ciphertext) for ciphertext in ciphertexts]

    def results(self, batch: tuple[str, object]) -> list[bytes | Rejected]:
        how, work = batch
        if how == "threads":
            return [_outcome(future.result()) for future in work]
        future, ciphertexts = work
        try:
            items = future.result()
        except BrokenProcessPool:
            # The second process died (killed, out of memory): decrypt this batch here.
            self._give_up_process()
            return [_outcome(_decrypt_one(self._identity, ciphertext)) for ciphertext in ciphertexts]
        self.elsewhere += 1
        return [_outcome(item) for item in items]

    @property
    def helper_pid(self) -> int | None:
        processes = getattr(self._process, "_processes", None) or {}
        return next(iter(processes), None)

    def close(self) -> None:
        self._threads.shutdown(wait=True, cancel_futures=True)
        if self._process:
            self._process.shutdown(wait=True, cancel_futures=True)

    def _second_process(self) -> Executor | None:
        if self._process is None and isinstance(self._identity, KeyFileIdentity):
            recipe = self._identity.recipe()
            try:
                self._process = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"),
                                                    initializer=_load_key, initargs=recipe)
            except (OSError, RuntimeError, NotImplementedError, ImportError):
                # This system cannot start one (no working semaphores, as on some sandboxes
                # and phones: multiprocessing then raises one of these): decrypt here.
                self._process = False
        return self._process or None

    def _give_up_process(self) -> None:
        if self._process:
            self._process.shutdown(wait=False, cancel_futures=True)
        self._process = False


def _decrypt_one(identity: Identity, ciphertext: bytes):
    """Bytes, a ``Rejected``'s kind as ``("rejected", kind)``, or ``("key", message)``."""
    try:
        return bytes(decrypted(ciphertext, identity))
    except Rejected as rejected:
        return ("rejected", rejected.kind)
    except KeyUnavailable as error:
        return ("key", str(error))


def _outcome(item) -> bytes | Rejected:
    if isinstance(item, bytes):
        return item
    what, text = item
    if what == "key":
        raise KeyUnavailable(text)
    return Rejected(text)


# -- in the second process ------------------------------------------------------------------------

_identity: KeyFileIdentity | None = None


def _load_key(secret_key: bytes, passphrase: str | None, source: str) -> None:
    """The second process's start: the same key, unlocked; Ctrl+C is the first process's to handle."""
    global _identity
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _identity = KeyFileIdentity.from_recipe(secret_key, passphrase, source)


def _decrypt_many(ciphertexts: list[bytes]) -> list:
    return [_decrypt_one(_identity, ciphertext) for ciphertext in ciphertexts]
