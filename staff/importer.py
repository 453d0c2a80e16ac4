"""``safeline-staff import``: every relay mail of a mailbox into the case store, once.

    safeline-staff import --maildir DIR
    safeline-staff import --imap imaps://user@host[:port]/FOLDER     (or the address init kept)

Each mail is read by ``staff.message``; a report or an addition goes into the store
(``Store.add``), anything else is skipped and counted by kind. Importing again imports nothing
twice: a mail whose Message-ID the store has seen is not even decrypted, and the store refuses
a second report with the same reference. It ends with one line:

    imported N reports, M additions; skipped K (a already imported, b not encrypted, …)

naming only the kinds that occurred, in the order of ``staff.message.KINDS``; while it runs, a
progress bar on stderr when stderr is a terminal.

Speed: decrypting (one gpg process per mail) is nearly all the time, so a few mails are
decrypted at once in threads (gpg-agent serves them together; a pinentry still asks only
once), while this thread parses them in mailbox order and stores them ``BATCH`` at a time in one
short transaction (``Store.batch``), never holding the store while gpg works.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter, deque
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

from . import message
from .home import Home
from .mailbox import Mail, MaildirSource
from .message import KINDS, Skipped
from .openpgp import GnuPGIdentity, Identity, identity_of
from .problems import StaffError
from .setup import PASSPHRASE_HELP, open_store

BATCH = 100  # records per store transaction
GPG_WORKERS = 2  # gpg processes at once: the machine's work is gpg's, not Python's


@dataclass
class Tally:
    reports: int = 0
    additions: int = 0
    skipped: Counter = field(default_factory=Counter)

    def skip(self, kind: str) -> None:
        self.skipped[kind] += 1

    def summary(self) -> str:
        total = sum(self.skipped.values())
        line = f"imported {self.reports} reports, {self.additions} additions; skipped {total}"
        if total:
            order = [kind for kind in KINDS if self.skipped[kind]] + \
                    sorted(kind for kind in self.skipped if kind not in KINDS and self.skipped[kind])
            line += " (" + ", ".join(f"{self.skipped[kind]} {kind}" for kind in order) + ")"
        return line


def register(commands) -> None:
    parser = commands.add_parser(
        "import", help="import the reports of a mailbox (Maildir or IMAP) into the case store",
        description="Decrypt the relay's mails with your key and keep the reports and additions in the "
                    "encrypted case store; other mails are skipped and counted. Importing again imports "
                    "nothing twice; the mailbox is never changed. " + PASSPHRASE_HELP)
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--maildir", metavar="DIR", help="a Maildir folder (with cur/ and new/)")
    where.add_argument("--imap", metavar="URL", help="imaps://user@host[:port]/FOLDER (default: the address "
                       "given to init); the password comes from the system keyring, or is asked")
    parser.add_argument("--imap-ca", metavar="FILE", help="trust only this CA certificate (PEM) for the IMAP "
                        "server, e.g. a server with its own authority (default: the imap_ca setting, else the system's "
                        "authorities)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(func=run_import)


def run_import(args: argparse.Namespace) -> int:
    home = Home(args.home)
    config = home.config()
    url = args.imap or (None if args.maildir else config.imap)
    if not args.maildir and not url:
        raise StaffError("say where the mail is: --maildir DIR or --imap URL")
    # A mistyped folder is said before any passphrase is asked.
    maildir = MaildirSource(args.maildir) if args.maildir else None
    identity = identity_of(home)
    store = open_store(home, identity=identity)
    try:
        if maildir is not None:
            source = maildir
        else:
            from .imap import ImapSource  # helper module of its own; only IMAP needs imapclient

            source = ImapSource(url, ca_file=args.imap_ca or config.imap_ca)
        tally = Tally()
        try:
            import_mail(source, store, identity, progress=not args.no_progress, tally=tally)
        except KeyboardInterrupt:
            # What was decrypted before Ctrl+C is stored (_Run): say so, and how to go on.
            print(f"stopped: {tally.summary()}; import again to go on", file=sys.stderr)
            return 130
        finally:
            close = getattr(source, "close", None)
            if close:
                close()
    finally:
        store.close()
    print(tally.summary())
    return 0


def import_mail(source: Iterable[Mail], store, identity: Identity, *, progress: bool = True,
                workers: int | None = None, tally: Tally | None = None) -> Tally:
    """Import every mail of ``source`` into ``store``; what was imported and skipped (counted
    into ``tally`` as it goes, when given: it then says what was done if the import stops)."""
    if workers is None:
        workers = GPG_WORKERS if isinstance(identity, GnuPGIdentity) else 1
    bar = Progress(_length(source)) if progress and sys.stderr.isatty() else None
    run = _Run(store, bar, tally if tally is not None else Tally())
    this_run: set[str] = set()
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="decrypt") as pool, run:
        for mail in source:
            try:
                outer_id, ciphertext = message.envelope(mail.data)
            except Skipped as skipped:
                run.skip(skipped.kind)
                continue
            if outer_id is not None and outer_id in this_run:
                run.skip("duplicate")  # the same mail twice in the mailbox
                continue
            if outer_id is not None and store.seen(outer_id):
                run.skip("already imported")
                continue
            if outer_id is not None:
                this_run.add(outer_id)
            run.pending.append((outer_id, pool.submit(message.decrypt, ciphertext, identity)))
            # A few decryptions ahead of the store, no more: memory stays flat.
            while len(run.pending) > workers * 2:
                run.store_next()
        while run.pending:
            run.store_next()
    return run.tally


class _Run:
    """One import's state: the tally, the decryptions under way (in mailbox order) and the
    records decrypted but not yet stored. Records are stored ``BATCH`` at a time in one short
    transaction, never while gpg works, so another safeline-staff (the interface, a second
    import) waits for the store a moment at most. As a context manager: on the way out the
    decryptions not yet started are cancelled and what was decrypted is stored, also after
    Ctrl+C or a key that stopped working midway: it was read whole, and importing again
    would only decrypt it once more."""

    def __init__(self, store, bar: Progress | None, tally: Tally):
        self.store = store
        self.bar = bar
        self.tally = tally
        self.pending: deque[tuple[str | None, Future]] = deque()
        self.ready: list[tuple[str, object]] = []

    def __enter__(self) -> _Run:
        return self

    def __exit__(self, *error) -> None:
        if error[0] is not None:
            for _, future in self.pending:
                future.cancel()
            self._finish_started()
        try:
            self.flush()
        finally:
            if self.bar:
                self.bar.done()

    def skip(self, kind: str) -> None:
        self.tally.skip(kind)
        self._tick()

    def store_next(self) -> None:
        outer_id, future = self.pending.popleft()
        try:
            message_id, record = message.record_of(future.result(), outer_id)
        except Skipped as skipped:
            self.skip(skipped.kind)
            return
        self.ready.append((message_id, record))
        self._tick()
        if len(self.ready) >= BATCH:
            self.flush()

    def _finish_started(self) -> None:
        """After a stop: the decryptions gpg had started end in a moment; keep what they give."""
        while self.pending and not self.pending[0][1].cancelled():
            try:
                self.store_next()
            except Exception:  # the key stopped working, or the store: keep what is ready
                break

    def flush(self) -> None:
        """Store the records decrypted so far, in one transaction."""
        if not self.ready:
            return
        with self.store.batch():
            outcomes = [self.store.add(record, message_id=message_id) for message_id, record in self.ready]
        self.ready.clear()
        for outcome in outcomes:
            if outcome == "report":
                self.tally.reports += 1
            elif outcome == "addition":
                self.tally.additions += 1
            else:
                self.tally.skip("case deleted" if outcome == "deleted" else "duplicate")

    def _tick(self) -> None:
        if self.bar:
            self.bar.advance()


def _length(source) -> int | None:
    try:
        return len(source)
    except TypeError:
        return None


class Progress:
    """``[#####.....]  512/1000`` on stderr, redrawn at most ten times a second."""

    WIDTH = 30

    def __init__(self, total: int | None):
        self.total = total
        self.done_count = 0
        self._drawn = 0.0

    def advance(self) -> None:
        self.done_count += 1
        now = time.monotonic()
        if now - self._drawn >= 0.1 or self.done_count == self.total:
            self._drawn = now
            self._draw()

    def _draw(self) -> None:
        if self.total:
            filled = self.WIDTH * self.done_count // self.total
            line = f"[{'#' * filled}{'.' * (self.WIDTH - filled)}] {self.done_count}/{self.total}"
        else:
            line = f"{self.done_count} mails"
        sys.stderr.write("\r" + line)
        sys.stderr.flush()

    def done(self) -> None:
        sys.stderr.write("\r\033[K")
        sys.stderr.flush()
