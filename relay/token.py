"""The form token: signed, timestamped, single use.

Issued with the form, it proves the POST comes from a form we served, not sooner than
``min_fill_seconds`` after (bots fill forms instantly) and not later than two hours.  It
is spent when a report is accepted, and remembers that report's reference: a double
click, or a reload of the POST, then leads to the same confirmation instead of a second
report or an alarming error.

Spent tokens live in the rate limiter's store (memory, or Redis shared by every relay
instance), for as long as a token could still be valid.
"""

from __future__ import annotations

import logging
import math
import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

import redis
from itsdangerous import BadSignature, URLSafeSerializer

from . import shared_store

log = logging.getLogger("relay.token")

MAX_AGE = 2 * 60 * 60  # seconds


class TokenProblem(Exception):
    """Why a form token cannot be used now; ``kind`` is invalid, too_fast or expired.

    (A token already spent is no problem of the token's: ``SpentTokens`` says what it sent.)
    """

    def __init__(self, kind: str):
        super().__init__(kind)
        self.kind = kind


@dataclass(frozen=True)
class Ticket:
    nonce: str
    issued_at: float


class FormTokens:
    def __init__(self, secret_key: str, *, min_fill_seconds: float, spent: "SpentTokens", clock=time.time):
        self._serializer = URLSafeSerializer(secret_key, salt="relay.form-token")
        self.min_fill_seconds = min_fill_seconds
        self.spent = spent
        self._clock = clock

    def issue(self) -> str:
        # Milliseconds rounded down: rounded to nearest, a form checked within half a millisecond
        # (a test client) would seem to come from the future and be refused as sent too fast.
        return self._serializer.dumps({"n": secrets.token_urlsafe(16), "t": math.floor(self._clock() * 1000) / 1000})

    def check(self, token: str) -> Ticket:
        """The ticket inside a token that may be used now; ``TokenProblem`` otherwise."""
        try:
            data = self._serializer.loads(token or "")
            ticket = Ticket(nonce=str(data["n"]), issued_at=float(data["t"]))
        except (BadSignature, KeyError, TypeError, ValueError):
            raise TokenProblem("invalid") from None
        age = self._clock() - ticket.issued_at
        if age < self.min_fill_seconds:
            raise TokenProblem("too_fast")
        if age > MAX_AGE:
            raise TokenProblem("expired")
        return ticket


PENDING = "pending"


class SpentTokens:
    """nonce → the reference of the report it sent (or ``PENDING`` while it is being sealed)."""

    def claim(self, nonce: str) -> str | None:
        """Mark ``nonce`` as in use; ``None`` if it was free, else what it already holds."""
        raise NotImplementedError

    def settle(self, nonce: str, reference: str) -> None:
        raise NotImplementedError

    def lookup(self, nonce: str) -> str | None:
        """What ``nonce`` holds, without claiming it."""
        raise NotImplementedError

    def release(self, nonce: str) -> None:
        """Free a claim whose report could not be stored, so that the reporter can send again."""
        raise NotImplementedError

    @classmethod
    def from_uri(cls, uri: str) -> "SpentTokens":
        if uri.startswith("memory://"):
            return MemorySpentTokens()
        return RedisSpentTokens(uri)


class MemorySpentTokens(SpentTokens):
    """One process's spent tokens, oldest first, so that expiry only ever looks at the front.

    Every entry lives ``MAX_AGE`` from its last write and a write moves it to the end, so
    the order is the order of expiry: a sweep costs what it removes, not the whole store
    (which holds every report of the last two hours).
    """

    def __init__(self, clock=time.monotonic):
        self._items: OrderedDict[str, tuple[str, float]] = OrderedDict()
        self._lock = threading.Lock()
        self._clock = clock

    def _sweep(self, now: float) -> None:
        items = self._items
        while items:
            _, until = next(iter(items.values()))
            if until >= now:
                return
            items.popitem(last=False)

    def _put(self, nonce: str, value: str, now: float) -> None:
        self._items[nonce] = (value, now + MAX_AGE)
        self._items.move_to_end(nonce)

    def claim(self, nonce):
        with self._lock:
            now = self._clock()
            self._sweep(now)
            if nonce in self._items:
                return self._items[nonce][0]
            self._put(nonce, PENDING, now)
            return None

    def settle(self, nonce, reference):
        with self._lock:
            self._put(nonce, reference, self._clock())

    def lookup(self, nonce):
        with self._lock:
            item = self._items.get(nonce)
            return item[0] if item and item[1] >= self._clock() else None

    def release(self, nonce):
        with self._lock:
            self._items.pop(nonce, None)

    def __len__(self) -> int:
        return len(self._items)


class RedisSpentTokens(SpentTokens):
    """Shared by every relay instance; an unreachable Redis must not block a report."""

    def __init__(self, uri: str):
        self._redis = shared_store.connect(uri, decode_responses=True)

    @staticmethod
    def _key(nonce: str) -> str:
        return f"relay:spent:{nonce}"

    def claim(self, nonce):
        try:
            if self._redis.set(self._key(nonce), PENDING, nx=True, ex=MAX_AGE):
                return None
            return self._redis.get(self._key(nonce)) or PENDING
        except redis.RedisError:
            # Fail open: replay protection is a nicety; losing a report is not an option.
            log.warning("token store unreachable: replay check skipped")
            return None

    def settle(self, nonce, reference):
        try:
            self._redis.set(self._key(nonce), reference, ex=MAX_AGE)
        except redis.RedisError:
            pass

    def lookup(self, nonce):
        try:
            return self._redis.get(self._key(nonce))
        except redis.RedisError:
            return None

    def release(self, nonce):
        try:
            self._redis.delete(self._key(nonce))
        except redis.RedisError:
            pass
