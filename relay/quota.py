"""How many reports are accepted: per client, per IPv6 /48, and for the whole site.

A report is counted *before* the work that accepts it (``Quota.reserve``), in one atomic
step that checks every limit and counts only if all of them allow it, and the count is
given back (``Reservation.release``) when the report is not accepted after all.  Counting
after the work would let concurrent posts through together: each sees the count before the
others add to theirs.

Counters hold pseudonyms, never addresses (``relay.abuse``).  A client's pseudonym changes
every day, and its counts must not drop to zero when it does: each report is counted under
today's pseudonym and tomorrow's, and only today's is read.  When the day changes, the new
pseudonym already holds the reports of the last day, so a limit "per hour" or "per day" is a
moving window across midnight like any other moment, and a snapshot of the store still
cannot link one day's pseudonyms to another day's.

Two stores, as for Flask-Limiter: ``memory://`` (one process; development and tests) and
Redis (shared by every worker and instance; one Lua script per reservation).  When Redis
cannot be reached the quota fails open with one log line: a limiter never costs a report.
"""

from __future__ import annotations

import bisect
import json
import logging
import math
import secrets
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import redis
from limits import parse_many

from . import shared_store

log = logging.getLogger("relay.quota")


@dataclass(frozen=True)
class Rule:
    """At most ``amount`` reports in any ``seconds`` (a moving window)."""

    amount: int
    seconds: int

    @classmethod
    def parse(cls, text: str) -> tuple[Rule, ...]:
        """``"5 per hour;20 per day"`` → rules (the syntax of Flask-Limiter's limits)."""
        return tuple(cls(item.amount, item.get_expiry()) for item in parse_many(text))


@dataclass(frozen=True)
class Counter:
    """One thing that is counted: read under ``read``, counted under every key of ``write``."""

    name: str  # "client", "network" or "site": what a refusal was about
    read: str
    write: tuple[str, ...]
    rules: tuple[Rule, ...]

    @property
    def keep(self) -> int:
        """How long an entry matters: the longest window."""
        return max(rule.seconds for rule in self.rules)


class Reservation:
    """One report counted in advance; ``release()`` gives the count back (at most once)."""

    def __init__(self, release: Callable[[], None] | None = None):
        self._release = release

    def release(self) -> None:
        release, self._release = self._release, None
        if release is not None:
            release()


NOTHING_RESERVED = Reservation()


class Refused(Exception):
    """A limit is reached: ``counter`` says which (client, network or site).

    ``first_of_window`` is true for the first refusal by the site's ceiling in its window,
    across every worker: the one moment to log it for monitoring.
    """

    def __init__(self, counter: Counter, *, first_of_window: bool = False):
        super().__init__(counter.name)
        self.counter = counter
        self.first_of_window = first_of_window


class Store:
    """Where counts live; ``clock`` is wall-clock seconds, shared by every process."""

    def reserve(self, counters: Sequence[Counter], member: str, now: float) -> Counter | None:
        """Count ``member`` under every counter if all allow it; else the first that refuses."""
        raise NotImplementedError

    def release(self, counters: Sequence[Counter], member: str) -> None:
        raise NotImplementedError

    def first_refusal(self, counter: Counter, now: float) -> bool:
        """True once per window of ``counter``: the moment to log that it refuses."""
        raise NotImplementedError

    @classmethod
    def from_uri(cls, uri: str) -> Store:
        if uri.startswith("memory://"):
            return MemoryStore()
        return RedisStore(uri)


class MemoryStore(Store):
    """One process's counts: per key, the times of its entries in order, and whose they are.

    Counting a window is a bisection, so a store that holds many entries (limits set high,
    as the benchmarks do) costs no more per report than one that holds a few.
    """

    def __init__(self):
        self._times: dict[str, list[float]] = {}
        self._members: dict[str, dict[str, float]] = {}
        self._logged: dict[str, float] = {}
        self._lock = threading.Lock()

    def _prune(self, key: str, since: float) -> list[float]:
        times = self._times.get(key, [])
        old = bisect.bisect_right(times, since)
        if old:
            members = self._members[key]
            for member in [member for member, at in members.items() if at <= since]:
                del members[member]
            del times[:old]
        return times

    def reserve(self, counters, member, now):
        with self._lock:
            for counter in counters:
                times = self._prune(counter.read, now - counter.keep)
                for rule in counter.rules:
                    if len(times) - bisect.bisect_right(times, now - rule.seconds) >= rule.amount:
                        return counter
            for counter in counters:
                for key in counter.write:
                    bisect.insort(self._times.setdefault(key, []), now)
                    self._members.setdefault(key, {})[member] = now
            return None

    def release(self, counters, member):
        with self._lock:
            for counter in counters:
                for key in counter.write:
                    at = self._members.get(key, {}).pop(member, None)
                    if at is not None:
                        times = self._times[key]
                        del times[bisect.bisect_left(times, at)]

    def first_refusal(self, counter, now):
        with self._lock:
            if self._logged.get(counter.read, float("-inf")) > now - counter.keep:
                return False
            self._logged[counter.read] = now
            return True


# KEYS: every key of every counter.  ARGV[1]: now; ARGV[2]: the member; ARGV[3]: the counters
# as JSON, each {read: index into KEYS, write: [indexes], rules: [[amount, seconds]], keep}.
_RESERVE = """
local now = tonumber(ARGV[1])
local counters = cjson.decode(ARGV[3])
for index, counter in ipairs(counters) do
  local key = KEYS[counter.read]
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - counter.keep)
  for _, rule in ipairs(counter.rules) do
    if redis.call('ZCOUNT', key, '(' .. (now - rule[2]), '+inf') >= rule[1] then
      return index
    end
  end
end
for _, counter in ipairs(counters) do
  for _, write in ipairs(counter.write) do
    redis.call('ZADD', KEYS[write], now, ARGV[2])
    redis.call('EXPIRE', KEYS[write], counter.keep)
  end
end
return 0
"""


class RedisStore(Store):
    """Counts in Redis sorted sets (member → time), shared by every worker and instance."""

    PREFIX = "relay:quota:"

    def __init__(self, uri: str):
        self._redis = shared_store.connect(uri)
        self._script = self._redis.register_script(_RESERVE)

    def reserve(self, counters, member, now):
        keys: list[str] = []

        def index(key: str) -> int:
            if key not in keys:
                keys.append(key)
            return keys.index(key) + 1  # Lua counts from 1

        spec = [{"read": index(c.read), "write": [index(k) for k in c.write],
                 "rules": [[r.amount, r.seconds] for r in c.rules], "keep": c.keep} for c in counters]
        refused = int(self._script(keys=[self.PREFIX + key for key in keys],
                                   args=[repr(now), member, json.dumps(spec)]))
        return counters[refused - 1] if refused else None

    def release(self, counters, member):
        with self._redis.pipeline(transaction=False) as pipe:
            for counter in counters:
                for key in counter.write:
                    pipe.zrem(self.PREFIX + key, member)
            pipe.execute()

    def first_refusal(self, counter, now):
        key = f"{self.PREFIX}logged:{counter.read}"
        return bool(self._redis.set(key, "1", nx=True, ex=max(1, math.ceil(counter.keep))))


def _counter(name: str, names: Sequence[str], rules: tuple[Rule, ...]) -> Counter:
    keys = tuple(f"{name}:{each}" for each in names)
    return Counter(name, keys[0], keys, rules)


class Quota:
    """The limits on accepted reports, checked and counted in one step before the work."""

    def __init__(self, store: Store, *, client: str, network: str, site: str, clock: Callable[[], float] = time.time):
        self.store = store
        self.rules = {"client": Rule.parse(client), "network": Rule.parse(network), "site": Rule.parse(site)}
        self.clock = clock

    def reserve(self, client: Sequence[str], network: Sequence[str] = ()) -> Reservation:
        """Count one report for ``client`` (today's and tomorrow's pseudonym) and, for an IPv6
        client, its ``network``; raise ``Refused`` if a limit is reached.

        Fails open: when the store cannot be reached, nothing is counted or refused.
        """
        counters = [_counter("client", client, self.rules["client"])]
        if network:
            counters.append(_counter("network", network, self.rules["network"]))
        counters.append(_counter("site", ("all",), self.rules["site"]))
        member = secrets.token_hex(8)
        now = self.clock()
        try:
            refusing = self.store.reserve(counters, member, now)
            if refusing is not None:
                first = refusing.name == "site" and self.store.first_refusal(refusing, now)
                raise Refused(refusing, first_of_window=first)
        except redis.RedisError as error:
            log.warning("rate limit store failed (%s): report not counted, failing open", type(error).__name__)
            return NOTHING_RESERVED
        return Reservation(lambda: self._release(counters, member))

    def _release(self, counters: list[Counter], member: str) -> None:
        try:
            self.store.release(counters, member)
        except redis.RedisError as error:
            # The count stays until its window passes: the limit errs on the strict side.
            log.warning("rate limit store failed (%s): count not given back", type(error).__name__)
