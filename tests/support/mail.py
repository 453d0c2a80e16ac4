"""Mail in the tests: real SMTP servers on 127.0.0.1, a real outbox, the real delivery worker.

- ``mail_server``: the development mail server (``devtools.mail.DevMail``), stopped and
  started again by tests that take it away; ``odd_server``: servers that are slow or odd on
  purpose, phase by phase (``OddServer``);
- ``certificate``: a throwaway certificate for 127.0.0.1, for servers that speak TLS;
- ``outbox`` (an ``Outbox`` in the test's folder) and ``target`` (the ``SmtpTarget`` of
  ``mail_server``); ``sealed_message`` makes a message shaped like the relay's;
- ``Worker``: the delivery worker's loop in a thread, for a ``with`` block.

``ENVELOPE_FROM`` and ``ENVELOPE_TO`` are the addresses of the tests that hand messages to a
server without a relay in front (a relay the tests start has its own: tests/support/relay_app.py).
"""

from __future__ import annotations

import socket
import ssl
import struct
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

from devtools.mail import DevMail
from devtools.ports import free_port
from relay.delivery import run
from relay.outbox import Outbox, message_id_of
from relay.smtp import SmtpTarget, Timeouts

ENVELOPE_FROM = "relay-sender@safeline.test"
ENVELOPE_TO = ["staff-inbox@safeline.test"]


ARMOUR = "-----BEGIN PGP MESSAGE-----\r\nhQEMA\r\n-----END PGP MESSAGE-----\r\n"


def sealed_message(reference: str, *, body: str = ARMOUR, size: int = 0) -> bytes:
    """A message shaped like the relay's sealed ones: CRLF, an outer Message-ID, an opaque body.

    ``size`` pads the body with 76-character lines, as ASCII armour would be.
    """
    head = (
        f"Message-ID: <{reference}@safeline.test>\r\n"
        f"From: {ENVELOPE_FROM}\r\n"
        f"To: {ENVELOPE_TO[0]}\r\n"
        f"Subject: Report {reference}\r\n"
        "MIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=us-ascii\r\n"
        "\r\n"
    )
    message = (head + body).encode("ascii")
    line = b"A" * 76 + b"\r\n"
    missing = max(0, size - len(message))
    return message + line * -(-missing // len(line))


def message_id(reference: str) -> str:
    return f"<{reference}@safeline.test>"


def wait_until(condition: Callable[[], object], *, timeout: float = 5.0, step: float = 0.01) -> bool:
    """Poll ``condition`` until it is true or ``timeout`` seconds have passed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(step)
    return bool(condition())


@pytest.fixture
def mail_server(tmp_path) -> Iterator[DevMail]:
    """A running development mail server; ``.stop()`` / ``.start()`` take it down and back on the same port."""
    server = DevMail(tmp_path / "received").start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def certificate(tmp_path_factory) -> tuple[Path, Path]:
    """A throwaway certificate for 127.0.0.1: (certificate, key).

    A client trusts it with ``monkeypatch.setenv("SSL_CERT_FILE", certificate)``: the relay's
    default TLS context reads that variable each time it is made.
    """
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    try:
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                        "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                        "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True, timeout=30)
    except FileNotFoundError:
        pytest.fail("no openssl: apt-get install -y openssl (./run test installs it)")
    return cert, key


@contextmanager
def tls_mail_server(handler, certificate: tuple[Path, Path], scheme: str) -> Iterator[SmtpTarget]:
    """aiosmtpd with ``handler`` on a free loopback port, speaking TLS as ``scheme`` says
    (smtp+starttls: STARTTLS offered and required on the plain port; smtps: TLS from the first
    byte); yields the relay's target for it.  The test makes the client trust ``certificate``
    (SSL_CERT_FILE, see the fixture ``certificate``)."""
    cert, key = certificate
    server_side = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_side.load_cert_chain(cert, key)
    port = free_port()
    options = {"tls_context": server_side, "require_starttls": True} if scheme == "smtp+starttls" else \
        {"ssl_context": server_side}
    controller = Controller(handler, hostname="127.0.0.1", port=port, ready_timeout=5, **options)
    controller.start()
    try:
        yield SmtpTarget.from_url(f"{scheme}://127.0.0.1:{port}", helo="relay.test")
    finally:
        controller.stop()


@pytest.fixture
def outbox(tmp_path) -> Outbox:
    box = Outbox(tmp_path / "outbox")
    box.check_writable()
    return box


@pytest.fixture
def target(mail_server) -> SmtpTarget:
    # A fixed EHLO name: no reverse lookup of this host's name in tests.
    return SmtpTarget.from_url(f"smtp://127.0.0.1:{mail_server.port}", helo="relay.test")


# -- the delivery worker, running -------------------------------------------------------------

class Worker:
    """``relay.delivery.run`` in a thread with short pauses, for a ``with`` block: stopped and
    joined when it ends (within ``join_seconds``, or the test fails).

    ``options`` go to ``run`` (a test's own limits: ``timeouts``, ``poll_seconds``, …).
    """

    FAST = {"poll_seconds": 0.02, "backoff_base": 0.05, "backoff_cap": 0.2, "timeouts": Timeouts.uniform(5)}

    def __init__(self, outbox: Outbox, target: SmtpTarget, *, mail_from: str = ENVELOPE_FROM,
                 rcpt_to: list[str] = ENVELOPE_TO, join_seconds: float = 10, **options):
        self.stop = threading.Event()
        self.join_seconds = join_seconds
        self.thread = threading.Thread(target=run, args=(outbox, target, mail_from, rcpt_to), daemon=True,
                                       kwargs={"stop": self.stop, **self.FAST, **options})

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *_):
        self.stop.set()
        self.thread.join(timeout=self.join_seconds)
        assert not self.thread.is_alive()


# -- a mail server that misbehaves on purpose ---------------------------------------------------

CRLF = b"\r\n"
NORMAL_REPLIES = {
    "greeting": b"220 odd.test ESMTP\r\n",
    "EHLO": b"250-odd.test\r\n250-8BITMIME\r\n250 SIZE 10000000\r\n",
    "HELO": b"250 odd.test\r\n",
    "MAIL": b"250 2.1.0 ok\r\n",
    "RCPT": b"250 2.1.5 ok\r\n",
    "DATA": b"354 end with <CRLF>.<CRLF>\r\n",
    "data": b"",  # not a reply: the moment the message starts coming
    "end": b"250 2.0.0 stored\r\n",  # the reply to the end of the data
    "QUIT": b"221 2.0.0 bye\r\n",
    "RSET": b"250 2.0.0 ok\r\n",
    "NOOP": b"250 2.0.0 ok\r\n",
}


@dataclass(frozen=True)
class Act:
    """How the odd server answers at one phase instead of promptly.

    ``delay`` seconds of silence first; then ``reply`` (default: the normal one), all at once or
    one byte every ``trickle`` seconds (a tuple of pieces: one piece every ``trickle`` seconds),
    and ``hang_up`` right after it if asked; or ``close`` the connection instead of answering,
    or ``reset`` it (a TCP RST: the client's next read fails with ECONNRESET); or ``never``
    answer at all (until the server stops).
    At the phase ``data`` (after the 354) the server waits before reading the message.
    """

    reply: bytes | tuple[bytes, ...] | None = None
    delay: float = 0.0
    trickle: float = 0.0
    close: bool = False
    reset: bool = False
    never: bool = False
    hang_up: bool = False


class OddServer:
    """A small SMTP server on 127.0.0.1 whose answers a test scripts phase by phase.

    aiosmtpd cannot be slow before its greeting, trickle a reply or send a line longer than
    its own limit; this one can.  ``acts`` maps a phase to an ``Act``: ``greeting``, ``EHLO``,
    ``MAIL``, ``RCPT``, ``DATA`` (the 354), ``data`` (reading the message), ``end`` (the reply
    to the final dot), ``QUIT``, ``unknown`` (any other command, e.g. STARTTLS).  With
    ``first=n`` only the first n connections misbehave, later ones answer normally.  Every
    message whose final dot arrived is kept in ``messages`` (undotted), as a server that has
    taken it before answering would: the worst case for duplicates.  ``commands`` holds every
    command line received (CRLF stripped), ``ended`` counts the conversations that are over on
    the server's side.
    """

    def __init__(self, acts: dict[str, Act] | None = None, *, first: int | None = None):
        self.acts = dict(acts or {})
        self.first = first
        self.messages: list[bytes] = []
        self.connections = 0
        self.commands: list[bytes] = []
        self.ended = 0
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def count(self, message_id: str) -> int:
        """How many messages with this Message-ID had their final dot received."""
        with self._lock:
            return sum(message_id_of(message) == message_id for message in self.messages)

    def stop(self) -> None:
        self.stopping.set()
        _close_quietly(self._listener)  # shutdown() wakes the accept() that close() alone would not
        with self._lock:
            for conversation in list(self._sockets):
                _close_quietly(conversation)
        self._thread.join(timeout=5)

    def _accept(self) -> None:
        while not self.stopping.is_set():
            try:
                conversation, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                self.connections += 1
                number = self.connections
                self._sockets.add(conversation)
            threading.Thread(target=self._converse, args=(conversation, number), daemon=True).start()

    def _converse(self, conversation: socket.socket, number: int) -> None:
        acts = self.acts if self.first is None or number <= self.first else {}
        reader = conversation.makefile("rb")
        try:
            if not self._answer(conversation, "greeting", acts):
                return
            while not self.stopping.is_set():
                line = reader.readline()
                if not line:
                    return
                with self._lock:
                    self.commands.append(line.rstrip(b"\r\n"))
                verb = line.split(b" ", 1)[0].strip().upper().decode("ascii", "replace")
                if verb == "DATA":
                    if not self._answer(conversation, "DATA", acts):
                        return
                    if not self._answer(conversation, "data", acts):
                        return
                    lines = []
                    while (line := reader.readline()) not in (b".\r\n", b""):
                        lines.append(line[1:] if line.startswith(b".") else line)
                    if not line:
                        return
                    with self._lock:
                        self.messages.append(b"".join(lines))
                    verb = "end"
                if not self._answer(conversation, verb if verb in NORMAL_REPLIES else "unknown", acts):
                    return
                if verb == "QUIT":
                    return
        except OSError:
            return
        finally:
            with self._lock:
                self._sockets.discard(conversation)
            reader.close()
            _close_quietly(conversation)
            with self._lock:
                self.ended += 1

    def _answer(self, conversation: socket.socket, phase: str, acts: dict[str, Act]) -> bool:
        """Answer one phase as scripted; False when the conversation is over."""
        act = acts.get(phase, Act())
        reply = act.reply if act.reply is not None else NORMAL_REPLIES.get(phase, b"500 5.5.1 unknown\r\n")
        if act.delay and self.stopping.wait(act.delay):
            return False
        if act.never:
            self.stopping.wait()
            return False
        if act.close:
            conversation.shutdown(socket.SHUT_RDWR)
            return False
        if act.reset:
            # Linger on, for 0 s: close() then sends an RST instead of a FIN.
            conversation.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            conversation.close()
            return False
        if not act.trickle:
            conversation.sendall(reply if isinstance(reply, bytes) else b"".join(reply))
        else:
            for piece in ([bytes([byte]) for byte in reply] if isinstance(reply, bytes) else reply):
                if self.stopping.wait(act.trickle):
                    return False
                conversation.sendall(piece)
        if act.hang_up:
            conversation.shutdown(socket.SHUT_RDWR)
            return False
        return True


def _close_quietly(conversation: socket.socket) -> None:
    try:
        conversation.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    conversation.close()


@pytest.fixture
def odd_server() -> Iterator[Callable[..., OddServer]]:
    """A factory: ``odd_server({"end": Act(delay=2)}, first=1)`` starts one; all stop at the end."""
    started: list[OddServer] = []

    def start(acts: dict[str, Act] | None = None, *, first: int | None = None) -> OddServer:
        server = OddServer(acts, first=first)
        started.append(server)
        return server

    try:
        yield start
    finally:
        for server in started:
            server.stop()
