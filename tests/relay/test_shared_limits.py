"""Several relay instances share their limits and spent tokens through Redis; without Redis they
still take every report.

Each instance is a real gunicorn (deploy/gunicorn.conf.py, one worker) and Redis is Debian's
redis-server (tests/support/redis_server.py).  The limiter's key is an HMAC of the client address
under RELAY_SECRET_KEY, so one client is one key on every instance that shares the secret.
"""

from __future__ import annotations

import logging
import re
import time

import pytest

from relay.token import PENDING, RedisSpentTokens
from tests.support.redis_server import RedisServer
from tests.support.relay_app import SECRET_KEY, outbox_files
from tests.support.relay_server import RelayServer, reference_in
from tests.support.reports import REFERENCE

PASSWORD = "redis-pw-never-in-logs-5d0c"
TYPED = {"email": "limits.hanako@example.jp", "description": "共有の制限を確かめる通報です。"}
RATELIMITED = "この接続から多くの通報が送られています。"


@pytest.fixture
def relays(tmp_path, relay_env, catalogs):
    """``relays(n, **env)``: n gunicorn instances with the test settings changed by ``env``."""
    started: list[RelayServer] = []

    def start(count: int, **overrides) -> list[RelayServer]:
        env = {**relay_env, **overrides}
        for _ in range(count):
            started.append(RelayServer(env, tmp_path / f"gunicorn-{len(started)}.log").start())
        return started[-count:]

    yield start
    for relay in started:
        relay.stop()


def accepted_reference(reply) -> str:
    assert reply.status == 303, (reply.status, reply.body[:300])
    reference = reference_in(reply.location, SECRET_KEY)
    assert REFERENCE.match(reference)
    return reference


def log_lines(relay: RelayServer, since: int = 0) -> list[str]:
    return relay.log_text()[since:].splitlines()


# -- shared through Redis --------------------------------------------------------------------

def test_two_instances_share_one_limit_through_redis(relays, redis_server, outbox_dir):
    first, second = relays(2, RELAY_RATELIMIT="3 per hour", RELAY_RATELIMIT_STORAGE=redis_server.url)
    a, b = first.client(), second.client()

    token = a.token()
    reference = accepted_reference(a.submit(token=token, **TYPED))
    # The same form sent again to the other instance: the spent token is shared too, so it is
    # the same report and the same confirmation, and it does not count again.
    assert accepted_reference(b.submit(token=token, **TYPED)) == reference
    references = [reference, accepted_reference(b.submit(**TYPED)), accepted_reference(a.submit(lang="en", **TYPED))]
    assert len(set(references)) == 3

    # The fourth report overall is refused, on whichever instance it arrives, with the form kept.
    for client, lang in ((b, "ja"), (a, "ja"), (b, "en")):
        refused = client.submit(lang=lang, **TYPED)
        assert refused.status == 429
        assert refused.location is None
        assert TYPED["email"] in refused.body and TYPED["description"] in refused.body
        assert ({"ja": RATELIMITED, "en": "Many reports have been sent from this connection."}[lang]
                in refused.body)
        assert not re.search(r"SL-[0-9A-Z]{4}-[0-9A-Z]{4}", refused.body)
    stored = outbox_files(outbox_dir)
    assert sorted(ref for path in stored for ref in references if ref in path.name) == sorted(references)
    assert len(stored) == 3

    # What the instances keep in Redis: digests and nonces, never the client's address.
    keys = [key.decode() for key in redis_server.client().keys("*")]
    assert any(key.startswith("relay:spent:") for key in keys)
    assert any(key.startswith("relay:quota:client:") for key in keys), keys
    assert not any("127.0.0.1" in key or "127-0-0-1" in key for key in keys)
    for relay in (first, second):
        assert "Traceback" not in relay.log_text()


def test_with_memory_storage_each_instance_counts_alone(relays, outbox_dir):
    """What Redis is for: two instances on memory:// would each let the client send three."""
    first, second = relays(2, RELAY_RATELIMIT="3 per hour", RELAY_RATELIMIT_STORAGE="memory://")
    a, b = first.client(), second.client()
    statuses = [client.submit(**TYPED).status for client in (a, b, a, b)]
    assert statuses == [303, 303, 303, 303]  # a shared limit would have refused the fourth
    assert len(outbox_files(outbox_dir)) == 4


# -- Redis away: fail open, say so in one line -------------------------------------------------

def test_reports_are_accepted_while_redis_is_down_or_hung(relays, tmp_path, outbox_dir):
    redis = RedisServer(tmp_path / "redis-pw", password=PASSWORD).start()
    try:
        [relay] = relays(1, RELAY_RATELIMIT="3 per hour", RELAY_RATELIMIT_STORAGE=redis.url)
        client = relay.client()
        accepted_reference(client.submit(**TYPED))
        before = len(relay.log_text())

        redis.stop()  # refused connections
        started = time.monotonic()
        reply = client.submit(**TYPED)
        assert time.monotonic() - started < 5
        reference = accepted_reference(reply)
        confirmation = client.get(reply.location)  # the confirmation page needs no Redis either
        assert confirmation.status == 200 and reference in confirmation.body
        for _ in range(3):  # uncounted: the limit of 3 would refuse these if Redis were there
            accepted_reference(client.submit(**TYPED))
        assert len(outbox_files(outbox_dir)) == 5
        assert any(reference in path.name for path in outbox_files(outbox_dir))

        down = log_lines(relay, before)
        failing_open = [line for line in down if "rate limit store failed (ConnectionError)" in line]
        assert failing_open and all("failing open" in line for line in failing_open)
        assert any("token store unreachable" in line for line in down)
        assert_safe_log(down, redis)

        redis.start()  # back, on the same port: counted again (its counts did not survive)
        before = len(relay.log_text())
        assert [client.submit(**TYPED).status for _ in range(4)] == [303, 303, 303, 429]
        back = log_lines(relay, before)
        assert not any("store failed" in line or "unreachable" in line for line in back)

        redis.freeze()  # connections accepted, never answered: every call waits for its timeout
        before = len(relay.log_text())
        started = time.monotonic()
        reply = client.submit(**TYPED)
        assert time.monotonic() - started < 5
        accepted_reference(reply)  # even though the limit was reached before Redis hung
        hung = log_lines(relay, before)
        assert any("rate limit store failed (TimeoutError)" in line for line in hung)
        assert_safe_log(hung, redis)
        assert len(outbox_files(outbox_dir)) == 9
    finally:
        redis.stop()
    assert "Traceback" not in relay.log_text()


def assert_safe_log(lines: list[str], redis: RedisServer) -> None:
    """One plain line per event: no traceback, no 500, no address, no password, nothing typed."""
    text = "\n".join(lines)
    assert lines
    for secret in ("Traceback", "File \"", "unexpected", PASSWORD, "127.0.0.1", f":{redis.port}",
                   TYPED["email"], TYPED["description"]):
        assert secret not in text, secret
    assert all(re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ (INFO|WARNING|ERROR) [\w.-]+: ", line)
               for line in lines), text


def test_a_relay_starts_while_redis_is_down(relays, tmp_path, outbox_dir):
    redis = RedisServer(tmp_path / "redis-never-started")  # a port nobody listens on
    [relay] = relays(1, RELAY_RATELIMIT_STORAGE=redis.url)
    accepted_reference(relay.client().submit(**TYPED))
    assert len(outbox_files(outbox_dir)) == 1
    assert "Traceback" not in relay.log_text()


# -- the spent-token store on its own ----------------------------------------------------------

def test_the_spent_token_store_is_shared_and_fails_open(tmp_path, caplog):
    redis = RedisServer(tmp_path / "redis-tokens", password=PASSWORD).start()
    try:
        one, other = RedisSpentTokens(redis.url), RedisSpentTokens(redis.url)
        assert one.claim("nonce-1") is None
        assert other.claim("nonce-1") == PENDING
        one.settle("nonce-1", "SL-AAAA-BBBB")
        assert other.claim("nonce-1") == "SL-AAAA-BBBB" and other.lookup("nonce-1") == "SL-AAAA-BBBB"
        assert one.claim("nonce-2") is None
        one.release("nonce-2")
        assert other.claim("nonce-2") is None

        for state in ("stopped", "frozen"):
            if state == "stopped":
                redis.stop()
            else:
                redis.start()
                redis.freeze()
            caplog.clear()
            with caplog.at_level(logging.INFO, logger="relay.token"):
                started = time.monotonic()
                assert one.claim("nonce-3") is None  # open: the report goes on
                one.settle("nonce-3", "SL-CCCC-DDDD")
                assert one.lookup("nonce-3") is None
                one.release("nonce-3")
                assert time.monotonic() - started < 5, state
            assert [r.getMessage() for r in caplog.records] == ["token store unreachable: replay check skipped"]
            assert PASSWORD not in caplog.text and "Traceback" not in caplog.text
    finally:
        redis.stop()
