"""RELAY_* environment variables → one checked ``Settings`` value; fail closed.

Every problem is reported at once, one line each, naming the variable and what is wrong,
and the relay refuses to start (``ConfigError`` is a ``SystemExit``: no traceback).

Development (``RELAY_ENV=development``, the default) has defaults that make ``./run serve``
work out of the box: a local SMTP server, keys made on first run under ``var/dev/``.
Production (``RELAY_ENV=production``) has no defaults: every variable below must be set,
and a value that equals a development default is refused, as is a development key
(checked in ``relay.keys``) or a site origin that is not https.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping
from urllib.parse import urlsplit

from email_validator import EmailNotValidError, validate_email

ROOT = Path(__file__).resolve().parent.parent
DEV = ROOT / "var" / "dev"

DEVELOPMENT_DEFAULTS = {
    "RELAY_SECRET_KEY": "development-only-secret-key-never-use-in-production",
    "RELAY_STAFF_KEYS": str(DEV / "keys" / "staff.pub.asc"),
    "RELAY_MAIL_TO": "staff@safeline.test",
    "RELAY_MAIL_FROM": "relay@safeline.test",
    "RELAY_SMTP_URL": "smtp://127.0.0.1:8025",
    "RELAY_OUTBOX": str(DEV / "outbox"),
    "RELAY_SITE_ORIGIN": "http://127.0.0.1:8000",
}
OPTIONAL_DEFAULTS = {
    "RELAY_RATELIMIT_STORAGE": "memory://",
    "RELAY_RATELIMIT": "5 per hour;20 per day",
    "RELAY_RATELIMIT_POSTS": "60 per hour",
    "RELAY_MIN_FILL_SECONDS": "3",
    "RELAY_PROXIES": "0",
    "RELAY_QUICK_EXIT_URL": "https://tenki.jp/",
    # Set by deploy/gunicorn.conf.py to the number of worker processes it starts.
    "RELAY_WORKERS": "1",
}
ENVIRONMENTS = ("development", "production")


class ConfigError(SystemExit):
    def __init__(self, lines: list[str]):
        self.lines = lines
        super().__init__("relay: refusing to start:\n" + "\n".join(lines))


@dataclass(frozen=True)
class Settings:
    env: str
    secret_key: str
    staff_keys: Path
    mail_to: tuple[str, ...]
    mail_from: str
    smtp_url: str
    outbox: Path
    ratelimit_storage: str
    ratelimit: str  # accepted reports per client
    ratelimit_posts: str  # any POST per client, accepted or not
    site_origin: str
    min_fill_seconds: float
    proxies: int  # how many reverse proxies in front (ProxyFix trusts that many)
    quick_exit_url: str

    @property
    def production(self) -> bool:
        return self.env == "production"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "Settings":
        environ = os.environ if environ is None else environ
        problems: list[str] = []
        env = environ.get("RELAY_ENV", "development").strip()
        if env not in ENVIRONMENTS:
            problems.append(f"RELAY_ENV: must be 'development' or 'production', not {env!r}")
            env = "production"  # judge the rest by the stricter rules
        production = env == "production"

        def get(name: str) -> str:
            value = environ.get(name, "").strip()
            if value:
                if production and value == DEVELOPMENT_DEFAULTS.get(name):
                    problems.append(f"{name}: is the development default; production needs its own value")
                return value
            if name in OPTIONAL_DEFAULTS:
                return OPTIONAL_DEFAULTS[name]
            if production:
                problems.append(f"{name}: missing (required when RELAY_ENV=production)")
                return ""
            return DEVELOPMENT_DEFAULTS[name]

        secret_key = get("RELAY_SECRET_KEY")
        if secret_key and len(secret_key) < 32:
            problems.append("RELAY_SECRET_KEY: too short; use at least 32 random characters (e.g. python3 -c 'import secrets; print(secrets.token_urlsafe(48))')")

        staff_keys = get("RELAY_STAFF_KEYS")
        mail_to = tuple(address.strip() for address in get("RELAY_MAIL_TO").split(",") if address.strip())
        for address in mail_to:
            problems += _address_problem("RELAY_MAIL_TO", address)
        mail_from = get("RELAY_MAIL_FROM")
        if mail_from:
            problems += _address_problem("RELAY_MAIL_FROM", mail_from)

        smtp_url = get("RELAY_SMTP_URL")
        if smtp_url:
            problems += _smtp_url_problem(smtp_url)

        outbox = get("RELAY_OUTBOX")
        if outbox and not Path(outbox).is_absolute() and production:
            problems.append(f"RELAY_OUTBOX: must be an absolute path in production, not {outbox!r}")

        storage = get("RELAY_RATELIMIT_STORAGE")
        if not re.match(r"^(memory|redis|rediss|redis\+unix)://", storage):
            problems.append(f"RELAY_RATELIMIT_STORAGE: must be memory:// or redis://host:port[/db], not {_redact(storage)!r}")

        ratelimit = get("RELAY_RATELIMIT")
        ratelimit_posts = get("RELAY_RATELIMIT_POSTS")
        for name, value in (("RELAY_RATELIMIT", ratelimit), ("RELAY_RATELIMIT_POSTS", ratelimit_posts)):
            problems += _limit_problem(name, value)

        site_origin = get("RELAY_SITE_ORIGIN").rstrip("/")
        if site_origin:
            parts = urlsplit(site_origin)
            if parts.scheme not in ("http", "https") or not parts.netloc or parts.path or parts.query:
                problems.append(f"RELAY_SITE_ORIGIN: must be scheme://host[:port] with nothing after it, not {site_origin!r}")
            elif production and parts.scheme != "https":
                problems.append("RELAY_SITE_ORIGIN: must be https:// in production")

        min_fill = _number(problems, "RELAY_MIN_FILL_SECONDS", get("RELAY_MIN_FILL_SECONDS"), float, 0, 600)
        proxies = _number(problems, "RELAY_PROXIES", get("RELAY_PROXIES"), int, 0, 5)
        workers = _number(problems, "RELAY_WORKERS", get("RELAY_WORKERS"), int, 1, 256)
        if production and workers > 1 and storage.startswith("memory://"):
            # Each gunicorn worker is its own process: memory:// would give every client the
            # limits once per worker, and a double click reaching two workers two reports.
            problems.append(f"RELAY_RATELIMIT_STORAGE: memory:// is each worker's own, and RELAY_WORKERS is "
                            f"{workers}: production with several workers needs redis://127.0.0.1:6379/0 "
                            "(a local redis-server), or RELAY_WORKERS=1")
        quick_exit = get("RELAY_QUICK_EXIT_URL")
        if not quick_exit.startswith("https://"):
            problems.append(f"RELAY_QUICK_EXIT_URL: must start with https://, not {quick_exit!r}")

        if problems:
            raise ConfigError(problems)
        return cls(
            env=env,
            secret_key=secret_key,
            staff_keys=Path(staff_keys),
            mail_to=mail_to,
            mail_from=mail_from,
            smtp_url=smtp_url,
            outbox=Path(outbox),
            ratelimit_storage=storage,
            ratelimit=ratelimit,
            ratelimit_posts=ratelimit_posts,
            site_origin=site_origin,
            min_fill_seconds=min_fill,
            proxies=proxies,
            quick_exit_url=quick_exit,
        )


def _address_problem(name: str, address: str) -> list[str]:
    if not address.isascii():
        # Our mail goes out without SMTPUTF8, and seal.py writes its headers in ASCII.
        return [f"{name}: {address!r} must be written in ASCII (for a Japanese domain, its xn-- form)"]
    try:
        validate_email(address, check_deliverability=False, globally_deliverable=False, test_environment=True)
    except EmailNotValidError as error:
        return [f"{name}: {address!r} is not an e-mail address ({error})"]
    return []


def _smtp_url_problem(url: str) -> list[str]:
    from .smtp import SmtpTarget  # one parser for the check and for delivery

    try:
        SmtpTarget.from_url(url)
    except ValueError as error:
        return [f"RELAY_SMTP_URL: {error}"]
    return []


def _limit_problem(name: str, value: str) -> list[str]:
    from limits import parse_many

    try:
        if parse_many(value):
            return []
    except ValueError:
        pass
    return [f"{name}: {value!r} is not a rate limit like '5 per hour;20 per day'"]


def _number(problems: list[str], name: str, value: str, kind, low, high):
    try:
        number = kind(value)
    except ValueError:
        problems.append(f"{name}: must be a {'whole ' if kind is int else ''}number, not {value!r}")
        return low
    if not low <= number <= high:
        problems.append(f"{name}: must be from {low} to {high}, not {value}")
    return number


def _redact(url: str) -> str:
    """A URL without its password, for messages."""
    parts = urlsplit(url)
    if parts.password:
        return url.replace(f":{parts.password}@", ":***@")
    return url
