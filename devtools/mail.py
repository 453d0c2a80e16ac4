"""A real SMTP server on 127.0.0.1 for development, tests and benchmarks, storing what it receives.

Each message is written as ``<folder>/<timestamp>-<n>.eml``, the bytes exactly as received.
It can be told to fail on purpose (``fail_with_451``, or any reply in ``fail_with``) or to
be slow (``delay``) to play a mail server that is having trouble.  Run in the foreground with
``python -m devtools.mail --folder var/dev/mail --port 8025``; there SIGUSR1 toggles the 451.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import threading
import time
from collections import Counter
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from devtools.ports import HOST, free_port
from relay.outbox import message_id_of
TRY_AGAIN = "451 4.3.0 try again later"

log = logging.getLogger("devtools.mail")


class MailStore:
    """The aiosmtpd handler: store every message as a file, count them by Message-ID."""

    def __init__(self, folder: str | os.PathLike):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.fail_with: str | None = None  # a reply such as "550 5.7.1 no", given to DATA instead of 250
        self.delay = 0.0  # seconds to think before answering DATA, like a busy server
        self.received: Counter[str | None] = Counter()
        self._lock = threading.Lock()
        self._n = 0

    @property
    def fail_with_451(self) -> bool:
        return self.fail_with == TRY_AGAIN

    @fail_with_451.setter
    def fail_with_451(self, on: bool) -> None:
        self.fail_with = TRY_AGAIN if on else None

    async def handle_DATA(self, server, session, envelope) -> str:
        if self.delay:
            await asyncio.sleep(self.delay)
        reply = self.fail_with
        if reply is not None:
            return reply
        path = self._store(envelope.original_content)
        log.info("stored %s (%d bytes)", path.name, len(envelope.original_content))
        return "250 2.0.0 OK stored"

    def _store(self, data: bytes) -> Path:
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        with self._lock:
            while True:
                self._n += 1
                path = self.folder / f"{stamp}-{self._n}.eml"
                if not path.exists():  # a restarted server starts counting again
                    break
            # Written under a dot name, then renamed: readers never see half a message.
            partial = self.folder / f".{path.name}.part"
            partial.write_bytes(data)
            os.replace(partial, path)
            self.received[message_id_of(data)] += 1
        return path

    def messages(self) -> list[Path]:
        """The stored messages, in the order they arrived."""
        found = [path for path in self.folder.glob("*.eml")]
        return sorted(found, key=lambda path: (path.stat().st_mtime_ns, path.name))

    def count(self, message_id: str) -> int:
        """How many times a message with this Message-ID was accepted."""
        with self._lock:
            return self.received[message_id]


class DevMail:
    """A MailStore behind a started SMTP listener, which can be stopped and started again."""

    def __init__(self, folder: str | os.PathLike, port: int = 0, *,
                 credentials: tuple[str, str] | None = None):
        self.store = MailStore(folder)
        # Chosen now, not by the listener: aiosmtpd cannot listen on port 0, and a stopped
        # server must come back on the same port.
        self.port = port or free_port()
        self.credentials = credentials
        self._controller: Controller | None = None

    @property
    def folder(self) -> Path:
        return self.store.folder

    def messages(self) -> list[Path]:
        """The stored messages, in the order they arrived."""
        return self.store.messages()

    def count(self, message_id: str) -> int:
        """How many times a message with this Message-ID was accepted."""
        return self.store.count(message_id)

    @property
    def fail_with_451(self) -> bool:
        return self.store.fail_with_451

    @fail_with_451.setter
    def fail_with_451(self, on: bool) -> None:
        self.store.fail_with_451 = on

    @property
    def fail_with(self) -> str | None:
        return self.store.fail_with

    @fail_with.setter
    def fail_with(self, reply: str | None) -> None:
        self.store.fail_with = reply

    @property
    def running(self) -> bool:
        return self._controller is not None

    def start(self) -> DevMail:
        """Listen on 127.0.0.1 at ``self.port`` (the same port after a stop)."""
        if self._controller is not None:
            return self
        options = {}
        if self.credentials is not None:
            # Tests speak plain SMTP, so AUTH has to be allowed without TLS.
            options = {"authenticator": self._authenticate, "auth_require_tls": False}
        # A stopped aiosmtpd Controller cannot be started again: its loop is closed.
        # Loopback only (HOST): this server accepts anything from anyone who reaches it.
        controller = Controller(self.store, hostname=HOST, port=self.port, ready_timeout=5, **options)
        controller.start()
        self._controller = controller
        return self

    def stop(self) -> None:
        """Close the listener: clients now get "connection refused"."""
        if self._controller is not None:
            controller, self._controller = self._controller, None
            controller.stop()

    def _authenticate(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        user, password = self.credentials
        good = auth_data.login == user.encode() and auth_data.password == password.encode()
        # handled=False lets aiosmtpd send the 535 itself; True would leave the client waiting.
        return AuthResult(success=good, handled=False, auth_data=auth_data if good else None)


def start(folder: str | os.PathLike, port: int = 0, *, credentials: tuple[str, str] | None = None) -> DevMail:
    """Start a development mail server storing into ``folder``; ``port`` 0 picks a free one."""
    # aiosmtpd logs every command with the peer's address: keep addresses out of every log.
    logging.getLogger("mail.log").setLevel(logging.WARNING)
    return DevMail(folder, port, credentials=credentials).start()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m devtools.mail", description=__doc__.splitlines()[0])
    parser.add_argument("--folder", required=True, help="where received messages are stored")
    parser.add_argument("--port", type=int, default=8025, help="port on 127.0.0.1 (default 8025)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    server = start(args.folder, args.port)
    done = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: done.set())
    signal.signal(signal.SIGTERM, lambda *_: done.set())

    def toggle(*_):
        server.fail_with_451 = not server.fail_with_451
        log.info("answering DATA with %s", TRY_AGAIN if server.fail_with_451 else "250")

    signal.signal(signal.SIGUSR1, toggle)
    log.info("listening on %s:%d, storing into %s (SIGUSR1 toggles 451)", HOST, server.port, server.folder)
    try:
        while not done.wait(1.0):
            pass
    finally:
        server.stop()


if __name__ == "__main__":
    main()
