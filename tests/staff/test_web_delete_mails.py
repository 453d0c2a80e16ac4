"""Deleting a case from the interface offers its mails for deletion, as ``safeline-staff
delete`` does (staff/web/mails.py, the views in staff/web/cases.py).

Real parts: the relay's own mails in a real Dovecot INBOX (the report mailbox, config.json's
``imap``), imported by the kit with a real GnuPG key; the case's events sealed and appended by
the real sync to a local Maildir (the events folder); the real Flask app behind its guard. The
IMAP password is in the (test) system keyring, or not: the browser cannot be asked for it.
"""

from __future__ import annotations

import re
import socket
from pathlib import Path

import pytest

from devtools.ports import HOST
from safeline import typography
from staff.home import Config, Home
from staff.imap import KEYRING_SERVICE, ImapSource
from staff.importer import import_mail
from staff.mailbox import MaildirSource, header_message_id
from staff.setup import init, open_store
from staff.sync import sync_config
from staff.web import LocalServer, create_app
from tests.support.staff_browser import check
from tests.support.staff_team import key_folder
from tests.support.staff_web import ORIGIN, PORT, SECRET, client_for, csrf


def no_prompt(question: str) -> str:
    raise AssertionError("the IMAP password was asked where the keyring holds it")


def bare(message_id: str) -> str:
    return message_id.strip().strip("<>")


def inbox_ids(account) -> set[str]:
    """The Message-IDs of the INBOX, as another mail program sees them."""
    with account.client() as client:
        client.select_folder("INBOX", readonly=True)
        uids = client.search("ALL")
        answer = client.fetch(uids, ["BODY.PEEK[HEADER]"]) if uids else {}
    return {bare(header_message_id(bytes(data[b"BODY[HEADER]"]))) for data in answer.values()}


def maildir_ids(folder: Path) -> set[str]:
    return {bare(mid) for _, mid in MaildirSource(folder).message_ids() if mid}


def text(response) -> str:
    """The page's text, tags removed, spaces folded."""
    page = response.get_data(as_text=True)
    return " ".join(re.sub(r"<[^>]+>", " ", page).split())


class WebKit:
    def __init__(self, home, store, app, events: Path, account):
        self.home, self.store, self.app, self.events, self.account = home, store, app, events, account
        self.client = client_for(app)

    def get(self, path: str, status: int = 200):
        response = self.client.get(ORIGIN + path)
        assert response.status_code == status, (path, response.status_code, response.get_data(as_text=True)[-600:])
        return response

    def post(self, path: str, data: dict, status: int = 200):
        response = self.client.post(ORIGIN + path, data={**data, "csrf": csrf()})
        assert response.status_code == status, (path, response.status_code, response.get_data(as_text=True)[-600:])
        return response

    def mails_of(self, reference: str) -> tuple[set[str], set[str]]:
        """The case's report mails and event mails (bare Message-IDs)."""
        leaving = self.store.leaving(reference, retire=False)
        return set(leaving.mails), set(leaving.event_mails)


@pytest.fixture
def kit(tmp_path, staff_gnupg, imap_account, certificate, staff_keyring, relay_corpus):
    """A kit whose report mailbox is a Dovecot INBOX holding the relay's mails (imported) and
    whose events folder is a local Maildir holding the events of a note and a status (synced)."""
    staff_keyring.set_password(KEYRING_SERVICE, f"{imap_account.user}@{HOST}", imap_account.password)
    keys = key_folder(tmp_path / "staff-keys", {"a.asc": staff_gnupg.public})
    events = tmp_path / "events"
    config = Config(key=staff_gnupg.fingerprint, gnupg_home=str(staff_gnupg.home), imap=imap_account.url,
                    imap_ca=str(certificate[0]), staff_keys=str(keys), events=str(events))
    home = Home(tmp_path / "kit")
    identity = init(home, config)
    maildir = relay_corpus.maildir
    imap_account.deliver([path.read_bytes() for sub in ("new", "cur") for path in sorted((maildir / sub).iterdir())])
    store = open_store(home, identity=identity)
    with ImapSource(imap_account.url, ca_file=certificate[0], password_prompt=no_prompt) as source:
        import_mail(source, store, identity, progress=False)
    for reference in relay_corpus.references[:2]:
        store.add_note(reference, "Called the site")
        store.set_status(reference, "in_progress")
    tally = sync_config(home.config(), store, identity, password_prompt=no_prompt)
    assert tally.offline is None and tally.sent == 4, tally
    app = create_app(store, secret=SECRET, port=PORT, home=home, identity=identity)
    app.testing = False  # errors become pages, as when served
    try:
        yield WebKit(home, store, app, events, imap_account)
    finally:
        store.close()


def test_delete_looks_for_the_case_mails_and_deletes_them_once_confirmed(kit, relay_corpus):
    reference, other = relay_corpus.references[0], relay_corpus.references[1]
    reports, event_mails = kit.mails_of(reference)
    assert len(reports) == 2 and len(event_mails) == 2
    inbox, folder = inbox_ids(kit.account), maildir_ids(kit.events)
    assert reports <= inbox and event_mails <= folder

    # The confirmation says the button contacts the mail server, and where it looks.
    page = kit.get(f"/en/case/{reference}/delete")
    said = text(page)
    assert "Delete the case and look for its mails (contacts the mail server)" in said
    assert "Delete the case only" in said
    assert f"Report mailbox {kit.account.url}" in said and f"Team's events folder {kit.events}" in said
    assert re.search(r'<button type="submit" name="mails" value="look" class="danger" '
                     r'aria-describedby="look-note look-places look-server">', page.get_data(as_text=True))
    assert kit.store.case(reference) is not None  # asking deletes nothing
    assert typography.findings(kit.get(f"/case/{reference}/delete").get_data(as_text=True), "delete-ja") == []

    # Deleted from the store first; then its mails are listed, none deleted yet.
    response = kit.post(f"/en/case/{reference}/delete", {"mails": "look"})
    said = text(response)
    assert kit.store.case(reference) is None
    assert f"Report mailbox {kit.account.url} 2 mails of this case" in said
    assert f"Team's events folder {kit.events} 2 mails of this case" in said
    assert "Delete these 4 mails for good (contacts the mail server)" in said
    assert inbox_ids(kit.account) == inbox and maildir_ids(kit.events) == folder
    assert 'name="step" value="delete"' in response.get_data(as_text=True)

    # Without the form's token, nothing happens.
    refused = kit.client.post(f"{ORIGIN}/en/case/{reference}/mails", data={"step": "delete"})
    assert refused.status_code == 403 and inbox_ids(kit.account) == inbox

    # The second confirmation deletes exactly those, in both places.
    response = kit.post(f"/en/case/{reference}/mails", {"step": "delete"})
    said = text(response)
    assert "Deleted 4 mails, of this case or of cases deleted or retired before:" in said
    assert f"Report mailbox {kit.account.url} 2 mails" in said
    assert f"Team's events folder {kit.events} 2 mails" in said
    assert inbox_ids(kit.account) == inbox - reports and maildir_ids(kit.events) == folder - event_mails
    assert kit.store.case(other) is not None

    # Again: nothing left of it.
    response = kit.post(f"/en/case/{reference}/mails", {"step": "delete"})
    assert "nothing was deleted" in text(response)
    assert typography.findings(kit.post(f"/case/{reference}/mails", {"step": "look"}).get_data(as_text=True),
                               "look-ja") == []


def test_delete_only_keeps_the_mails_and_offers_to_look_later(kit, relay_corpus):
    reference = relay_corpus.references[1]
    reports, event_mails = kit.mails_of(reference)
    response = kit.post(f"/en/case/{reference}/delete", {})
    said = text(response)
    assert kit.store.case(reference) is None
    assert "stay in the mailbox until they are deleted there" in said
    assert "Look for its mails (contacts the mail server)" in said
    assert reports <= inbox_ids(kit.account)
    # Looked for later, the case's mails are among those of deleted cases.
    said = text(kit.post(f"/en/case/{reference}/mails", {"step": "look"}))
    assert f"Report mailbox {kit.account.url} 2 mails of this case or of cases deleted or retired before" \
           in said
    assert "Delete these 4 mails for good" in said
    # A case not deleted: back to its confirmation; an unknown step is refused.
    other = relay_corpus.references[2]
    response = kit.post(f"/en/case/{other}/mails", {"step": "delete"}, status=303)
    assert response.headers["Location"] == f"/en/case/{other}/delete"
    kit.post(f"/en/case/{reference}/mails", {"step": "all"}, status=400)


def test_a_password_not_in_the_keyring_is_said_before_and_after(kit, relay_corpus, staff_keyring):
    reference = relay_corpus.references[0]
    reports, event_mails = kit.mails_of(reference)
    account = f"{kit.account.user}@{HOST}"
    staff_keyring.delete_password(KEYRING_SERVICE, account)
    said = text(kit.get(f"/en/case/{reference}/delete"))
    assert f"The IMAP password for {account} is not in this computer's keyring, and the browser cannot ask for it" \
           in said
    assert f"safeline-staff delete {reference}" in said and f"keyring set safeline-staff {account}" in said
    assert "キーリング" in text(kit.get(f"/case/{reference}/delete"))

    # Deleted anyway: the store's deletion stands, the events folder is listed, the mailbox is not.
    said = text(kit.post(f"/en/case/{reference}/delete", {"mails": "look"}))
    assert kit.store.case(reference) is None
    assert (f"The report mailbox could not be opened: the IMAP password for {account} is not in this computer's "
            "keyring, and the browser cannot ask for it.") in said
    assert f"Team's events folder {kit.events} 2 mails of this case" in said
    assert "safeline-staff retention" in said and "Look again (contacts the mail server)" in said
    assert "Delete these 2 mails for good" in said

    # The password stored, looking again finds the report mailbox's too; then they go.
    staff_keyring.set_password(KEYRING_SERVICE, account, kit.account.password)
    said = text(kit.post(f"/en/case/{reference}/mails", {"step": "look"}))
    assert f"Report mailbox {kit.account.url} 2 mails of this case or of cases deleted or retired before" \
           in said
    kit.post(f"/en/case/{reference}/mails", {"step": "delete"})
    assert not reports & inbox_ids(kit.account) and not event_mails & maildir_ids(kit.events)


def test_a_mail_server_out_of_reach_is_said_and_the_deletion_stands(kit, relay_corpus):
    reference = relay_corpus.references[0]
    reports, event_mails = kit.mails_of(reference)
    with socket.socket() as closed:
        closed.bind((HOST, 0))
        port = closed.getsockname()[1]  # nothing listens there once closed
    config = kit.home.config()
    config.imap = f"imaps://{kit.account.user}@{HOST}:{port}"
    kit.home.save_config(config)
    response = kit.post(f"/en/case/{reference}/delete", {"mails": "look"})
    said = text(response)
    assert kit.store.case(reference) is None
    assert "The report mailbox could not be used (is the mail server out of reach?):" in said
    assert "refused the connection" in said
    assert "Or run this in a terminal" in said and "safeline-staff retention" in said
    assert f"Team's events folder {kit.events} 2 mails of this case" in said
    # What can be deleted is: the events folder's.
    said = text(kit.post(f"/en/case/{reference}/mails", {"step": "delete"}))
    assert f"Team's events folder {kit.events} 2 mails" in said
    assert "The report mailbox could not be used" in said
    assert not event_mails & maildir_ids(kit.events) and reports <= inbox_ids(kit.account)
    assert "メールサーバー" in text(kit.post(f"/case/{reference}/mails", {"step": "look"}))


def test_the_pages_pass_axe_and_work_by_clicking(kit, relay_corpus, staff_keyring, browser):
    """Each step in a real browser (JavaScript on only so that axe can be injected; the pages
    hold no script): the confirmation with a password the keyring lacks, the deleted case with
    what was found and what could not be done, looking again, and the mails deleted."""
    reference = relay_corpus.references[0]
    reports, event_mails = kit.mails_of(reference)
    account = f"{kit.account.user}@{HOST}"
    staff_keyring.delete_password(KEYRING_SERVICE, account)
    server = LocalServer(kit.store, port=0, home=kit.home).start()
    context = browser.new_context(java_script_enabled=True, viewport={"width": 1280, "height": 800})
    try:
        page = context.new_page()
        assert page.goto(server.url).ok
        assert page.goto(f"{server.origin}/case/{reference}/delete").ok
        check(page, "delete, Japanese")
        assert page.goto(f"{server.origin}/en/case/{reference}/delete").ok
        check(page, "delete, a password not in the keyring")
        with page.expect_navigation():
            page.click("text=Delete the case and look for its mails (contacts the mail server)")
        assert kit.store.case(reference) is None
        assert "Delete these 2 mails for good" in page.inner_text("main")
        check(page, "deleted, the report mailbox not opened")
        staff_keyring.set_password(KEYRING_SERVICE, account, kit.account.password)
        with page.expect_navigation():
            page.click("text=Look again (contacts the mail server)")
        assert "Delete these 4 mails for good" in page.inner_text("main")
        check(page, "looked again")
        page.set_viewport_size({"width": 390, "height": 844})
        page.screenshot(path="/tmp/safeline-web-shots/delete-mails-found.png", full_page=True)
        page.set_viewport_size({"width": 1280, "height": 800})
        with page.expect_navigation():
            page.click("text=Delete these 4 mails for good (contacts the mail server)")
        assert "Deleted 4 mails" in page.inner_text("main")
        check(page, "mails deleted")
        assert not reports & inbox_ids(kit.account) and not event_mails & maildir_ids(kit.events)
    finally:
        context.close()
        server.stop()
