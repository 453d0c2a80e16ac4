"""Debian's Dovecot on loopback for the staff kit's tests: a real IMAP mailbox over TLS.

``Dovecot(folder, certificate).start()`` runs ``dovecot -F -c <its own config>`` unprivileged,
listening on 127.0.0.1 only: IMAP over TLS (``port``, the certificate of the fixture
``certificate``, for 127.0.0.1) and plain IMAP (``plain_port``, for the loopback-only
``imap://``). Everything it keeps (config, sockets, state, log, mail in Maildir folders) is in
its folder. ``stop()`` ends it and waits for it.

Each test takes its own ``Account`` (a new user of a passwd-file, a random password, its own
empty Maildir), so one server serves a whole session (per xdist worker) and no test sees
another's mail. ``account.deliver(messages)`` APPENDs message bytes to the INBOX with
imapclient as a mail server delivers them (no flag, the server's arrival time); ``flags()``
reads the flags back.

Dovecot refuses to run its login processes as root and gives no mailbox to uid 0: when the
tests run as root (a container), the server runs as Debian's ``dovecot`` user in a folder of
its own under the temp folder. The config is Dovecot 2.3's (Debian 12); 2.4 renamed most
settings, and a 2.4 here fails the start with a message that says so.

./run test installs the package (``apt-get install -y dovecot-imapd``) when it is missing.
"""

from __future__ import annotations

import grp
import os
import pwd
import secrets
import shutil
import ssl
import subprocess
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import imapclient
import pytest

from devtools.ports import HOST, free_port, wait_for_port

DOVECOT = shutil.which("dovecot") or shutil.which("dovecot", path="/usr/sbin:/sbin") or "/usr/sbin/dovecot"
# The system user Debian's package makes, to run the server as when the tests run as root.
SYSTEM_USER = "dovecot"

CONFIG = """\
# Dovecot 2.3, for one test session: loopback only, everything in {folder}.
protocols = imap
listen = {host}
base_dir = {folder}/run
state_dir = {folder}/state
log_path = {folder}/dovecot.log
info_log_path = {folder}/dovecot.log
default_login_user = {user}
default_internal_user = {user}
default_internal_group = {group}
first_valid_uid = {uid}
first_valid_gid = {gid}
ssl = yes
ssl_cert = <{folder}/cert.pem
ssl_key = <{folder}/key.pem
# Plain IMAP is on loopback only (the kit's imap:// test); Dovecot counts loopback as secure.
disable_plaintext_auth = no
auth_mechanisms = plain login
# Wrong passwords are part of the tests: no 2-second reply delay, and no penalty for 127.0.0.1
# (anvil-auth-penalty below), which would delay every later login of the session by seconds.
auth_failure_delay = 0
# One file per user: a test adds its account without the server re-reading a shared file.
passdb {{
  driver = passwd-file
  args = scheme=PLAIN {folder}/users/%u
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={folder}/home/%u
}}
mail_location = maildir:~/Maildir
# No chroot: an unprivileged server cannot chroot.
service anvil {{
  chroot =
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = {host}
    port = {plain_port}
  }}
  inet_listener imaps {{
    address = {host}
    port = {port}
    ssl = yes
  }}
}}
"""


def version() -> str:
    return subprocess.run([DOVECOT, "--version"], capture_output=True, text=True, check=True, timeout=30).stdout.strip()


@dataclass(frozen=True)
class Account:
    """One mailbox of the test server: its user, password and addresses."""

    server: Dovecot
    user: str
    password: str

    @property
    def url(self) -> str:
        """``imaps://USER@127.0.0.1:PORT`` (INBOX)."""
        return f"imaps://{self.user}@{HOST}:{self.server.port}"

    @property
    def plain_url(self) -> str:
        return f"imap://{self.user}@{HOST}:{self.server.plain_port}"

    def client(self) -> imapclient.IMAPClient:
        """A logged-in client that trusts the test certificate (close it: ``with``)."""
        client = imapclient.IMAPClient(HOST, port=self.server.port, ssl_context=self.server.ssl_context(),
                                       timeout=10)
        client.login(self.user, self.password)
        return client

    def deliver(self, messages: Iterable[bytes], folder: str = "INBOX") -> list[int]:
        """APPEND each message, as a mail server delivers it (no flag, arrival time now); their UIDs."""
        uids = []
        with self.client() as client:
            if not client.folder_exists(folder):
                client.create_folder(folder)
            for message in messages:
                answer = client.append(folder, message)
                # [APPENDUID <validity> <uid>] (RFC 4315), which Dovecot always sends.
                uids.append(int(answer.split(b"]")[0].split()[-1]))
        return uids

    def flags(self, folder: str = "INBOX") -> dict[int, tuple[bytes, ...]]:
        """Each message's flags, looked at read-only (this look changes none); \\Recent left out:
        it belongs to a session, not to the message."""
        with self.client() as client:
            client.select_folder(folder, readonly=True)
            answer = client.fetch(client.search("ALL"), ["FLAGS"])
        return {uid: tuple(sorted(flag for flag in data[b"FLAGS"] if flag != b"\\Recent"))
                for uid, data in answer.items()}


class Dovecot:
    def __init__(self, folder: Path, certificate: tuple[Path, Path]):
        self.certificate = certificate
        self.port = free_port()
        self.plain_port = free_port()
        self._process: subprocess.Popen | None = None
        self._own_folder = os.geteuid() == 0
        if self._own_folder:
            # The server's user must reach its folder: pytest's temp folder is root's alone.
            self.folder = Path(tempfile.mkdtemp(prefix="safeline-dovecot-"))
            try:
                user = pwd.getpwnam(SYSTEM_USER)
            except KeyError:
                pytest.fail(f"the tests run as root, and Dovecot's system user {SYSTEM_USER!r} is missing: "
                            "apt-get install -y dovecot-imapd makes it")
            self.uid, self.gid, self.user = user.pw_uid, user.pw_gid, SYSTEM_USER
        else:
            self.folder = Path(folder)
            self.uid, self.gid, self.user = os.getuid(), os.getgid(), pwd.getpwuid(os.getuid()).pw_name
        self.group = grp.getgrgid(self.gid).gr_name
        self.config = self.folder / "dovecot.conf"
        self.log = self.folder / "dovecot.log"
        self._accounts = 0

    def ssl_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.certificate[0]))

    def _prepare(self) -> None:
        for name in ("run", "state", "users", "home"):
            (self.folder / name).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(self.certificate[0], self.folder / "cert.pem")
        shutil.copyfile(self.certificate[1], self.folder / "key.pem")
        self.config.write_text(CONFIG.format(folder=self.folder, host=HOST, port=self.port,
                                             plain_port=self.plain_port, user=self.user, group=self.group,
                                             uid=self.uid, gid=self.gid))
        if self._own_folder:
            for path in [self.folder, *self.folder.rglob("*")]:
                os.chown(path, self.uid, self.gid)

    def start(self, timeout: float = 30) -> Dovecot:
        if not Path(DOVECOT).exists():
            pytest.fail(f"no dovecot at {DOVECOT}: apt-get install -y dovecot-imapd (./run test installs it)")
        if not version().startswith("2.3."):
            pytest.fail(f"Dovecot {version()}: tests/support/dovecot.py writes a 2.3 config; teach it this version")
        self._prepare()
        as_user = {"user": self.uid, "group": self.gid, "extra_groups": []} if self._own_folder else {}
        # -F: in the foreground, so that this Popen is the server, and stop() can wait for it.
        # What it says before its log is open (a config it rejects) goes to a file, read on failure.
        with (self.folder / "stderr.txt").open("wb") as stderr:
            self._process = subprocess.Popen([DOVECOT, "-F", "-c", str(self.config)], stdin=subprocess.DEVNULL,
                                             stdout=subprocess.DEVNULL, stderr=stderr, start_new_session=True,
                                             **as_user)
        try:
            wait_for_port(self.port, process=self._process, timeout=timeout)
            wait_for_port(self.plain_port, process=self._process, timeout=timeout)
        except RuntimeError as error:
            self.stop()
            raise RuntimeError(f"dovecot did not start ({error}): {self._log_tail()}") from None
        return self

    def _log_tail(self) -> str:
        said = [path.read_text(errors="replace") for path in (self.folder / "stderr.txt", self.log) if path.exists()]
        return "".join(said)[-2000:]

    def stop(self, timeout: float = 10) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()  # the master ends its children, then itself
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=timeout)
        if self._own_folder:
            shutil.rmtree(self.folder, ignore_errors=True)

    def account(self, password: str | None = None) -> Account:
        """A new user with an empty mailbox."""
        self._accounts += 1
        user = f"staff{self._accounts}-{secrets.token_hex(3)}"
        password = password or secrets.token_urlsafe(12)
        entry = self.folder / "users" / user
        entry.write_text(f"{user}:{{PLAIN}}{password}::::::\n")
        if self._own_folder:
            os.chown(entry, self.uid, self.gid)
        return Account(self, user, password)


@pytest.fixture(scope="session")
def dovecot(tmp_path_factory, certificate) -> Iterator[Dovecot]:
    """One Dovecot for the session (per xdist worker); tests keep to an ``imap_account`` each."""
    server = Dovecot(tmp_path_factory.mktemp("dovecot"), certificate).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def imap_account(dovecot) -> Account:
    """A mailbox of the test's own on the session's Dovecot, empty."""
    return dovecot.account()
