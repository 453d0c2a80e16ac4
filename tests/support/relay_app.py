"""The relay app under test: the real relay, real keys, a real outbox and SMTP server.

Nothing that is tested is mocked.  ``app`` is a factory: ``app()`` is the relay with the test
settings (made once per test), ``app(RELAY_RATELIMIT="2 per hour")`` a fresh one with those
settings changed (``None`` removes a variable).  Every app of a test shares its outbox, its
staff keys and its mail server.  ``deliver(app)`` is one pass of the real delivery worker over
its outbox; ``outbox_files`` what waits there, and ``stored_record`` the fields of the one
report waiting.  ``Clock`` is a clock a test sets, for ``relay.create_app(env, clock=…)``.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from pathlib import Path

import pytest

from relay.delivery import Counts, deliver_once
from relay.services import services
from relay.smtp import SmtpTarget, Timeouts
from tests.support.reports import decrypt_mail, submit
from tests.support.site import compile_catalogs

SECRET_KEY = "test-secret-key-4d1c9b7e2a6f8035c1e9d4b7a2f6e8c3"
SITE_ORIGIN = "https://safeline.example"
# RELAY_MAIL_FROM and RELAY_MAIL_TO of every relay the tests start (tests/support/mail.py has
# the envelope of the tests that hand messages to a mail server without a relay).
RELAY_MAIL_FROM = "relay@safeline.example"
RELAY_MAIL_TO = "staff@safeline.example"
RELAY_CONTACT_ADDRESS = "contact@safeline.example"  # where staff write to reporters from


class Clock:
    """Wall-clock seconds that a test sets: what tokens, pseudonyms, counts, the confirmation's
    address and the lines open now read (``relay.create_app(env, clock=Clock(...))``)."""

    def __init__(self, when: datetime.datetime):
        self.now = when.timestamp()

    def __call__(self) -> float:
        return self.now

    def set(self, when: datetime.datetime) -> None:
        self.now = when.timestamp()

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture(scope="session")
def catalogs() -> None:
    """Compiled catalogs (the relay refuses to start with a missing or stale .mo)."""
    compile_catalogs()


@pytest.fixture
def outbox_dir(tmp_path) -> Path:
    return tmp_path / "outbox"


@pytest.fixture
def relay_env(staff_keys, outbox_dir, mail_server) -> dict[str, str]:
    """The RELAY_* variables of the test relay (development, fast, generous limits)."""
    return {
        "RELAY_ENV": "development",
        "RELAY_SECRET_KEY": SECRET_KEY,
        "RELAY_STAFF_KEYS": str(staff_keys.folder),
        "RELAY_MAIL_TO": RELAY_MAIL_TO,
        "RELAY_MAIL_FROM": RELAY_MAIL_FROM,
        "RELAY_CONTACT_ADDRESS": RELAY_CONTACT_ADDRESS,
        "RELAY_SMTP_URL": f"smtp://127.0.0.1:{mail_server.port}",
        "RELAY_OUTBOX": str(outbox_dir),
        "RELAY_SITE_ORIGIN": SITE_ORIGIN,
        "RELAY_MIN_FILL_SECONDS": "0",
        "RELAY_RATELIMIT": "1000 per hour",
        "RELAY_RATELIMIT_NETWORK": "1000 per hour",
        "RELAY_RATELIMIT_SITE": "1000 per hour",
        "RELAY_RATELIMIT_POSTS": "1000 per hour",
    }


@pytest.fixture
def app(catalogs, relay_env) -> Callable:
    """``app(**overrides)``: the relay built from the test settings with ``overrides``."""
    import relay

    made = {}

    def make(**overrides):
        if not overrides and "default" in made:
            return made["default"]
        env = dict(relay_env)
        for name, value in overrides.items():
            if value is None:
                env.pop(name, None)
            else:
                env[name] = value
        built = relay.create_app(env)
        built.config["TESTING"] = True
        if not overrides:
            made["default"] = built
        return built

    return make


@pytest.fixture
def client(app):
    return app().test_client()


def deliver(app) -> Counts:
    """One pass of the real delivery worker over the app's outbox, to the app's SMTP server."""
    settings = services(app).settings
    target = SmtpTarget.from_url(settings.smtp_url, helo="relay.test")
    return deliver_once(services(app).outbox, target, settings.mail_from, list(settings.mail_to),
                        timeouts=Timeouts.uniform(5))


def outbox_files(outbox_dir: Path) -> list[Path]:
    """The messages waiting in the outbox (not its tmp/ folder), read from the folder itself."""
    if not outbox_dir.exists():
        return []
    return sorted(path for path in outbox_dir.iterdir() if path.is_file() and not path.name.startswith("."))


def accepted_record(client, outbox_dir: Path, staff_keys, **typed) -> dict:
    """Send the valid report with ``typed`` in place of its fields; it must be accepted (303):
    the JSON fields staff receive."""
    response = submit(client, **typed)
    assert response.status_code == 303, response.status_code
    return stored_record(outbox_dir, staff_keys)


def stored_record(outbox_dir: Path, staff_keys) -> dict:
    """The JSON fields of the one report in the outbox, decrypted with the GnuPG key."""
    files = outbox_files(outbox_dir)
    assert len(files) == 1, files
    return decrypt_mail(files[0].read_bytes(), staff_keys.secrets["gnupg-v4"])[2]
