"""Fixtures for delivery tests: a real SMTP server on 127.0.0.1 and a real outbox folder.

Import the fixtures into a test module to use them:
``from tests.relay.fixtures_mail import mail_server, outbox, target  # noqa: F401``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest

from relay.devmail import DevMail
from relay.outbox import Outbox
from relay.smtp import SmtpTarget

MAIL_FROM = "relay-sender@safeline.test"
RCPT_TO = ["staff-inbox@safeline.test"]


ARMOUR = "-----BEGIN PGP MESSAGE-----\r\nhQEMA\r\n-----END PGP MESSAGE-----\r\n"


def sealed_message(reference: str, *, body: str = ARMOUR, size: int = 0) -> bytes:
    """A message shaped like the relay's sealed ones: CRLF, an outer Message-ID, an opaque body.

    ``size`` pads the body with 76-character lines, as ASCII armour would be.
    """
    head = (
        f"Message-ID: <{reference}@safeline.test>\r\n"
        f"From: {MAIL_FROM}\r\n"
        f"To: {RCPT_TO[0]}\r\n"
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


@pytest.fixture
def outbox(tmp_path) -> Outbox:
    box = Outbox(tmp_path / "outbox")
    box.check_writable()
    return box


@pytest.fixture
def target(mail_server) -> SmtpTarget:
    # A fixed EHLO name: no reverse lookup of this host's name in tests.
    return SmtpTarget.from_url(f"smtp://127.0.0.1:{mail_server.port}", helo="relay.test")
