"""Team sync from the staff kit's interface (staff/web/sync.py): two kits with different keys
share one real Dovecot IMAP folder, each through its own web interface (the real Flask app).

Sync runs in a background thread when the interface starts and with "Sync now", never in a
request: a page answers while a sync waits on a server that does not answer. The header shows
the last sync's summary and time, "offline: N changes waiting" when the server cannot be
reached, and how to fix a password that is not in the keyring (the browser cannot be asked).
"""

from __future__ import annotations

import re
import socket
import time
from dataclasses import dataclass

import pytest

from devtools.ports import HOST, free_port
from safeline import typography
from staff.home import Config, Home
from staff.imap import KEYRING_SERVICE
from staff.setup import init, open_store
from staff.web import LocalServer, create_app
from tests.support.staff_browser import check
from tests.support.staff_team import key_folder
from tests.support.staff_web import ORIGIN, PORT, SECRET, client_for, csrf

FOLDER = "Safeline-Events"
URL = "https://images.example.com/p/ajisai1"


@dataclass
class WebKit:
    home: Home
    identity: object
    store: object
    app: object
    client: object

    @property
    def syncer(self):
        return self.app.extensions["staff_syncer"]

    def page(self, path: str = "/en/") -> str:
        response = self.client.get(ORIGIN + path)
        assert response.status_code == 200, response.status_code
        return response.get_data(as_text=True)

    def sync_now(self, path: str = "/en/") -> str:
        response = self.client.post(ORIGIN + "/en/sync", data={"csrf": csrf(), "back": path})
        assert response.status_code == 303 and response.headers["Location"].endswith(path)
        self.syncer.wait(60)
        return self.page(path)


def status_line(page: str) -> str:
    found = re.search(r'<p class="sync-line">(.*?)</p>', page, re.S)
    assert found, "no sync line"
    return " ".join(re.sub(r"<[^>]+>", "", found.group(1)).split())


@pytest.fixture
def kits(tmp_path, staff_gnupg, imap_account, certificate, staff_keyring):
    """Kit A (key in GnuPG) and kit B (an armored key file with a passphrase), one team mailbox,
    the IMAP password in the (test) keyring; each with its web interface."""
    staff_keyring.set_password(KEYRING_SERVICE, f"{imap_account.user}@{HOST}", imap_account.password)
    keys = key_folder(tmp_path / "staff-keys", {"a.asc": staff_gnupg.public, "b.asc": staff_gnupg.locked_public})
    b_key = tmp_path / "b.sec.asc"
    b_key.write_bytes(staff_gnupg.locked_secret)
    made = []
    for name, config, passphrase in (
            ("a", Config(key=staff_gnupg.fingerprint, gnupg_home=str(staff_gnupg.home)), None),
            ("b", Config(key_file=str(b_key)), staff_gnupg.passphrase)):
        config.staff_keys, config.events = str(keys), f"{imap_account.url}/{FOLDER}"
        config.imap_ca = str(certificate[0])  # the tests' own CA, as config.json's imap_ca
        home = Home(tmp_path / f"kit-{name}")
        identity = init(home, config, passphrase=passphrase)
        store = open_store(home, identity=identity)
        app = create_app(store, secret=SECRET, port=PORT, home=home, identity=identity)
        app.testing = False
        made.append(WebKit(home, identity, store, app, client_for(app)))
    yield made
    for kit in made:
        kit.syncer.wait(60)
        kit.store.close()


def test_a_change_made_in_one_interface_reaches_the_other(kits, staff_gnupg):
    a, b = kits
    reference = a.store.add_phone_case(role="self", description="写真が無断で投稿された", urls=[URL])
    response = a.client.post(f"{ORIGIN}/en/case/{reference}/note", data={"note": "Called back", "csrf": csrf()})
    assert response.status_code == 303
    assert "not yet run since the interface started" in status_line(a.page())
    line = status_line(a.sync_now())
    assert re.fullmatch(r"Team sync at \d{4}-\d\d-\d\d \d\d:\d\d: sent 2; received 0 \(applied 0, already known 0\); "
                        r"ignored 0\.", line), line
    # B's interface starts as serve starts it: a sync on opening, in the background.
    started = b.syncer.start()
    assert started
    b.syncer.wait(60)
    assert "sent 0; received 2 (applied 2, already known 0)" in status_line(b.page())
    page = b.page(f"/en/case/{reference}")
    assert "Called back" in page
    # Who did it: A's name from the staff keys (the user ID of A's key), in B's interface.
    assert re.search(r'<span class="who">Safeline Staff A</span> · added a note', page)
    # Japanese too.
    assert "チームとの同期" in status_line(b.page("/"))
    assert typography.findings(b.page("/"), "synced") == []


def test_a_long_history_is_read_in_the_background_with_the_second_process(kits, monkeypatch):
    """The interface's sync runs in a thread of serve: from there too, a key file's later chunks
    are decrypted by the second process, and the pages keep answering meanwhile."""
    from staff import decryption, sync as sync_module

    monkeypatch.setattr(sync_module, "BATCH", 3)
    monkeypatch.setattr(decryption, "SECOND_PROCESS_FROM", 2)
    a, b = kits
    reference = a.store.add_phone_case(role="self", description="写真が無断で投稿された", urls=[URL])
    for number in range(7):
        a.store.add_note(reference, f"折り返し {number}")
    assert "sent 8;" in status_line(a.sync_now())
    elsewhere = []
    real = decryption.Decryptions.results

    def results(self, batch):
        got = real(self, batch)
        elsewhere.append(self.elsewhere)
        return got

    monkeypatch.setattr(decryption.Decryptions, "results", results)
    assert b.syncer.start()
    assert b.page("/en/")  # answers while the sync runs
    b.syncer.wait(60)
    assert "sent 0; received 8 (applied 8, already known 0)" in status_line(b.page())
    assert elsewhere == [0, 1, 2]
    assert "折り返し 6" in b.page(f"/en/case/{reference}")


def test_offline_says_how_many_changes_wait(kits, tmp_path):
    a, _ = kits
    config = a.home.config()
    with socket.socket() as closed:
        closed.bind((HOST, 0))
        port = closed.getsockname()[1]  # nothing listens there once closed
    config.events = re.sub(r"@[^/]+", f"@{HOST}:{port}", config.events, count=1)
    a.home.save_config(config)
    reference = a.store.add_phone_case(role="self", description="オフライン", urls=[URL])
    a.store.add_note(reference, "one more")
    line = status_line(a.sync_now())
    assert "offline" in line and "Offline: changes waiting to be sent: 2." in line
    assert "送信待ちの変更が 2 件あります" in status_line(a.page("/"))
    assert typography.findings(a.page("/"), "offline") == []
    assert len(a.store.pending_events()) == 2


def test_a_password_not_in_the_keyring_says_how_to_fix_it(kits, staff_keyring, imap_account):
    a, _ = kits
    staff_keyring.delete_password(KEYRING_SERVICE, f"{imap_account.user}@{HOST}")
    line = status_line(a.sync_now())
    assert "the IMAP password is not in this computer's keyring, and the browser cannot ask for it" in line
    assert "Run safeline-staff sync once in a terminal" in line
    assert f"keyring set safeline-staff {imap_account.user}@{HOST}" in line
    assert "safeline-staff sync を一度実行" in status_line(a.page("/"))
    assert typography.findings(a.page("/"), "keyring") == []


def test_a_setting_to_fix_is_one_line(kits, tmp_path):
    a, _ = kits
    config = a.home.config()
    config.staff_keys = str(tmp_path / "no-such-keys")
    a.home.save_config(config)
    line = status_line(a.sync_now())
    assert "could not run:" in line and "no such file or folder (staff_keys in config.json)" in line


def test_a_page_never_waits_for_a_sync(kits):
    a, _ = kits
    # A server that takes the connection and never says a word: the sync waits on it.
    with socket.socket() as silent:
        silent.bind((HOST, 0))
        silent.listen(8)
        config = a.home.config()
        config.events = re.sub(r"@[^/]+", f"@{HOST}:{silent.getsockname()[1]}", config.events, count=1)
        a.home.save_config(config)
        response = a.client.post(ORIGIN + "/en/sync", data={"csrf": csrf(), "back": "/en/"})
        assert response.status_code == 303
        began = time.monotonic()
        page = a.page()
        assert time.monotonic() - began < 5
        assert a.syncer.running
        assert "Team sync: running. Reload the page to see the result." in status_line(page)
        assert 'action="/en/sync"' not in page  # no second sync while one runs
        # "Sync now" again changes nothing.
        assert a.client.post(ORIGIN + "/en/sync", data={"csrf": csrf()}).status_code == 303
    a.syncer.wait(120)  # the listener closed: the sync ends (offline)


def test_no_team_no_sync_bar(tmp_path, staff_gnupg):
    home = Home(tmp_path / "alone")
    identity = init(home, Config(key=staff_gnupg.fingerprint, gnupg_home=str(staff_gnupg.home)))
    with open_store(home, identity=identity) as store:
        app = create_app(store, secret=SECRET, port=PORT, home=home, identity=identity)
        client = client_for(app)
        page = client.get(ORIGIN + "/en/").get_data(as_text=True)
        assert "sync-bar" not in page
        assert app.extensions["staff_syncer"].start() is False
        # The form's address answers anyway: back to the list.
        response = client.post(ORIGIN + "/en/sync", data={"csrf": csrf(), "back": "//evil.example/"})
        assert response.status_code == 303 and response.headers["Location"] == "/en/"


def test_serve_syncs_on_opening(kits):
    _, b = kits
    reference = kits[0].store.add_phone_case(role="self", description="開いたときに同期", urls=[URL])
    kits[0].syncer.start()
    kits[0].syncer.wait(60)
    server = LocalServer(b.store, port=free_port(), home=b.home, identity=b.identity).start()
    try:
        assert server.sync_on_opening()
        server.app.extensions["staff_syncer"].wait(60)
        assert b.store.case(reference) is not None
    finally:
        server.stop()


def test_the_sync_bar_passes_axe_at_both_widths(kits, browser):
    a, _ = kits
    a.store.add_phone_case(role="self", description="ブラウザーで同期", urls=[URL])
    server = LocalServer(a.store, port=0, home=a.home, identity=a.identity).start()
    context = browser.new_context(java_script_enabled=True, viewport={"width": 1280, "height": 800})
    try:
        assert server.sync_on_opening()
        server.app.extensions["staff_syncer"].wait(60)
        page = context.new_page()
        assert page.goto(server.url).ok
        assert "sent 1;" in page.inner_text("#sync-status") or "送信 1 件" in page.inner_text("#sync-status")
        check(page, "sync bar")
        page.goto(server.origin + "/en/")
        check(page, "sync bar, English")
        page.set_viewport_size({"width": 390, "height": 844})
        page.screenshot(path="/tmp/safeline-web-shots/sync-bar.png")
        # Sync now, by clicking (the form works without script: it is a plain POST).
        page.set_viewport_size({"width": 1280, "height": 800})
        with page.expect_navigation():
            page.click("#sync-status button")
        server.app.extensions["staff_syncer"].wait(60)
        page.reload()
        assert "sent 0; received 0" in page.inner_text("#sync-status")
    finally:
        context.close()
        server.stop()
