"""The staff kit's tests: real GnuPG homes of two staff members and a mailbox of real relay mail.

- ``staff_gnupg`` (session, per xdist worker): ``StaffGnupg``: staff member A's GnuPG home with a
  key without passphrase, staff member B's home with a key that has one (``allow-loopback-pinentry``
  and no passphrase cache in its gpg-agent.conf, so a wrong passphrase is always found wrong), and a
  key of someone else (not staff). Their agents are stopped at the end.
- ``relay_corpus`` (session): ``Corpus``: a Maildir (tmp/, new/, cur/) of what the real relay sent
  to the staff inbox: reports and additions submitted through the real form (ja and en, self and
  guardian, police referral on and off, with and without URLs, hostile text), sealed to A's and B's
  keys, delivered by the real delivery worker into aiosmtpd; plus mails that must be skipped
  (clear text, a forged clear-text report, encrypted to another key, encrypted but no report,
  malformed JSON, an unknown format, damaged ciphertext). ``relay_maildir`` is its folder: read it,
  or ``copy_maildir`` it before changing anything.
- ``staff_home``: a ``Home`` initialised for A's key (function scope, empty store).
- ``staff_cli(*args, env=…)``: ``python -m staff`` in a process of its own.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.support.gnupg import GPG, make_key, stop_agent
from tests.support.site import ROOT

PASSPHRASE = "correct horse battery staple ✓"
LOCKED_USER_ID = "Safeline Staff B <staff-b@safeline.example>"
STAFF_USER_ID = "Safeline Staff A <staff-a@safeline.example>"
OTHER_USER_ID = "Someone Else <someone@elsewhere.example>"


@dataclass(frozen=True)
class StaffGnupg:
    home: Path  # staff member A: the key without passphrase
    fingerprint: str
    public: bytes
    secret: bytes  # armored, no passphrase (for KeyFileIdentity)
    locked_home: Path  # staff member B: the key with PASSPHRASE
    locked_fingerprint: str
    locked_public: bytes
    locked_secret: bytes  # armored, protected by PASSPHRASE
    other_public: bytes  # someone who is not staff
    other_fingerprint: str
    passphrase: str = PASSPHRASE

    @property
    def fingerprints(self) -> dict[str, str]:
        return {"staff": self.fingerprint, "locked": self.locked_fingerprint, "other": self.other_fingerprint}


def gpg(home: Path, *args: str, input: bytes | None = None, passphrase: str | None = None) -> bytes:
    """Run gpg in ``home``; its stdout."""
    options = ["--pinentry-mode", "loopback", "--passphrase", passphrase] if passphrase is not None else []
    return subprocess.run([GPG, "--batch", "--quiet", *options, *args], input=input, check=True,
                          capture_output=True, timeout=60, env={**os.environ, "GNUPGHOME": str(home)}).stdout


def make_locked_key(home: Path, user_id: str, passphrase: str) -> tuple[str, bytes, bytes]:
    """A key protected by ``passphrase`` in ``home``: (fingerprint, public, secret)."""
    home.mkdir(parents=True, exist_ok=True)
    home.chmod(0o700)
    # No cache: every use asks for the passphrase, so no test passes on one typed earlier.
    (home / "gpg-agent.conf").write_text("allow-loopback-pinentry\ndefault-cache-ttl 0\nmax-cache-ttl 0\n")
    gpg(home, "--quick-gen-key", user_id, "default", "default", "never", passphrase=passphrase)
    listing = gpg(home, "--with-colons", "--list-keys", user_id).decode()
    fingerprint = next(line.split(":")[9] for line in listing.splitlines() if line.startswith("fpr:"))
    return (fingerprint, gpg(home, "--armor", "--export", fingerprint),
            gpg(home, "--armor", "--export-secret-keys", fingerprint, passphrase=passphrase))


@pytest.fixture(scope="session")
def staff_gnupg(tmp_path_factory):
    base = tmp_path_factory.mktemp("staff-gnupg")
    homes = [base / "a", base / "b", base / "other"]
    try:
        staff = make_key(homes[0], STAFF_USER_ID)
        locked = make_locked_key(homes[1], LOCKED_USER_ID, PASSPHRASE)
        other = make_key(homes[2], OTHER_USER_ID)
        yield StaffGnupg(home=homes[0], fingerprint=staff.fingerprint, public=staff.public, secret=staff.secret,
                         locked_home=homes[1], locked_fingerprint=locked[0], locked_public=locked[1],
                         locked_secret=locked[2], other_public=other.public, other_fingerprint=other.fingerprint)
    finally:
        for home in homes:
            stop_agent(home)


# -- the corpus: what the staff inbox received --------------------------------------------------

# Words, addresses and URLs typed into the reports: none may appear in the store's bytes.
MARK_JA = "紫陽花ヤマアラシ"
MARK_EN = "Marmoset7341"


@dataclass
class Corpus:
    maildir: Path
    reports: int = 0
    additions: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    references: list[str] = field(default_factory=list)
    secrets: list[str] = field(default_factory=list)  # clear text that must never leave the store

    @property
    def summary(self) -> str:
        total = sum(self.skipped.values())
        from staff.message import KINDS

        kinds = ", ".join(f"{self.skipped[kind]} {kind}" for kind in KINDS if self.skipped.get(kind))
        return f"imported {self.reports} reports, {self.additions} additions; skipped {total} ({kinds})"


HOSTILE = "<script>alert('x')</script><img src=x onerror=alert(1)>\"'&amp;{{7*7}}${7*7}"
ODD = "\u202eevil\u202c \u200fRTL\u200e zero\u200bwidth\u200d joiner e\u0301\u0327 👩‍👩‍👧 🏳️‍🌈 \u0007bell\u001bescape"

# (language, form fields): each submitted through the real form and sealed by the real relay.
REPORTS = [
    ("ja", {"role": "self", "email": "hanako.corpus@example.jp", "urls": "https://images.example.com/p/ajisai1",
            "description": f"知らないうちに写真が投稿されました。{MARK_JA}"}),
    ("en", {"role": "guardian", "email": "parent.corpus@example.org", "police": "yes",
            "contact_safety": f"Only weekdays after 18:00, {MARK_EN}",
            "urls": "https://a.example.net/x/1\nhttps://b.example.net/y/2\nhttps://c.example.net/z/3",
            "description": f"My daughter's photos were posted. {MARK_EN}"}),
    ("ja", {"role": "guardian", "email": "hogosha.corpus@example.jp", "police": "yes", "urls": "",
            "where": "PhotoSphereアプリ @hidden_account_9931", "description": "子どもの写真がアプリで共有されています。"}),
    ("en", {"role": "self", "email": "self.corpus@example.com", "urls": "https://d.example.org/img/44\nhttps://e.example.org/img/55",
            "description": "Posted without my consent."}),
    ("en", {"role": "self", "email": "hostile.corpus@example.com", "police": "yes", "contact_safety": HOSTILE,
            "urls": "https://evil.example/<script>alert(1)</script>", "where": HOSTILE, "description": HOSTILE * 10}),
    ("ja", {"role": "self", "email": "long.corpus@example.jp",
            "urls": "\n".join(f"https://many{number}.example.com/p/{number}" for number in range(30)),
            "description": ("長い説明" * 1000)[:4000]}),
    ("en", {"role": "guardian", "email": "odd.corpus@example.com", "contact_safety": ODD, "where": ODD,
            "urls": "https://xn--r8jz45g.example/パス", "description": ODD * 20}),
]


def staff_cli(*args: str, env: dict | None = None, timeout: int = 120, **options) -> subprocess.CompletedProcess:
    """``python -m staff ARGS`` as a staff member runs it, in a process of its own (without
    SAFELINE_STAFF_PASSPHRASE unless ``env`` sets it)."""
    environment = {name: value for name, value in os.environ.items() if name != "SAFELINE_STAFF_PASSPHRASE"}
    environment.update(env or {})
    if "stdout" not in options and "stderr" not in options:
        options["capture_output"] = True
    return subprocess.run([sys.executable, "-m", "staff", *args], cwd=ROOT, env=environment, text=True,
                          timeout=timeout, **options)


def copy_maildir(source: Path, target: Path) -> Path:
    shutil.copytree(source, target)
    return target


def _maildir(folder: Path) -> Path:
    for sub in ("tmp", "new", "cur"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    return folder


def _pgp_mime(ciphertext: bytes, *, message_id: str, subject: str = "Safeline report") -> bytes:
    """A PGP/MIME mail (RFC 3156) around ``ciphertext``, shaped like the relay's."""
    armored = ciphertext.decode("ascii").replace("\r\n", "\n").replace("\n", "\r\n")
    return (
        "From: relay@safeline.example\r\nTo: staff@safeline.example\r\n"
        f"Message-ID: {message_id}\r\nSubject: {subject}\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/encrypted; protocol="application/pgp-encrypted"; boundary="=_b"\r\n\r\n'
        "--=_b\r\nContent-Type: application/pgp-encrypted\r\n\r\nVersion: 1\r\n\r\n"
        '--=_b\r\nContent-Type: application/octet-stream; name="encrypted.asc"\r\n\r\n'
        f"{armored}\r\n--=_b--\r\n"
    ).encode("ascii")


def _inner(parts: list[tuple[str, bytes]], *, message_id: str) -> bytes:
    """A clear entity as the relay writes one: protected headers and base64 parts."""
    lines = [f"Message-ID: {message_id}", 'Content-Type: multipart/mixed; protected-headers="v1"; boundary="=_i"', ""]
    for content_type, data in parts:
        lines += ["--=_i", f"Content-Type: {content_type}", "Content-Transfer-Encoding: base64", "",
                  base64.encodebytes(data).decode("ascii")]
    lines.append("--=_i--")
    return "\r\n".join(lines).encode("ascii")


def _record(**changes) -> bytes:
    record = {"format": 1, "kind": "report", "reference": "SL-ZZZZ-ZZZZ", "received_at": "2026-12-01T10:00:00+09:00",
              "role": "self", "email": "forged@example.com", "contact_safety": "", "urls": [], "where": "",
              "description": "forged", "police_referral": False, "consent": True, "language": "ja"}
    record.update(changes)
    return json.dumps(record).encode("utf-8")


def build_corpus(folder: Path, keys: StaffGnupg) -> Corpus:
    """The staff inbox as a Maildir in ``folder`` (see the module's docstring)."""
    import relay
    from relay import openpgp
    from tests.support.relay_app import RELAY_CONTACT_ADDRESS, RELAY_MAIL_FROM, RELAY_MAIL_TO, SECRET_KEY, \
        SITE_ORIGIN, deliver
    from tests.support.reports import sent_codes, submit, submit_more
    from tests.support.site import compile_catalogs
    from devtools.mail import DevMail

    compile_catalogs()
    corpus = Corpus(maildir=_maildir(folder / "Maildir"))
    received = folder / "received"
    server = DevMail(received).start()
    try:
        def relay_for(name: str, *publics: bytes):
            key_folder = folder / f"keys-{name}"
            key_folder.mkdir()
            for number, public in enumerate(publics):
                (key_folder / f"{number}.asc").write_bytes(public)
            app = relay.create_app({
                "RELAY_ENV": "development", "RELAY_SECRET_KEY": SECRET_KEY, "RELAY_STAFF_KEYS": str(key_folder),
                "RELAY_MAIL_TO": RELAY_MAIL_TO, "RELAY_MAIL_FROM": RELAY_MAIL_FROM,
                "RELAY_CONTACT_ADDRESS": RELAY_CONTACT_ADDRESS, "RELAY_SMTP_URL": f"smtp://127.0.0.1:{server.port}",
                "RELAY_OUTBOX": str(folder / f"outbox-{name}"), "RELAY_SITE_ORIGIN": SITE_ORIGIN,
                "RELAY_MIN_FILL_SECONDS": "0", "RELAY_RATELIMIT": "1000 per hour",
                "RELAY_RATELIMIT_NETWORK": "1000 per hour", "RELAY_RATELIMIT_SITE": "1000 per hour",
                "RELAY_RATELIMIT_POSTS": "1000 per hour"})
            app.config["TESTING"] = True
            return app

        staff_app = relay_for("staff", keys.public, keys.locked_public)
        client = staff_app.test_client()
        codes = []
        for lang, fields in REPORTS:
            response = submit(client, lang=lang, **fields)
            assert response.status_code == 303, (lang, response.status_code)
            codes.append(sent_codes(client, response))
            corpus.reports += 1
            typed = [fields["email"], *fields["urls"].split("\n")[:3], fields["description"][:30], fields.get("where")]
            corpus.secrets += [text for text in typed if text]
        corpus.references = [reference for reference, _ in codes]
        additions = [("ja", codes[0], {"urls": "https://more.example.com/p/ajisai2", "description": "追加です"}),
                     ("en", codes[1], {"urls": "", "where": "ChatApp group Otter5512",
                                       "description": "More places, Otter5512"})]
        for lang, (reference, code), fields in additions:
            response = submit_more(client, lang=lang, reference=reference, code=code, **fields)
            assert response.status_code == 303, (lang, response.status_code)
            corpus.additions += 1
        corpus.secrets += [MARK_JA, MARK_EN, "Otter5512", "hidden_account_9931", "ajisai2", *corpus.references]
        deliver(staff_app)

        # Someone else's inbox: a real relay mail for a key that is not staff's.
        other_app = relay_for("other", keys.other_public)
        assert submit(other_app.test_client(), lang="ja").status_code == 303
        deliver(other_app)
        corpus.skipped["not for this key"] = 1
        relay_mails = server.messages()
        assert len(relay_mails) == corpus.reports + corpus.additions + 1, relay_mails
    finally:
        server.stop()

    certs = [*openpgp.parse_certs(keys.public), *openpgp.parse_certs(keys.locked_public)]

    def sealed(parts: list[tuple[str, bytes]], number: int) -> bytes:
        message_id = f"<made-{number}@corpus.test>"
        return _pgp_mime(openpgp.encrypt(_inner(parts, message_id=message_id), certs), message_id=message_id)

    made = {
        "plain": ("not encrypted", b"From: someone@example.com\r\nTo: staff@safeline.example\r\n"
                                   b"Message-ID: <plain@corpus.test>\r\nSubject: hello\r\n\r\nJust a mail.\r\n"),
        "forged": ("not encrypted", (
            "From: relay@safeline.example\r\nMessage-ID: <forged@corpus.test>\r\nSubject: Safeline report\r\n"
            'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="=_f"\r\n\r\n--=_f\r\n'
            "Content-Type: application/json\r\n\r\n").encode() + _record() + b"\r\n--=_f--\r\n"),
        "not-a-report": ("not a report", sealed([("text/plain; charset=utf-8", "こんにちは".encode())], 1)),
        "bad-json": ("malformed", sealed([("application/json", b'{"format": 1, "kind": "rep')], 2)),
        "bad-field": ("malformed", sealed([("application/json", _record(reference="SL-0000-0000"))], 3)),
        "format-2": ("unknown format", sealed([("application/json", _record(format=2))], 4)),
        "damaged": ("malformed", _pgp_mime(b"-----BEGIN PGP MESSAGE-----\n\nhQEMA0Yp\n-----END PGP MESSAGE-----\n",
                                           message_id="<damaged@corpus.test>")),
    }
    for kind, _ in made.values():
        corpus.skipped[kind] = corpus.skipped.get(kind, 0) + 1
    # Into the Maildir: the relay's mails as they were received (some read already: cur/ with
    # flags), then the others.
    for number, path in enumerate(relay_mails):
        name = f"{1765000000 + number}.M{number}P1.corpus"
        target = corpus.maildir / ("cur" if number % 3 == 0 else "new") / (name + (":2,S" if number % 3 == 0 else ""))
        target.write_bytes(path.read_bytes())
    for number, (label, (_, data)) in enumerate(made.items(), start=100):
        (corpus.maildir / "new" / f"{1765000000 + number}.M{number}P1.{label}").write_bytes(data)
    return corpus


@pytest.fixture(scope="session")
def relay_corpus(tmp_path_factory, staff_gnupg) -> Corpus:
    return build_corpus(tmp_path_factory.mktemp("corpus"), staff_gnupg)


@pytest.fixture(scope="session")
def relay_maildir(relay_corpus) -> Path:
    return relay_corpus.maildir


@pytest.fixture
def staff_home(tmp_path, staff_gnupg):
    """A staff kit folder made by ``init`` for staff member A's key (GnuPG), with an empty store."""
    from staff.home import Config, Home
    from staff.setup import init

    home = Home(tmp_path / "staff-home")
    init(home, Config(key=staff_gnupg.fingerprint, gnupg_home=str(staff_gnupg.home)))
    return home
