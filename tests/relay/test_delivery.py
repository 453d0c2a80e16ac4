"""The delivery worker against a real SMTP server and a real outbox: nothing lost, nothing twice."""

from __future__ import annotations

import errno
import logging
import os
import subprocess
import sys
import textwrap
import threading
import time
from collections import Counter
from types import SimpleNamespace

import pytest

from relay import delivery
from relay.delivery import Backoff, Counts, Schedule, deliver_once, run
from relay.outbox import Outbox
from relay.smtp import SmtpTarget, Timeouts
from tests.support.mail import ENVELOPE_FROM, ENVELOPE_TO, Worker, message_id, sealed_message, wait_until
from tests.support.site import ROOT


def put(outbox: Outbox, reference: str, **options) -> bytes:
    message = sealed_message(reference, **options)
    outbox.put(message, f"20261128T120102Z-{reference}.eml")
    return message


def test_each_message_is_sent_byte_for_byte_then_removed(outbox, mail_server, target):
    sent = {reference: put(outbox, reference) for reference in ("SL-AAAA-0001", "SL-AAAA-0002", "SL-AAAA-0003")}
    counts = deliver_once(outbox, target, ENVELOPE_FROM, ENVELOPE_TO)
    assert counts == Counts(sent=3)
    assert outbox.pending() == []
    assert sorted(path.read_bytes() for path in mail_server.messages()) == sorted(sent.values())
    assert all(mail_server.count(message_id(reference)) == 1 for reference in sent)


def test_451_keeps_the_message_until_the_server_takes_it(outbox, mail_server, target):
    message = put(outbox, "SL-TEMP-0001")
    mail_server.fail_with_451 = True
    schedule = Schedule(Backoff(base=5, cap=600))

    assert deliver_once(outbox, target, ENVELOPE_FROM, ENVELOPE_TO, now=0, schedule=schedule) == Counts(deferred=1)
    assert [path.read_bytes() for path in outbox.pending()] == [message]
    assert mail_server.messages() == []

    mail_server.fail_with_451 = False
    assert deliver_once(outbox, target, ENVELOPE_FROM, ENVELOPE_TO, now=4, schedule=schedule) == Counts(waiting=1)
    assert deliver_once(outbox, target, ENVELOPE_FROM, ENVELOPE_TO, now=5, schedule=schedule) == Counts(sent=1)
    assert outbox.pending() == []
    assert mail_server.count(message_id("SL-TEMP-0001")) == 1
    assert schedule.failures == {} and schedule.due == {}


def test_the_running_worker_retries_after_451(outbox, mail_server, target, caplog):
    caplog.set_level(logging.INFO, logger="relay")
    mail_server.fail_with_451 = True
    put(outbox, "SL-TEMP-0002")
    with Worker(outbox, target):
        assert wait_until(lambda: sum("deferred" in r.getMessage() for r in caplog.records) >= 2, timeout=5)
        assert len(outbox.pending()) == 1
        mail_server.fail_with_451 = False
        assert wait_until(lambda: not outbox.pending(), timeout=5)
    assert mail_server.count(message_id("SL-TEMP-0002")) == 1


def test_a_server_that_is_down_then_back_gets_everything(outbox, mail_server, target, caplog):
    caplog.set_level(logging.INFO, logger="relay")
    mail_server.stop()
    for n in range(3):
        put(outbox, f"SL-DOWN-000{n}")
    with Worker(outbox, target):
        assert wait_until(lambda: sum("deferred" in r.getMessage() for r in caplog.records) >= 6, timeout=5)
        assert len(outbox.pending()) == 3
        mail_server.start()
        assert wait_until(lambda: not outbox.pending(), timeout=5)
    assert [mail_server.count(message_id(f"SL-DOWN-000{n}")) for n in range(3)] == [1, 1, 1]


def test_a_permanent_refusal_is_kept_and_logged_as_error(outbox, mail_server, target, caplog):
    caplog.set_level(logging.INFO, logger="relay")
    mail_server.fail_with = "550 5.7.1 not accepted"
    message = put(outbox, "SL-PERM-0001")
    schedule = Schedule(Backoff(base=5, cap=600))

    assert deliver_once(outbox, target, ENVELOPE_FROM, ENVELOPE_TO, now=0, schedule=schedule) == Counts(refused=1)
    assert [path.read_bytes() for path in outbox.pending()] == [message]
    [record] = [r for r in caplog.records if r.name == "relay.delivery"]
    assert record.levelno == logging.ERROR
    assert "550 5.7.1" in record.getMessage() and "SL-PERM-0001" in record.getMessage()
    # Retried at the cap, not at the base: someone has to fix the cause first.
    assert schedule.due["20261128T120102Z-SL-PERM-0001.eml"] == 600
    assert deliver_once(outbox, target, ENVELOPE_FROM, ENVELOPE_TO, now=599, schedule=schedule) == Counts(waiting=1)

    mail_server.fail_with = None
    assert deliver_once(outbox, target, ENVELOPE_FROM, ENVELOPE_TO, now=600, schedule=schedule) == Counts(sent=1)
    assert mail_server.count(message_id("SL-PERM-0001")) == 1


def test_a_running_worker_never_drops_a_refused_message(outbox, mail_server, target, caplog):
    caplog.set_level(logging.INFO, logger="relay")
    mail_server.fail_with = "554 5.6.0 message refused"
    put(outbox, "SL-PERM-0002")
    with Worker(outbox, target):
        assert wait_until(lambda: sum(r.levelno == logging.ERROR for r in caplog.records) >= 2, timeout=5)
        assert len(outbox.pending()) == 1
        mail_server.fail_with = None
        assert wait_until(lambda: not outbox.pending(), timeout=5)
    assert mail_server.count(message_id("SL-PERM-0002")) == 1


def test_backoff_doubles_and_is_capped():
    backoff = Backoff(base=5, cap=600)
    assert [backoff.delay(n) for n in range(1, 10)] == [5, 10, 20, 40, 80, 160, 320, 600, 600]
    assert backoff.delay(10_000) == 600
    assert backoff.delay(1, permanent=True) == 600


def test_a_failing_message_waits_longer_each_time(outbox, mail_server, target):
    mail_server.fail_with_451 = True
    put(outbox, "SL-BACK-0001")
    name = "20261128T120102Z-SL-BACK-0001.eml"
    schedule = Schedule(Backoff(base=5, cap=20))
    now, pauses = 0.0, []
    for _ in range(5):
        assert deliver_once(outbox, target, ENVELOPE_FROM, ENVELOPE_TO, now=now,
                            schedule=schedule) == Counts(deferred=1)
        pause = schedule.due[name] - now
        pauses.append(pause)
        assert deliver_once(outbox, target, ENVELOPE_FROM, ENVELOPE_TO, now=now + pause - 0.01,
                            schedule=schedule) == Counts(waiting=1)
        now += pause
    assert pauses == [5, 10, 20, 20, 20]
    assert len(outbox.pending()) == 1


def test_each_message_has_its_own_backoff(outbox, mail_server, target):
    mail_server.fail_with_451 = True
    put(outbox, "SL-BACK-0002")
    schedule = Schedule(Backoff(base=5, cap=600))
    deliver_once(outbox, target, ENVELOPE_FROM, ENVELOPE_TO, now=0, schedule=schedule)
    mail_server.fail_with_451 = False
    put(outbox, "SL-BACK-0003")  # a new report is not held back by an older failure
    assert deliver_once(outbox, target, ENVELOPE_FROM, ENVELOPE_TO, now=1,
                        schedule=schedule) == Counts(sent=1, waiting=1)
    assert mail_server.count(message_id("SL-BACK-0003")) == 1


def test_two_workers_send_each_message_exactly_once(tmp_path, mail_server, target):
    mail_server.store.delay = 0.005  # a busy server makes the workers overlap
    folder = tmp_path / "outbox"
    references = [f"SL-PAIR-{n:04}" for n in range(24)]
    for reference in references:
        put(Outbox(folder), reference)
    barrier = threading.Barrier(3)
    totals: list[Counts] = []

    def worker():
        box = Outbox(folder)  # each worker its own instance and file descriptors, as in two processes
        barrier.wait(timeout=5)
        for _ in range(200):
            if not box.pending():
                break
            totals.append(deliver_once(box, target, ENVELOPE_FROM, ENVELOPE_TO, timeouts=Timeouts.uniform(5)))

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)
    assert not any(thread.is_alive() for thread in threads)
    assert Outbox(folder).pending() == []
    assert sum(counts.sent for counts in totals) == len(references)
    assert {reference: mail_server.count(message_id(reference)) for reference in references} == \
        {reference: 1 for reference in references}
    assert len(mail_server.messages()) == len(references)


def test_two_worker_processes_send_each_message_exactly_once(tmp_path, mail_server):
    mail_server.store.delay = 0.005
    folder = tmp_path / "outbox"
    references = [f"SL-PROC-{n:04}" for n in range(16)]
    for reference in references:
        put(Outbox(folder), reference)
    script = textwrap.dedent(f"""
        import sys, threading
        sys.path.insert(0, {str(ROOT)!r})
        from relay.delivery import deliver_once
        from relay.outbox import Outbox
        from relay.smtp import SmtpTarget
        box = Outbox({str(folder)!r})
        target = SmtpTarget.from_url("smtp://127.0.0.1:{mail_server.port}", helo="relay.test")
        sent = 0
        for _ in range(200):
            if not box.pending():
                break
            sent += deliver_once(box, target, {ENVELOPE_FROM!r}, {ENVELOPE_TO!r}, timeout=5).sent
        print(sent)
    """)
    workers = [subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [worker.communicate(timeout=30)[0] for worker in workers]
    assert sum(int(output) for output in outputs) == len(references)
    assert Outbox(folder).pending() == []
    counts = Counter(mail_server.count(message_id(reference)) for reference in references)
    assert counts == Counter({1: len(references)})


def test_a_message_claimed_elsewhere_is_left_alone(outbox, mail_server, target):
    put(outbox, "SL-BUSY-0001")
    [path] = outbox.pending()
    with outbox.claim(path) as claim:
        assert claim is not None
        assert deliver_once(outbox, target, ENVELOPE_FROM, ENVELOPE_TO) == Counts(busy=1)
    assert mail_server.messages() == []
    assert deliver_once(outbox, target, ENVELOPE_FROM, ENVELOPE_TO) == Counts(sent=1)


def test_logs_name_the_file_and_never_addresses_or_content(outbox, mail_server, caplog):
    caplog.set_level(logging.DEBUG)
    marker = "MARKER-b5e2-never-in-logs"
    password = "Pa55-never-in-logs"
    target = SmtpTarget.from_url(f"smtp://127.0.0.1:{mail_server.port}", helo="relay.test")
    put(outbox, "SL-LOGS-0001", body=f"{marker}\r\n")
    schedule = Schedule(Backoff(base=1, cap=1))
    mail_server.fail_with = f"451 4.3.0 {marker} {ENVELOPE_TO[0]}"
    deliver_once(outbox, target, ENVELOPE_FROM, ENVELOPE_TO, now=0, schedule=schedule)
    mail_server.fail_with = f"550 5.1.1 <{ENVELOPE_TO[0]}> {marker}"
    deliver_once(outbox, target, ENVELOPE_FROM, ENVELOPE_TO, now=10, schedule=schedule)
    mail_server.stop()
    deliver_once(outbox, target, ENVELOPE_FROM, ENVELOPE_TO, now=20, schedule=schedule)
    mail_server.start()
    mail_server.fail_with = None
    with_password = SmtpTarget.from_url(f"smtp://relay:{password}@127.0.0.1:{mail_server.port}", helo="relay.test")
    deliver_once(outbox, with_password, ENVELOPE_FROM, ENVELOPE_TO, now=30, schedule=schedule)  # no AUTH offered
    deliver_once(outbox, target, ENVELOPE_FROM, ENVELOPE_TO, now=40, schedule=schedule)
    assert outbox.pending() == []

    # Everything the relay logs (the test's mail server logs as devtools.mail, not as the relay).
    ours = [record for record in caplog.records if record.name.startswith("relay.")]
    outcomes = [record.getMessage() for record in ours]
    assert len(outcomes) == 5, outcomes
    assert all(text.startswith("20261128T120102Z-SL-LOGS-0001.eml ") for text in outcomes)
    assert all(" size=" in text and " ms=" in text for text in outcomes)
    assert outcomes[-1].split()[1] == "sent"
    for text in outcomes:
        for secret in (marker, password, ENVELOPE_FROM, ENVELOPE_TO[0], "@", "safeline.test"):
            assert secret not in text, (secret, text)
    assert all(record.exc_info is None for record in ours)


def test_stop_ends_the_worker_promptly(outbox, mail_server, target):
    with Worker(outbox, target, poll_seconds=30):
        pass  # __exit__ asserts that run() returned well before the 30 s poll


def test_the_worker_survives_its_outbox_disappearing(tmp_path, mail_server, target, caplog):
    folder = tmp_path / "outbox"
    box = Outbox(folder)
    box.check_writable()
    with Worker(box, target):
        box.tmp.rmdir()
        folder.rmdir()
        folder.write_bytes(b"")  # pending() now fails with NotADirectoryError
        assert wait_until(lambda: any("outbox pass failed" in r.getMessage() for r in caplog.records), timeout=5)
        folder.unlink()
        box.check_writable()
        put(box, "SL-BACK-0009")
        assert wait_until(lambda: not box.pending(), timeout=5)
    assert mail_server.count(message_id("SL-BACK-0009")) == 1


def test_stop_is_checked_between_messages(outbox, mail_server, target):
    for n in range(3):
        put(outbox, f"SL-STOP-000{n}")
    stop = threading.Event()
    stop.set()
    assert deliver_once(outbox, target, ENVELOPE_FROM, ENVELOPE_TO, stop=stop) == Counts()
    assert len(outbox.pending()) == 3


@pytest.mark.parametrize("attempts", [1, 3])
def test_schedule_forgets_messages_that_left(attempts):
    schedule = Schedule(Backoff(base=1, cap=8))
    for _ in range(attempts):
        schedule.failed("gone.eml", 0)
    schedule.sent.add("sent-not-removed.eml")  # taken by the server, then its removal failed
    schedule.keep_only(set())
    assert schedule.is_due("gone.eml", 0) and schedule.failures == {} and schedule.due == {}
    assert schedule.sent == set()


# -- the defaults operators rely on (README, "SMTP"), and what each outcome logs ----------------

def test_defaults_retry_after_5_seconds_doubling_up_to_10_minutes():
    assert [Backoff().delay(n) for n in range(1, 10)] == [5, 10, 20, 40, 80, 160, 320, 600, 600]
    assert Backoff().delay(1, permanent=True) == 600


def test_a_schedule_counts_each_failure_as_temporary_unless_told():
    schedule = Schedule(Backoff(base=5, cap=600))
    assert [schedule.failed("a.eml", 100) for _ in range(3)] == [5, 10, 20]
    assert schedule.failures == {"a.eml": 3} and schedule.due == {"a.eml": 120}
    assert schedule.failed("b.eml", 100, permanent=True) == 600 and schedule.due["b.eml"] == 700


class Clock:
    """Stands in for relay.delivery's ``time``: ``monotonic()`` gives ``now``, then moves it on
    by ``step`` (0: it stays until the test moves it)."""

    def __init__(self, now: float, step: float = 0.0):
        self.now, self.step = now, step

    def monotonic(self) -> float:
        now = self.now
        self.now += self.step
        return now

    def install(self, monkeypatch) -> Clock:
        monkeypatch.setattr(delivery, "time", SimpleNamespace(monotonic=self.monotonic))
        return self


class Passes(threading.Event):
    """``run``'s stop event: ``run`` waits on it once at the end of each pass, so each wait records
    the pause asked for and whether a stale leftover in tmp/ was cleaned, then moves the clock to
    the next pass's time and plants a new leftover; after the last pass it stops the worker."""

    def __init__(self, clock: Clock, outbox: Outbox, times: list[float]):
        super().__init__()
        self.clock, self.outbox, self.times = clock, outbox, list(times)
        self.pauses: list[float] = []
        self.cleaned: list[bool] = []
        self.clock.now = self.times.pop(0)
        self.plant()

    def plant(self) -> None:
        self.leftover = self.outbox.tmp / f"leftover-{len(self.cleaned)}"
        self.leftover.write_bytes(b"half a message")
        hours_ago = time.time() - 2 * 3600  # stale by the wall clock, as clean_tmp judges
        os.utime(self.leftover, (hours_ago, hours_ago))

    def wait(self, timeout: float | None = None) -> bool:
        self.pauses.append(timeout)
        self.cleaned.append(not self.leftover.exists())
        if self.times:
            self.clock.now = self.times.pop(0)
            self.plant()
        else:
            self.set()
        return self.is_set()


def test_the_worker_cleans_tmp_on_its_first_pass_then_every_5_minutes(outbox, mail_server, target, monkeypatch):
    clock = Clock(0).install(monkeypatch)
    passes = Passes(clock, outbox, [1000, 1299.5, 1300, 1300.001, 1599.999, 1600])
    run(outbox, target, ENVELOPE_FROM, ENVELOPE_TO, stop=passes)
    assert passes.cleaned == [True, False, True, False, False, True]
    assert passes.pauses == [1.0] * 6  # it looks at the outbox every second unless told


def test_the_running_worker_backs_off_5_seconds_doubling_up_to_10_minutes(outbox, mail_server, target, caplog,
                                                                          monkeypatch):
    caplog.set_level(logging.INFO, logger="relay.delivery")
    mail_server.fail_with_451 = True
    message = put(outbox, "SL-BACK-0010")
    clock = Clock(0).install(monkeypatch)
    due = [1000.0]
    for pause in (5, 10, 20, 40, 80, 160, 320, 600, 600):
        due.append(due[-1] + pause)
    times = [moment for at in due[1:] for moment in (at - 0.01, at)]  # each due time, and just before it
    run(outbox, target, ENVELOPE_FROM, ENVELOPE_TO, stop=Passes(clock, outbox, [1000.0, *times]))
    name = "20261128T120102Z-SL-BACK-0010.eml"
    ours = [record for record in caplog.records if record.name == "relay.delivery"]
    texts = [record.getMessage() for record in ours]
    assert texts == [f"{name} deferred (server answered 451 4.3.0 to DATA) size={len(message)} "
                     f"ms=0 attempt={n} retry_in={pause}s"
                     for n, pause in enumerate((5, 10, 20, 40, 80, 160, 320, 600, 600, 600), start=1)]
    assert all(record.levelno == logging.WARNING for record in ours)
    assert mail_server.messages() == [] and [path.name for path in outbox.pending()] == [name]


class ReadOnlyOnce(Outbox):
    """A real outbox whose first delete fails, as when the disk has just gone read-only."""

    def __init__(self, folder):
        super().__init__(folder)
        self.refusals = 1

    def remove(self, path) -> None:
        if self.refusals:
            self.refusals -= 1
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))
        super().remove(path)


def test_each_outcome_logs_one_line_with_its_size_and_how_long_it_took(tmp_path, mail_server, target, caplog,
                                                                      monkeypatch):
    caplog.set_level(logging.INFO, logger="relay.delivery")
    Clock(1.0, step=2.5).install(monkeypatch)  # each hand-off "takes" 2.5 s
    outbox = ReadOnlyOnce(tmp_path / "outbox")
    outbox.check_writable()
    message = put(outbox, "SL-LOGS-0002")
    name, size = "20261128T120102Z-SL-LOGS-0002.eml", len(message)
    schedule = Schedule(Backoff(base=5, cap=600))

    mail_server.fail_with = "550 5.7.1 not accepted"
    assert deliver_once(outbox, target, ENVELOPE_FROM, ENVELOPE_TO, now=0, schedule=schedule) == Counts(refused=1)
    mail_server.fail_with = None
    assert deliver_once(outbox, target, ENVELOPE_FROM, ENVELOPE_TO, now=600, schedule=schedule) == Counts()
    assert [path.name for path in outbox.pending()] == [name] and mail_server.count(message_id("SL-LOGS-0002")) == 1
    # Taken by the server but still in the outbox: removed on the next pass, never sent again.
    assert deliver_once(outbox, target, ENVELOPE_FROM, ENVELOPE_TO, now=601, schedule=schedule) == Counts(sent=1)
    assert outbox.pending() == [] and mail_server.count(message_id("SL-LOGS-0002")) == 1
    assert schedule == Schedule(Backoff(base=5, cap=600))  # nothing kept about a message that left
    other = put(outbox, "SL-LOGS-0003")
    assert deliver_once(outbox, target, ENVELOPE_FROM, ENVELOPE_TO, now=602, schedule=schedule) == Counts(sent=1)

    assert [(record.levelname, record.getMessage()) for record in caplog.records
            if record.name == "relay.delivery"] == [
        ("ERROR", f"{name} refused (server answered 550 5.7.1 to DATA), kept; size={size} ms=2500 attempt=1 "
                  "retry_in=600s"),
        ("ERROR", f"{name} sent but not removed (Read-only file system) size={size} ms=2500"),
        ("INFO", f"{name} sent size={size} ms=0"),
        ("INFO", f"20261128T120102Z-SL-LOGS-0003.eml sent size={len(other)} ms=2500"),
    ]


def test_an_unexpected_error_keeps_the_message_and_names_only_its_type(outbox, mail_server, target, caplog,
                                                                        monkeypatch):
    caplog.set_level(logging.INFO, logger="relay.delivery")
    Clock(1.0, step=2.5).install(monkeypatch)
    message = put(outbox, "SL-BUGS-0001")
    schedule = Schedule(Backoff(base=5, cap=600))
    # No recipients: send() raises ValueError, which no SMTP failure does.
    assert deliver_once(outbox, target, ENVELOPE_FROM, [], now=0, schedule=schedule) == Counts(deferred=1)
    assert [path.read_bytes() for path in outbox.pending()] == [message] and mail_server.messages() == []
    assert [(record.levelname, record.getMessage()) for record in caplog.records
            if record.name == "relay.delivery"] == [
        ("ERROR", f"20261128T120102Z-SL-BUGS-0001.eml failed (ValueError) size={len(message)} ms=2500 attempt=1 "
                  "retry_in=5s"),
    ]
    assert deliver_once(outbox, target, ENVELOPE_FROM, ENVELOPE_TO, now=5, schedule=schedule) == Counts(sent=1)
    assert mail_server.count(message_id("SL-BUGS-0001")) == 1


def test_a_pause_is_logged_to_the_millisecond(outbox, mail_server, target, caplog):
    caplog.set_level(logging.INFO, logger="relay.delivery")
    mail_server.fail_with_451 = True
    put(outbox, "SL-BACK-0011")
    schedule = Schedule(Backoff(base=0.0126, cap=1))
    assert deliver_once(outbox, target, ENVELOPE_FROM, ENVELOPE_TO, now=0, schedule=schedule) == Counts(deferred=1)
    [record] = [record for record in caplog.records if record.name == "relay.delivery"]
    assert record.getMessage().endswith(" attempt=1 retry_in=0.013s")
