"""The limits on accepted reports (relay/quota.py) on their own, at the edges of their windows:
both stores (memory:// and a real redis-server), no relay, no gunicorn.

- a refusal names the limit that refused, and only the site's first refusal in a window is
  marked for the monitoring log, once per window to the second;
- a count is read in its own window only, and a limit lowered while counts persist (Redis
  outlives a restart) refuses at once;
- a count given back is the reservation's own, even after older ones expired or its own
  window passed;
- nothing is kept longer than its window: the memory store forgets old entries, every Redis
  key expires with its window;
- without Redis the quota fails open, and giving a count back never raises.

The fast tests of relay/quota.py (tests/relay/test_quota.py runs the limits inside the relay).
"""

from __future__ import annotations

import datetime
import logging
import time

import pytest

from relay.quota import NOTHING_RESERVED, Counter, MemoryStore, Quota, RedisStore, Refused, Rule, Store
from tests.support.relay_app import Clock

# 2027-01-15 08:00 UTC: a clock value of today's size, where ``now - window`` made ``now / window``
# (or ``//``, ``%``) is a small number far behind every count.
T = datetime.datetime(2027, 1, 15, 8, 0, tzinfo=datetime.timezone.utc)
HIGH = "1000 per hour"  # a limit that never refuses in these tests


@pytest.fixture(params=["memory", "redis"])
def store(request) -> Store:
    if request.param == "memory":
        return MemoryStore()
    server = request.getfixturevalue("module_redis")
    server.client().flushdb()  # the site's counter has one key for everyone
    return RedisStore(server.url)


def at(clock: Clock, seconds: float) -> Clock:
    """The clock set ``seconds`` after T."""
    clock.set(T + datetime.timedelta(seconds=seconds))
    return clock


def refusal(quota: Quota, client: str, network: str | None = None) -> Refused:
    with pytest.raises(Refused) as refused:
        quota.reserve((client,), (network,) if network else ())
    return refused.value


# -- which limit refuses, and what is logged -------------------------------------------------

def test_a_refusal_names_its_limit_and_only_the_sites_first_is_marked_for_the_log(store):
    """Client, IPv6 network, then the site: the third of three counters too (Redis returns an index)."""
    quota = Quota(store, client="1 per hour", network="2 per hour", site="4 per hour", clock=Clock(T))
    quota.reserve(("one",))
    client = refusal(quota, "one")
    quota.reserve(("two",), ("net",))
    quota.reserve(("three",), ("net",))
    network = refusal(quota, "four", "net")
    quota.reserve(("five",))  # the site's fourth
    site_v6, site_v4 = refusal(quota, "six", "other-net"), refusal(quota, "seven")
    assert [r.counter.name for r in (client, network, site_v6, site_v4)] == ["client", "network", "site", "site"]
    assert [r.first_of_window for r in (client, network, site_v6, site_v4)] == [False, False, True, False]


def test_the_sites_refusal_is_marked_again_exactly_one_window_later():
    """Once per window of the site's longest rule, to the second (the memory store reads the
    clock; Redis lets a key expire)."""
    store = MemoryStore()
    site = Counter("site", "site:all", ("site:all",), Rule.parse("3 per minute;10 per hour"))
    start = T.timestamp()
    assert store.first_refusal(site, start)
    assert not store.first_refusal(site, start + 1)
    assert not store.first_refusal(site, start + 3599.5)
    assert store.first_refusal(site, start + 3600)  # one window after the last mark
    assert not store.first_refusal(site, start + 3601)
    assert store.first_refusal(site, start + 7200)


# -- what is counted ---------------------------------------------------------------------------

def test_a_shorter_window_counts_only_the_reports_inside_it(store):
    """2 per minute within 10 per hour: one report, two more two minutes later, then no third
    (the first is still counted by the hour, never by the minute)."""
    clock = Clock(T)
    quota = Quota(store, client="2 per minute;10 per hour", network=HIGH, site=HIGH, clock=clock)
    quota.reserve(("one",))
    at(clock, 120)
    quota.reserve(("one",))
    at(clock, 125)
    quota.reserve(("one",))  # one in the last minute (the first is two minutes old)
    at(clock, 130)
    assert refusal(quota, "one").counter.name == "client"  # two in the last minute


def test_a_limit_lowered_while_counts_persist_refuses_at_once(store):
    """Redis keeps its counts across a restart: 3 reports under "5 per hour", then the relay
    restarts with "2 per hour", and the client is already over it."""
    clock = Clock(T)
    before = Quota(store, client="5 per hour", network=HIGH, site=HIGH, clock=clock)
    for _ in range(3):
        before.reserve(("one",))
    after = Quota(store, client="2 per hour", network=HIGH, site=HIGH, clock=at(clock, 60))
    assert refusal(after, "one").counter.name == "client"
    assert refusal(after, "one").counter.name == "client"


# -- giving a count back -----------------------------------------------------------------------

def test_a_count_given_back_after_older_ones_expired_frees_its_place(store):
    clock = Clock(T)
    quota = Quota(store, client="2 per minute", network=HIGH, site=HIGH, clock=clock)
    quota.reserve(("one",))
    at(clock, 30)
    second = quota.reserve(("one",))
    at(clock, 60)  # the first's window has passed, exactly
    quota.reserve(("one",))
    second.release()  # its report was not accepted after all
    quota.reserve(("one",))
    assert refusal(quota, "one").counter.name == "client"


@pytest.mark.parametrize("later", [60, 90.5], ids=["exactly-one-window", "past-it"])
def test_a_count_given_back_after_its_window_passed_frees_no_other(store, later):
    """A reservation released late (its report took longer than the window) takes nothing from
    the reports counted since."""
    clock = Clock(T)
    quota = Quota(store, client="1 per minute", network=HIGH, site=HIGH, clock=clock)
    late = quota.reserve(("one",))
    at(clock, later)  # the first no longer counts
    quota.reserve(("one",))
    late.release()
    assert refusal(quota, "one").counter.name == "client"


# -- nothing kept longer than its window --------------------------------------------------------

def test_the_memory_store_forgets_each_entry_once_its_window_has_passed():
    """What the store holds (its times, and whose each is) is exactly the reports still inside
    the longest window: a relay that runs for months holds no more than one window's worth."""
    store, clock = MemoryStore(), Clock(T)
    quota = Quota(store, client="10 per minute", network=HIGH, site="100 per minute", clock=clock)

    def held() -> list[list[float]]:
        """Per key: its times, and the times of its members, which must agree."""
        for key, times in store._times.items():
            assert sorted(store._members[key].values()) == times, key
        return sorted(store._times.values())

    start = T.timestamp()
    quota.reserve(("one",))
    at(clock, 30)
    quota.reserve(("one",))
    at(clock, 60)  # the first is exactly one window old
    quota.reserve(("one",))
    assert held() == [[start + 30, start + 60]] * 2
    at(clock, 100)  # the second is ten seconds past its window
    quota.reserve(("one",))
    assert held() == [[start + 60, start + 100]] * 2


def test_every_redis_key_expires_with_its_window(module_redis):
    """Per-second limits: the counts and the site's mark for the log both go within a second."""
    client = module_redis.client()
    client.flushdb()
    quota = Quota(RedisStore(module_redis.url), client="1 per second", network="1 per second", site="1 per second")
    started = time.monotonic()
    quota.reserve(("one",))
    assert refusal(quota, "two").first_of_window
    done = time.time()
    keys = client.keys("*")
    if time.monotonic() - started < 0.9:  # else a loaded machine let some expire already
        assert len(keys) == 3  # the client's count, the site's, and the site's mark for the log
    for key in keys:
        expires = client.pexpiretime(key)  # ms since the epoch; -1: never; -2: already gone
        assert expires == -2 or 0 < expires <= done * 1000 + 1000 + 5, (key, expires - done * 1000)


# -- without Redis --------------------------------------------------------------------------------

def test_without_redis_nothing_is_counted_and_nothing_raises(redis_server, caplog):
    """The quota fails open (a limiter never costs a report); a count that cannot be given back
    stays until its window passes, with one log line, and no exception reaches the report."""
    quota = Quota(RedisStore(redis_server.url), client="1 per hour", network=HIGH, site=HIGH)
    held = quota.reserve(("one",))
    redis_server.stop()
    with caplog.at_level(logging.WARNING, logger="relay.quota"):
        assert quota.reserve(("one",)) is NOTHING_RESERVED
        held.release()
    assert [record.getMessage() for record in caplog.records] == [
        "rate limit store failed (ConnectionError): report not counted, failing open",
        "rate limit store failed (ConnectionError): count not given back",
    ]
