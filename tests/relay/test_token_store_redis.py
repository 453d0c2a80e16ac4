"""The spent-token store in Redis (Debian's redis-server): shared by every relay instance,
strings in and out as the submit view compares them, kept as long as a token lives, and open
(never an error) when Redis is gone.

The fast tests of relay/token.py: no relay, no gunicorn (tests/relay/test_shared_limits.py runs
the store inside real relay instances).
"""

from __future__ import annotations

import logging
import secrets

import pytest

from relay.token import PENDING, RedisSpentTokens, SpentTokens
from tests.support.redis_server import RedisServer

TWO_HOURS = 2 * 60 * 60  # as long as a form token lives (the pages: it expires after two hours)
REFERENCE = "SL-AAAA-BBBB"


@pytest.fixture
def nonce() -> str:
    return secrets.token_urlsafe(16)


def lifetime(server: RedisServer, nonce: str) -> int:
    """Seconds the one key that holds ``nonce`` has left (its name is the store's business)."""
    client = server.client()
    [key] = client.keys(f"*{nonce}*")
    return client.ttl(key)


def test_two_instances_share_one_claim_and_its_report(module_redis, nonce):
    one, other = SpentTokens.from_uri(module_redis.url), SpentTokens.from_uri(module_redis.url)
    assert isinstance(one, RedisSpentTokens)
    assert one.claim(nonce) is None  # free: this request sends the report
    held = other.claim(nonce)
    # A str, as submit compares it (``held == PENDING``): bytes would be taken for a reference.
    assert type(held) is str and held == PENDING
    assert other.lookup(nonce) == PENDING
    assert TWO_HOURS - 5 < lifetime(module_redis, nonce) <= TWO_HOURS

    one.settle(nonce, REFERENCE)
    held = other.claim(nonce)
    assert type(held) is str and held == REFERENCE  # the same form sent again: its report
    assert other.lookup(nonce) == REFERENCE and type(other.lookup(nonce)) is str
    assert TWO_HOURS - 5 < lifetime(module_redis, nonce) <= TWO_HOURS


def test_a_released_claim_is_free_again_and_others_are_untouched(module_redis, nonce):
    store, kept = RedisSpentTokens(module_redis.url), secrets.token_urlsafe(16)
    assert store.claim(nonce) is None and store.claim(kept) is None
    store.release(nonce)  # the report could not be stored: the reporter may send again
    assert store.lookup(nonce) is None
    assert store.claim(nonce) is None
    assert store.claim(kept) == PENDING
    store.release(secrets.token_urlsafe(16))  # never claimed: nothing happens


def test_a_store_whose_redis_stopped_fails_open(redis_server, nonce, caplog):
    """Every call returns as if the token were free, without an exception: a report is never lost
    to replay protection.  Only the claim logs, one plain line."""
    store = RedisSpentTokens(redis_server.url)
    assert store.claim(nonce) is None  # connected once: the pool holds a connection
    redis_server.stop()
    with caplog.at_level(logging.INFO, logger="relay.token"):
        assert store.claim(nonce) is None
        assert store.settle(nonce, REFERENCE) is None
        assert store.lookup(nonce) is None
        assert store.release(nonce) is None
    assert [record.getMessage() for record in caplog.records] == ["token store unreachable: replay check skipped"]
    assert "Traceback" not in caplog.text and str(redis_server.port) not in caplog.text
