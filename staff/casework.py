"""Casework on the command line: list cases, show one, change its status, add notes, make a
case from a phone call, delete a case on request.

``safeline-staff cases`` and ``show`` (with each address's removal work, who the case is given
to, and who did what, when: the case's events) print for people (aligned plain text, times in Japan
time) or, with ``--json``, for scripts (the fields are documented in ``staff.cases``).

What a report holds was typed by anyone on the internet: every piece of it printed to the
terminal goes through ``terminal_text``, which shows control characters, ANSI escapes, bidi
overrides and line separators as visible escapes (``\\x1b``, ``\\u202e``) instead of letting
the terminal act on them. The JSON output escapes them too (``json.dumps`` writes ASCII).

Each command opens the store through ``staff.setup.open_store`` (the store key decrypted with
the staff member's own OpenPGP key) and does its work in a function that takes the store, so
that the work is tested without keys.
"""

from __future__ import annotations

import argparse
import json
import sys
import unicodedata
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TextIO

from safeline.record import LANGUAGES, ROLES

from .cases import STATUS_LABELS, STATUSES, Case, CaseSummary
from .events import Event
from .home import Home
from .openpgp import short
from .problems import StaffError
from .setup import PASSPHRASE_HELP, open_store
from .store import JAPAN, Store, reference_key

ROLE_LABELS = {"self": "self (the person in the images)", "guardian": "guardian (of a child in the images)"}
MAILBOX_NOTE = ("The mails themselves stay in the mailbox until you delete them there; "
                "importing them again skips them.")
# Format characters a script needs to join (emoji, Indic and Arabic scripts); every other one
# (bidi overrides and isolates among them) is shown as an escape.
_JOINERS = {"\u200c", "\u200d"}


# -- showing text safely -----------------------------------------------------------------------

def _escape(char: str) -> str:
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def terminal_text(value, *, multiline: bool = False) -> str:
    """``value`` as text a terminal shows and never obeys: control characters (ESC of ANSI
    sequences, carriage returns, C1), bidi controls and other format characters, line and
    paragraph separators and lone surrogates become visible escapes. With ``multiline``, line
    ends stay (CR LF and CR become LF) and tabs become spaces."""
    text = str(value)
    if multiline:
        text = text.replace("\r\n", "\n").replace("\t", "    ")
    out = []
    for char in text:
        if multiline and char == "\n":
            out.append(char)
            continue
        category = unicodedata.category(char)
        if category in ("Cc", "Cs", "Zl", "Zp") or (category == "Cf" and char not in _JOINERS):
            out.append(_escape(char))
        else:
            out.append(char)
    return "".join(out)


def japan_time(moment: datetime | None) -> str:
    return "" if moment is None else moment.astimezone(JAPAN).strftime("%Y-%m-%d %H:%M")


def _yes_no(value: bool | None) -> str:
    return "?" if value is None else ("yes" if value else "no")


def _writer(out: TextIO) -> Callable[..., None]:
    def write(*parts: str) -> None:
        print(*parts, file=out)
    return write


def _indented(text: str, indent: str) -> str:
    return "\n".join(indent + line for line in terminal_text(text, multiline=True).split("\n"))


# -- the commands' work, on a store ------------------------------------------------------------

def list_cases(store: Store, *, status: str | None = None, search: str | None = None, as_json: bool = False,
               limit: int | None = None, out: TextIO = sys.stdout) -> int:
    """``cases``: the case list, newest activity first."""
    found = store.cases(status=status, search=search, limit=limit)
    total = store.count(status=status, search=search) if limit is not None else len(found)
    if as_json:
        print(json.dumps({"cases": [summary.to_json() for summary in found], "count": total}, indent=2), file=out)
        return 0
    write = _writer(out)
    if not found:
        write("no case matches" if (status or search) else "no cases yet: `safeline-staff import` brings them in")
        return 0
    header = ("REFERENCE", "RECEIVED (JST)", "ROLE", "URLS OPEN/ALL", "POLICE", "STATUS", "LAST ACTIVITY (JST)")
    rows = [_row(summary) for summary in found]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        write("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
    shown = f"{len(found)} of {total}" if len(found) < total else f"{total}"
    write(f"{shown} case{'s' if total != 1 else ''}")
    return 0


def _row(summary: CaseSummary) -> tuple[str, ...]:
    return tuple(terminal_text(cell) for cell in (
        summary.reference, japan_time(summary.received_at), summary.role or "no report yet",
        f"{summary.urls_open}/{summary.urls_all}", _yes_no(summary.police_referral),
        STATUS_LABELS.get(summary.status, summary.status), japan_time(summary.last_activity)))


def show_case(store: Store, reference: str, *, as_json: bool = False, out: TextIO = sys.stdout) -> int:
    """``show``: everything about one case."""
    case = _case(store, reference)
    if as_json:
        print(json.dumps(case.to_json(), indent=2), file=out)
        return 0
    write = _writer(out)
    t = terminal_text
    write(f"{t(case.reference)}  ({case.origin} case)  status: {t(STATUS_LABELS.get(case.status, case.status))}")
    write(f"  received:       {japan_time(case.received_at)} (Japan time)")
    write(f"  last activity:  {japan_time(case.last_activity)}")
    write(f"  role:           {t(ROLE_LABELS.get(case.role, case.role) if case.role else 'no report yet')}")
    write(f"  form language:  {t(case.language)}")
    write(f"  given to:       {_who(store, case.assignee)}")
    write("")
    # Whether and how it is safe to contact the reporter comes before any way to contact them.
    write("Before contacting the reporter")
    write(f"  police referral asked: {_yes_no(case.police_referral)}")
    if case.contact_safety:
        write("  contact safety:")
        write(_indented(case.contact_safety, "    "))
    else:
        write("  contact safety: (nothing written)")
    write(f"  e-mail: {t(case.email) if case.email else '(none)'}")
    write("")
    from .removal import url_lines

    write(f"Addresses (open {case.urls_open} / all {case.urls_all})")
    for number, url in enumerate(store.urls_of(case.reference), start=1):
        write(f"  {number}. {t(url.url)}")
        write(f"     first received {japan_time(url.first_received_at)}")
        for line in url_lines(store, url, reference=case.reference):
            write(line)
    if not case.urls:
        write("  (none)")
    write("")
    write(f"Reports and additions ({len(case.records)}, in time order)")
    for number, record in enumerate(case.records, start=1):
        source = "phone call" if record.message_id is None else f"Message-ID <{t(record.message_id)}>"
        write(f"  [{number}] {t(record.kind)}  {japan_time(record.received_at)}  {source}")
        _show_fields(record.fields, write)
    write("")
    write(f"Notes ({len(case.notes)})")
    for note in case.notes:
        write(f"  {japan_time(note.at)}")
        write(_indented(note.text, "    "))
    write("")
    write("History")
    for change in case.history:
        write(f"  {japan_time(change.at)}  {t(STATUS_LABELS.get(change.status, change.status))}")
    write("")
    write("Who did what, when")
    events = store.events(case.reference)
    for event in events:
        write(f"  {japan_time(event.at)}  {_who(store, event.author)}: {describe_event(event)}")
    if not events:
        write("  (nothing yet)")
    return 0


def _who(store: Store, fingerprint: str | None) -> str:
    if fingerprint is None:
        return "nobody"
    return short(fingerprint) + (" (you)" if fingerprint == store.author else "")


def describe_event(event: Event) -> str:
    """One line for what the event did (its values shown as text a terminal does not obey)."""
    t, data = terminal_text, event.data
    if event.type == "phone_case":
        return "made the case from a phone call"
    if event.type == "status":
        return f"status: {t(STATUS_LABELS.get(data['status'], data['status']))}"
    if event.type == "assign":
        return f"gave the case to {short(data['to'])}" if data["to"] else "gave the case to nobody"
    if event.type == "note":
        return "added a note"
    if event.type == "request":
        return (f"request for {t(data['url'])} to {t(data['target'])} {t(data['target_name'])!r} by "
                f"{t(data['method'])}, sent {t(data['sent_on'])}")
    if event.type == "url_state":
        reason = f" ({t(data['reason'])})" if data["reason"] else ""
        return f"{t(data['url'])}: {t(data['state'])} on {t(data['on'])}{reason}"
    if event.type == "url_next":
        return f"{t(data['url'])}: next {t(data['next_on'] or 'none')}"
    if event.type == "url_host":
        return f"{t(data['url'])}: who hosts it, confirmed"
    return t(event.type)


# A record's fields shown in the case's header instead (role, e-mail, contact safety, police
# referral, language) are not repeated under each record.
_HEADER_FIELDS = {"role", "email", "contact_safety", "police_referral", "language"}
_FIELD_LABELS = {"urls": "URLs", "where": "where", "description": "description", "consent": "consent"}


def _show_fields(fields: dict, write) -> None:
    for name in ("urls", "where", "description"):
        value = fields.get(name)
        if name == "urls":
            if isinstance(value, list) and value:
                write("      URLs:")
                for url in value:
                    write(f"        {terminal_text(url)}")
        elif value:
            write(f"      {name}:")
            write(_indented(str(value), "        "))
    if "consent" in fields:
        write(f"      consent: {_yes_no(fields['consent'] if isinstance(fields['consent'], bool) else None)}")
    for name, value in fields.items():  # fields a later format added, as they came
        if name not in _HEADER_FIELDS and name not in _FIELD_LABELS:
            text = value if isinstance(value, str) else json.dumps(value)
            write(f"      {terminal_text(name)}: {terminal_text(text)}")


def _case(store: Store, reference: str) -> Case:
    case = store.case(reference)
    if case is None:
        raise StaffError(f"no case {terminal_text(reference[:40])!r}: see `safeline-staff cases --search TEXT`")
    return case


def change_status(store: Store, reference: str, status: str, *, out: TextIO = sys.stdout) -> int:
    case = _case(store, reference)
    store.set_status(case.reference, status)
    was = STATUS_LABELS.get(case.status, case.status)
    print(f"{terminal_text(case.reference)}: {STATUS_LABELS[status]} (was {terminal_text(was)})", file=out)
    return 0


def add_note(store: Store, reference: str, text: str, *, out: TextIO = sys.stdout) -> int:
    case = _case(store, reference)
    store.add_note(case.reference, text)
    print(f"{terminal_text(case.reference)}: note added", file=out)
    return 0


def phone_case(store: Store, *, role: str, description: str, urls: Sequence[str] = (), email: str = "",
               contact_safety: str = "", police_referral: bool = False, language: str = "ja", where: str = "",
               out: TextIO = sys.stdout) -> int:
    reference = store.add_phone_case(role=role, description=description, urls=urls, email=email,
                                     contact_safety=contact_safety, police_referral=police_referral,
                                     language=language, where=where)
    print(reference, file=out)
    return 0


def delete_case(store: Store, reference: str, *, yes: bool = False, ask: Callable[[str], str] = input,
                out: TextIO = sys.stdout, places: list | None = None, not_looked: Sequence[str] = ()) -> int:
    """``delete``: the case, its records and notes; asks to type the reference unless ``yes``.
    With ``places`` (``staff.retention.mail_places``), its mails there are then offered for
    deletion too (``staff.retention.clean_mailboxes``)."""
    case = _case(store, reference)
    if not yes:
        print(f"Delete case {terminal_text(case.reference)} (received {japan_time(case.received_at)}, "
              f"{len(case.records)} mail(s), {len(case.notes)} note(s))? It cannot be undone.", file=out)
        try:
            answer = ask("Type the reference to delete it: ")
        except EOFError:
            answer = ""
        if reference_key(answer) != reference_key(case.reference):
            raise StaffError(f"not deleted: type {case.reference} to confirm, or use --yes")
    if places:
        from .retention import delete_with_mails

        print(f"deleting {terminal_text(case.reference)}: its reports, additions, notes and history leave the "
              "store; then its mails:", file=out)
        return delete_with_mails(store, case.reference, places=places, not_looked=not_looked, yes=yes, ask=ask,
                                 out=out)
    store.delete(case.reference)
    print(f"deleted {terminal_text(case.reference)}: its reports, additions, notes and history are gone from "
          "the store.", file=out)
    print(MAILBOX_NOTE, file=out)
    return 0


# -- the command line --------------------------------------------------------------------------

def _status(text: str) -> str:
    status = text.strip().lower().replace("-", "_").replace(" ", "_")
    if status not in STATUSES:
        raise argparse.ArgumentTypeError(f"{text!r} is not a status: one of {', '.join(STATUSES)}")
    return status


def _text_or_stdin(text: str) -> str:
    return sys.stdin.read() if text == "-" else text


def _open(args) -> Store:
    # The passphrase, when the key needs one, comes from the environment or is asked there.
    return open_store(Home(args.home))


def _stdout() -> TextIO:
    # A terminal or file that cannot encode some character (a Windows code page) shows it as an
    # escape instead of stopping the command halfway.
    if hasattr(sys.stdout, "reconfigure"):
        try:
            sys.stdout.reconfigure(errors="backslashreplace")
        except (ValueError, OSError):
            pass
    return sys.stdout


def _run(work: Callable[..., int]) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        with _open(args) as store:
            return work(store, args, _stdout())
    return run


def register(commands) -> None:
    statuses = ", ".join(STATUSES)
    parser = commands.add_parser("cases", help="list the cases, newest activity first",
                                 description="List the cases, newest activity first: reference, when received, "
                                 "role, addresses open/all, police referral asked, status, last activity (Japan "
                                 f"time). {PASSPHRASE_HELP}")
    parser.add_argument("--status", type=_status, metavar="STATUS", help=f"only cases with this status ({statuses})")
    parser.add_argument("--search", metavar="TEXT", help="only cases whose reference begins so (dashes optional), "
                        "whose addresses' hosts contain it, or whose words contain it; several words: all must match")
    parser.add_argument("--limit", type=int, metavar="N", help="at most N cases (default: all)")
    parser.add_argument("--json", action="store_true", help="print JSON for scripts (fields: see staff/cases.py)")
    parser.set_defaults(func=_run(lambda store, args, out: list_cases(
        store, status=args.status, search=args.search, as_json=args.json, limit=args.limit, out=out)))

    parser = commands.add_parser("show", help="show everything about a case",
                                 description="Show a case: its reports and additions in time order, addresses "
                                 "with their host, how it is safe to contact the reporter, notes and history. "
                                 f"{PASSPHRASE_HELP}")
    parser.add_argument("reference", metavar="REFERENCE", help="e.g. SL-ABCD-2345 or TEL-20261201-001-A1B2 "
                        "(any case, dashes optional)")
    parser.add_argument("--json", action="store_true", help="print JSON for scripts (fields: see staff/cases.py)")
    parser.set_defaults(func=_run(lambda store, args, out: show_case(store, args.reference, as_json=args.json,
                                                                      out=out)))

    parser = commands.add_parser("status", help="change a case's status",
                                 description=f"Change a case's status ({statuses}); the change is kept in its "
                                 f"history with the time. {PASSPHRASE_HELP}")
    parser.add_argument("reference", metavar="REFERENCE")
    parser.add_argument("status", type=_status, metavar="STATUS", help=statuses)
    parser.set_defaults(func=_run(lambda store, args, out: change_status(store, args.reference, args.status,
                                                                          out=out)))

    parser = commands.add_parser("note", help="add a note to a case",
                                 description=f"Add a note to a case, kept with the time. {PASSPHRASE_HELP}")
    parser.add_argument("reference", metavar="REFERENCE")
    parser.add_argument("text", metavar="TEXT", help="the note, or - to read it from standard input")
    parser.set_defaults(func=_run(lambda store, args, out: add_note(store, args.reference,
                                                                     _text_or_stdin(args.text), out=out)))

    parser = commands.add_parser("phone", help="make a case from a phone call",
                                 description="Make a case from a phone call; prints its reference "
                                 f"(TEL-YYYYMMDD-NNN-FFFF: Japan date, number, your key). {PASSPHRASE_HELP}")
    parser.add_argument("--role", required=True, choices=ROLES, help="self: the person in the images; "
                        "guardian: of a child in them")
    parser.add_argument("--description", required=True, metavar="TEXT", help="what the caller said (- reads "
                        "it from standard input)")
    parser.add_argument("--url", action="append", default=[], dest="urls", metavar="URL",
                        help="an address of the images (again for each)")
    parser.add_argument("--where", default="", metavar="TEXT", help="where the images are when there is no address")
    parser.add_argument("--email", default="", help="the caller's e-mail address")
    parser.add_argument("--contact-safety", default="", metavar="TEXT", help="how and when it is safe to contact "
                        "them")
    parser.add_argument("--police-referral", action="store_true", help="they would like to be introduced to the "
                        "police")
    parser.add_argument("--language", choices=LANGUAGES, default="ja", help="the language to reply in (default ja)")
    parser.set_defaults(func=_run(lambda store, args, out: phone_case(
        store, role=args.role, description=_text_or_stdin(args.description), urls=args.urls, email=args.email,
        contact_safety=args.contact_safety, police_referral=args.police_referral, language=args.language,
        where=args.where, out=out)))

    from .retention import add_mailbox_options

    parser = commands.add_parser("delete", help="delete a case on request, with its notes",
                                 description="Delete a case, with its reports, additions, notes and history, "
                                 "for good (importing its mails again skips them). Asks you to type the "
                                 "reference. Then lists its mails in the report mailbox (--maildir, --imap, or "
                                 "the address given to init) and the team's events folder, and deletes them "
                                 f"once you confirm again. {PASSPHRASE_HELP}")
    parser.add_argument("reference", metavar="REFERENCE")
    parser.add_argument("--yes", action="store_true", help="do not ask, neither for the case nor for its mails")
    add_mailbox_options(parser)
    parser.set_defaults(func=_run_delete)


def _run_delete(args) -> int:
    from .retention import mail_places

    # The addresses are checked before the passphrase is asked (without a kit's folder,
    # opening the store says what to do).
    home = Home(args.home)
    places, not_looked = (mail_places(home.config(), maildir=args.maildir, imap=args.imap, imap_ca=args.imap_ca)
                          if home.exists() else ([], []))
    with _open(args) as store:
        return delete_case(store, args.reference, yes=args.yes, out=_stdout(), places=places,
                           not_looked=not_looked)
