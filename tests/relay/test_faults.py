"""Faults on the way from the form to the mailbox: every confirmed report still arrives, once.

- the mail server away during a burst of 200 reports, then back;
- the relay killed with SIGKILL in the middle of a burst, then started again;
- the outbox failing after start: the reporter is told nothing was sent, and keeps the form.

Malformed requests are in test_properties.py.
"""

from __future__ import annotations

import http.client
import shutil
import threading
import time
from collections import Counter
from email import message_from_bytes, policy

import pytest

from relay.delivery import deliver_once
from relay.outbox import STALE_TMP_SECONDS, Outbox
from relay.services import services
from relay.smtp import SmtpTarget
from tests.support.mail import Worker, wait_until
from tests.support.relay_app import RELAY_MAIL_FROM, RELAY_MAIL_TO, SECRET_KEY, deliver, outbox_files
from tests.support.relay_server import RelayServer, reference_in
from tests.support.reports import REFERENCE, decrypt_mail, get_token, parse, sent_reference, submit


def report(n: int, tag: str) -> dict[str, str]:
    """A distinct valid report: every field says which one it is."""
    return {
        "role": "self" if n % 2 else "guardian",
        "email": f"{tag}.{n}@example.jp",
        "urls": f"https://images.example.com/{tag}/{n}\nhttps://example.net/{tag}/{n}/b",
        "description": f"{tag} 通報 {n}: 知らないうちに写真が投稿されました。",
    }


def record_matches(record: dict, fields: dict, reference: str) -> bool:
    return (record["reference"] == reference and record["email"] == fields["email"]
            and record["urls"] == fields["urls"].split("\n") and record["description"] == fields["description"]
            and record["role"] == fields["role"])


# -- the mail server away during a burst ---------------------------------------------------------

def test_a_burst_of_200_while_the_mail_server_is_away_is_delivered_once_each(
        app, client, outbox_dir, staff_keys, mail_server):
    relay_app = app()
    outbox = services(relay_app).outbox
    sent: dict[str, dict] = {}  # reference → what was typed
    mail_server.stop()  # first refused connections, then "451 try again later"
    target = SmtpTarget.from_url(services(relay_app).settings.smtp_url, helo="relay.test")
    with Worker(outbox, target, mail_from=RELAY_MAIL_FROM, rcpt_to=[RELAY_MAIL_TO], poll_seconds=0.05,
                backoff_cap=0.5, join_seconds=30):
        for n in range(200):
            if n == 100:
                mail_server.fail_with_451 = True
                mail_server.start()
            fields = report(n, "burst")
            response = submit(client, lang="ja" if n % 3 else "en", **fields)
            reference = sent_reference(client, response)  # confirmed: a 303, and the number shown
            assert REFERENCE.match(reference) and reference not in sent
            sent[reference] = fields

        # The worker has been trying all along; nothing got through, nothing was dropped.
        assert mail_server.messages() == []
        waiting = outbox_files(outbox_dir)
        assert len(waiting) == 200
        message_ids = {Outbox.message_id(path) for path in waiting}
        assert len(message_ids) == 200

        mail_server.fail_with_451 = False
        assert wait_until(lambda: not outbox.pending() and len(mail_server.messages()) >= 200, timeout=60)
    assert outbox.pending() == []

    received = mail_server.messages()
    assert len(received) == 200
    assert {message_id: mail_server.count(message_id) for message_id in message_ids} == \
        {message_id: 1 for message_id in message_ids}
    secrets = list(staff_keys.secrets.values())
    delivered = set()
    for n, path in enumerate(received):
        mail = path.read_bytes()
        outer = message_from_bytes(mail, policy=policy.default)
        assert outer["Message-ID"] in message_ids
        subject, _, record = decrypt_mail(mail, secrets[n % len(secrets)])  # both staff keys, in turn
        reference = record["reference"]
        assert reference in subject and reference in outer["Message-ID"]
        assert outer["Subject"] == f"Safeline report {reference}"
        assert record_matches(record, sent[reference], reference)
        delivered.add(reference)
    assert delivered == set(sent)


# -- the relay killed in the middle of a burst ---------------------------------------------------

class Burst:
    """Clients posting reports one after another, each remembering what was confirmed to it."""

    def __init__(self, relay: RelayServer, clients: int = 4):
        self.relay = relay
        self.confirmed: dict[str, dict] = {}
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.errors: list[str] = []
        self.threads = [threading.Thread(target=self._post, args=(number,), daemon=True) for number in range(clients)]

    def _post(self, number: int) -> None:
        client = self.relay.client(timeout=10)
        n = 0
        while not self.stop.is_set():
            n += 1
            fields = report(n, f"kill{number}")
            try:
                reply = client.submit(**fields)
            except (OSError, http.client.HTTPException):  # the relay is gone: never confirmed
                return
            if reply.status != 303:
                self.errors.append(f"{reply.status}")
                return
            with self.lock:
                self.confirmed[reference_in(reply.location, SECRET_KEY)] = fields

    def __enter__(self):
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *_):
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=20)
        assert not any(thread.is_alive() for thread in self.threads)


def test_every_confirmed_report_survives_a_sigkill_of_the_relay(
        tmp_path, relay_env, catalogs, outbox_dir, staff_keys, mail_server):
    env = {**relay_env, "RELAY_RATELIMIT": "100000 per hour", "RELAY_RATELIMIT_POSTS": "100000 per hour"}
    relay = RelayServer(env, tmp_path / "gunicorn-killed.log", workers=2).start()
    try:
        with Burst(relay) as burst:
            assert wait_until(lambda: len(burst.confirmed) >= 40, timeout=60), burst.errors
            relay.kill()  # master and workers at once, requests in flight
        assert burst.errors == []
        confirmed = dict(burst.confirmed)
    finally:
        relay.kill()

    # Started again on the same outbox: its start-up check and clean-up leave the messages alone.
    restarted = RelayServer(env, tmp_path / "gunicorn-restarted.log", workers=2).start()
    try:
        client = restarted.client()
        for n in range(3):
            fields = report(n, "after")
            reply = client.submit(**fields)
            assert reply.status == 303
            confirmed[reference_in(reply.location, SECRET_KEY)] = fields
    finally:
        restarted.stop()

    outbox = Outbox(outbox_dir)
    waiting = {path.name for path in outbox.pending()}
    leftovers = sorted(path.name for path in (outbox_dir / "tmp").iterdir())  # writes the kill cut short
    # Messages in the outbox: every confirmed one, plus those stored just before the kill whose
    # answer never left (a real report all the same); nothing else.
    assert all(any(reference in name for name in waiting) for reference in confirmed)
    assert len(waiting) - len(confirmed) <= 4  # at most one per client was in flight

    target = SmtpTarget.from_url(f"smtp://127.0.0.1:{mail_server.port}", helo="relay.test")
    deadline = time.monotonic() + 60
    while outbox.pending() and time.monotonic() < deadline:
        deliver_once(outbox, target, RELAY_MAIL_FROM, [RELAY_MAIL_TO], timeout=5)
    assert outbox.pending() == []

    received = mail_server.messages()
    assert len(received) == len(waiting)
    message_ids = Counter()
    delivered = {}
    secret = staff_keys.secrets["gnupg-v4"]
    for path in received:
        mail = path.read_bytes()
        message_ids[message_from_bytes(mail, policy=policy.default)["Message-ID"]] += 1
        _, _, record = decrypt_mail(mail, secret)  # complete: not one partial message
        delivered[record["reference"]] = record
    assert set(message_ids.values()) == {1}
    for reference, fields in confirmed.items():
        assert reference in delivered, reference
        assert record_matches(delivered[reference], fields, reference)

    # A write cut short stays in tmp/, is never sent, and goes with the hourly clean-up.
    assert sorted(path.name for path in (outbox_dir / "tmp").iterdir()) == leftovers
    for name in leftovers:
        assert not any(reference in name for reference in delivered)
    assert outbox.clean_tmp(now=time.time() + STALE_TMP_SECONDS + 1) == len(leftovers)
    assert list((outbox_dir / "tmp").iterdir()) == []


# -- the outbox failing after start ---------------------------------------------------------------

TYPED = {
    "role": "guardian",
    "email": "fault.hanako@example.jp",
    "urls": "https://images.example.com/fault/1\nexample.net/fault/2",
    "description": "駅で撮られた写真が投稿されています。\n<b>&</b>",
    "consent": "yes",
}
UNAVAILABLE = {
    "ja": "いま通報を受け付けられませんでした。何も送られていません。",
    "en": "Your report could not be received just now, and nothing was sent.",
}


# A file where a folder should be (root writes into a read-only folder regardless).
BREAKS = {"folder": lambda outbox: outbox, "tmp": lambda outbox: outbox / "tmp"}


@pytest.mark.parametrize("lang", ["ja", "en"])
@pytest.mark.parametrize("broken", BREAKS)
def test_an_unwritable_outbox_keeps_the_form_and_confirms_nothing(app, client, outbox_dir, mail_server, lang, broken):
    relay_app = app()
    folder = BREAKS[broken](outbox_dir)
    shutil.rmtree(folder)  # after start: the start-up check passed
    folder.write_text("")
    token = get_token(client, lang)
    response = submit(client, lang=lang, token=token, **TYPED)

    assert response.status_code == 503
    assert "Location" not in response.headers
    page = parse(response)
    assert page.lang == lang
    assert UNAVAILABLE[lang] in " ".join(page.find(class_="error-summary").text.split())
    for name, value in TYPED.items():
        assert page.value(name) == value, name
    assert page.value("token") == token
    assert page.find_all(class_="reference") == []
    assert not REFERENCE.search(page.html) and "SL-" not in page.html

    # Nothing was stored: once the folder is back there is still nothing to send.
    folder.unlink()
    assert services(relay_app).outbox.pending() == []
    assert deliver(relay_app).sent == 0
    assert mail_server.messages() == []
