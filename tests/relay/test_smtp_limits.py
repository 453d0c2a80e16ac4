"""How long relay/smtp.py waits: RFC 5321's limits, each phase's, the deadline, a stop.

Fast counterparts of tests/relay/test_slow_mail.py: limits of a fraction of a second against the
scripted ``OddServer`` (tests/support/mail.py) on 127.0.0.1; these run against every mutant of
relay/smtp.py.
"""

from __future__ import annotations

import dataclasses
import gc
import threading
import time
import warnings

import pytest

from relay.smtp import RFC_5321, SmtpTarget, TemporaryDeliveryError, Timeouts
from tests.support.mail import ENVELOPE_FROM, ENVELOPE_TO, Act, OddServer, message_id, sealed_message


def to(server) -> SmtpTarget:
    return SmtpTarget.from_url(f"smtp://127.0.0.1:{server.port}", helo="relay.test")


def limits(**changes) -> Timeouts:
    """Every limit 2 s, 5 s to the final dot, then ``changes``."""
    return Timeouts(**{"connect": 2, "greeting": 2, "command": 2, "data_start": 2, "data_block": 2, "data_end": 2,
                       "deadline": 7} | changes)


def refused(server: OddServer, reference: str, timeouts: Timeouts, **options) -> tuple[Exception, float]:
    """Hand one message over expecting a temporary failure; return (the error, how long it took)."""
    started = time.monotonic()
    with pytest.raises(TemporaryDeliveryError) as raised:
        to(server).send(sealed_message(reference), mail_from=ENVELOPE_FROM, rcpt_to=ENVELOPE_TO, timeouts=timeouts,
                        **options)
    return raised.value, time.monotonic() - started


# -- the limits themselves ---------------------------------------------------------------------------

def test_the_defaults_are_rfc_5321s_and_nobody_can_change_them():
    # §4.5.3.2: greeting 5 min, MAIL and RCPT 5 min, DATA 2 min, each data block 3 min, the reply
    # to the final dot 10 min; 30 s to connect (Postfix's); 15 min in all, 5 of them to the dot.
    assert dataclasses.asdict(Timeouts()) == {"connect": 30, "greeting": 300, "command": 300, "data_start": 120,
                                              "data_block": 180, "data_end": 600, "deadline": 900}
    assert RFC_5321 == Timeouts() and RFC_5321.before_data_end == 300
    with pytest.raises(dataclasses.FrozenInstanceError):
        RFC_5321.deadline = 1  # shared by every caller that names no limits


def test_the_time_to_the_final_dot_is_what_the_reply_leaves_of_the_deadline():
    assert limits(data_end=2, deadline=7).before_data_end == 5
    assert limits(data_end=0.5, deadline=3).before_data_end == 2.5


def test_one_uniform_limit_leaves_as_much_again_for_the_reply():
    assert Timeouts.uniform(5) == Timeouts(connect=5, greeting=5, command=5, data_start=5, data_block=5, data_end=5,
                                           deadline=10)


@pytest.mark.parametrize("changes", [
    {"connect": 0}, {"greeting": -1}, {"command": float("inf")}, {"data_start": float("nan")}, {"data_block": "5"},
    {"data_end": 7}, {"data_end": 8},
], ids=["zero", "negative", "infinite", "nan", "text", "deadline-equal-to-data-end", "deadline-below-data-end"])
def test_limits_that_make_no_sense_are_refused(changes):
    with pytest.raises(ValueError):
        limits(**changes)


# -- waiting, phase by phase and in all ---------------------------------------------------------------

def test_a_phase_gives_up_at_its_own_limit(odd_server):
    # The greeting comes at 0.65 s: after its limit (0.3 s), well before the deadline.
    server = odd_server({"greeting": Act(delay=0.65)})
    error, took = refused(server, "SL-LIMIT-0001", limits(greeting=0.3))
    assert str(error) == "timed out at greeting (0.3 s)"
    assert server.messages == []


def test_the_deadline_gives_up_before_a_phase_limit(odd_server):
    # 0.5 s to the final dot; the greeting comes at 1 s, within its own 1.5 s.
    server = odd_server({"greeting": Act(delay=1.0)})
    error, took = refused(server, "SL-LIMIT-0002", limits(greeting=1.5, data_end=1, deadline=1.5))
    assert str(error) == "timed out at greeting (deadline: 0.5 s to the end of the data)"
    assert server.messages == []


def test_a_connect_out_of_time_leaves_no_socket_open(odd_server):
    # The connect limit is over before the socket is even given its timeout: it must be closed,
    # not left to the garbage collector.
    server = odd_server()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        error, _ = refused(server, "SL-LIMIT-0006", limits(connect=1e-9))
        assert str(error) == "timed out at connect (1e-09 s)"
        del error  # its context's traceback holds the socket
        gc.collect()
    assert [warning for warning in caught if issubclass(warning.category, ResourceWarning)] == []


def test_limits_under_a_second_are_waited_for(odd_server):
    server = odd_server()
    to(server).send(sealed_message("SL-LIMIT-0003"), mail_from=ENVELOPE_FROM, rcpt_to=ENVELOPE_TO,
                    timeouts=Timeouts(connect=0.9, greeting=0.9, command=0.9, data_start=0.9, data_block=0.9,
                                      data_end=0.9, deadline=5))
    assert server.count(message_id("SL-LIMIT-0003")) == 1


def test_no_reply_to_the_final_dot_says_the_server_may_have_the_message(odd_server):
    server = odd_server({"end": Act(never=True)})
    error, _ = refused(server, "SL-LIMIT-0004", limits(data_end=0.3))
    assert str(error) == "no reply to the end of the data within 0.3 s; the server may have taken the message"


def test_a_server_that_stops_reading_the_data_is_left_after_the_data_block_limit(odd_server):
    # The message must be larger than what the loopback socket buffers hold while nobody reads
    # (about 3 MB here).
    server = odd_server({"data": Act(never=True)})
    started = time.monotonic()
    with pytest.raises(TemporaryDeliveryError) as raised:
        to(server).send(sealed_message("SL-LIMIT-0005", size=16 * 1024 * 1024), mail_from=ENVELOPE_FROM,
                        rcpt_to=ENVELOPE_TO, timeouts=limits(data_block=0.3))
    assert str(raised.value) == "timed out at data transfer (0.3 s)"
    assert time.monotonic() - started < 5


# -- a stop ------------------------------------------------------------------------------------------

def test_a_stop_set_before_the_hand_off_sends_nothing(odd_server):
    server = odd_server()
    stop = threading.Event()
    stop.set()
    error, _ = refused(server, "SL-STOP-0001", limits(), stop=stop)
    assert str(error) == "stopped at connect, before the end of the data"
    assert server.connections == 0


def test_a_stop_is_noticed_while_waiting_for_a_reply(odd_server):
    # The greeting would be awaited 3 s; a stop 0.1 s in is seen within STOP_POLL_SECONDS (0.2 s).
    server = odd_server({"greeting": Act(never=True)})
    stop = threading.Event()
    threading.Timer(0.1, stop.set).start()
    error, took = refused(server, "SL-STOP-0002", limits(greeting=3), stop=stop)
    assert str(error) == "stopped at greeting, before the end of the data"
    assert took < 1.0
