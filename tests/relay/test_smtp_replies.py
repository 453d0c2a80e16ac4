"""What relay/smtp.py makes of each reply: codes at their boundaries, odd and broken lines, what
it asks of the server, TLS.  Real servers on 127.0.0.1: the scripted ``OddServer`` of
tests/support/mail.py for replies a real server would not give, aiosmtpd for TLS.
Fast (a few seconds in all): these run against every mutant of relay/smtp.py.
"""

from __future__ import annotations

import tracemalloc

import pytest

from devtools.mail import MailStore
from relay.smtp import PermanentDeliveryError, SmtpTarget, TemporaryDeliveryError, Timeouts
from tests.support.mail import (ENVELOPE_FROM, ENVELOPE_TO, Act, OddServer, message_id, sealed_message, tls_mail_server,
                                wait_until)

# Short enough that a mutant which waits where it should not fails in a second.
QUICK = Timeouts(connect=2, greeting=1, command=1, data_start=1, data_block=1, data_end=1, deadline=5)


def to(server: OddServer, scheme: str = "smtp") -> SmtpTarget:
    return SmtpTarget.from_url(f"{scheme}://127.0.0.1:{server.port}", helo="relay.test")


def send(target: SmtpTarget, message: bytes, *, timeouts: Timeouts = QUICK) -> None:
    target.send(message, mail_from=ENVELOPE_FROM, rcpt_to=ENVELOPE_TO, timeouts=timeouts)


def refused(target: SmtpTarget, message: bytes, *, timeouts: Timeouts = QUICK):
    with pytest.raises((TemporaryDeliveryError, PermanentDeliveryError)) as raised:
        send(target, message, timeouts=timeouts)
    return raised.value


# -- the reply to the final dot: 25x is done, 4xx temporary, 5xx permanent, anything else broken -------

@pytest.mark.parametrize("code", [250, 251, 252, 259])
def test_every_25x_to_the_data_is_a_success(odd_server, code):
    server = odd_server({"end": Act(reply=b"%d 2.0.0 ok\r\n" % code)})
    send(to(server), sealed_message("SL-25X-0001"))
    assert server.count(message_id("SL-25X-0001")) == 1


@pytest.mark.parametrize("reply, kind, text", [
    (b"249 2.0.0 ok", TemporaryDeliveryError, "unexpected reply 249 to DATA"),
    (b"260 2.0.0 ok", TemporaryDeliveryError, "unexpected reply 260 to DATA"),
    (b"399 what", TemporaryDeliveryError, "unexpected reply 399 to DATA"),
    (b"400 try later", TemporaryDeliveryError, "server answered 400 to DATA"),
    (b"499 4.0.0 try later", TemporaryDeliveryError, "server answered 499 4.0.0 to DATA"),
    (b"500 5.0.0 no", PermanentDeliveryError, "server answered 500 5.0.0 to DATA"),
    (b"599 no", PermanentDeliveryError, "server answered 599 to DATA"),
    (b"600 what", TemporaryDeliveryError, "unexpected reply 600 to DATA"),
    (b"700 what", TemporaryDeliveryError, "unexpected reply 700 to DATA"),
])
def test_each_class_of_reply_code_ends_where_the_rfc_says(odd_server, reply, kind, text):
    server = odd_server({"end": Act(reply=reply + b"\r\n")})
    error = refused(to(server), sealed_message("SL-CODE-0001"))
    assert type(error) is kind
    assert (str(error), error.code) == (text, int(reply[:3]))


@pytest.mark.parametrize("line", [b"25", b"abc", b"2x0 ok"])
def test_a_reply_without_a_three_digit_code_is_a_broken_conversation(odd_server, line):
    server = odd_server({"end": Act(reply=line + b"\r\n")})
    error = refused(to(server), sealed_message("SL-CODE-0002"))
    assert type(error) is TemporaryDeliveryError
    assert (str(error), error.code) == ("unexpected reply -1 to DATA", -1)


def test_a_line_is_final_unless_a_dash_follows_its_code(odd_server):
    # "451x" is no continuation: the answer is there, nothing more is awaited.
    server = odd_server({"end": Act(reply=b"451x\r\n")})
    error = refused(to(server), sealed_message("SL-CODE-0003"))
    assert str(error) == "server answered 451 to DATA"


def test_the_enhanced_status_may_follow_an_empty_first_line(odd_server):
    # The whole reply arrives in one read: each of its lines is read on its own.
    server = odd_server({"end": Act(reply=b"550-\r\n550 5.7.1 refused for <someone@example.org>\r\n")})
    error = refused(to(server), sealed_message("SL-CODE-0004"))
    assert type(error) is PermanentDeliveryError
    assert str(error) == "server answered 550 5.7.1 to DATA"


def test_an_enhanced_status_split_across_reads_is_kept_whole(odd_server):
    server = odd_server({"end": Act(reply=(b"550 5.123.1", b"23 refused\r\n"), trickle=0.05)})
    error = refused(to(server), sealed_message("SL-CODE-0005"))
    assert str(error) == "server answered 550 5.123.123 to DATA"


def test_251_to_rcpt_is_accepted(odd_server):
    # 251: "user not local; will forward": the recipient is taken all the same.
    server = odd_server({"RCPT": Act(reply=b"251 2.1.5 will forward\r\n")})
    send(to(server), sealed_message("SL-RCPT-0001"))
    assert server.count(message_id("SL-RCPT-0001")) == 1


def test_replies_that_come_a_byte_at_a_time_are_read_whole(odd_server):
    server = odd_server({phase: Act(trickle=0.002) for phase in ("greeting", "EHLO", "MAIL", "end")})
    send(to(server), sealed_message("SL-TRICKLE-0001"))
    assert server.count(message_id("SL-TRICKLE-0001")) == 1


def test_a_reply_in_pieces_split_inside_its_code_is_read_whole(odd_server):
    server = odd_server({"end": Act(reply=(b"2", b"50-2.0.0 q", b"ueued\r\n25", b"0 2.0.0 ok\r\n"), trickle=0.05)})
    send(to(server), sealed_message("SL-PIECES-0001"))
    assert server.count(message_id("SL-PIECES-0001")) == 1


def test_a_reply_line_of_any_length_is_read_in_bounded_memory(odd_server):
    # What is kept of a line is capped (KEPT_LINE bytes): the rest is read and dropped, so a
    # server cannot make the relay hold megabytes.  The first piece is short, so that the cap
    # is reached in the middle of a read.
    reply = (b"250 2.0.0 x", b"x" * (4 * 1024 * 1024) + b"\r\n")
    server = odd_server({"end": Act(reply=reply, trickle=0.05)})
    message = sealed_message("SL-HUGE-0001")
    tracemalloc.start()
    try:
        send(to(server), message)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert server.count(message_id("SL-HUGE-0001")) == 1
    assert peak < 600 * 1024  # about 250 KB: a few reads of 64 KB


def test_an_empty_line_for_a_reply_is_a_lost_conversation(odd_server):
    # An empty line has no code: smtplib takes it, with no text, for a server gone away.
    server = odd_server({"EHLO": Act(reply=b"\n250 odd.test\r\n")})
    error = refused(to(server), sealed_message("SL-EMPTY-0001"))
    assert type(error) is TemporaryDeliveryError
    assert str(error) == "connection lost at EHLO (closed by the server)"
    assert server.messages == []


# -- DATA itself refused: nothing is sent ---------------------------------------------------------------

@pytest.mark.parametrize("reply, text", [
    (b"451 4.3.0 busy", "server answered 451 4.3.0 to DATA"),
    (b"250 2.0.0 ok", "unexpected reply 250 to DATA"),
])
def test_anything_but_354_to_data_sends_no_message(odd_server, reply, text):
    server = odd_server({"DATA": Act(reply=reply + b"\r\n")})
    error = refused(to(server), sealed_message("SL-DATA-0001"))
    assert (type(error), str(error)) == (TemporaryDeliveryError, text)
    assert wait_until(lambda: server.ended == 1)
    assert server.messages == []


# -- a connection lost: where, and whether the server may have the message ------------------------------

def test_a_connection_closed_before_the_data_names_the_stage(odd_server):
    server = odd_server({"MAIL": Act(close=True)})
    error = refused(to(server), sealed_message("SL-LOST-0001"))
    assert (type(error), str(error)) == (TemporaryDeliveryError, "connection lost at MAIL (closed by the server)")


def test_a_connection_reset_before_the_data_names_the_stage(odd_server):
    server = odd_server({"MAIL": Act(reset=True)})
    error = refused(to(server), sealed_message("SL-LOST-0002"))
    assert (type(error), str(error)) == (
        TemporaryDeliveryError, "connection lost at MAIL (ConnectionResetError: Connection reset by peer)")
    assert error.__cause__ is None and error.__suppress_context__


def test_a_connection_closed_after_the_data_says_the_server_may_have_it(odd_server):
    server = odd_server({"end": Act(close=True)})
    error = refused(to(server), sealed_message("SL-LOST-0003"))
    assert (type(error), str(error)) == (
        TemporaryDeliveryError, "connection lost after the end of the data, before the reply (closed by the server); "
                                "the server may have taken the message")


def test_a_250_cut_off_after_its_first_line_is_a_success(odd_server):
    server = odd_server({"end": Act(reply=b"250-2.0.0 queued\r\n", hang_up=True)})
    send(to(server), sealed_message("SL-LOST-0004"))
    assert server.count(message_id("SL-LOST-0004")) == 1


# -- QUIT: only after a success, and nothing it does undoes the success -----------------------------------

def test_quit_follows_a_success_only(odd_server):
    server = odd_server({"MAIL": Act(reply=b"550 5.1.0 no\r\n")})
    refused(to(server), sealed_message("SL-QUIT-0001"))
    assert wait_until(lambda: server.ended == 1)
    assert [line.split()[0].upper() for line in server.commands] == [b"EHLO", b"MAIL"]

    server = odd_server()
    send(to(server), sealed_message("SL-QUIT-0002"))
    assert wait_until(lambda: server.ended == 1)
    assert [line.split()[0].upper() for line in server.commands] == [b"EHLO", b"MAIL", b"RCPT", b"DATA", b"QUIT"]


@pytest.mark.parametrize("act", [Act(never=True), Act(reset=True), Act(close=True)], ids=["never", "reset", "close"])
def test_a_quit_that_fails_after_the_250_changes_nothing(odd_server, act):
    server = odd_server({"QUIT": act})
    send(to(server), sealed_message("SL-QUIT-0003"), timeouts=Timeouts(connect=2, greeting=2, command=0.5,
                                                                       data_start=2, data_block=2, data_end=2,
                                                                       deadline=10))
    assert server.count(message_id("SL-QUIT-0003")) == 1


# -- what MAIL asks for: SIZE and BODY=8BITMIME only when the server offers them --------------------------

PLAIN_EHLO = b"250 odd.test\r\n"


@pytest.mark.parametrize("ehlo, body, options", [
    (None, "ascii only\r\n", ["SIZE={size}"]),
    (None, "caf\u00e9\r\n", ["SIZE={size}", "BODY=8BITMIME"]),
    (PLAIN_EHLO, "caf\u00e9\r\n", []),
    (b"250-odd.test\r\n250 8BITMIME\r\n", "ascii only\r\n", []),
])
def test_mail_asks_for_size_and_8bitmime_only_when_offered_and_needed(odd_server, ehlo, body, options):
    server = odd_server({"EHLO": Act(reply=ehlo)} if ehlo else {})
    message = sealed_message("SL-OPT-0001", body="x\r\n") + body.encode("utf-8")
    send(to(server), message)
    [mail] = [line for line in server.commands if line.upper().startswith(b"MAIL")]
    assert mail.decode().split()[2:] == [option.format(size=len(message)) for option in options]


# -- AUTH, STARTTLS and smtps:// --------------------------------------------------------------------------------

STARTTLS_EHLO = b"250-odd.test\r\n250 STARTTLS\r\n"


def test_auth_not_offered_is_permanent(odd_server):
    # Credentials are configured but the server offers no AUTH: someone has to look.
    server = odd_server()
    target = SmtpTarget.from_url(f"smtp://relay:s3cret@127.0.0.1:{server.port}", helo="relay.test")
    error = refused(target, sealed_message("SL-AUTH-0001"))
    assert (type(error), str(error)) == (PermanentDeliveryError, "server does not support AUTH")
    assert server.messages == []


def test_starttls_not_offered_is_a_temporary_tls_failure(odd_server):
    server = odd_server()
    error = refused(to(server, "smtp+starttls"), sealed_message("SL-TLS-0001"))
    assert (type(error), str(error)) == (TemporaryDeliveryError, "TLS failed: server does not offer STARTTLS")
    assert not any(line.upper().startswith(b"STARTTLS") for line in server.commands)


@pytest.mark.parametrize("reply, kind, text", [
    (b"454 4.7.0 not now", TemporaryDeliveryError, "server answered 454 4.7.0 to STARTTLS"),
    (b"200 go ahead", TemporaryDeliveryError, "unexpected reply 200 to STARTTLS"),
    (b"502 5.5.1 no", PermanentDeliveryError, "server answered 502 5.5.1 to STARTTLS"),
])
def test_only_220_to_starttls_starts_tls(odd_server, reply, kind, text):
    server = odd_server({"EHLO": Act(reply=STARTTLS_EHLO), "unknown": Act(reply=reply + b"\r\n")})
    error = refused(to(server, "smtp+starttls"), sealed_message("SL-TLS-0002"))
    assert (type(error), str(error)) == (kind, text)
    assert server.messages == []


@pytest.mark.parametrize("scheme", ["smtp+starttls", "smtps"])
def test_a_message_goes_over_tls(tmp_path, certificate, monkeypatch, scheme):
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate[0]))  # the client's default context trusts it
    store = MailStore(tmp_path / "received")
    with tls_mail_server(store, certificate, scheme) as target:
        send(target, sealed_message("SL-TLS-0003"))
    assert store.count(message_id("SL-TLS-0003")) == 1
