"""RDAP, the registries' answer to "who holds this address, this domain": the protocol side of
``staff.hosting``.

Only a staff member's explicit request runs any of this (``safeline-staff lookup``): it
contacts the internet from their computer. Nothing here runs by itself.

- **Bootstrap** (RFC 9224): IANA's files ``dns.json``, ``ipv4.json`` and ``ipv6.json`` say which
  registry's RDAP server answers for a top-level domain or an address block. They are read from
  ``Config.rdap_bootstrap`` and kept in the kit's folder (``rdap-bootstrap/``: the three files
  as fetched and ``state.json``: when each was fetched, until when it is fresh, its ``ETag`` and
  ``Last-Modified``). A file is fresh for what its HTTP caching headers say (``Cache-Control:
  max-age``, else ``Expires``; at most a week) or, without them, for a day; then it is asked for
  again, conditionally (``If-None-Match``, ``If-Modified-Since``: a ``304`` keeps the copy).
  When the registry cannot be reached the old copy is used, and a note says so. These files
  are public data: nothing of a case is ever written there (RDAP answers are not cached).
- **Queries** (RFC 7482/9082): ``ip/ADDRESS`` and ``domain/NAME`` at the base URL the bootstrap
  gives. Redirects (RFC 7480 §5.2: a registry sends the client on to the one that holds the
  data, as APNIC does for JPNIC's addresses) are followed, at most ``MAX_REDIRECTS``, and only to
  ``https://`` addresses (``http://127.0.0.1`` only when the bootstrap itself is there: the
  tests' local server). Each answer must come within ``timeout`` seconds (10) and be at most
  ``ANSWER_LIMIT`` bytes. No proxy is used.
- **Answers** (RFC 9083) come from the internet: untrusted. They are read defensively (any
  field may be missing, of another type, or absurdly long) and only a few short texts are
  kept (``network_of``, ``registrar_of``).

Every failure is an ``RdapError`` (a ``StaffError``) of one line that names the registry's host
at most, never the address or name looked up.
"""

from __future__ import annotations

import http.client
import ipaddress
import json
import os
import re
import socket
import ssl
import time
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from pathlib import Path
from urllib.parse import urljoin, urlsplit

from .problems import StaffError

BOOTSTRAP_FILES = ("dns.json", "ipv4.json", "ipv6.json")
CACHE_FOLDER = "rdap-bootstrap"
TIMEOUT = 10.0
ANSWER_LIMIT = 1 << 20          # 1 MiB: a registry's answer about one network or domain is a few KB
BOOTSTRAP_LIMIT = 4 << 20       # dns.json is some 100 KB
MAX_REDIRECTS = 3
FRESH_DEFAULT = timedelta(days=1)
FRESH_MOST = timedelta(days=7)
MAX_DOMAIN_QUERIES = 4
TEXT_LIMIT = 200
URL_LIMIT = 500                 # a longer address (after a registry's redirects) is not kept
USER_AGENT = "safeline-staff (RDAP)"
ACCEPT = "application/rdap+json, application/json;q=0.9"
REDIRECTS = (301, 302, 303, 307, 308)
JAPAN = timezone(timedelta(hours=9), "JST")

_LDH = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
_EMAIL = re.compile(r"^[^\s@<>()\[\],;:\"\\]{1,64}@[A-Za-z0-9.-]{1,253}$")
_COUNTRY = re.compile(r"^[A-Z]{2}$")


class RdapError(StaffError):
    """A lookup that could not be done; the message is one line and names no looked-up value."""


class NotFound(RdapError):
    """The registry answered that it holds no such object (HTTP 404)."""


class BadQuery(RdapError):
    """The registry refused the query itself (HTTP 400, 422): for a domain, a name it does not
    register at all (a second-level suffix such as ``ne.jp`` may be answered so)."""


@dataclass(frozen=True)
class Answer:
    url: str          # where the answer finally came from (after redirects)
    status: int
    headers: dict     # lower-case names
    body: bytes


# -- text from the network ----------------------------------------------------------------------

def clean_text(value, limit: int = TEXT_LIMIT) -> str | None:
    """A short single-line text from an answer, or None: only strings; control and format
    characters become spaces, runs of white space one space; cut at ``limit`` characters."""
    if not isinstance(value, str):
        return None
    chars = []
    for char in value[: limit * 4]:
        category = unicodedata.category(char)
        chars.append(" " if category[0] in ("C", "Z") else char)
    text = " ".join("".join(chars).split())
    return text[:limit] or None


def clean_email(value) -> str | None:
    text = clean_text(value, 254)
    if text and text.lower().startswith("mailto:"):
        text = text[7:]
    return text if text and _EMAIL.match(text) else None


def clean_country(value) -> str | None:
    if not isinstance(value, str):
        return None
    code = value.strip().upper()
    return code if _COUNTRY.match(code) else None


def _list(value) -> list:
    return value if isinstance(value, list) else []


def _roles(entity: dict) -> set[str]:
    return {role.lower() for role in _list(entity.get("roles")) if isinstance(role, str)}


def vcard_values(entity, name: str) -> list:
    """The values of the vCard property ``name`` (jCard, RFC 7095) of an RDAP entity."""
    if not isinstance(entity, dict):
        return []
    card = entity.get("vcardArray")
    if not (isinstance(card, list) and len(card) == 2 and card[0] == "vcard"):
        return []
    values = []
    for prop in _list(card[1]):
        if isinstance(prop, list) and len(prop) >= 4 and isinstance(prop[0], str) and prop[0].lower() == name:
            values.append(prop[3])
    return values


def _first(values, clean) -> str | None:
    for value in values:
        if (found := clean(value)) is not None:
            return found
    return None


def entities_with_role(obj, role: str, *, depth: int = 2) -> list[dict]:
    """Entities of ``obj`` (and of its entities, to ``depth`` levels) that have ``role``."""
    found, level = [], [obj]
    for _ in range(depth):
        following = []
        for holder in level:
            if not isinstance(holder, dict):
                continue
            for entity in _list(holder.get("entities"))[:100]:
                if isinstance(entity, dict):
                    if role in _roles(entity):
                        found.append(entity)
                    following.append(entity)
        level = following
    return found


def _name_of(entity) -> str | None:
    return _first(vcard_values(entity, "fn"), clean_text) or _first(vcard_values(entity, "org"), _org)


def _org(value) -> str | None:
    # jCard's org is a text or a list of texts (the organisation and its units).
    if isinstance(value, list):
        value = " ".join(part for part in value if isinstance(part, str))
    return clean_text(value)


def _abuse_email(obj) -> str | None:
    for entity in entities_with_role(obj, "abuse", depth=3):
        if email := _first(vcard_values(entity, "email"), clean_email):
            return email
    return None


def _description(obj) -> str | None:
    # APNIC and the NIRs behind it (JPNIC) put the holder's name in the "description" remark.
    for remark in _list(obj.get("remarks")):
        if isinstance(remark, dict) and str(remark.get("title", "")).strip().lower() == "description":
            if text := _first(_list(remark.get("description")), clean_text):
                return text
    return None


# Country names as registries write them at the end of an address (ARIN's networks carry no
# ``country``: their holder's vCard address ends with its name). Only what "domestic or
# overseas" needs and ARIN's region; any other name leaves the country unknown.
COUNTRY_NAMES = {"japan": "JP", "日本": "JP", "united states": "US", "united states of america": "US",
                 "canada": "CA"}


def _address_country(entity) -> str | None:
    """The country of an entity's vCard address: its ``cc`` parameter (RFC 8605), its
    country-name component, or the last line of its label, when that is a code or a known name."""
    card = entity.get("vcardArray") if isinstance(entity, dict) else None
    if not (isinstance(card, list) and len(card) == 2):
        return None
    for prop in _list(card[1]):
        if not (isinstance(prop, list) and len(prop) >= 4 and prop[0] == "adr"):
            continue
        params = prop[1] if isinstance(prop[1], dict) else {}
        candidates = [params.get("cc")]
        if isinstance(prop[3], list) and len(prop[3]) == 7:
            candidates.append(prop[3][6])
        label = params.get("label")
        if isinstance(label, str):
            lines = [line for line in label.replace("\\n", "\n").split("\n") if line.strip()]
            candidates.append(lines[-1] if lines else None)
        for candidate in candidates:
            if not isinstance(candidate, str):
                continue
            code = COUNTRY_NAMES.get(" ".join(candidate.split()).lower()) or clean_country(candidate)
            if code:
                return code
    return None


def network_of(obj, url: str) -> dict:
    """The ``network`` part of a host from an IP network object (RFC 9083 §5.4)."""
    if not isinstance(obj, dict) or obj.get("objectClassName") != "ip network":
        raise RdapError(f"the registry at {host_of(url)} did not answer with an IP network")
    registrants = entities_with_role(obj, "registrant", depth=1)
    holder = _first(registrants, _name_of) or _description(obj)
    country = clean_country(obj.get("country")) or _first(registrants, _address_country)
    return {
        "holder": holder,
        "country": country,
        "handle": clean_text(obj.get("handle")),
        "name": clean_text(obj.get("name")),
        "abuse_email": _abuse_email(obj),
        "rdap_url": _kept_url(url),
    }


def registrar_of(obj, url: str) -> dict | None:
    """The ``registrar`` part of a host from a domain object (RFC 9083 §5.3): its entity with
    the role ``registrar``; None when it names none."""
    if not isinstance(obj, dict) or obj.get("objectClassName") != "domain":
        raise RdapError(f"the registry at {host_of(url)} did not answer with a domain")
    registrars = entities_with_role(obj, "registrar", depth=1)
    if not registrars:
        return None
    entity = registrars[0]
    return {
        "name": _name_of(entity) or clean_text(entity.get("handle")),
        "abuse_email": _abuse_email(entity),
        "rdap_url": _kept_url(url),
    }


def _kept_url(url: str) -> str | None:
    return url if len(url) <= URL_LIMIT and clean_text(url, URL_LIMIT) == url else None


# -- HTTP -----------------------------------------------------------------------------------------

def host_of(url: str) -> str:
    try:
        parts = urlsplit(url)
        return parts.netloc.rpartition("@")[2] or "?"
    except ValueError:
        return "?"


def _is_loopback_http(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme == "http" and parts.hostname == "127.0.0.1"


class Client:
    """RDAP for one lookup: the bootstrap cache in ``cache_folder`` and the queries.

    ``notes`` collects what the staff member should know though nothing failed (an old
    bootstrap copy used while offline)."""

    def __init__(self, bootstrap: str, cache_folder: Path, *, timeout: float = TIMEOUT,
                 now: datetime | None = None):
        parts = urlsplit(bootstrap)
        self.allow_loopback_http = _is_loopback_http(bootstrap)
        if parts.scheme != "https" and not self.allow_loopback_http:
            raise RdapError('"rdap_bootstrap" in config.json must be an https:// address')
        self.bootstrap_url = bootstrap if bootstrap.endswith("/") else bootstrap + "/"
        self.cache_folder = Path(cache_folder)
        self.timeout = timeout
        self.now = now
        self.notes: list[str] = []
        self._services: dict[str, list] = {}

    def _now(self) -> datetime:
        return self.now or datetime.now(timezone.utc)

    def _allowed(self, url: str) -> bool:
        try:
            parts = urlsplit(url)
            parts.port  # noqa: B018 - a bad port raises here
        except ValueError:
            return False
        if not parts.hostname:
            return False
        return parts.scheme == "https" or (self.allow_loopback_http and _is_loopback_http(url))

    # one request, no redirect
    def _request(self, url: str, limit: int, headers: dict) -> Answer:
        parts = urlsplit(url)
        deadline = time.monotonic() + self.timeout
        where = host_of(url)
        if parts.scheme == "https":
            connection = http.client.HTTPSConnection(parts.hostname, parts.port, timeout=self.timeout,
                                                     context=ssl.create_default_context())
        else:
            connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=self.timeout)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        try:
            connection.request("GET", path, headers={"Accept": ACCEPT, "User-Agent": USER_AGENT, **headers})
            _remaining(deadline, connection)
            response = connection.getresponse()
            length = response.getheader("Content-Length")
            if length and length.strip().isdigit() and int(length) > limit:
                raise RdapError(f"the answer of {where} is larger than {_size(limit)}: not read")
            chunks, size = [], 0
            while True:
                _remaining(deadline, connection)
                chunk = response.read1(65536)  # one receive: the deadline is checked between them
                if not chunk:
                    break
                size += len(chunk)
                if size > limit:
                    raise RdapError(f"the answer of {where} is larger than {_size(limit)}: not read")
                chunks.append(chunk)
            return Answer(url, response.status, {k.lower(): v for k, v in response.getheaders()}, b"".join(chunks))
        except (TimeoutError, socket.timeout):
            raise RdapError(f"the registry at {where} did not answer in {self.timeout:g} s; try again later") \
                from None
        except ssl.SSLError:
            raise RdapError(f"the registry at {where} did not prove who it is (TLS): not trusted") from None
        except (OSError, http.client.HTTPException):
            raise RdapError(f"the registry at {where} could not be reached: check the internet connection") \
                from None
        finally:
            connection.close()

    def get(self, url: str, *, limit: int = ANSWER_LIMIT, headers: dict | None = None) -> Answer:
        """GET ``url``, following redirects to https only; the final answer (any status but a
        redirect)."""
        for _ in range(MAX_REDIRECTS + 1):
            if not self._allowed(url):
                raise RdapError(f"a registry sent the lookup to an address that is not https ({host_of(url)}): "
                                "not followed")
            answer = self._request(url, limit, headers or {})
            if answer.status not in REDIRECTS:
                return answer
            location = answer.headers.get("location")
            if not location:
                raise RdapError(f"the registry at {host_of(url)} redirected without saying where")
            url = urljoin(url, location.strip())
        raise RdapError(f"the registries redirected more than {MAX_REDIRECTS} times: lookup stopped")

    def get_json(self, url: str) -> tuple[str, dict]:
        """The RDAP object at ``url`` (after redirects) and where it came from."""
        answer = self.get(url)
        where = host_of(answer.url)
        if answer.status == 404:
            raise NotFound(f"the registry at {where} has no record of it")
        if answer.status in (400, 422):
            raise BadQuery(f"the registry at {where} refused the query (HTTP {answer.status})")
        if answer.status == 429:
            raise RdapError(f"the registry at {where} asks to wait (too many lookups): try again later")
        if answer.status != 200:
            raise RdapError(f"the registry at {where} answered HTTP {answer.status}: try again later")
        return answer.url, parse_json(answer.body, where)

    # -- bootstrap ----------------------------------------------------------------------------------

    def services(self, name: str) -> list:
        """The ``services`` of the bootstrap file ``name`` (fresh, refreshed, or an old copy)."""
        if name not in self._services:
            self._services[name] = self._bootstrap(name)
        return self._services[name]

    def _state(self) -> dict:
        try:
            state = json.loads((self.cache_folder / "state.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        if not isinstance(state, dict) or state.get("source") != self.bootstrap_url:
            return {}
        files = state.get("files")
        return files if isinstance(files, dict) else {}

    def _save_state(self, files: dict) -> None:
        _write(self.cache_folder / "state.json",
               json.dumps({"source": self.bootstrap_url, "files": files}, indent=2).encode())

    def _cached(self, name: str) -> list | None:
        try:
            return parse_bootstrap((self.cache_folder / name).read_bytes())
        except (OSError, RdapError):
            return None

    def _bootstrap(self, name: str) -> list:
        now = self._now()
        files = self._state()
        entry = files.get(name) if isinstance(files.get(name), dict) else None
        cached = self._cached(name) if entry else None
        if cached is not None and _time(entry.get("fresh_until")) and now < _time(entry["fresh_until"]):
            return cached
        headers = {}
        if cached is not None:
            if isinstance(entry.get("etag"), str):
                headers["If-None-Match"] = entry["etag"]
            if isinstance(entry.get("last_modified"), str):
                headers["If-Modified-Since"] = entry["last_modified"]
        try:
            answer = self.get(self.bootstrap_url + name, limit=BOOTSTRAP_LIMIT, headers=headers)
            if answer.status == 304 and cached is not None:
                services = cached
            elif answer.status == 200:
                services = parse_bootstrap(answer.body, host_of(answer.url))
                _write(self.cache_folder / name, answer.body)
            else:
                raise RdapError(f"{host_of(answer.url)} answered HTTP {answer.status}")
        except RdapError as error:
            if cached is None:
                raise RdapError(f"the RDAP bootstrap file {name} could not be fetched ({error}); "
                                "check the internet connection") from None
            fetched = _time(entry.get("fetched_at"))
            when = fetched.astimezone(JAPAN).strftime("%Y-%m-%d %H:%M") if fetched else "an earlier day"
            self.notes.append(f"the RDAP bootstrap file {name} could not be refreshed ({error}); "
                              f"used the copy of {when} (JST)")
            return cached
        files[name] = {
            "fetched_at": now.isoformat(timespec="seconds") if answer.status == 200 else entry.get("fetched_at"),
            "fresh_until": (now + freshness(answer.headers, now)).isoformat(timespec="seconds"),
            "etag": answer.headers.get("etag") or (entry or {}).get("etag"),
            "last_modified": answer.headers.get("last-modified") or (entry or {}).get("last_modified"),
        }
        self._save_state(files)
        return services

    def _base(self, urls: list) -> str | None:
        candidates = [url for url in urls if isinstance(url, str)]
        for url in sorted(candidates, key=lambda url: not url.startswith("https://")):
            if self._allowed(url):
                return url if url.endswith("/") else url + "/"
        return None

    def server_for_address(self, address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
        name = "ipv4.json" if address.version == 4 else "ipv6.json"
        best, best_length = None, -1
        for entries, urls in self.services(name):
            for entry in entries:
                try:
                    network = ipaddress.ip_network(entry, strict=False)
                except ValueError:
                    continue
                if network.version == address.version and address in network and network.prefixlen > best_length:
                    base = self._base(urls)
                    if base:
                        best, best_length = base, network.prefixlen
        if best is None:
            kind = "a public address" if address.is_global else "not a public address"
            raise RdapError(f"no RDAP server for this address ({kind})")
        return best

    def server_for_domain(self, name: str) -> tuple[str, int]:
        """The base URL for ``name`` and how many labels its bootstrap entry has (1 for a TLD)."""
        labels = name.split(".")
        best, best_labels = None, 0
        for entries, urls in self.services("dns.json"):
            for entry in entries:
                entry_labels = entry.lower().rstrip(".").split(".")
                size = len(entry_labels)
                if size <= len(labels) and labels[-size:] == entry_labels and size > best_labels:
                    base = self._base(urls)
                    if base:
                        best, best_labels = base, size
        if best is None:
            raise RdapError(f"no RDAP server for .{labels[-1]}: look the domain up on its registry's website")
        return best, best_labels

    # -- lookups ------------------------------------------------------------------------------------

    def ip_network(self, address: str) -> dict:
        """The network holding ``address`` (an IP address text)."""
        parsed = ipaddress.ip_address(address)
        base = self.server_for_address(parsed)
        try:
            url, obj = self.get_json(base + "ip/" + parsed.compressed)
        except NotFound:
            raise NotFound("the registry has no network for this address") from None
        return network_of(obj, url)

    def domain(self, hostname: str) -> tuple[str, dict | None]:
        """The registered domain of ``hostname`` (an A-label host name) and its registrar.

        Without the Public Suffix List, the registry itself says which name is registered: the
        names ending ``hostname`` are asked for from the shortest one under the bootstrap entry
        (``example.com`` for ``www.example.com``; ``co.jp``, then ``example.co.jp`` for
        ``www.example.co.jp``) until the registry knows one, at most ``MAX_DOMAIN_QUERIES``. So
        the registry learns no more of the host name than the registered domain."""
        name = hostname.lower().rstrip(".")
        labels = name.split(".")
        if len(labels) < 2 or not all(_LDH.match(label) for label in labels):
            raise RdapError("no domain to look up: the host is not a registered domain name")
        base, entry_labels = self.server_for_domain(name)
        for size in range(entry_labels + 1, min(len(labels), entry_labels + MAX_DOMAIN_QUERIES) + 1):
            candidate = ".".join(labels[-size:])
            try:
                url, obj = self.get_json(base + "domain/" + candidate)
            except (NotFound, BadQuery):
                continue
            return candidate, registrar_of(obj, url)
        raise NotFound("the registry has no record of this domain")


def parse_json(body: bytes, where: str):
    try:
        value = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise RdapError(f"the answer of {where} is not RDAP (not JSON)") from None
    if not isinstance(value, dict):
        raise RdapError(f"the answer of {where} is not RDAP (not a JSON object)")
    return value


def parse_bootstrap(body: bytes, where: str = "the cache") -> list:
    """RFC 9224's ``services``: a list of [entries, URLs]; malformed services are skipped."""
    data = parse_json(body, where)
    services = data.get("services")
    if not isinstance(services, list):
        raise RdapError(f"the RDAP bootstrap file from {where} has no services")
    found = []
    for service in services:
        if isinstance(service, list) and len(service) >= 2:
            entries = [entry for entry in _list(service[-2]) if isinstance(entry, str)]
            urls = [url for url in _list(service[-1]) if isinstance(url, str)]
            if entries and urls:
                found.append((entries, urls))
    return found


def freshness(headers: dict, now: datetime) -> timedelta:
    """How long a bootstrap file stays fresh: ``Cache-Control: max-age``, else ``Expires``,
    else a day; never more than a week."""
    control = headers.get("cache-control", "")
    for directive in control.split(","):
        key, _, value = directive.strip().partition("=")
        if key.lower() in ("no-cache", "no-store"):
            return timedelta(0)
        if key.lower() == "max-age" and value.strip().strip('"').isdigit():
            return min(timedelta(seconds=int(value.strip().strip('"'))), FRESH_MOST)
    if expires := headers.get("expires"):
        try:
            moment = parsedate_to_datetime(expires)
        except (TypeError, ValueError, IndexError):
            return timedelta(0)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=timezone.utc)
        return max(timedelta(0), min(moment - now, FRESH_MOST))
    return FRESH_DEFAULT


def _size(limit: int) -> str:
    return f"{limit // (1 << 20)} MB" if limit >= 1 << 20 else f"{limit // 1024} KB"


def _remaining(deadline: float, connection) -> None:
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError
    if connection.sock is not None:
        connection.sock.settimeout(left)


def _time(value) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo else None


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_bytes(data)
    os.replace(partial, path)
