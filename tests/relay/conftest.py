"""Fixtures for the application tests: the real relay, real keys, a real outbox and SMTP server.

Nothing that is tested is mocked.  ``app`` is a factory: ``app()`` is the relay with the test
settings (made once per test), ``app(RELAY_RATELIMIT="2 per hour")`` a fresh one with those
settings changed (``None`` removes a variable).  Every app of a test shares its outbox, its
staff keys and its mail server.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from email import message_from_bytes, policy
from html.parser import HTMLParser
from pathlib import Path

import pytest

from relay import openpgp
from relay.delivery import Counts, deliver_once
from relay.smtp import SmtpTarget
from tests.relay.fixtures_mail import mail_server  # noqa: F401 - a fixture, used by `app`

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "keys"
CATALOGS = ROOT / "theme" / "translations"
GPG_SECRET = (FIXTURES / "staff-gpg-v4.sec.asc").read_bytes()
SECRET_KEY = "test-secret-key-4d1c9b7e2a6f8035c1e9d4b7a2f6e8c3"
SITE_ORIGIN = "https://safeline.example"
MAIL_FROM = "relay@safeline.example"
MAIL_TO = "staff@safeline.example"
REFERENCE = re.compile(r"^SL-[2-9A-HJKMNP-TV-Z]{4}-[2-9A-HJKMNP-TV-Z]{4}$")
FORM_PATHS = {"ja": "/report/", "en": "/en/report/"}
OUTER_HEADERS = ["From", "To", "Date", "Message-ID", "Subject", "MIME-Version", "Content-Type"]

# A report that passes every check; tests change the fields they are about.
VALID = {
    "role": "self",
    "email": "hanako@example.jp",
    "urls": "https://images.example.com/p/1",
    "description": "知らないうちに写真が投稿されました。",
    "consent": "yes",
}


# -- the name "conftest" -----------------------------------------------------------------------

def pytest_plugin_registered(plugin, manager):
    """Give the module name ``conftest`` back to tests/conftest.py once this file is loaded.

    Without an ``__init__.py`` pytest imports every conftest.py as the module ``conftest``, so
    this file would replace tests/conftest.py in ``sys.modules`` and the tests that do
    ``from conftest import ROOT`` would import this file instead.  (The relay's tests import
    their helpers as ``tests.relay.conftest``.)
    """
    if plugin is not sys.modules.get("conftest") or Path(getattr(plugin, "__file__", "")) != Path(__file__):
        return
    top = ROOT / "tests" / "conftest.py"
    for other in manager.get_plugins():
        if getattr(other, "__file__", None) and Path(other.__file__) == top:
            sys.modules["conftest"] = other
            return


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
    stale = [
        po for po in CATALOGS.glob("*/LC_MESSAGES/messages.po")
        if not po.with_suffix(".mo").exists() or po.with_suffix(".mo").stat().st_mtime < po.stat().st_mtime
    ]
    if stale:
        subprocess.run([sys.executable, "-m", "babel.messages.frontend", "-q", "compile", "-d", str(CATALOGS)],
                       cwd=ROOT, check=True)


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


@pytest.fixture
def runner(app):
    return app().test_cli_runner()


# -- helpers -------------------------------------------------------------------------------

def get_token(client, lang: str = "ja") -> str:
    """The form token of a freshly served form."""
    response = client.get(FORM_PATHS[lang])
    assert response.status_code == 200
    return re.search(r'name="token" value="([^"]+)"', response.get_data(as_text=True))[1]


def submit(client, *, lang: str = "ja", headers: dict | None = None, **fields):
    """POST the form as a browser would: a fresh token, ``VALID`` changed by ``fields``.

    A field given as ``None`` is left out of the body.  The response is not followed.
    """
    data = dict(VALID)
    if "token" not in fields:
        data["token"] = get_token(client, lang)
    data.update(fields)
    data = {name: value for name, value in data.items() if value is not None}
    return client.post(FORM_PATHS[lang], data=data, headers=headers or {})


def deliver(app) -> Counts:
    """One pass of the real delivery worker over the app's outbox, to the test SMTP server."""
    settings = app.config["RELAY_SETTINGS"]
    target = SmtpTarget.from_url(settings.smtp_url, helo="relay.test")
    return deliver_once(app.extensions["outbox"], target, settings.mail_from, list(settings.mail_to), timeout=5)


def outbox_files(outbox_dir: Path) -> list[Path]:
    """The messages waiting in the outbox (not its tmp/ folder)."""
    if not outbox_dir.exists():
        return []
    return sorted(path for path in outbox_dir.iterdir() if path.is_file() and not path.name.startswith("."))


def decrypt_mail(mail: bytes, secret_key: bytes) -> tuple[str, str, dict]:
    """The protected Subject, the text part and the JSON part of a sealed mail."""
    outer = message_from_bytes(mail, policy=policy.default)
    assert outer.get_content_type() == "multipart/encrypted"
    armored = next(part for part in outer.iter_parts() if part.get_content_type() == "application/octet-stream")
    clear = openpgp.decrypt(armored.get_payload(decode=True), secret_key)
    inner = message_from_bytes(clear, policy=policy.default)
    text = record = None
    for part in inner.walk():
        if part.get_content_type() == "text/plain":
            text = part.get_content()
        elif part.get_content_type() == "application/json":
            record = json.loads(part.get_payload(decode=True).decode("utf-8"))
    assert text is not None and record is not None
    return str(inner["Subject"]), text, record


def sent_reference(client, response) -> str:
    """Follow a 303 to the confirmation page and read the reference number there."""
    assert response.status_code == 303, response.status_code
    page = parse(client.get(response.headers["Location"]))
    return page.find(class_="reference").text.strip()


# -- reading the pages -----------------------------------------------------------------------

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


@dataclass
class Element:
    tag: str
    attrs: dict[str, str | None]
    text: str = ""
    parent: "Element | None" = None

    def get(self, name: str, default=None):
        return self.attrs.get(name, default)

    @property
    def classes(self) -> list[str]:
        return (self.attrs.get("class") or "").split()

    def ancestors(self):
        node = self.parent
        while node is not None:
            yield node
            node = node.parent


class Page(HTMLParser):
    """A relay page parsed into a flat list of elements, each with its whole text."""

    def __init__(self, html: str, status: int | None = None):
        super().__init__(convert_charrefs=True)
        self.html = html
        self.status = status
        self.elements: list[Element] = []
        self._open: list[Element] = []
        self.feed(html)
        self.close()

    def handle_starttag(self, tag, attrs):
        element = Element(tag, dict(attrs), parent=self._open[-1] if self._open else None)
        self.elements.append(element)
        if tag not in VOID:
            self._open.append(element)

    def handle_startendtag(self, tag, attrs):
        self.elements.append(Element(tag, dict(attrs), parent=self._open[-1] if self._open else None))

    def handle_endtag(self, tag):
        for depth in range(len(self._open) - 1, -1, -1):
            if self._open[depth].tag == tag:
                del self._open[depth:]
                break

    def handle_data(self, data):
        for element in self._open:
            element.text += data

    # -- questions the tests ask ------------------------------------------------------------

    def find_all(self, tag: str | None = None, *, class_: str | None = None, **attrs) -> list[Element]:
        found = []
        for element in self.elements:
            if tag is not None and element.tag != tag:
                continue
            if class_ is not None and class_ not in element.classes:
                continue
            if any(element.attrs.get(name.rstrip("_").replace("_", "-")) != value for name, value in attrs.items()):
                continue
            found.append(element)
        return found

    def find(self, tag: str | None = None, **criteria) -> Element:
        found = self.find_all(tag, **criteria)
        assert found, f"no {tag or 'element'} with {criteria}"
        return found[0]

    def by_id(self, element_id: str) -> Element:
        found = [element for element in self.elements if element.attrs.get("id") == element_id]
        assert len(found) == 1, f"{len(found)} elements with id {element_id!r}"
        return found[0]

    def has_id(self, element_id: str) -> bool:
        return any(element.attrs.get("id") == element_id for element in self.elements)

    @property
    def lang(self) -> str | None:
        return self.find("html").get("lang")

    @property
    def title(self) -> str:
        return self.find("title").text.strip()

    @property
    def text(self) -> str:
        """The visible text of <body>, white space folded."""
        return " ".join(self.find("body").text.split())

    def value(self, name: str) -> str | None:
        """What the form shows for a field: a textarea's text, an input's value, the checked choice."""
        controls = self.find_all(name=name)
        assert controls, f"no control named {name!r}"
        control = controls[0]
        if control.tag == "textarea":
            return control.text
        if control.get("type") in ("radio", "checkbox"):
            checked = [c.get("value") for c in controls if "checked" in c.attrs]
            return checked[0] if checked else None
        return control.get("value")

    def described_by(self, element_id: str) -> list[str]:
        return (self.by_id(element_id).get("aria-describedby") or "").split()

    def summary_links(self) -> list[tuple[str, str]]:
        """(href, text) of each link of the error summary."""
        summary = self.find(class_="error-summary")
        return [(a.get("href"), " ".join(a.text.split())) for a in self.find_all("a")
                if summary in list(a.ancestors())]


def parse(response) -> Page:
    return Page(response.get_data(as_text=True), response.status_code)
