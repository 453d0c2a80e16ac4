"""SMTP URLs, and hand-offs to a real aiosmtpd server on 127.0.0.1."""

from __future__ import annotations

import dataclasses
import socket
import time

import pytest

from devtools.mail import DevMail
from devtools.ports import free_port
from relay.outbox import message_id_of
from relay.smtp import PermanentDeliveryError, SmtpTarget, TemporaryDeliveryError
from tests.support.mail import ENVELOPE_FROM, ENVELOPE_TO, message_id, sealed_message

SECRET = "s3cr%40t"  # percent-encoded "s3cr@t"


@pytest.mark.parametrize("url, expected", [
    ("smtp://mail.example.org", ("plain", "mail.example.org", 25, None, None)),
    ("smtp://127.0.0.1:8025", ("plain", "127.0.0.1", 8025, None, None)),
    ("smtp+starttls://mail.example.org", ("starttls", "mail.example.org", 587, None, None)),
    ("smtps://mail.example.org", ("tls", "mail.example.org", 465, None, None)),
    ("SMTPS://Mail.Example.org:2465/", ("tls", "mail.example.org", 2465, None, None)),
    ("smtps://relay:pa%3Ass%2Fw%40rd@mail.example.org", ("tls", "mail.example.org", 465, "relay", "pa:ss/w@rd")),
    ("smtp+starttls://us%40er:x@mail.example.org:2587", ("starttls", "mail.example.org", 2587, "us@er", "x")),
    ("smtp://[::1]:2525", ("plain", "::1", 2525, None, None)),
])
def test_urls_are_understood(url, expected):
    parsed = SmtpTarget.from_url(url)
    assert (parsed.security, parsed.host, parsed.port, parsed.user, parsed.password) == expected


@pytest.mark.parametrize("url, complaint", [
    ("", "scheme"),
    ("mail.example.org:25", "scheme"),
    ("http://mail.example.org", "scheme"),
    ("smtp+ssl://mail.example.org", "scheme"),
    ("smtp://", "host"),
    ("smtp://:25", "host"),
    (f"smtps://relay:{SECRET}@:465", "host"),
    ("smtp://mail.example.org:smtp", "port"),
    (f"smtps://relay:{SECRET}@mail.example.org:99999", "port"),
    ("smtp://mail.example.org:0", "port"),
    ("smtp://mail.example.org:25/inbox", "path"),
    ("smtp://mail.example.org?tls=1", "query"),
    ("smtp://relay@mail.example.org", "password"),
    ("smtp://relay:@mail.example.org", "password"),
    (f"smtp://:{SECRET}@mail.example.org", "user"),
])
def test_bad_urls_are_named_in_one_line_without_the_password(url, complaint):
    with pytest.raises(ValueError) as raised:
        SmtpTarget.from_url(url)
    text = str(raised.value)
    assert complaint in text
    assert "\n" not in text
    assert "s3cr" not in text


@pytest.mark.parametrize("url, text", [
    ("", "SMTP URL: scheme is none; use smtp://, smtp+starttls:// or smtps://"),
    ("http://mail.example.org", "SMTP URL: scheme is 'http'; use smtp://, smtp+starttls:// or smtps://"),
])
def test_a_wrong_scheme_is_named(url, text):
    with pytest.raises(ValueError) as raised:
        SmtpTarget.from_url(url)
    assert str(raised.value) == text


def test_the_password_is_kept_out_of_repr_and_str():
    parsed = SmtpTarget.from_url(f"smtps://relay:{SECRET}@mail.example.org")
    assert parsed.password == "s3cr@t"
    assert "s3cr" not in repr(parsed)
    assert str(parsed) == "smtps://mail.example.org:465"


def test_a_target_cannot_be_changed_once_made():
    # One target is shared by every delivery (and thread) of the worker: none may redirect it.
    parsed = SmtpTarget.from_url("smtps://mail.example.org")
    with pytest.raises(dataclasses.FrozenInstanceError):
        parsed.host = "elsewhere.example.org"


def test_a_message_arrives_byte_for_byte(mail_server, target):
    # Lines starting with dots test that the transparency of SMTP is undone exactly.
    message = sealed_message("SL-SEND-0001", body=".\r\n..two dots\r\n.one dot\r\nend\r\n", size=50_000)
    target.send(message, mail_from=ENVELOPE_FROM, rcpt_to=ENVELOPE_TO)
    [stored] = mail_server.messages()
    assert stored.read_bytes() == message
    assert message_id_of(stored.read_bytes()) == message_id("SL-SEND-0001")
    assert mail_server.count(message_id("SL-SEND-0001")) == 1


def test_bare_line_feeds_are_sent_as_crlf(mail_server, target):
    message = sealed_message("SL-SEND-0002").replace(b"\r\n", b"\n")
    target.send(message, mail_from=ENVELOPE_FROM, rcpt_to=ENVELOPE_TO)
    [stored] = mail_server.messages()
    assert stored.read_bytes() == message.replace(b"\n", b"\r\n")


def refusal(target, reference: str, kind: type[Exception]):
    """The error ``kind`` that sending a report's mail to ``target`` must end with."""
    with pytest.raises(kind) as raised:
        target.send(sealed_message(reference), mail_from=ENVELOPE_FROM, rcpt_to=ENVELOPE_TO)
    return raised.value


def test_451_is_temporary(mail_server, target):
    mail_server.fail_with_451 = True
    error = refusal(target, "SL-TEMP-0001", TemporaryDeliveryError)
    assert (error.code, str(error)) == (451, "server answered 451 4.3.0 to DATA")
    assert mail_server.messages() == []


def test_5xx_is_permanent_and_its_text_is_not_repeated(mail_server, target):
    mail_server.fail_with = f"550 5.7.1 <{ENVELOPE_TO[0]}> refused"
    error = refusal(target, "SL-PERM-0001", PermanentDeliveryError)
    assert (error.code, str(error)) == (550, "server answered 550 5.7.1 to DATA")
    assert mail_server.messages() == []


def test_a_stopped_server_is_temporary(mail_server, target):
    mail_server.stop()
    with pytest.raises(TemporaryDeliveryError, match="Connection refused"):
        target.send(sealed_message("SL-DOWN-0001"), mail_from=ENVELOPE_FROM, rcpt_to=ENVELOPE_TO, timeout=5)
    mail_server.start()
    target.send(sealed_message("SL-DOWN-0001"), mail_from=ENVELOPE_FROM, rcpt_to=ENVELOPE_TO, timeout=5)
    assert mail_server.count(message_id("SL-DOWN-0001")) == 1


def test_a_silent_server_times_out_as_temporary():
    # Connections wait in the backlog of a socket nobody accepts from: no greeting ever comes.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        started = time.monotonic()
        with pytest.raises(TemporaryDeliveryError, match="timed out"):
            SmtpTarget.from_url(f"smtp://127.0.0.1:{port}").send(
                b"x\r\n", mail_from=ENVELOPE_FROM, rcpt_to=ENVELOPE_TO, timeout=0.3)
        assert time.monotonic() - started < 5


@pytest.mark.parametrize("scheme", ["smtps", "smtp+starttls"])
def test_tls_failures_are_temporary(mail_server, scheme):
    # The development server speaks neither TLS nor STARTTLS.
    tls = SmtpTarget.from_url(f"{scheme}://127.0.0.1:{mail_server.port}", helo="relay.test")
    with pytest.raises(TemporaryDeliveryError, match="TLS"):
        tls.send(sealed_message("SL-TLS-0001"), mail_from=ENVELOPE_FROM, rcpt_to=ENVELOPE_TO, timeout=5)
    assert mail_server.messages() == []


def test_credentials_are_used_and_a_wrong_password_is_not_shown(tmp_path):
    server = DevMail(tmp_path / "received", credentials=("relay", "s3cr@t")).start()
    try:
        good = SmtpTarget.from_url(f"smtp://relay:{SECRET}@127.0.0.1:{server.port}", helo="relay.test")
        good.send(sealed_message("SL-AUTH-0001"), mail_from=ENVELOPE_FROM, rcpt_to=ENVELOPE_TO, timeout=5)
        assert server.count(message_id("SL-AUTH-0001")) == 1

        bad = SmtpTarget.from_url(f"smtp://relay:wrong-Pa55word@127.0.0.1:{server.port}", helo="relay.test")
        with pytest.raises(PermanentDeliveryError) as raised:
            bad.send(sealed_message("SL-AUTH-0002"), mail_from=ENVELOPE_FROM, rcpt_to=ENVELOPE_TO, timeout=5)
        assert raised.value.code == 535
        assert "Pa55word" not in str(raised.value) and "Pa55word" not in repr(raised.value)
        assert raised.value.__cause__ is None and raised.value.__suppress_context__
        assert server.count(message_id("SL-AUTH-0002")) == 0
    finally:
        server.stop()


def test_errors_never_show_addresses_or_content(mail_server, target):
    marker = "MARKER-7d1c-do-not-log"
    message = sealed_message("SL-PRIV-0001", body=f"{marker}\r\n")
    errors = []
    for fail in ("451 4.3.0 try again later", f"554 5.6.0 {marker} {ENVELOPE_TO[0]}"):
        mail_server.fail_with = fail
        with pytest.raises(Exception) as raised:
            target.send(message, mail_from=ENVELOPE_FROM, rcpt_to=ENVELOPE_TO)
        errors.append(raised.value)
    mail_server.stop()
    with pytest.raises(TemporaryDeliveryError) as raised:
        target.send(message, mail_from=ENVELOPE_FROM, rcpt_to=ENVELOPE_TO)
    errors.append(raised.value)
    for error in errors:
        for secret in (marker, ENVELOPE_FROM, ENVELOPE_TO[0], "safeline.test"):
            assert secret not in str(error) and secret not in repr(error)


def test_no_recipients_is_a_programming_error(target):
    with pytest.raises(ValueError):
        target.send(b"x\r\n", mail_from=ENVELOPE_FROM, rcpt_to=[])


def test_free_port_is_on_loopback_and_free():
    port = free_port()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", port))
