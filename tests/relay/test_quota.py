"""The limits on accepted reports (relay/quota.py), in the real relay, on both stores.

- counted before the work and given back when the report is not accepted: concurrent posts
  through gunicorn's workers never overshoot a limit;
- a client's counts survive the daily change of its pseudonym (00:00 UTC), and no other
  moment resets them either;
- an IPv6 /48 is a limit of its own, and so is the whole site: past the site's ceiling the
  form is kept, the page says reports cannot be taken now and gives the phone lines, and the
  log gets one ERROR line per window for monitoring.
"""

from __future__ import annotations

import datetime
import logging
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

import relay
from relay.quota import MemoryStore, Quota, RedisStore, Refused
from relay.services import services
from tests.support.redis_server import RedisServer
from tests.support.relay_app import Clock, outbox_files
from tests.support.relay_server import RelayServer
from tests.support.reports import ALWAYS_OPEN, NOT_NOW, RelayPage, get_token, submit

TYPED = {"email": "quota.hanako@example.jp", "description": "制限を確かめる通報です。"}
BUSY = {"ja": "ただいま通報を受け付けられない状態です", "en": "We cannot take reports just now"}


def utc(*args) -> datetime.datetime:
    return datetime.datetime(*args, tzinfo=datetime.timezone.utc)


@pytest.fixture(params=["memory", "redis"])
def storage(request, tmp_path):
    """Each test once with memory:// and once with a real Redis."""
    if request.param == "memory":
        yield "memory://"
        return
    server = RedisServer(tmp_path / "redis").start()
    try:
        yield server.url
    finally:
        server.stop()


def client_from(app, address: str):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


# -- across midnight ------------------------------------------------------------------------

def test_counts_carry_over_when_the_day_changes(relay_env, catalogs, storage):
    """5 per hour: 5 at 23:59:58 UTC, then none at 00:00:01, and again an hour later."""
    clock = Clock(utc(2026, 12, 2, 23, 59, 50))
    app = relay.create_app({**relay_env, "RELAY_RATELIMIT": "5 per hour;20 per day",
                            "RELAY_RATELIMIT_STORAGE": storage}, clock=clock)
    client = app.test_client()
    tokens = [get_token(client) for _ in range(7)]
    clock.set(utc(2026, 12, 2, 23, 59, 58))
    assert [submit(client, token=token, **TYPED).status_code for token in tokens[:5]] == [303] * 5
    clock.set(utc(2026, 12, 3, 0, 0, 1))  # a new day, and a new pseudonym for the client
    assert submit(client, token=tokens[5], **TYPED).status_code == 429
    clock.set(utc(2026, 12, 3, 0, 59, 57))
    assert submit(client, token=get_token(client), **TYPED).status_code == 429
    clock.set(utc(2026, 12, 3, 0, 59, 59))  # an hour after the five: the window has moved on
    assert submit(client, token=get_token(client), **TYPED).status_code == 303


def test_the_day_limit_is_a_moving_window_too(relay_env, catalogs, storage):
    """3 per day, sent in the evening: nothing more the next morning, JST or UTC."""
    clock = Clock(utc(2026, 12, 2, 20, 0))
    app = relay.create_app({**relay_env, "RELAY_RATELIMIT": "3 per day",
                            "RELAY_RATELIMIT_STORAGE": storage}, clock=clock)
    client = app.test_client()
    for hour in (20, 21, 22):
        clock.set(utc(2026, 12, 2, hour, 0))
        assert submit(client, token=get_token(client), **TYPED).status_code == 303
    for moment in (utc(2026, 12, 3, 0, 0, 5), utc(2026, 12, 3, 9, 0, 5), utc(2026, 12, 3, 19, 59)):
        clock.set(moment)
        assert submit(client, token=get_token(client), **TYPED).status_code == 429, moment
    clock.set(utc(2026, 12, 3, 20, 0, 1))
    assert submit(client, token=get_token(client), **TYPED).status_code == 303


def test_the_post_limit_carries_over_too(relay_env, catalogs):
    """Any POST, counted by Flask-Limiter: 3 at 23:59:58, the fourth at 00:00:01 is refused."""
    clock = Clock(utc(2026, 12, 2, 23, 59, 50))
    app = relay.create_app({**relay_env, "RELAY_RATELIMIT_POSTS": "3 per hour"}, clock=clock)
    client = app.test_client()
    tokens = [get_token(client) for _ in range(4)]
    clock.set(utc(2026, 12, 2, 23, 59, 58))
    assert [submit(client, token=token, email="").status_code for token in tokens[:3]] == [422] * 3
    clock.set(utc(2026, 12, 3, 0, 0, 1))
    assert submit(client, token=tokens[3], **TYPED).status_code == 429


# -- IPv6 networks and the whole site ----------------------------------------------------------

def test_an_ipv6_48_is_limited_as_a_whole(relay_env, catalogs, storage):
    app = relay.create_app({**relay_env, "RELAY_RATELIMIT": "5 per hour", "RELAY_RATELIMIT_NETWORK": "3 per hour",
                            "RELAY_RATELIMIT_STORAGE": storage})
    statuses = [submit(client_from(app, f"2001:db8:77:{n:x}::1"), **TYPED).status_code for n in range(4)]
    assert statuses == [303, 303, 303, 429]  # four /64s of one /48
    refused = RelayPage(submit(client_from(app, "2001:db8:77:ff::2"), **TYPED).get_data(as_text=True))
    assert refused.value("email") == TYPED["email"]
    assert submit(client_from(app, "2001:db8:78::1"), **TYPED).status_code == 303  # the next /48
    assert submit(client_from(app, "203.0.113.9"), **TYPED).status_code == 303  # IPv4 has no /48
    assert len(outbox_files(services(app).outbox.folder)) == 5


def test_past_the_site_ceiling_the_form_is_kept_and_the_phone_offered(relay_env, catalogs, storage, caplog):
    app = relay.create_app({**relay_env, "RELAY_RATELIMIT_SITE": "3 per hour", "RELAY_RATELIMIT_STORAGE": storage})
    with caplog.at_level(logging.INFO, logger="relay"):
        accepted = [submit(client_from(app, f"198.51.100.{n}"), **TYPED).status_code for n in range(3)]
        assert accepted == [303] * 3
        for n, lang in enumerate(("ja", "en", "ja", "en")):
            response = submit(client_from(app, f"203.0.113.{n}"), lang=lang, **TYPED)
            assert response.status_code == 503
            assert response.headers["Retry-After"] == "3600"
            page = RelayPage(response.get_data(as_text=True))
            assert page.value("email") == TYPED["email"] and page.value("description") == TYPED["description"]
            summary = page.find(class_="error-summary")
            assert BUSY[lang] in " ".join(summary.text.split())
            assert page.summary_heading() == NOT_NOW[lang]
            calls = page.lines_open_now()
            assert calls[0] == "tel:110" and set(ALWAYS_OPEN) <= set(calls), calls
    errors = [record.getMessage() for record in caplog.records if record.levelno >= logging.ERROR]
    assert errors == ["refused: site-wide ceiling of accepted reports reached (RELAY_RATELIMIT_SITE)"]
    assert len(outbox_files(services(app).outbox.folder)) == 3


def test_a_refused_report_gives_its_count_back(relay_env, catalogs, tmp_path):
    """A report that the outbox cannot take does not use up the client's limit."""
    app = relay.create_app({**relay_env, "RELAY_RATELIMIT": "2 per hour", "RELAY_OUTBOX_MAX_MB": "1"})
    client = app.test_client()
    blocker = services(app).outbox.folder / "20260101T000000000000Z-SL-AAAA-BBBB.eml"
    blocker.write_bytes(b"x" * (1024 * 1024))
    assert [submit(client, **TYPED).status_code for _ in range(4)] == [503] * 4
    blocker.unlink()
    time.sleep(1.1)  # near its cap, the outbox measures itself again within a second
    assert [submit(client, **TYPED).status_code for _ in range(3)] == [303, 303, 429]


# -- concurrent posts through gunicorn -------------------------------------------------------

def test_concurrent_posts_through_several_workers_never_overshoot(tmp_path, relay_env, catalogs, redis_server):
    """25 posts at once from one client against "5 per hour", on 3 gunicorn workers sharing Redis."""
    env = {**relay_env, "RELAY_RATELIMIT": "5 per hour", "RELAY_RATELIMIT_STORAGE": redis_server.url}
    server = RelayServer(env, tmp_path / "gunicorn.log", workers=3).start()
    try:
        client = server.client(timeout=30)
        tokens = [client.token() for _ in range(25)]
        start = threading.Barrier(25)
        statuses: list[int] = []

        def post(token: str) -> None:
            start.wait()
            statuses.append(client.submit(token=token, **TYPED).status)

        threads = [threading.Thread(target=post, args=(token,)) for token in tokens]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert Counter(statuses) == {303: 5, 429: 20}
        assert len(outbox_files(Path(env["RELAY_OUTBOX"]))) == 5
        assert "Traceback" not in server.log_text()
    finally:
        server.stop()


# -- the stores on their own -------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["memory", "redis"])
def test_a_reservation_is_atomic_and_can_be_given_back(kind, tmp_path):
    server = RedisServer(tmp_path / "redis").start() if kind == "redis" else None
    try:
        store = MemoryStore() if server is None else RedisStore(server.url)
        clock = Clock(utc(2026, 12, 2, 12, 0))
        quota = Quota(store, client="3 per hour", network="100 per hour", site="100 per hour", clock=clock)
        held = []
        errors = []

        def reserve() -> None:
            try:
                held.append(quota.reserve(("client-today", "client-tomorrow")))
            except Refused as refused:
                errors.append(refused.counter.name)

        threads = [threading.Thread(target=reserve) for _ in range(20)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(held) == 3 and errors == ["client"] * 17
        held[0].release()
        held[0].release()  # once only
        quota.reserve(("client-today", "client-tomorrow"))
        with pytest.raises(Refused):
            quota.reserve(("client-today", "client-tomorrow"))
        # Tomorrow's pseudonym holds the same counts: read as today's once the day changes.
        with pytest.raises(Refused):
            quota.reserve(("client-tomorrow", "client-after"))
    finally:
        if server is not None:
            server.stop()
