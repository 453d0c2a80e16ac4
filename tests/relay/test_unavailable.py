"""After the form is valid, anything that fails (keys, sealing, the outbox) costs no report.

The reporter gets 503 with the form and everything they typed, and what to do instead; the
log gets one ``unavailable: …`` line; the form token and the report's place in the limits
are given back, so the same form can be sent again once the fault is fixed.  Never a bare
error page, never a token left claimed (not even when the request ends by an exception
outside ``Exception``, as gunicorn ends a worker that timed out).
"""

from __future__ import annotations

import re
import time

import pytest

from relay.outbox import Outbox
from relay.services import services
from tests.support.gnupg import decrypt_record, make_key
from tests.support.relay_app import SECRET_KEY, outbox_files
from tests.support.relay_server import RelayServer, reference_in
from tests.support.reports import ALWAYS_OPEN, NOT_NOW, RelayPage, get_token, parse, submit

TYPED = {"email": "keys.hanako@example.jp", "description": "鍵が切れたときに送った通報です。"}
UNAVAILABLE = {"ja": "いま通報を受け付けられませんでした", "en": "Your report could not be received just now"}


def assert_form_kept(body: str, lang: str) -> None:
    """The 503 page: the form with what was typed, the notice, and the way to call instead."""
    page = RelayPage(body)
    assert page.value("email") == TYPED["email"] and page.value("description") == TYPED["description"]
    summary = page.find(class_="error-summary")
    assert UNAVAILABLE[lang] in " ".join(summary.text.split())
    assert page.summary_heading() == NOT_NOW[lang]  # what happened, not "check what you typed"
    calls = page.lines_open_now()
    assert calls[0] == "tel:110" and set(ALWAYS_OPEN) <= set(calls), calls
    assert not re.search(r"SL-[0-9A-Z]{4}-[0-9A-Z]{4}", body)


def test_a_staff_key_that_expires_while_the_relay_runs(tmp_path, gnupg_home, relay_env, catalogs, redis_server):
    """Production's shape: gunicorn with two workers, spent tokens in Redis, a GnuPG key that
    expires a few seconds after the relay started."""
    expiring = make_key(gnupg_home, "Expiring Staff <expiring@safeline.example>", seconds=12)
    made = time.time()
    keys = tmp_path / "keys"
    keys.mkdir()
    (keys / "expiring.asc").write_bytes(expiring.public)
    env = {**relay_env, "RELAY_STAFF_KEYS": str(keys), "RELAY_RATELIMIT_STORAGE": redis_server.url,
           "RELAY_RATELIMIT": "3 per hour"}
    relay = RelayServer(env, tmp_path / "gunicorn.log", workers=2).start()
    try:
        # Under a day left: the warning says minutes, and the time, not "in 1 day".
        warning = next(line for line in relay.log_text().splitlines() if "expires on" in line)
        assert re.search(r"expires on \d{4}-\d\d-\d\d \d\d:\d\d UTC \(in 1 minute\): extend or replace it", warning)

        client = relay.client()
        before = reference_in(client.submit(**TYPED).location, SECRET_KEY)
        token = client.token()
        time.sleep(max(0.0, made + 13 - time.time()))  # the key has expired now

        logged = len(relay.log_text())
        for lang in ("ja", "ja", "en"):  # again and again: the token is never left "being sent"
            reply = client.submit(lang=lang, token=token, **TYPED)
            assert reply.status == 503, (reply.status, reply.body[:200])
            assert reply.headers["content-security-policy"].startswith("default-src 'none'")
            assert reply.headers["content-type"] == "text/html; charset=utf-8"
            assert_form_kept(reply.body, lang)
            assert re.search(rf'name="token" value="{re.escape(token)}"', reply.body)  # the same form
        lines = relay.log_text()[logged:].splitlines()
        assert [line.split(": ", 1)[1] for line in lines if " ERROR " in line] == [
            line.split(": ", 1)[1] for line in lines if "unavailable: StaffKeyError after" in line]
        assert len([line for line in lines if "unavailable: StaffKeyError" in line]) == 3
        assert "Traceback" not in relay.log_text() and "Internal Server Error" not in relay.log_text()
        pending = [key for key in redis_server.client().keys("relay:spent:*")
                   if redis_server.client().get(key) == b"pending"]
        assert pending == []
        assert len(outbox_files(Outbox(env["RELAY_OUTBOX"]).folder)) == 1  # nothing sealed to a dead key
    finally:
        relay.stop()

    # Fixed: the owner extended the key (here: a new one), the relay restarted.  The same form,
    # the same token, goes through, and counts as the second report of three allowed.
    fresh = make_key(gnupg_home, "Fresh Staff <fresh@safeline.example>")
    (keys / "expiring.asc").unlink()
    (keys / "fresh.asc").write_bytes(fresh.public)
    relay = RelayServer(env, tmp_path / "gunicorn-2.log", workers=2).start()
    try:
        client = relay.client()
        reply = client.submit(token=token, **TYPED)
        assert reply.status == 303, (reply.status, reply.body[:200])
        after = reference_in(reply.location, SECRET_KEY)
        # then spent, as ever: the same report (its address is sealed afresh each time)
        assert reference_in(client.submit(token=token, **TYPED).location, SECRET_KEY) == after
        assert client.submit(**TYPED).status == 303
        assert client.submit(**TYPED).status == 429  # the failed tries did not count
    finally:
        relay.stop()
    mails = {path.name: path.read_bytes() for path in outbox_files(Outbox(env["RELAY_OUTBOX"]).folder)}
    first = next(mail for name, mail in mails.items() if before in name)
    second = next(mail for name, mail in mails.items() if after in name)
    assert decrypt_record(gnupg_home, first)["description"] == TYPED["description"]
    assert decrypt_record(gnupg_home, second)["email"] == TYPED["email"]


class AbortingOutbox(Outbox):
    """An outbox whose write is cut short the way gunicorn cuts a timed-out worker: its
    SIGABRT handler calls sys.exit(), a SystemExit raised wherever the request was."""

    def put(self, message: bytes, name: str):
        raise SystemExit(1)


def test_a_request_ended_by_a_worker_abort_gives_the_token_back(app, outbox_dir):
    relay = app(RELAY_RATELIMIT="1 per hour")
    intake = services(relay).intake
    real = intake.outbox
    client = relay.test_client()
    token = get_token(client)
    intake.outbox = AbortingOutbox(outbox_dir)
    with pytest.raises(SystemExit):
        submit(client, token=token, **TYPED)
    nonce = services(relay).tokens.check(token).nonce
    assert services(relay).tokens.spent.lookup(nonce) is None

    intake.outbox = real  # a new worker: the same form goes through, and it is the one report allowed
    response = submit(client, token=token, **TYPED)
    assert response.status_code == 303
    assert submit(client, **TYPED).status_code == 429
    assert len(outbox_files(outbox_dir)) == 1


def test_a_full_outbox_answers_503_with_the_form_before_the_disk_fills(app, outbox_dir, caplog):
    relay = app(RELAY_OUTBOX_MAX_MB="1")
    client = relay.test_client()
    waiting = outbox_dir / "20260101T000000000000Z-SL-AAAA-BBBB.eml"  # delivery failing for long
    waiting.write_bytes(b"x" * (1024 * 1024 - 4096))
    token = get_token(client)
    with caplog.at_level("INFO", logger="relay"):
        for lang in ("ja", "en"):
            response = submit(client, lang=lang, token=token, **TYPED)
            assert response.status_code == 503
            assert_form_kept(response.get_data(as_text=True), lang)
    assert [r.getMessage().split(" after ")[0] for r in caplog.records if r.levelname == "ERROR"] == [
        "unavailable: OutboxFullError"] * 2
    assert outbox_files(outbox_dir) == [waiting]

    waiting.unlink()  # delivered at last
    time.sleep(1.1)  # near its cap, the outbox measures itself again within a second
    response = submit(client, token=token, **TYPED)
    assert response.status_code == 303
    assert parse(client.get(response.headers["Location"])).status == 200
    assert len(outbox_files(outbox_dir)) == 1


def test_the_outbox_cap_is_a_setting_in_megabytes(app):
    assert services(app(RELAY_OUTBOX_MAX_MB="3")).outbox.max_bytes == 3 * 1024 * 1024
    assert services(app()).outbox.max_bytes == 200 * 1024 * 1024  # the default
