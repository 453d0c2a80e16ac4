"""Who hosts a URL: a suggestion from DNS and RDAP that a staff member confirms.

Only when a staff member asks (``safeline-staff lookup URL``; the command's help and output say
that it contacts the internet from their computer): nothing here runs by itself. The lookup:

1. the URL's host, parsed as browsers do (``ada-url``); an IP address is used as it is, a name
   is resolved by the computer's own resolver (``socket.getaddrinfo``);
2. the network of the first address (IPv4 first), from the regional registry that holds it
   (RDAP, ``staff.rdap``): its holder, its country and its handle;
3. the registered domain of the name and its registrar, from the domain's registry (RDAP). Which
   part of the name is registered (``example.co.jp`` of ``www.example.co.jp``) the registry
   itself says: the kit asks for the shortest names first (``co.jp``, then ``example.co.jp``) and
   keeps the first it holds, so no copy of the Public Suffix List has to be shipped and kept
   up to date, and the registry learns no more of the host name than the registered domain.

Each part that fails is named in ``Lookup.problems`` (one line each) and the others still
count; when nothing at all is found, ``lookup`` raises the ``HostingError``.

The result is the data of the ``url_host`` event (``store.set_url_host(ref, url, host)``) once
the staff member confirms it: a dict of JSON values,

- ``addresses``: the host's IP addresses (texts; IPv4 first; at most 16), ``[]`` when the name
  does not resolve;
- ``network``: ``{"holder", "country", "handle", "name", "abuse_email", "rdap_url"}`` or None:
  the holder is the network's registrant's name (vCard ``fn``), or the first line of its
  "description" remark (APNIC, JPNIC); ``country`` the network's two-letter country code (for
  a network without one, as ARIN's are, its registrant's address's country); ``name``
  the network's name (e.g. ``EXAMPLE-NET``); ``abuse_email`` its abuse contact; ``rdap_url`` where
  the registry's answer came from. Any of them may be None (what the registry did not say);
- ``registrar``: ``{"name", "abuse_email", "rdap_url"}`` or None;
- ``domain``: the registered domain the registrar was found for (``example.co.jp`` for
  ``www.example.co.jp``) or None (an IP address, a one-label name, nothing found);
- ``overseas``: True when the network's country is not JP, False when it is, None when unknown:
  what "domestic or overseas" in the statistics counts;
- ``looked_up_at``: when, ISO 8601 with the offset (Japan time).

``safeline-staff lookup URL`` prints the suggestion (``--json``: ``{"host", "problems",
"notes"}``); with ``--save REFERENCE`` it first checks that the case holds that URL (before
anything goes out), then asks the staff member to confirm (or ``--yes``) and keeps it with the
URL: ``store.set_url_host``, a ``url_host`` event the team gets with the next sync.

``summary(host)`` makes one line of it for lists ("Example Hosting K.K. (JP), registrar …").

The texts come from the internet: each is a single line (names at most 200 characters, e-mail
addresses 254, URLs 500; longer URLs are dropped); show them
as untrusted (``staff.casework.terminal_text``).
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import re
import socket
import sys
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import TextIO

import ada_url

from .casework import japan_time, terminal_text
from .events import canonical_url
from .home import Home
from .problems import StaffError
from .rdap import CACHE_FOLDER, TIMEOUT, Client, RdapError
from .setup import PASSPHRASE_HELP, open_store

JAPAN = timezone(timedelta(hours=9), "JST")
MAX_ADDRESSES = 16
INTERNET_NOTE = ("This contacts the internet from this computer: your DNS resolver, IANA and the "
                 "registries (RDAP) see which host is looked up.")


_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:(?![0-9])")


class HostingError(StaffError):
    """A lookup that found nothing."""


@dataclass
class Lookup:
    host: dict                                              # the url_host event's data
    problems: list[str] = field(default_factory=list)       # what could not be found, one line each
    notes: list[str] = field(default_factory=list)          # what to know (an old bootstrap copy used)

    def to_json(self) -> dict:
        return {"host": self.host, "problems": self.problems, "notes": self.notes}


def host_of_url(url: str) -> str:
    """The host of ``url`` as a browser reads it: a lower-case A-label name or an IP address
    (IPv6 without brackets). A URL typed without its scheme is read as ``http://``."""
    text = (url or "").strip()
    # "example.com/x" and "localhost:8080/x" were typed without a scheme; "mailto:…" has one.
    if "://" not in text and not _SCHEME.match(text):
        text = "http://" + text
    try:
        parsed = ada_url.URL(text)
    except ValueError:
        parsed = None
    if parsed is None or not parsed.hostname:
        raise HostingError("not a web address with a host name: check the URL")
    host = parsed.hostname
    return host[1:-1] if host.startswith("[") and host.endswith("]") else host


def ip_literal(host: str) -> str | None:
    try:
        return ipaddress.ip_address(host).compressed
    except ValueError:
        return None


def resolve(name: str, *, timeout: float = TIMEOUT, getaddrinfo=socket.getaddrinfo) -> list[str]:
    """The addresses of ``name`` from the computer's resolver (IPv4 first, no repeats), within
    ``timeout`` seconds (``getaddrinfo`` has no timeout of its own: it runs in a thread)."""
    result: dict = {}

    def work():
        try:
            result["infos"] = getaddrinfo(name, None, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError) as error:
            result["error"] = error

    thread = threading.Thread(target=work, daemon=True, name="safeline-staff-dns")
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise HostingError(f"DNS did not answer in {timeout:g} s: check the internet connection")
    if "error" in result:
        raise HostingError("the name does not resolve in DNS (no address): the site may be gone, "
                           "or this computer is offline")
    found: list[str] = []
    for info in result.get("infos") or []:
        try:
            address = ipaddress.ip_address(info[4][0].split("%")[0]).compressed
        except (ValueError, IndexError, TypeError, AttributeError):
            continue
        if address not in found:
            found.append(address)
    return sorted(found, key=lambda text: ":" in text)[:MAX_ADDRESSES]


def overseas(country: str | None) -> bool | None:
    return None if country is None else country != "JP"


def lookup(url: str, home: Home, *, timeout: float = TIMEOUT, now: datetime | None = None,
           resolver=None) -> Lookup:
    """Look up who hosts ``url`` (DNS, then RDAP); the bootstrap files are cached in ``home``'s
    folder. ``resolver(name) -> [addresses]`` stands in for DNS (tests)."""
    config = home.config()
    client = Client(config.rdap_bootstrap, home.folder / CACHE_FOLDER, timeout=timeout, now=now)
    host = host_of_url(url)
    problems: list[str] = []
    literal = ip_literal(host)
    if literal:
        addresses = [literal]
    else:
        try:
            addresses = (resolver or (lambda name: resolve(name, timeout=timeout)))(host)
        except StaffError as error:
            addresses = []
            problems.append(f"addresses: {error}")
        if not addresses and not problems:
            problems.append("addresses: the name does not resolve in DNS (no address)")
    network = None
    if addresses:
        try:
            network = client.ip_network(addresses[0])
        except RdapError as error:
            problems.append(f"network: {error}")
    domain = registrar = None
    if not literal:
        if "." not in host.strip("."):
            problems.append("registrar: a name of one label has no registry")
        else:
            try:
                domain, registrar = client.domain(host)
                if registrar is None:
                    problems.append("registrar: the registry's answer names no registrar")
            except RdapError as error:
                problems.append(f"registrar: {error}")
    if network is None and domain is None:
        raise HostingError("nothing found: " + "; ".join(problems))
    moment = (now or datetime.now(timezone.utc)).astimezone(JAPAN)
    data = {
        "addresses": addresses,
        "network": network,
        "registrar": registrar,
        "domain": domain,
        "overseas": overseas(network["country"] if network else None),
        "looked_up_at": moment.isoformat(timespec="seconds"),
    }
    return Lookup(data, problems, client.notes)


def summary(host) -> str:
    """One line for a confirmed host (a ``UrlState.host_info``, from any kit's event: read
    defensively): "network holder (country), registrar NAME (domain)"; what is missing is left
    out. Not escaped: show it through ``terminal_text`` or a template."""
    if not isinstance(host, dict):
        return ""
    parts = []
    network = host.get("network") if isinstance(host.get("network"), dict) else {}
    holder, country = network.get("holder"), network.get("country")
    if isinstance(holder, str) and holder:
        parts.append(holder + (f" ({country})" if isinstance(country, str) and country else ""))
    elif isinstance(country, str) and country:
        parts.append(f"a network in {country}")
    registrar = host.get("registrar") if isinstance(host.get("registrar"), dict) else {}
    name, domain = registrar.get("name"), host.get("domain")
    if isinstance(name, str) and name:
        parts.append(f"registrar {name}" + (f" ({domain})" if isinstance(domain, str) and domain else ""))
    return ", ".join(parts)


# -- the command -----------------------------------------------------------------------------------

def _show(value) -> str:
    return "not given" if value is None else terminal_text(value)


def print_lookup(url: str, found: Lookup, *, out: TextIO | None = None) -> None:
    """The suggestion for people: what was found, and what was not."""
    host = found.host
    out = out or sys.stdout

    def write(*parts):
        print(*parts, file=out)

    write("A suggestion from DNS and the registries (RDAP): check it before you keep it.")
    write(f"URL:          {terminal_text(url.strip())}")
    write(f"Addresses:    {', '.join(host['addresses']) or '(none)'}")
    network = host["network"]
    if network:
        write(f"Network:      {_show(network['holder'])}, country {_show(network['country'])}")
        write(f"  name:       {_show(network['name'])} (handle {_show(network['handle'])})")
        if network["abuse_email"]:
            write(f"  abuse:      {_show(network['abuse_email'])}")
        write(f"  RDAP:       {_show(network['rdap_url'])}")
    else:
        write("Network:      (not found)")
    registrar = host["registrar"]
    if registrar:
        write(f"Registrar:    {_show(registrar['name'])} (domain {_show(host['domain'])})")
        if registrar["abuse_email"]:
            write(f"  abuse:      {_show(registrar['abuse_email'])}")
        write(f"  RDAP:       {_show(registrar['rdap_url'])}")
    elif ip_literal(host_of_url(url)):
        write("Registrar:    (none: the URL's host is an IP address)")
    else:
        domain = f" (domain {_show(host['domain'])})" if host["domain"] else ""
        write(f"Registrar:    (not found){domain}")
    where = {True: "overseas", False: "domestic (Japan)", None: "unknown"}[host["overseas"]]
    write(f"Hosted:       {where}")
    write(f"Looked up:    {japan_time(datetime.fromisoformat(host['looked_up_at']))} (JST)")
    for problem in found.problems:
        write(f"Not found:    {terminal_text(problem)}")
    for note in found.notes:
        write(f"Note:         {terminal_text(note)}")


def run_lookup(args: argparse.Namespace, *, confirm=None) -> int:
    home = Home(args.home)
    store = None
    if args.save:
        if not args.yes and not (confirm or sys.stdin.isatty()):
            raise HostingError("--save asks you to confirm what was found: run it in a terminal, or add --yes")
        # The case and its URL are checked before anything goes out to the internet.
        store = open_store(home)
    try:
        url = args.url
        if store is not None:
            url = _url_of_case(store, args.save, args.url)
        if not args.json:
            print(INTERNET_NOTE, file=sys.stderr)
        found = lookup(url, home)
        if args.json:
            print(json.dumps(found.to_json(), indent=2, ensure_ascii=True))
        else:
            print_lookup(url, found)
        if store is None:
            return 0
        return save(store, args.save, url, found, yes=args.yes, confirm=confirm or _ask)
    finally:
        if store is not None:
            store.close()


def _url_of_case(store, reference: str, url: str) -> str:
    """The case's own form of ``url`` (canonical, as events carry it); a StaffError when the
    case does not hold it."""
    case = store.case(reference)
    if case is None:
        raise HostingError("no such case: check the reference (`safeline-staff cases` lists them)")
    wanted = canonical_url(url)
    for held in case.urls:
        if canonical_url(held.url) == wanted:
            return wanted
    raise HostingError("the case holds no such URL: give it as `safeline-staff show` lists it")


def _ask(question: str) -> bool:
    # The question goes to stderr: with --json, stdout holds only the JSON.
    print(question, end="", file=sys.stderr, flush=True)
    answer = sys.stdin.readline()
    return answer.strip().lower() in ("y", "yes")


def save(store, reference: str, url: str, found: Lookup, *, yes: bool = False, confirm=_ask) -> int:
    """``--save REF``: keep the suggestion with the URL (a ``url_host`` event for the team),
    once the staff member confirms it."""
    if not yes and not confirm("Keep this as the URL's host? [y/N] "):
        print("not kept", file=sys.stderr)
        return 0
    case = store.case(reference)
    store.set_url_host(case.reference, url, found.host)
    print(f"kept with the URL in {terminal_text(case.reference)}", file=sys.stderr)
    return 0


def register(commands) -> None:
    parser = commands.add_parser(
        "lookup", help="who hosts a URL (DNS and RDAP): contacts the internet from this computer",
        description="Look up who hosts a URL: its addresses (DNS), the network that holds them and "
                    "its country, and the domain's registrar (RDAP, via IANA's bootstrap files, cached "
                    "in the kit's folder). " + INTERNET_NOTE + " The result is a suggestion: check it.")
    parser.add_argument("url", help="the URL (as reported)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument("--save", metavar="REFERENCE",
                        help="keep the result with this URL of the case REFERENCE once you confirm it (the team "
                        f"gets it with the next sync). {PASSPHRASE_HELP}")
    parser.add_argument("--yes", action="store_true", help="with --save: keep it without asking")
    parser.set_defaults(func=run_lookup)
