"""Fixtures for the application tests: the real relay, real keys, a real outbox and SMTP server.

Nothing that is tested is mocked.  ``app`` is a factory: ``app()`` is the relay with the test
settings (made once per test), ``app(RELAY_RATELIMIT="2 per hour")`` a fresh one with those
settings changed (``None`` removes a variable).  Every app of a test shares its outbox, its
staff keys and its mail server.  Helpers live in tests/relay/relaykit.py.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from relay import openpgp
from tests.relay.fixtures_mail import mail_server  # noqa: F401 - a fixture, used by `app`
from tests.sitekit import compile_catalogs
from tests.relay.relaykit import FIXTURES, GPG_SECRET, MAIL_FROM, MAIL_TO, SECRET_KEY, SITE_ORIGIN


# -- every log line, every time ---------------------------------------------------------------

@pytest.fixture(autouse=True)
def complete_logs():
    """Undo Pelican's log de-duplication for the relay's loggers, in this test process only.

    The test session imports Pelican (tests/conftest.py), whose logger class gives every new
    logger a filter that drops a message seen before; the relay never imports Pelican, so it
    logs every line, and the tests about logs must see every line too.
    """
    import logging

    for name in [n for n in logging.root.manager.loggerDict if n.split(".")[0] in ("relay", "flask-limiter")]:
        logger = logging.getLogger(name)
        for found in [f for f in logger.filters if type(f).__name__ == "LimitFilter"]:
            logger.removeFilter(found)


# -- the catalogs, the keys, the settings ----------------------------------------------------

@pytest.fixture(scope="session")
def catalogs() -> None:
    """Compiled catalogs (the relay refuses to start with a missing or stale .mo)."""
    compile_catalogs()


@pytest.fixture(scope="session")
def generated_key() -> openpgp.KeyPair:
    """A second staff member, whose key pysequoia made in this test session."""
    return openpgp.generate_key("Safeline Generated Staff <generated@safeline.example>")


@dataclass(frozen=True)
class StaffKeys:
    folder: Path
    secrets: dict[str, bytes]  # name → armored secret key, one per staff key in the folder
    fingerprints: dict[str, str]
    user_ids: dict[str, str]


@pytest.fixture
def staff_keys(tmp_path, generated_key) -> StaffKeys:
    """RELAY_STAFF_KEYS: a folder with the GnuPG-made v4 key and the generated key."""
    folder = tmp_path / "staff-keys"
    folder.mkdir()
    shutil.copyfile(FIXTURES / "staff-gpg-v4.pub.asc", folder / "a-gnupg-v4.asc")
    (folder / "b-generated.asc").write_bytes(generated_key.public)
    gpg_cert = openpgp.parse_certs((FIXTURES / "staff-gpg-v4.pub.asc").read_bytes())[0]
    return StaffKeys(
        folder=folder,
        secrets={"gnupg-v4": GPG_SECRET, "generated": generated_key.secret},
        fingerprints={"gnupg-v4": openpgp.fingerprint(gpg_cert), "generated": generated_key.fingerprint},
        user_ids={"gnupg-v4": "Safeline Test Staff <staff@example.org>",
                  "generated": "Safeline Generated Staff <generated@safeline.example>"},
    )


@pytest.fixture
def outbox_dir(tmp_path) -> Path:
    return tmp_path / "outbox"


@pytest.fixture
def relay_env(staff_keys, outbox_dir, mail_server) -> dict[str, str]:  # noqa: F811
    """The RELAY_* variables of the test relay (development, fast, generous limits)."""
    return {
        "RELAY_ENV": "development",
        "RELAY_SECRET_KEY": SECRET_KEY,
        "RELAY_STAFF_KEYS": str(staff_keys.folder),
        "RELAY_MAIL_TO": MAIL_TO,
        "RELAY_MAIL_FROM": MAIL_FROM,
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
