"""RELAY_* environment variables → checked settings; fail closed.

Every problem is reported at once, one line each, naming the variable and what is wrong
(``ConfigError``, a ``relay.problems.Problems``), and the relay refuses to start.

Two sets are read: ``Settings``, everything the web relay needs, and ``DeliverySettings``,
the few the delivery worker needs (outbox, mail server, addresses).  The worker never
encrypts, so it starts and empties the outbox whatever state the web relay's own settings,
keys or catalogs are in: reports already confirmed to victims must not wait for those.

Development (``RELAY_ENV=development``, the default) has defaults that make ``./run serve``
work out of the box: a local SMTP server, keys made on first run under ``var/dev/``.
Production (``RELAY_ENV=production``) has no defaults for what differs between machines:
every required variable must be set, and a value that equals a development default is
refused, as is a development key (checked in ``relay.keys``), a site origin that is not
https, limits kept in one process's memory, or an unstated number of proxies.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping
from urllib.parse import urlsplit

from email_validator import EmailNotValidError, validate_email
from limits import parse_many

from safeline.site import LANGUAGES, QUICK_EXIT_URL, ROOT

from .outbox import Outbox, OutboxUnwritableError
from .problems import Problems
from .smtp import SmtpTarget

DEV = ROOT / "var" / "dev"

DEVELOPMENT_DEFAULTS = {
    "RELAY_SECRET_KEY": "development-only-secret-key-never-use-in-production",
    "RELAY_STAFF_KEYS": str(DEV / "keys" / "staff.pub.asc"),
    "RELAY_MAIL_TO": "staff@safeline.test",
    "RELAY_MAIL_FROM": "relay@safeline.test",
    # The address staff write to reporters from, shown on the form and the privacy page, so
    # that a reporter can recognise (and let through a filter) the mail that will come.
    "RELAY_CONTACT_ADDRESS": "contact@safeline.test",
    "RELAY_SMTP_URL": "smtp://127.0.0.1:8025",
    "RELAY_OUTBOX": str(DEV / "outbox"),
    "RELAY_SITE_ORIGIN": "http://127.0.0.1:8000",
    # Production must say how many proxies stand in front: left at 0 behind nginx, every
    # client would be 127.0.0.1 and share one set of limits.
    "RELAY_PROXIES": "0",
    # Production needs redis://: memory:// is one process's, lost when gunicorn recycles it.
    "RELAY_RATELIMIT_STORAGE": "memory://",
}
OPTIONAL_DEFAULTS = {
    "RELAY_RATELIMIT": "5 per hour;20 per day",
    # A /48 is one organisation's or one customer's whole IPv6 network: 65,536 /64s.
    "RELAY_RATELIMIT_NETWORK": "10 per hour;40 per day",
    "RELAY_RATELIMIT_POSTS": "60 per hour",
    # Meant to be well above the busiest hour staff have seen and far below a flood that would
    # bury real reports in their mailboxes (README, "Tiers of limits"): adjust it to both.
    "RELAY_RATELIMIT_SITE": "60 per hour",
    "RELAY_OUTBOX_MAX_MB": "200",
    "RELAY_MIN_FILL_SECONDS": "3",
    "RELAY_QUICK_EXIT_URL": QUICK_EXIT_URL,
    "RELAY_STAFF_LANGUAGE": "ja",  # the language staff write to reporters in
}
ENVIRONMENTS = ("development", "production")
# What to write, for a required variable whose right value is the same on every machine.
HINTS = {
    "RELAY_PROXIES": "1 behind the shipped nginx (ProxyFix then trusts the address it passes on), "
                     "0 if clients reach the relay directly",
    "RELAY_RATELIMIT_STORAGE": "redis://127.0.0.1:6379/0, a local redis-server (memory:// is refused in production)",
}
MEMORY_IN_PRODUCTION = (
    "RELAY_RATELIMIT_STORAGE: memory:// is refused in production: each gunicorn worker would keep its own "
    "limits and spent form tokens and lose them whenever it is restarted (a spent token could then send a "
    "second report); use redis://127.0.0.1:6379/0 (a local redis-server)"
)


class ConfigError(Problems):
    """The settings cannot be used; one line per variable."""


class _Reader:
    """Reads RELAY_* variables, collecting every problem instead of stopping at the first."""

    def __init__(self, environ: Mapping[str, str] | None):
        self.environ = os.environ if environ is None else environ
        self.problems: list[str] = []
        env = self.environ.get("RELAY_ENV", "development").strip()
        if env not in ENVIRONMENTS:
            self.problems.append(f"RELAY_ENV: must be 'development' or 'production', not {env!r}")
            env = "production"  # judge the rest by the stricter rules
        self.env = env
        self.production = env == "production"

    def get(self, name: str) -> str:
        value = self.environ.get(name, "").strip()
        if value:
            if self.production and value == DEVELOPMENT_DEFAULTS.get(name) and name != "RELAY_PROXIES":
                if name == "RELAY_RATELIMIT_STORAGE":
                    self.problems.append(MEMORY_IN_PRODUCTION)
                else:
                    self.problems.append(f"{name}: is the development default; production needs its own value")
            return value
        if name in OPTIONAL_DEFAULTS:
            return OPTIONAL_DEFAULTS[name]
        if self.production:
            hint = f": {HINTS[name]}" if name in HINTS else ""
            self.problems.append(f"{name}: missing (required when RELAY_ENV=production){hint}")
            return ""
        return DEVELOPMENT_DEFAULTS[name]

    def addresses(self, name: str) -> tuple[str, ...]:
        found = tuple(address.strip() for address in self.get(name).split(",") if address.strip())
        for address in found:
            self.problems += _address_problem(name, address)
        return found

    def address(self, name: str) -> str:
        value = self.get(name)
        if value:
            self.problems += _address_problem(name, value)
        return value

    def smtp_url(self) -> str:
        url = self.get("RELAY_SMTP_URL")
        if url:
            try:
                SmtpTarget.from_url(url)  # one parser for the check and for delivery
            except ValueError as error:
                self.problems.append(f"RELAY_SMTP_URL: {error}")
        return url

    def folder(self, name: str) -> Path:
        value = self.get(name)
        if value and not Path(value).is_absolute() and self.production:
            self.problems.append(f"{name}: must be an absolute path in production, not {value!r}")
        return Path(value)

    def limit(self, name: str) -> str:
        value = self.get(name)
        if not value:  # missing: said already
            return value
        try:
            if parse_many(value):
                return value
        except ValueError:
            pass
        self.problems.append(f"{name}: {value!r} is not a rate limit like '5 per hour;20 per day'")
        return value

    def number(self, name: str, kind, low, high):
        value = self.get(name)
        if not value:  # missing: said already
            return low
        try:
            number = kind(value)
        except ValueError:
            self.problems.append(f"{name}: must be a {'whole ' if kind is int else ''}number, not {value!r}")
            return low
        if not low <= number <= high:
            self.problems.append(f"{name}: must be from {low} to {high}, not {value}")
        return number

    def done(self) -> None:
        if self.problems:
            raise ConfigError(self.problems)


# An origin as a browser sends it in Origin, to be compared with it: lower-case scheme, a host name
# or an address, a port of at most 65535, and nothing else (no user, path, query or fragment).
_ORIGIN = re.compile(r"(?:http|https)://(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*"
                     r"[A-Za-z0-9])?)*|\[[0-9A-Fa-f:.]+\])"
                     r"(?::(?:6553[0-5]|655[0-2]\d|65[0-4]\d\d|6[0-4]\d{3}|[1-5]\d{4}|[1-9]\d{0,3}))?")


@dataclass(frozen=True)
class DeliverySettings:
    """What the delivery worker needs: where messages wait, and where and to whom they go."""

    env: str
    mail_to: tuple[str, ...]
    mail_from: str
    smtp_url: str
    outbox: Path

    @property
    def production(self) -> bool:
        return self.env == "production"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> DeliverySettings:
        read = _Reader(environ)
        settings = cls._read(read)
        read.done()
        return settings

    @classmethod
    def _read(cls, read: _Reader) -> DeliverySettings:
        return cls(
            env=read.env,
            mail_to=read.addresses("RELAY_MAIL_TO"),
            mail_from=read.address("RELAY_MAIL_FROM"),
            smtp_url=read.smtp_url(),
            outbox=read.folder("RELAY_OUTBOX"),
        )


@dataclass(frozen=True)
class Settings:
    """Everything the web relay needs (the delivery worker's settings among them)."""

    env: str
    secret_key: str
    staff_keys: Path
    mail_to: tuple[str, ...]
    mail_from: str
    smtp_url: str
    outbox: Path
    outbox_max_bytes: int
    ratelimit_storage: str
    ratelimit: str  # accepted reports per client (an IPv4 address or an IPv6 /64)
    ratelimit_network: str  # accepted reports per IPv6 /48
    ratelimit_site: str  # accepted reports for the whole site: the ceiling of a flood
    ratelimit_posts: str  # any POST per client, accepted or not
    site_origin: str
    min_fill_seconds: float
    proxies: int  # how many reverse proxies in front (ProxyFix trusts that many)
    quick_exit_url: str
    contact_address: str  # where staff's mail to reporters comes from
    staff_language: str  # the language staff write to reporters in, one of the site's

    @property
    def production(self) -> bool:
        return self.env == "production"

    @property
    def mail_domain(self) -> str:
        """The domain of RELAY_MAIL_FROM: the relay's Message-IDs end with it."""
        return self.mail_from.rsplit("@", 1)[-1]

    @property
    def delivery(self) -> DeliverySettings:
        return DeliverySettings(self.env, self.mail_to, self.mail_from, self.smtp_url, self.outbox)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        read = _Reader(environ)
        secret_key = read.get("RELAY_SECRET_KEY")
        if secret_key and len(secret_key) < 32:
            read.problems.append("RELAY_SECRET_KEY: too short; use at least 32 random characters "
                                 "(e.g. python3 -c 'import secrets; print(secrets.token_urlsafe(48))')")
        staff_keys = read.get("RELAY_STAFF_KEYS")
        delivery = DeliverySettings._read(read)
        outbox_max_mb = read.number("RELAY_OUTBOX_MAX_MB", int, 1, 1_000_000)

        storage = read.get("RELAY_RATELIMIT_STORAGE")
        if storage and not re.match(r"^(memory|redis|rediss|redis\+unix)://", storage):
            read.problems.append(f"RELAY_RATELIMIT_STORAGE: must be memory:// or redis://host:port[/db], "
                                 f"not {_redact(storage)!r}")
        limits = {name: read.limit(name) for name in ("RELAY_RATELIMIT", "RELAY_RATELIMIT_NETWORK",
                                                      "RELAY_RATELIMIT_SITE", "RELAY_RATELIMIT_POSTS")}

        site_origin = read.get("RELAY_SITE_ORIGIN").rstrip("/")
        if site_origin:
            if not _ORIGIN.fullmatch(site_origin):
                read.problems.append(f"RELAY_SITE_ORIGIN: must be scheme://host[:port] with nothing after it, "
                                     f"not {site_origin!r}")
            elif read.production and not site_origin.startswith("https://"):
                read.problems.append("RELAY_SITE_ORIGIN: must be https:// in production")

        min_fill = read.number("RELAY_MIN_FILL_SECONDS", float, 0, 600)
        proxies = read.number("RELAY_PROXIES", int, 0, 5)
        quick_exit = read.get("RELAY_QUICK_EXIT_URL")
        if not quick_exit.startswith("https://"):
            read.problems.append(f"RELAY_QUICK_EXIT_URL: must start with https://, not {quick_exit!r}")
        contact_address = read.address("RELAY_CONTACT_ADDRESS")
        staff_language = read.get("RELAY_STAFF_LANGUAGE")
        if staff_language not in LANGUAGES:
            read.problems.append(f"RELAY_STAFF_LANGUAGE: must be one of the site's languages "
                                 f"({', '.join(LANGUAGES)}), not {staff_language!r}")
        read.done()
        return cls(
            env=read.env,
            secret_key=secret_key,
            staff_keys=Path(staff_keys),
            mail_to=delivery.mail_to,
            mail_from=delivery.mail_from,
            smtp_url=delivery.smtp_url,
            outbox=delivery.outbox,
            outbox_max_bytes=outbox_max_mb * 1024 * 1024,
            ratelimit_storage=storage,
            ratelimit=limits["RELAY_RATELIMIT"],
            ratelimit_network=limits["RELAY_RATELIMIT_NETWORK"],
            ratelimit_site=limits["RELAY_RATELIMIT_SITE"],
            ratelimit_posts=limits["RELAY_RATELIMIT_POSTS"],
            site_origin=site_origin,
            min_fill_seconds=min_fill,
            proxies=proxies,
            quick_exit_url=quick_exit,
            contact_address=contact_address,
            staff_language=staff_language,
        )


def writable_outbox(folder: Path, *, max_bytes: int | None = None) -> Outbox:
    """The outbox at RELAY_OUTBOX, once a message could be stored there now.

    The web app stores reports there and the delivery worker deletes what was sent and
    cleans tmp/: neither starts without it, refused like any other setting (one line, no
    traceback)."""
    outbox = Outbox(folder, max_bytes=max_bytes)
    try:
        outbox.check_writable()
    except OutboxUnwritableError as error:
        raise ConfigError([f"RELAY_OUTBOX: {error}"]) from None
    return outbox


def is_production(environ: Mapping[str, str] | None = None) -> bool:
    """Whether RELAY_ENV asks for production's rules (an unknown value does too)."""
    return _Reader(environ).production


def staff_keys_source(environ: Mapping[str, str] | None = None) -> str:
    """RELAY_STAFF_KEYS, or the development key pair's public half in development."""
    read = _Reader(environ)
    source = read.get("RELAY_STAFF_KEYS")
    read.done()
    return source


def _address_problem(name: str, address: str) -> list[str]:
    if not address.isascii():
        # Our mail goes out without SMTPUTF8, and seal.py writes its headers in ASCII.
        return [f"{name}: {address!r} must be written in ASCII (for a Japanese domain, its xn-- form)"]
    try:
        validate_email(address, check_deliverability=False, globally_deliverable=False, test_environment=True)
    except EmailNotValidError as error:
        return [f"{name}: {address!r} is not an e-mail address ({error})"]
    return []


def _redact(url: str) -> str:
    """A URL without its password, for messages."""
    parts = urlsplit(url)
    if parts.password:
        return url.replace(f":{parts.password}@", ":***@")
    return url
