"""``safeline-staff sync``: this kit's changes out to the team's events folder, the others' in.

    safeline-staff sync [--imap-ca FILE]      (default: the ``imap_ca`` setting)

Every change a staff member makes is an event (staff/events.py) that the store applies at once
and queues (``Store.pending_events``). Sync, in two steps:

1. **Send.** Each queued event is sealed (staff/eventmail.py: signed with this kit's key,
   encrypted to every current staff key) and appended to the events folder
   (staff/eventfolder.py), oldest first; it is marked sent (``Store.mark_sent``, with its
   signed form and its mail's Message-ID) only after its APPEND succeeded. A crash or a lost
   connection between the APPEND and the mark sends that event again next time: harmless,
   because every kit applies an event once by its id (``Store.apply`` answers "known" the
   second time).
2. **Receive.** Every mail of the folder after this kit's position (``Store.sync_position``) is
   unsealed (decrypted with this kit's key, its signature verified against ``staff_keys``:
   the signer must be the event's author, a member not revoked whose key was valid when it
   signed and at the event's time, see staff/eventmail.py), read as an ``Event`` and applied,
   its signed form and its mail's Message-ID kept with it (``Store.apply``: for sharing the
   history with a member who joins later, and for retention's clean-up of the mailbox). A
   mail that fails is ignored and counted by kind (``eventmail.KINDS``), and its number is
   listed, so that a forgery can be looked at. Mails go ``BATCH`` at a time: the next batch
   is decrypted while this one is checked and applied (staff/decryption.py), and each batch
   is applied in one transaction with the position it brings the store to, committed
   without waiting for the disk (``Store.batch(durable=False)``: what a power cut takes back
   is read again). The position is also saved when reading stops (Ctrl+C, a lost
   connection), so the next sync goes on from there; an event read twice is "already known". A mail that ``safeline-staff team
   share`` made for another member (``eventmail.reseal``) is counted apart ("shared with
   another member"), not as ignored.

It ends with one line:

    sent N; received M (applied A, already known K); ignored J (a unsigned, b unknown signer, …)

("for deleted cases D" joins the brackets when events came for cases deleted here, and "shared
with another member S" when mails of `team share` for another member were read.)

**Offline.** When the folder's server cannot be reached (``FolderUnreachable``: refused, no
answer, unknown host, the connection lost), nothing is lost: the changes not yet sent stay
queued in the store, and one line says how many and why. The exit status is then 3 (not 0):
a script or a scheduled sync must notice that the team did not get the changes, and tell
it apart from a setting to fix (1) without parsing text.

``sync(store, folder, identity, team)`` does the work on an open folder and returns the
``SyncTally``; ``sync_config(config, store, identity)`` first reads the team's keys and opens
the folder ``config`` names, trusting the CA of ``config.imap_ca`` when it is set and no other
``ca_file`` is given (an unreachable server is the tally's ``offline``, not an error),
for the web interface's "sync on opening" as for this command. There, pass a
``password_prompt`` that raises (no terminal to ask on): the password must then come from the
system keyring.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from dataclasses import dataclass, field

from .eventfolder import EventFolder, FolderUnreachable, check_where, open_folder
from .decryption import Decryptions
from .eventmail import KINDS, Rejected, check_signed, ciphertext_of, is_shared, message_id_of, seal_event
from .home import Home
from .openpgp import Identity, identity_of, short
from .problems import StaffError
from .setup import PASSPHRASE_HELP, open_store
from .team import Team

BATCH = 500  # mails unsealed together, applied in one transaction; how often the position is saved
OFFLINE_STATUS = 3
LISTED = 20  # ignored mails listed by number, at most


@dataclass
class SyncTally:
    sent: int = 0
    received: int = 0
    applied: int = 0
    known: int = 0
    deleted: int = 0  # events of cases deleted here (a tombstone keeps them out)
    for_others: int = 0  # mails of `team share` for another member (not ignored: not for us)
    ignored: Counter = field(default_factory=Counter)
    ignored_mails: list[tuple[str, str]] = field(default_factory=list)  # (UID or file name, kind)
    offline: str | None = None  # why the folder could not be reached, when it could not
    queued: int = 0  # local changes still waiting to be sent
    warnings: list[str] = field(default_factory=list)  # entries of the staff keys' folder left out

    def summary(self) -> str:
        inner = f"applied {self.applied}, already known {self.known}"
        if self.deleted:
            inner += f", for deleted cases {self.deleted}"
        if self.for_others:
            inner += f", shared with another member {self.for_others}"
        line = f"sent {self.sent}; received {self.received} ({inner}); ignored {sum(self.ignored.values())}"
        if self.ignored:
            order = [kind for kind in KINDS if self.ignored[kind]] + \
                    sorted(kind for kind in self.ignored if kind not in KINDS and self.ignored[kind])
            line += " (" + ", ".join(f"{self.ignored[kind]} {kind}" for kind in order) + ")"
        return line

    def offline_line(self) -> str:
        changes = f"{self.queued} local change{'' if self.queued == 1 else 's'}"
        verbs = "stays queued and goes" if self.queued == 1 else "stay queued and go"
        return f"offline: {self.offline}; {changes} {verbs} with the next sync"


def sync(store, folder: EventFolder, identity: Identity, team: Team, *, tally: SyncTally | None = None) -> SyncTally:
    """Send the queued events, then apply the folder's new ones; the tally. A folder that
    cannot be reached midway ends it with ``tally.offline`` set (nothing lost, nothing raised)."""
    tally = tally if tally is not None else SyncTally()
    try:
        own = _send(store, folder, identity, team, tally)
        _receive(store, folder, identity, team, tally, own)
    except FolderUnreachable as error:
        tally.offline = str(error)
    tally.queued = len(store.pending_events())
    return tally


def _send(store, folder: EventFolder, identity: Identity, team: Team, tally: SyncTally) -> set[str]:
    """Append each queued event; the idents of the appended mails (this kit need not read them back)."""
    own: set[str] = set()
    for event in store.pending_events():
        if event.author != identity.fingerprint:
            raise StaffError(f"a change waiting to be sent was made with the key {short(event.author)}, not "
                             f"yours ({short(identity.fingerprint)}): use the key the kit was set up with")
        sealed = seal_event(event.to_bytes(), identity, team)
        ident = folder.append(sealed.mail)
        # Only now: a crash before this line sends the event again, which every kit ignores.
        store.mark_sent([event.id], signed={event.id: sealed.signed}, mail_ids={event.id: sealed.message_id})
        tally.sent += 1
        if ident is not None:
            own.add(ident)
    return own


def _receive(store, folder: EventFolder, identity: Identity, team: Team, tally: SyncTally, own: set[str]) -> None:
    def unseal_next(decryptions: Decryptions):
        """The next chunk of mails, each one's ciphertext (or ``Rejected``), and their
        decryption started (staff/decryption.py: beside this thread, which applies)."""
        chunk = [mail for _, mail in zip(range(BATCH), mails)]
        theirs = [mail for mail in chunk if mail.ident not in own]
        ciphertexts = []
        for mail in theirs:
            try:
                ciphertexts.append(ciphertext_of(mail.data))
            except Rejected as rejected:
                ciphertexts.append(rejected)
        batch = decryptions.submit([item for item in ciphertexts if not isinstance(item, Rejected)]) \
            if chunk else None
        return chunk, theirs, ciphertexts, batch

    def opened(ciphertexts, batch, decryptions: Decryptions):
        """Each mail's ``Opened`` or ``Rejected``, in order."""
        results = iter(decryptions.results(batch))
        outcomes = []
        for item in ciphertexts:
            outcome = item if isinstance(item, Rejected) else next(results)
            if not isinstance(outcome, Rejected):
                try:
                    outcome = check_signed(outcome, team)
                except Rejected as rejected:
                    outcome = rejected
            outcomes.append(outcome)
        return outcomes

    position = store.sync_position(folder.name)
    saved = position
    try:
        with Decryptions(identity) as decryptions:
            mails = folder.read(position)
            chunk, theirs, ciphertexts, batch = unseal_next(decryptions)
            while chunk:
                # The next chunk is decrypted while this one is checked and applied.
                following = unseal_next(decryptions)
                outcomes = opened(ciphertexts, batch, decryptions)
                # One transaction per chunk: its events and the position they bring the store
                # to are kept together, and applying in one costs far less than one each. Not
                # waiting for the disk: if a power cut takes the chunk back, it takes the
                # position back with it, and the next sync reads the chunk again.
                with store.batch(durable=False):
                    for mail, outcome in zip(theirs, outcomes):
                        _apply_one(store, mail, outcome, tally)
                    store.set_sync_position(folder.name, chunk[-1].position)
                # Only now, committed: a chunk rolled back (Ctrl+C) must not move the position.
                position = saved = chunk[-1].position
                chunk, theirs, ciphertexts, batch = following
            position = folder.position or position
    finally:
        # Reading stopped (Ctrl+C, the connection lost) after some mails were applied: their
        # position is saved whatever happens, so the next sync goes on from there.
        if position is not None and position != saved:
            store.set_sync_position(folder.name, position)


def _apply_one(store, mail, outcome, tally: SyncTally) -> None:
    """One unsealed mail (``Opened``, or ``Rejected``) applied to the store, or counted."""
    tally.received += 1
    if isinstance(outcome, Rejected):
        if outcome.kind == "not for this key" and is_shared(mail.data):
            tally.for_others += 1  # history shared with another member (team share)
            return
        tally.ignored[outcome.kind] += 1
        tally.ignored_mails.append((mail.ident, outcome.kind))
        return
    # The event as unsealing read it; made in its signer's name (or it was "author mismatch" there).
    result = store.apply(outcome.event, signed=outcome.signed, mail_id=message_id_of(mail.data))
    if result == "applied":
        tally.applied += 1
    elif result == "deleted":
        tally.deleted += 1
    else:
        tally.known += 1


def sync_config(config, store, identity: Identity, *, ca_file=None, password_prompt=None,
                tally: SyncTally | None = None) -> SyncTally:
    """``sync`` with the team's keys and the events folder of ``config`` (``staff.home.Config``);
    ``StaffError`` for a setting to fix, ``tally.offline`` when the server cannot be reached."""
    tally = tally if tally is not None else SyncTally()
    team = Team.load(config.staff_keys)
    tally.warnings = list(team.warnings)
    options = {"password_prompt": password_prompt} if password_prompt is not None else {}
    ca_file = ca_file if ca_file is not None else getattr(config, "imap_ca", None)
    try:
        folder = open_folder(config.events, ca_file=ca_file, **options)
    except FolderUnreachable as error:
        tally.offline = str(error)
        tally.queued = len(store.pending_events())
        return tally
    try:
        return sync(store, folder, identity, team, tally=tally)
    finally:
        folder.close()


# -- the command -----------------------------------------------------------------------------

def register(commands) -> None:
    parser = commands.add_parser(
        "sync", help="send your changes to the team's events folder and apply the others' changes",
        description="Send the changes made here (each an event, signed with your key and encrypted to every "
                    "staff key) to the events folder, then apply the events the others sent. An event not "
                    "signed by a current staff key is ignored and reported. Offline, your changes stay queued "
                    f"(exit status {OFFLINE_STATUS}). " + PASSPHRASE_HELP)
    parser.add_argument("--imap-ca", metavar="FILE", help="trust only this CA certificate (PEM) for the IMAP "
                        "server (default: the imap_ca setting, else the system's authorities)")
    parser.set_defaults(func=run_sync)


def run_sync(args: argparse.Namespace) -> int:
    home = Home(args.home)
    config = home.config()
    # A setting to fix is said before any passphrase or password is asked.
    Team.load(config.staff_keys)
    check_where(config.events)
    identity = identity_of(home)
    store = open_store(home, identity=identity)
    tally = SyncTally()
    try:
        sync_config(config, store, identity, ca_file=args.imap_ca, tally=tally)
    except KeyboardInterrupt:
        print(f"stopped: {tally.summary()}; sync again to go on", file=sys.stderr)
        return 130
    finally:
        store.close()
    for warning in tally.warnings:
        print(f"safeline-staff: {warning}", file=sys.stderr)
    print(tally.summary())
    for ident, kind in tally.ignored_mails[:LISTED]:
        print(f"ignored mail {ident} of the events folder: {kind}", file=sys.stderr)
    if len(tally.ignored_mails) > LISTED:
        print(f"… and {len(tally.ignored_mails) - LISTED} more ignored mails", file=sys.stderr)
    if tally.offline:
        print(tally.offline_line(), file=sys.stderr)
        return OFFLINE_STATUS
    return 0
