"""Removal work on the command line: each address of a case, the requests sent for it, what
became of it, when to look again; who a case is given to; what is due.

    safeline-staff urls REFERENCE [--json]
    safeline-staff request REFERENCE URL --target T --name NAME --method M [--on DATE] [--ticket T]
    safeline-staff state REFERENCE URL STATE [--on DATE] [--reason TEXT] [--next DATE]
    safeline-staff next REFERENCE URL (DATE | none)
    safeline-staff assign REFERENCE (--me | --to FINGERPRINT | --nobody)
    safeline-staff due [--on DATE] [--json]

``URL`` is an address as ``urls`` shows it (typed in any form browsers read the same way), or
its number in that list. An address several cases hold is one address: its state, next date
and requests are the same from each of them; the case named is where the change is recorded
(and it goes if that case is deleted). Every change is an event of the kit's owner, shared
with the team by ``sync``. Dates are Japan dates, ``YYYY-MM-DD``; ``--on`` defaults to today.
A request makes the address "asked" and due again after ``recheck_days`` (config.json).

``--json`` prints UrlState objects (``staff.cases`` documents their fields):
``urls``: ``{"reference", "urls": [UrlState…]}``; ``due``: ``{"on", "urls": [UrlState…]}``.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from datetime import date, datetime
from typing import TextIO

from .cases import UrlState
from .casework import _run, _who, japan_time, terminal_text
from .events import METHODS, TARGETS, URL_STATES
from .home import Home
from .problems import StaffError
from .setup import PASSPHRASE_HELP
from .store import JAPAN, Store

STATE_LABELS = {"not_asked": "not asked yet", "asked": "asked", "removed": "removed", "refused": "refused",
                "no_answer": "no answer"}
TARGET_LABELS = {"site": "site operator", "host": "hosting provider", "registrar": "registrar",
                 "search": "search engine", "platform": "platform form", "police": "police"}
METHOD_LABELS = {"form": "web form", "email": "e-mail", "post": "post"}


def today() -> date:
    return datetime.now(JAPAN).date()


def _day(text: str | None) -> str:
    return "-" if text is None else text.isoformat()


def url_lines(store: Store, state: UrlState, *, indent: str = "     ", reference: str | None = None) -> list[str]:
    """How an address's removal work reads: its state, next date, host, other cases, requests."""
    t = terminal_text
    line = f"{indent}state: {STATE_LABELS.get(state.state, t(state.state))}"
    if state.state_on is not None:
        line += f" on {state.state_on.isoformat()}"
    if state.reason:
        line += f" ({t(state.reason)})"
    lines = [line + f"   next: {_day(state.next_on)}"]
    host = f"{indent}host: {t(state.host) or '(none)'}"
    if state.host_info is not None:
        overseas = state.host_info.get("overseas")
        host += "  (" + ("overseas" if overseas is True else "in Japan" if overseas is False else "where: unknown")
        host += ", confirmed)"
    lines.append(host)
    others = [ref for ref in state.cases if ref != reference]
    if others and reference is not None:  # the due list names every case on its own line
        lines.append(f"{indent}also in: {', '.join(t(ref) for ref in others)}")
    for request in state.requests:
        ticket = f"  ticket {t(request.ticket)}" if request.ticket else ""
        lines.append(f"{indent}request sent {request.sent_on.isoformat()} to {TARGET_LABELS[request.target]} "
                     f"\u201c{t(request.target_name)}\u201d by {METHOD_LABELS[request.method]}{ticket}  "
                     f"(recorded {japan_time(request.at)} by {_who(store, request.author)})")
    return lines


# -- the commands' work, on a store ------------------------------------------------------------

def _pick(store: Store, reference: str, url: str) -> tuple[str, str]:
    """The case's reference and the address ``url`` of it: typed, or its number in ``urls``."""
    case = store.case(reference)
    if case is None:
        raise StaffError(f"no case {terminal_text(reference[:40])!r}: see `safeline-staff cases --search TEXT`")
    if re.fullmatch(r"\d{1,4}", url.strip()):
        number = int(url)
        if not 1 <= number <= len(case.urls):
            raise StaffError(f"{case.reference} has {len(case.urls)} address(es): a number from 1 to "
                             f"{len(case.urls)}, see `safeline-staff urls {case.reference}`")
        return case.reference, case.urls[number - 1].url
    return case.reference, url


def list_urls(store: Store, reference: str, *, as_json: bool = False, out: TextIO = sys.stdout) -> int:
    """``urls``: the case's addresses with their removal work."""
    case = store.case(reference)
    if case is None:
        raise StaffError(f"no case {terminal_text(reference[:40])!r}: see `safeline-staff cases --search TEXT`")
    states = store.urls_of(case.reference)
    if as_json:
        print(json.dumps({"reference": case.reference, "urls": [state.to_json() for state in states]}, indent=2),
              file=out)
        return 0
    print(f"{terminal_text(case.reference)}: {len(states)} address(es), {case.urls_open} not removed", file=out)
    for number, state in enumerate(states, start=1):
        print(f"  {number}. {terminal_text(state.url)}", file=out)
        for line in url_lines(store, state, reference=case.reference):
            print(line, file=out)
    return 0


def record_request(store: Store, reference: str, url: str, *, target: str, name: str, method: str,
                   sent_on: date | None, ticket: str, recheck_days: int, out: TextIO = sys.stdout) -> int:
    reference, url = _pick(store, reference, url)
    store.add_request(reference, url, target=target, target_name=name, method=method,
                      sent_on=sent_on or today(), ticket=ticket, recheck_days=recheck_days)
    state = store.url(url)
    print(f"{terminal_text(reference)}: request to {TARGET_LABELS[target]} recorded for {terminal_text(state.url)}; "
          f"next: {_day(state.next_on)}", file=out)
    return 0


def record_state(store: Store, reference: str, url: str, state: str, *, on: date | None, reason: str,
                 next_on: date | None, out: TextIO = sys.stdout) -> int:
    reference, url = _pick(store, reference, url)
    store.set_url_state(reference, url, state, on=on or today(), reason=reason, next_on=next_on)
    now = store.url(url)
    print(f"{terminal_text(reference)}: {terminal_text(now.url)} is {STATE_LABELS[now.state]}"
          f"{'' if now.state == state else ' (a later change by the team still wins)'}; next: {_day(now.next_on)}",
          file=out)
    return 0


def record_next(store: Store, reference: str, url: str, next_on: date | None, *, out: TextIO = sys.stdout) -> int:
    reference, url = _pick(store, reference, url)
    store.set_url_next(reference, url, next_on)
    print(f"{terminal_text(reference)}: {terminal_text(store.url(url).url)} next: {_day(store.url(url).next_on)}",
          file=out)
    return 0


def assign(store: Store, reference: str, fingerprint: str | None, *, out: TextIO = sys.stdout) -> int:
    case = store.case(reference)
    if case is None:
        raise StaffError(f"no case {terminal_text(reference[:40])!r}: see `safeline-staff cases --search TEXT`")
    store.assign(case.reference, fingerprint)
    print(f"{terminal_text(case.reference)}: given to {_who(store, store.case(case.reference).assignee)}", file=out)
    return 0


def list_due(store: Store, *, on: date | None = None, as_json: bool = False, out: TextIO = sys.stdout) -> int:
    """``due``: the addresses whose next date has come, not removed, of cases not closed."""
    on = on or today()
    states = store.due(on)
    if as_json:
        print(json.dumps({"on": on.isoformat(), "urls": [state.to_json() for state in states]}, indent=2), file=out)
        return 0
    if not states:
        print(f"nothing due on or before {on.isoformat()}", file=out)
        return 0
    for state in states:
        print(f"{_day(state.next_on)}  {terminal_text(state.url)}", file=out)
        print(f"     cases: {', '.join(terminal_text(ref) for ref in state.cases)}", file=out)
        for line in url_lines(store, state):
            print(line, file=out)
    print(f"{len(states)} address(es) due on or before {on.isoformat()}", file=out)
    return 0


# -- the command line --------------------------------------------------------------------------

def _date(text: str) -> date:
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text.strip()):
        raise argparse.ArgumentTypeError(f"{text!r} is not a date YYYY-MM-DD")
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date YYYY-MM-DD") from None


def _date_or_none(text: str) -> date | None:
    return None if text.strip().lower() in ("none", "-") else _date(text)


def _fingerprint(text: str) -> str:
    value = text.replace(" ", "").upper()
    if not re.fullmatch(r"[0-9A-F]{40}|[0-9A-F]{64}", value):
        raise argparse.ArgumentTypeError("not a key fingerprint (40 or 64 hex digits)")
    return value


def _recheck_days(args) -> int:
    return Home(args.home).config().recheck_days


def register(commands) -> None:
    url_help = "an address of the case (as `urls` shows it, or its number there)"
    parser = commands.add_parser("urls", help="a case's addresses: state, next date, requests",
                                 description="A case's addresses with their removal work: state, next date, host, "
                                 f"the requests sent. {PASSPHRASE_HELP}")
    parser.add_argument("reference", metavar="REFERENCE")
    parser.add_argument("--json", action="store_true", help="print JSON for scripts (fields: see staff/cases.py)")
    parser.set_defaults(func=_run(lambda store, args, out: list_urls(store, args.reference, as_json=args.json,
                                                                      out=out)))

    parser = commands.add_parser("request", help="record a removal request sent for an address",
                                 description="Record a removal request you sent for an address of a case: to "
                                 "whom, how, when. The address becomes \"asked\", due again after recheck_days "
                                 f"(config.json). {PASSPHRASE_HELP}")
    parser.add_argument("reference", metavar="REFERENCE")
    parser.add_argument("url", metavar="URL", help=url_help)
    parser.add_argument("--target", required=True, choices=TARGETS, help="to whom it went")
    parser.add_argument("--name", required=True, metavar="NAME", help="their name (e.g. the hosting company)")
    parser.add_argument("--method", required=True, choices=METHODS, help="how it was sent")
    parser.add_argument("--on", type=_date, metavar="DATE", help="the day it was sent (default: today)")
    parser.add_argument("--ticket", default="", metavar="TICKET", help="their ticket or case number")
    parser.set_defaults(func=_run(lambda store, args, out: record_request(
        store, args.reference, args.url, target=args.target, name=args.name, method=args.method, sent_on=args.on,
        ticket=args.ticket, recheck_days=_recheck_days(args), out=out)))

    parser = commands.add_parser("state", help="record what became of an address",
                                 description="Record what became of an address: " + ", ".join(URL_STATES)
                                 + f". {PASSPHRASE_HELP}")
    parser.add_argument("reference", metavar="REFERENCE")
    parser.add_argument("url", metavar="URL", help=url_help)
    parser.add_argument("state", choices=URL_STATES, metavar="STATE", help=", ".join(URL_STATES))
    parser.add_argument("--on", type=_date, metavar="DATE", help="the day it was found so (default: today)")
    parser.add_argument("--reason", default="", metavar="TEXT", help="why (a refusal's reason)")
    parser.add_argument("--next", type=_date, metavar="DATE", help="when to look again (default: no date)")
    parser.set_defaults(func=_run(lambda store, args, out: record_state(
        store, args.reference, args.url, args.state, on=args.on, reason=args.reason, next_on=args.next, out=out)))

    parser = commands.add_parser("next", help="set when to look at an address again",
                                 description=f"Set an address's next date (or none). {PASSPHRASE_HELP}")
    parser.add_argument("reference", metavar="REFERENCE")
    parser.add_argument("url", metavar="URL", help=url_help)
    parser.add_argument("date", type=_date_or_none, metavar="DATE", help="YYYY-MM-DD, or none")
    parser.set_defaults(func=_run(lambda store, args, out: record_next(store, args.reference, args.url, args.date,
                                                                        out=out)))

    parser = commands.add_parser("assign", help="give a case to a member of staff",
                                 description=f"Give a case to a member of staff (by key fingerprint), to yourself, "
                                 f"or to nobody. {PASSPHRASE_HELP}")
    parser.add_argument("reference", metavar="REFERENCE")
    who = parser.add_mutually_exclusive_group(required=True)
    who.add_argument("--me", action="store_true", help="to yourself")
    who.add_argument("--to", type=_fingerprint, metavar="FINGERPRINT", help="to this staff member's key")
    who.add_argument("--nobody", action="store_true", help="to nobody")
    parser.set_defaults(func=_run(lambda store, args, out: assign(
        store, args.reference, store.author if args.me else args.to, out=out)))

    parser = commands.add_parser("due", help="the addresses whose next date has come",
                                 description="The addresses whose next date is today or earlier (or --on), not "
                                 f"removed, of cases not closed; earliest first. {PASSPHRASE_HELP}")
    parser.add_argument("--on", type=_date, metavar="DATE", help="as on that day (default: today)")
    parser.add_argument("--json", action="store_true", help="print JSON for scripts (fields: see staff/cases.py)")
    parser.set_defaults(func=_run(lambda store, args, out: list_due(store, on=args.on, as_json=args.json, out=out)))

