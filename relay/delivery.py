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

``DeliveryState`` keeps the worker's last delivery and last error in a small JSON file
(RELAY_DELIVERY_STATE), for ``flask --app relay status``: times, the message's file name and
the error's log line, nothing a log line would not carry.  Writing it is best effort: a full
or read-only disk is logged once and delivery goes on.
"""

from __future__ import annotations

import datetime
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from relay.config import DEV, is_production
from safeline.atomic import replace_file
from relay.outbox import Outbox
from relay.smtp import PermanentDeliveryError, SmtpTarget, TemporaryDeliveryError, Timeouts, timeouts_from

log = logging.getLogger("relay.delivery")

BACKOFF_BASE = 5.0
BACKOFF_CAP = 600.0
CLEAN_TMP_EVERY = 300.0

STATE_VARIABLE = "RELAY_DELIVERY_STATE"
PRODUCTION_STATE = Path("/var/lib/safeline/delivery/state.json")
DEVELOPMENT_STATE = DEV / "delivery" / "state.json"  # beside the development outbox, var/dev/outbox


def state_path(environ: Mapping[str, str] | None = None) -> Path:
    """Where the worker records its last delivery and error: RELAY_DELIVERY_STATE, or the default
    of production (the folder the delivery unit may write) or of development."""
    environ = os.environ if environ is None else environ
    value = environ.get(STATE_VARIABLE, "").strip()
    if value:
        return Path(value)
    return PRODUCTION_STATE if is_production(environ) else DEVELOPMENT_STATE


class DeliveryState:
    """The last delivery and the last delivery error, kept in a JSON file for ``status``.

    The file holds {"last_delivery": {"at", "timestamp", "message"}, "last_error": {"at",
    "timestamp", "level", "line"}}: ISO 8601 UTC and Unix seconds, the message's file name (the
    time it was received and its reference, as every log line names it), and the error's log
    line exactly as the worker logged it.  Each update reads the file again first, so workers
    sharing one outbox keep each other's entries, and replaces it whole (a temporary file, then
    rename): a reader never sees half of it.

    Nothing here may stop delivery or cost a report: any failure to write is logged once (and
    once more when writing works again), then ignored.
    """

    def __init__(self, path: Path, *, clock: Callable[[], float] = time.time):
        self.path = Path(path)
        self.clock = clock
        self._failing = False

    def delivered(self, message: str) -> None:
        self._update("last_delivery", {"message": message})

    def failed(self, line: str, level: str) -> None:
        self._update("last_error", {"level": level, "line": line})

    def _update(self, entry: str, fields: dict) -> None:
        try:
            now = self.clock()
            moment = datetime.datetime.fromtimestamp(now, datetime.timezone.utc)
            state = read_state(self.path, missing_ok=True)
            state[entry] = {"at": moment.isoformat(timespec="seconds"), "timestamp": round(now, 3), **fields}
            self._write(json.dumps(state, ensure_ascii=True, sort_keys=True).encode("ascii") + b"\n")
        except Exception as error:  # a full disk, a read-only folder, a bug: never delivery's problem
            if not self._failing:
                reason = getattr(error, "strerror", None) or type(error).__name__
                log.warning("delivery state not recorded in %s (%s); delivery goes on", self.path, reason)
            self._failing = True
            return
        if self._failing:
            log.info("delivery state recorded again in %s", self.path)
            self._failing = False

    def _write(self, data: bytes) -> None:
        try:
            replace_file(self.path, data)
        except FileNotFoundError:
            # The development folder (var/dev/delivery), made at the first record.  Only that
            # last folder: in production the installer makes it, and a worker must not make
            # /var/lib/safeline on a machine that merely runs the tests.
            self.path.parent.mkdir(mode=0o700, exist_ok=True)
            replace_file(self.path, data)


class StateFileError(ValueError):
    """The state file exists but is not what the worker writes; the message says why in one line."""


def read_state(path: Path, *, missing_ok: bool = False) -> dict:
    """The state file as a dict: {} when it does not exist (with ``missing_ok``), else
    FileNotFoundError; StateFileError when it is not a JSON object; OSError when unreadable."""
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        if missing_ok:
            return {}
        raise
    try:
        state = json.loads(data)
    except ValueError:
        if missing_ok:
            return {}  # the worker starts afresh over a broken file
        raise StateFileError("not JSON") from None
    if not isinstance(state, dict):
        if missing_ok:
            return {}
        raise StateFileError("not a JSON object")
    return state


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
                 timeout: float | None = None, state: DeliveryState | None = None) -> Counts:
    """Try every due message once, oldest first; return what happened.

    ``now`` (a ``time.monotonic()`` value) fixes the clock, for tests; without a
    ``schedule`` every message is due.  ``timeouts`` (default: RFC 5321's) limit each
    hand-off; ``timeout`` is the old single limit (``Timeouts.uniform``), kept for old callers.
    ``state``, if given, records each delivery and each error (``DeliveryState``).
    """
    batch = _Batch(outbox, target, mail_from, rcpt_to, timeouts=timeouts_from(timeouts, timeout),
                schedule=Schedule() if schedule is None else schedule,
                clock=time.monotonic if now is None else (lambda: now), stop=stop, state=state)
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
    state: DeliveryState | None = None
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
        line = "%s %s size=%d ms=%d attempt=%d retry_in=%gs" % (
            path.name, what, len(data), _ms(started), self.schedule.failures[path.name], round(pause, 3))
        getattr(log, level)("%s", line)
        self._record_error(line, level)

    def _record_error(self, line: str, level: str) -> None:
        if self.state is not None:
            self.state.failed(line, level)

    def remove(self, path: Path, *, size: int, ms: int) -> None:
        # Removed while the claim is still held, so no other worker can pick it up in between.
        try:
            self.outbox.remove(path)
        except OSError as error:
            line = "%s sent but not removed (%s) size=%d ms=%d" % (path.name, error.strerror, size, ms)
            log.error("%s", line)
            if self.state is not None:
                self.state.delivered(path.name)  # the server has it: that was a delivery
            self._record_error(line, "error")
            return
        self.schedule.forget(path.name)
        self.counts.sent += 1
        log.info("%s sent size=%d ms=%d", path.name, size, ms)
        if self.state is not None:
            self.state.delivered(path.name)


def _ms(started: float) -> int:
    return round((time.monotonic() - started) * 1000)


def run(outbox: Outbox, target: SmtpTarget, mail_from: str, rcpt_to: list[str], *, stop: threading.Event,
        poll_seconds: float = 1.0, backoff_base: float = BACKOFF_BASE, backoff_cap: float = BACKOFF_CAP,
        timeouts: Timeouts | None = None, timeout: float | None = None, state: DeliveryState | None = None) -> None:
    """Deliver until ``stop`` is set, looking at the outbox every ``poll_seconds``.

    ``timeouts``, ``timeout`` and ``state`` as for ``deliver_once``.
    """
    limits = timeouts_from(timeouts, timeout)
    schedule = Schedule(Backoff(backoff_base, backoff_cap))
    cleaned = float("-inf")
    while not stop.is_set():
        try:
            deliver_once(outbox, target, mail_from, rcpt_to, schedule=schedule, timeouts=limits, stop=stop,
                         state=state)
            if time.monotonic() - cleaned >= CLEAN_TMP_EVERY:
                outbox.clean_tmp()
                cleaned = time.monotonic()
        except Exception as error:  # e.g. the outbox folder vanished: keep trying, loudly
            line = f"outbox pass failed ({type(error).__name__})"
            log.error("%s", line)
            if state is not None:
                state.failed(line, "error")
        stop.wait(poll_seconds)
