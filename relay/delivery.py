"""The delivery worker: hands each message of the outbox to the mail server until it is taken.

A message leaves the outbox only after the server answered 250 to it.  Failures are retried
with a growing pause per message (base, 2 x base, 4 x base ... up to a cap); a permanent
refusal is retried at the cap and logged at ERROR, because dropping it would lose a report.
Log lines say which file, what happened, how big and how long: never addresses or content.

Messages go one at a time, oldest first.  A slow server holds the next message back for at
most ``Timeouts.deadline`` (15 minutes by default; see relay.smtp), after which the slow one
is retried later and the others get their turn.  A stop is honoured between messages, and
within a hand-off as long as its data has not ended; after that the server's reply is
awaited (up to ``Timeouts.data_end``), because leaving then can make a duplicate.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from relay.outbox import Outbox
from relay.smtp import PermanentDeliveryError, SmtpTarget, TemporaryDeliveryError, Timeouts, timeouts_from

log = logging.getLogger("relay.delivery")

BACKOFF_BASE = 5.0
BACKOFF_CAP = 600.0
CLEAN_TMP_EVERY = 300.0


@dataclass(frozen=True)
class Backoff:
    """How long to wait before the next try, after a number of failed tries."""

    base: float = BACKOFF_BASE
    cap: float = BACKOFF_CAP

    def delay(self, failures: int, *, permanent: bool = False) -> float:
        if permanent:
            return self.cap
        # min() before the power would overflow: failures can grow for days.
        return min(self.cap, self.base * 2 ** min(failures - 1, 64))


@dataclass
class Schedule:
    """When each message may be tried again; kept in memory, per worker.

    After a restart every waiting message is due at once, which is the right thing after
    an outage.
    """

    backoff: Backoff = field(default_factory=Backoff)
    failures: dict[str, int] = field(default_factory=dict)
    due: dict[str, float] = field(default_factory=dict)
    # Sent (250) but not removed, e.g. the disk went read-only: never send these again.
    sent: set[str] = field(default_factory=set)

    def is_due(self, name: str, now: float) -> bool:
        return now >= self.due.get(name, float("-inf"))

    def failed(self, name: str, now: float, *, permanent: bool = False) -> float:
        """Record a failure; return the pause before the next try."""
        self.failures[name] = self.failures.get(name, 0) + 1
        pause = self.backoff.delay(self.failures[name], permanent=permanent)
        self.due[name] = now + pause
        return pause

    def forget(self, name: str) -> None:
        self.failures.pop(name, None)
        self.due.pop(name, None)
        self.sent.discard(name)

    def keep_only(self, names: set[str]) -> None:
        """Drop what is known about messages no longer in the outbox."""
        for name in set(self.failures) | set(self.due) | self.sent:
            if name not in names:
                self.forget(name)


@dataclass
class Counts:
    """What one pass over the outbox did."""

    sent: int = 0
    deferred: int = 0  # temporary failure: retried after the backoff
    refused: int = 0  # permanent failure: kept, retried at the cap, logged at ERROR
    busy: int = 0  # held by another worker at that moment
    waiting: int = 0  # not due yet


def deliver_once(outbox: Outbox, target: SmtpTarget, mail_from: str, rcpt_to: list[str], *,
                 now: float | None = None, schedule: Schedule | None = None,
                 timeouts: Timeouts | None = None, stop: threading.Event | None = None,
                 timeout: float | None = None) -> Counts:
    """Try every due message once, oldest first; return what happened.

    ``now`` (a ``time.monotonic()`` value) fixes the clock, for tests; without a
    ``schedule`` every message is due.  ``timeouts`` (default: RFC 5321's) limit each
    hand-off; ``timeout`` is the old single limit (``Timeouts.uniform``), kept for old callers.
    """
    batch = _Batch(outbox, target, mail_from, rcpt_to, timeouts=timeouts_from(timeouts, timeout),
                schedule=Schedule() if schedule is None else schedule,
                clock=time.monotonic if now is None else (lambda: now), stop=stop)
    pending = outbox.pending()
    batch.schedule.keep_only({path.name for path in pending})
    for path in pending:
        if stop is not None and stop.is_set():
            break
        if not batch.schedule.is_due(path.name, batch.clock()):
            batch.counts.waiting += 1
            continue
        with outbox.claim(path) as claim:
            if claim is None:
                batch.counts.busy += 1
            elif path.name in batch.schedule.sent:
                batch.remove(path, size=len(claim.data), ms=0)
            else:
                batch.attempt(claim.path, claim.data)
    return batch.counts


@dataclass
class _Batch:
    """One pass over the outbox: where its messages go (the mail server, from the sender, to the
    staff), within what limits, and what happened to each."""

    outbox: Outbox
    target: SmtpTarget
    mail_from: str
    rcpt_to: list[str]
    timeouts: Timeouts
    schedule: Schedule
    clock: Callable[[], float]
    stop: threading.Event | None = None
    counts: Counts = field(default_factory=Counts)

    def attempt(self, path: Path, data: bytes) -> None:
        started = time.monotonic()
        try:
            self.target.send(data, mail_from=self.mail_from, rcpt_to=self.rcpt_to, timeouts=self.timeouts,
                             stop=self.stop)
        except TemporaryDeliveryError as error:
            self._failed(path, data, started, "warning", f"deferred ({error})")
        except PermanentDeliveryError as error:
            self._failed(path, data, started, "error", f"refused ({error}), kept;", permanent=True)
        except Exception as error:  # a bug must not stop the worker nor lose the message
            self._failed(path, data, started, "error", f"failed ({type(error).__name__})")
        else:
            self.schedule.sent.add(path.name)
            self.remove(path, size=len(data), ms=_ms(started))

    def _failed(self, path: Path, data: bytes, started: float, level: str, what: str, *,
                permanent: bool = False) -> None:
        pause = self.schedule.failed(path.name, self.clock(), permanent=permanent)
        if permanent:
            self.counts.refused += 1
        else:
            self.counts.deferred += 1
        getattr(log, level)("%s %s size=%d ms=%d attempt=%d retry_in=%gs", path.name, what, len(data), _ms(started),
                            self.schedule.failures[path.name], round(pause, 3))

    def remove(self, path: Path, *, size: int, ms: int) -> None:
        # Removed while the claim is still held, so no other worker can pick it up in between.
        try:
            self.outbox.remove(path)
        except OSError as error:
            log.error("%s sent but not removed (%s) size=%d ms=%d", path.name, error.strerror, size, ms)
            return
        self.schedule.forget(path.name)
        self.counts.sent += 1
        log.info("%s sent size=%d ms=%d", path.name, size, ms)


def _ms(started: float) -> int:
    return round((time.monotonic() - started) * 1000)


def run(outbox: Outbox, target: SmtpTarget, mail_from: str, rcpt_to: list[str], *, stop: threading.Event,
        poll_seconds: float = 1.0, backoff_base: float = BACKOFF_BASE, backoff_cap: float = BACKOFF_CAP,
        timeouts: Timeouts | None = None, timeout: float | None = None) -> None:
    """Deliver until ``stop`` is set, looking at the outbox every ``poll_seconds``.

    ``timeouts`` and ``timeout`` as for ``deliver_once``.
    """
    limits = timeouts_from(timeouts, timeout)
    schedule = Schedule(Backoff(backoff_base, backoff_cap))
    cleaned = float("-inf")
    while not stop.is_set():
        try:
            deliver_once(outbox, target, mail_from, rcpt_to, schedule=schedule, timeouts=limits, stop=stop)
            if time.monotonic() - cleaned >= CLEAN_TMP_EVERY:
                outbox.clean_tmp()
                cleaned = time.monotonic()
        except Exception as error:  # e.g. the outbox folder vanished: keep trying, loudly
            log.error("outbox pass failed (%s)", type(error).__name__)
        stop.wait(poll_seconds)
