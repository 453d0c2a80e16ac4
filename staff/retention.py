"""``safeline-staff retention``: keeping data no longer than needed.

    safeline-staff retention [--on DATE] [--yes] [--maildir DIR | --imap URL] [--imap-ca FILE]

1. **The cases due.** The cases closed for more than ``retention_days`` (config.json, default
   365) on ``--on`` (default today, Japan dates), longest closed first (``Store.retirable``):
   each by its reference, the day it was closed and counts (reports, additions, notes,
   addresses, events), never a word of its text.
2. **Retiring them**, once a staff member typed ``yes`` (or ``--yes``): one ``retire`` event per
   case (``Store.retire``), applied here at once and sent with the next sync, so that every kit
   of the team retires it too. The case's records, notes and history leave the store, as do the
   addresses no other case holds and their history; what the statistics count stays
   (``staff.facts``: dates, kinds and counts, no text), and so ``stats`` says the same before
   and after. The store overwrites what it deletes (``secure_delete``).
3. **Their mails** (``clean_mailboxes``, which ``safeline-staff delete REFERENCE`` uses too):
   the mails that belonged to cases that are gone, in two places:

   - the report mailbox: ``--maildir DIR``, ``--imap URL`` or else the ``imap`` address of
     config.json (the one ``import`` reads by default); with none of them it is not looked at,
     and the line says so;
   - the team's events folder (``events`` in config.json): the mails that carried the cases'
     events.

   A mail is found by its Message-ID header alone: nothing is decrypted, no body is read.
   Those of the cases retired now are known in clear until they are retired (their reports'
   and additions' Message-IDs, and ``events.mail_id``, the Message-ID of each event's mail);
   a case deleted on request or retired before keeps none in clear, only keyed HMACs of them
   (tombstones), so a mail whose Message-ID's HMAC is a tombstone is listed as a mail "of cases
   deleted or retired before". An event whose mail is not known here (sent before the kit kept
   that Message-ID) cannot be matched: their number is said, and those mails stay. A mail not
   imported yet cannot be told apart either (only its encrypted part names its case): import
   first; an import after the retirement buries such mails, and the next ``retention`` finds them.

   The listing says how many mails, where; a second confirmation (``yes`` again, or ``--yes``)
   deletes them: over IMAP, ``UID STORE +FLAGS (\\Deleted)`` and ``UID EXPUNGE`` of exactly
   those UIDs (a server without UIDPLUS is refused, rather than expunging messages others
   marked deleted); in a Maildir, their files are removed. Deleting a mail of the events folder
   removes it for the whole team. A kit that had not read it yet (offline since before the
   case was closed) never gets that event: it still retires the case when the retire event
   comes, but with the facts it holds then, which miss what that event said (a request, a
   removal). Cases closed for a year have long been synced by every kit in use; a kit offline
   that long should sync before the mails go. The retire and delete events themselves are never
   among them: they are what tells the other kits.

It ends with one line, e.g. ``retired 2 cases (their counts stay for the statistics); deleted
9 mails (4 in the report mailbox, 5 in the events folder)``.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import TextIO

from .home import Config, Home
from .problems import StaffError
from .setup import PASSPHRASE_HELP, open_store
from .store import JAPAN, Leaving, Store

REPORT_MAILBOX = "report mailbox"
EVENTS_FOLDER = "events folder"
CONFIRM = "yes"


# -- where the mails are -----------------------------------------------------------------------

@dataclass
class Place:
    """A folder to clean: ``label`` (report mailbox or events folder), ``where`` (shown), and
    ``open()``, which gives an object with ``message_ids()``, ``delete(keys)`` and ``close()``
    (``staff.imap.ImapMailbox``, ``staff.mailbox.MaildirSource``)."""

    label: str
    where: str
    open: Callable[[], object]


def mail_places(config: Config, *, maildir: str | Path | None = None, imap: str | None = None,
                imap_ca: str | Path | None = None,
                password_prompt: Callable[[str], str] = getpass.getpass) -> tuple[list[Place], list[str]]:
    """The folders to look in: the report mailbox (``maildir``, ``imap`` or ``config.imap``) and
    the events folder (``config.events``), with what is not looked at and why; ``imap_ca``
    defaults to the ``imap_ca`` setting. Addresses are
    checked here, before any passphrase or password is asked; nothing connects yet."""
    from .eventfolder import check_where
    from .imap import ImapMailbox, parse_address
    from .mailbox import MaildirSource

    places: list[Place] = []
    missing: list[str] = []
    imap_ca = imap_ca if imap_ca is not None else getattr(config, "imap_ca", None)
    if maildir is not None:
        folder = Path(maildir)
        MaildirSource(folder)  # a mistyped folder is said now
        places.append(Place(REPORT_MAILBOX, str(folder), lambda: MaildirSource(folder)))
    elif imap or config.imap:
        url = imap or config.imap
        parse_address(url)
        places.append(Place(REPORT_MAILBOX, url, lambda: ImapMailbox(url, ca_file=imap_ca,
                                                                     password_prompt=password_prompt)))
    else:
        missing.append(f"the {REPORT_MAILBOX} was not looked at (give --maildir DIR or --imap URL)")
    events = config.events
    if events and events.strip():
        check_where(events)
        if events.startswith(("imaps:", "imap:")):
            places.append(Place(EVENTS_FOLDER, events, lambda: ImapMailbox(events, ca_file=imap_ca, missing_ok=True,
                                                                           password_prompt=password_prompt)))
        elif (Path(events) / "cur").is_dir() and (Path(events) / "new").is_dir():
            places.append(Place(EVENTS_FOLDER, events, lambda: MaildirSource(Path(events))))
        # A local events folder not made yet holds no mail.
    else:
        missing.append(f"no {EVENTS_FOLDER} in config.json (events)")
    return places, missing


# -- the mailbox clean-up (retention, and delete on request) -----------------------------------

def _bare(message_id: str) -> str:
    """A Message-ID as the store keeps it: without its angle brackets."""
    text = message_id.strip()
    if text.startswith("<") and text.endswith(">"):
        text = text[1:-1].strip()
    return text


@dataclass
class Cleaning:
    """What the clean-up found and did, per place label."""

    these: dict[str, int] = field(default_factory=dict)  # mails of the cases just removed
    before: dict[str, int] = field(default_factory=dict)  # mails of cases removed before
    deleted: dict[str, int] = field(default_factory=dict)
    confirmed: bool = False
    failed: list[str] = field(default_factory=list)  # one line per place that could not be used
    not_looked: list[str] = field(default_factory=list)

    @property
    def found(self) -> int:
        return sum(self.these.values()) + sum(self.before.values())

    def clause(self) -> str:
        """The summary line's part about the mails."""
        if self.confirmed and self.found:
            parts = ", ".join(f"{count} in the {label}" for label, count in self.deleted.items() if count)
            total = sum(self.deleted.values())
            text = f"deleted {total} mail{_s(total)}" + (f" ({parts})" if parts else "")
            if total < self.found:
                text += f"; {self.found - total} were gone already"
        elif self.found:
            text = f"{self.found} mail{_s(self.found)} found and kept (not confirmed)"
        else:
            text = "no mail of them found"
        extra = self.failed + self.not_looked
        return text + ("; " + "; ".join(extra) if extra else "")


def _s(count: int) -> str:
    return "" if count == 1 else "s"


def clean_mailboxes(store: Store, places: Iterable[Place], known: Iterable[str], *, whose: str | None,
                    unknown_events: int = 0, yes: bool = False, ask: Callable[[str], str] = input,
                    out: TextIO = sys.stdout) -> Cleaning:
    """List the mails of cases that are gone, in each of ``places``, and delete them once
    confirmed (see the module's docstring). ``known``: the Message-IDs of the cases just
    removed (``whose`` names them: "these cases", "this case"; None when there are none); any
    mail whose Message-ID's HMAC is a tombstone is listed too, as of cases removed before.
    ``unknown_events``: how many of their events have no known mail (said, not searched)."""
    known = {_bare(mid) for mid in known}
    result = Cleaning()
    opened: list[tuple[Place, object, list[str]]] = []
    try:
        for place in places:
            try:
                folder = place.open()
            except StaffError as error:
                result.failed.append(f"the {place.label} could not be used ({error})")
                continue
            except OSError as error:
                result.failed.append(f"the {place.label} could not be used ({error.strerror or error})")
                continue
            try:
                listed = [(key, mid) for key, mid in folder.message_ids() if mid]
            except StaffError as error:
                folder.close()
                result.failed.append(f"the {place.label} could not be read ({error})")
                continue
            buried = store.buried_mails(mid for _, mid in listed if _bare(mid) not in known)
            these = [key for key, mid in listed if _bare(mid) in known]
            before = [key for key, mid in listed if mid in buried]
            opened.append((place, folder, these + before))
            result.these[place.label] = len(these)
            result.before[place.label] = len(before)
            others = len(listed) - len(these) - len(before)
            counts = [f"{len(these)} mail{_s(len(these))} of {whose}"] if whose else []
            if before or not whose:
                counts.append(f"{len(before)}{'' if whose else ' mail' + _s(len(before))} of cases deleted or "
                              "retired before")
            line = f"{place.label} {place.where}: " + ", ".join(counts)
            print(f"{line}; {others} other mail{_s(others)} stay{'s' if others == 1 else ''}", file=out)
        if unknown_events:
            print(f"{unknown_events} of their events were sent before this kit kept the Message-IDs of event mails: "
                  "their mails cannot be told apart and stay in the events folder", file=out)
        for line in result.failed:
            print(line, file=out)
        if not result.found:
            return result
        where = ", ".join(f"{len(keys)} from the {place.label} ({place.where})" for place, _, keys in opened if keys)
        if not yes:
            print(f"Delete these {result.found} mail{_s(result.found)} for good: {where}? Other mails stay.",
                  file=out)
            try:
                answer = ask(f"Type {CONFIRM} to delete them: ")
            except EOFError:
                answer = ""
            if answer.strip().lower() != CONFIRM:
                print("the mails stay; `safeline-staff retention` offers them again", file=out)
                return result
        result.confirmed = True
        for place, folder, keys in opened:
            if not keys:
                continue
            try:
                result.deleted[place.label] = folder.delete(keys)
            except StaffError as error:
                result.failed.append(f"the {place.label}: {error}")
                print(f"the {place.label}: {error}", file=out)
        return result
    finally:
        for _, folder, _ in opened:
            folder.close()


# -- retention ---------------------------------------------------------------------------------

def today() -> date:
    return datetime.now(JAPAN).date()


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise StaffError(f"--on {text[:20]!r} is not a date: write it YYYY-MM-DD") from None


def _table(cases: list[Leaving], received: dict[str, datetime]) -> list[str]:
    from .casework import terminal_text

    head = ("reference", "closed on", "received on", "reports", "additions", "notes", "addresses", "events")
    rows = [head] + [(terminal_text(case.reference), str(case.closed_on), str(received[case.reference].date()),
                      str(case.reports), str(case.additions), str(case.notes), str(case.urls), str(case.events))
                     for case in cases]
    widths = [max(len(row[column]) for row in rows) for column in range(len(head))]
    return ["  ".join(value.ljust(width) for value, width in zip(row, widths)).rstrip() for row in rows]


def retention(store: Store, *, on: date, days: int, places: list[Place], not_looked: Iterable[str] = (),
              yes: bool = False, ask: Callable[[str], str] = input, out: TextIO = sys.stdout) -> int:
    """The command's work on an open store (see the module's docstring); the exit status."""
    due = store.retirable(on, days)
    leaving = [store.leaving(case.reference, retire=True) for case in due]
    received = {case.reference: case.received_at.astimezone(JAPAN) for case in due}
    if not due:
        print(f"no case has been closed for more than {days} days on {on}", file=out)
    else:
        print(f"{len(due)} case{_s(len(due))} closed for more than {days} days on {on} (Japan dates):", file=out)
        for line in _table(leaving, received):
            print(line, file=out)
        print("Retiring them deletes their reports, additions, notes and history from the store, with the addresses "
              "no other case holds, in every kit of the team (at its next sync); only the dates and counts the "
              "statistics need stay.", file=out)
        if not yes:
            try:
                answer = ask(f"Type {CONFIRM} to retire {'it' if len(due) == 1 else f'these {len(due)} cases'}: ")
            except EOFError:
                answer = ""
            if answer.strip().lower() != CONFIRM:
                raise StaffError(f"nothing retired: type {CONFIRM} to confirm, or use --yes")
        with store.batch():
            for case in leaving:
                store.retire(case.reference)
    known = {mid for case in leaving for mid in (*case.mails, *case.event_mails)}
    cleaning = clean_mailboxes(store, places, known, whose="these cases" if due else None,
                               unknown_events=sum(case.events_unknown for case in leaving), yes=yes, ask=ask,
                               out=out)
    cleaning.not_looked = list(not_looked)
    retired = f"retired {len(due)} case{_s(len(due))}" + (" (their counts stay for the statistics)" if due else "")
    print(f"{retired}; {cleaning.clause()}", file=out)
    return 1 if cleaning.failed else 0


def delete_with_mails(store: Store, reference: str, *, places: list[Place], not_looked: Iterable[str] = (),
                      yes: bool = False, ask: Callable[[str], str] = input, out: TextIO = sys.stdout) -> int:
    """``delete REFERENCE``'s second half, once the case is confirmed: delete it, then offer its
    mails (and those of cases removed before) for deletion. The exit status."""
    leaving = store.leaving(reference, retire=False)
    store.delete(reference)
    cleaning = clean_mailboxes(store, places, (*leaving.mails, *leaving.event_mails), whose="this case",
                               unknown_events=leaving.events_unknown, yes=yes, ask=ask, out=out)
    cleaning.not_looked = list(not_looked)
    from .casework import terminal_text

    print(f"deleted {terminal_text(leaving.reference)}; {cleaning.clause()}", file=out)
    return 1 if cleaning.failed else 0


# -- the command line --------------------------------------------------------------------------

def add_mailbox_options(parser: argparse.ArgumentParser) -> None:
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--maildir", metavar="DIR", help="the report mailbox is this Maildir folder (as for import)")
    where.add_argument("--imap", metavar="URL", help="the report mailbox is imaps://user@host[:port]/FOLDER "
                       "(default: the address given to init)")
    parser.add_argument("--imap-ca", metavar="FILE", help="trust only this CA certificate (PEM) for the IMAP "
                        "server (default: the imap_ca setting, else the system's authorities)")


def run_retention(args: argparse.Namespace) -> int:
    from .casework import _stdout

    home = Home(args.home)
    config = home.config()
    on = _date(args.on) if args.on else today()
    places, not_looked = mail_places(config, maildir=args.maildir, imap=args.imap, imap_ca=args.imap_ca)
    with open_store(home) as store:
        return retention(store, on=on, days=config.retention_days, places=places, not_looked=not_looked,
                         yes=args.yes, out=_stdout())


def register(commands) -> None:
    parser = commands.add_parser(
        "retention", help="retire the cases closed longer than retention_days, and offer their mails for deletion",
        description="List the cases closed for more than retention_days (config.json) by reference, dates and "
                    "counts; once you confirm, retire them in every kit of the team: their text leaves the "
                    "store, the counts the statistics need stay. Then list the mails of cases that are gone, in "
                    "the report mailbox and the events folder, and delete them once you confirm again. "
                    + PASSPHRASE_HELP)
    parser.add_argument("--on", metavar="DATE", help="count the days up to this date, YYYY-MM-DD (default: today, "
                        "Japan)")
    parser.add_argument("--yes", action="store_true", help="do not ask, neither for the cases nor for the mails "
                        "(for scripts)")
    add_mailbox_options(parser)
    parser.set_defaults(func=run_retention)
