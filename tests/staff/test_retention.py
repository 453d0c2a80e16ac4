"""Retention (staff/retention.py): cases closed longer than ``retention_days`` leave the store,
their counts stay, and their mails leave the mailbox once confirmed; ``delete REFERENCE``
offers the same clean-up.

Real parts: the relay's own mails (``relay_corpus``) in a real Dovecot mailbox and in a
Maildir, decrypted by the kit with a real GnuPG key; the team's events sealed and appended by
the real sync to a real IMAP folder (or a local Maildir folder) and read by a second kit.

Sync records which mail carried each event (``events.mail_id``); ``check_mail_ids`` checks it
against the folder, by unsealing each mail with the kit's own key.
"""

from __future__ import annotations

import hashlib
import io
import re
import shutil
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms
from cryptography.hazmat.primitives.poly1305 import Poly1305

from devtools.ports import HOST, free_port
from staff.casework import delete_case
from staff.eventmail import unseal
from staff.events import Event
from staff.home import Config, Home
from staff.imap import KEYRING_SERVICE, ImapError, ImapMailbox, ImapSource
from staff.importer import import_mail
from staff.mailbox import MaildirSource, header_message_id
from staff.openpgp import identity_of
from staff.problems import StaffError
from staff.retention import mail_places, retention
from staff.setup import init, open_store, store_key
from staff.stats import run_stats
from staff.store import Store, fold
from staff.sync import sync_config
from staff.team import Team
from tests.support.staff_team import key_folder
from tests.support.staffkit import MARK_EN, MARK_JA, copy_maildir, staff_cli

JST = timezone(timedelta(hours=9))
EVENTS = "Safeline-Events"
NOTE = "Capybara9157 called the site"  # typed into the retired case only
OLD = datetime.now(JST) - timedelta(days=400)  # closed then: due after 365 days
RECENT = datetime.now(JST) - timedelta(days=10)  # closed then: not due
TODAY = datetime.now(JST).date()


def no_prompt(prompt: str) -> str:
    raise AssertionError("the IMAP password was asked where the keyring holds it")


def answers(*replies: str):
    """An ``ask`` that gives ``replies`` in order and records the prompts; one more is a failure."""
    asked: list[str] = []

    def ask(prompt: str) -> str:
        asked.append(prompt)
        assert len(asked) <= len(replies), f"asked once too often: {prompt}"
        return replies[len(asked) - 1]

    ask.asked = asked
    return ask


def bare(message_id: str) -> str:
    return message_id.strip().strip("<>")


def stats_text(store) -> str:
    out = io.StringIO()
    run_stats(store, start="2000-01-01", end="2099-12-31", threshold=1, out=out)
    return out.getvalue()


def imap_ids(account, folder: str = "INBOX") -> dict[str, int]:
    """Message-ID (bare) → UID of every message of ``folder``, as another mail program sees them."""
    with account.client() as client:
        if not client.folder_exists(folder):
            return {}
        client.select_folder(folder, readonly=True)
        uids = client.search("ALL")
        answer = client.fetch(uids, ["BODY.PEEK[HEADER]"]) if uids else {}
    return {bare(header_message_id(bytes(data[b"BODY[HEADER]"]))): uid for uid, data in answer.items()}


def imap_mails(account, folder: str) -> list[bytes]:
    with account.client() as client:
        client.select_folder(folder, readonly=True)
        uids = client.search("ALL")
        return [bytes(data[b"BODY[]"]) for data in client.fetch(uids, ["BODY.PEEK[]"]).values()] if uids else []


def maildir_ids(folder: Path) -> set[str]:
    return {bare(mid) for _, mid in MaildirSource(folder).message_ids() if mid}


def maildir_mails(folder: Path) -> list[bytes]:
    return [path.read_bytes() for sub in ("new", "cur") for path in sorted((folder / sub).iterdir())]


def check_mail_ids(store: Store, mails: list[bytes], identity, team: Team) -> int:
    """That sync recorded which mail carried each event the store keeps (``events.mail_id``):
    each mail of the folder unsealed with the kit's own key; how many the store knows."""
    known = 0
    for mail in mails:
        event = Event.from_bytes(unseal(mail, identity, team)[0])
        row = store._db.execute("SELECT mail_id FROM events WHERE id = ?", (event.id,)).fetchone()
        if row is not None:
            assert bare(row[0]) == bare(header_message_id(mail.split(b"\r\n\r\n", 1)[0] + b"\r\n"))
            known += 1
    return known


def mails_of(store: Store, reference: str) -> set[str]:
    return {bare(record.message_id) for record in store.case(reference).records if record.message_id}


def event_mails_of(store: Store, reference: str) -> set[str]:
    return {bare(mid) for (mid,) in store._db.execute(
        "SELECT e.mail_id FROM events e JOIN cases c ON c.id = e.case_id WHERE c.reference = ? "
        "AND e.mail_id IS NOT NULL", (reference,))}


def texts_of(store: Store) -> str:
    """Every value of every table of the store (decrypted), as one text to search."""
    db = store._db
    parts = []
    for (table,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall():
        for row in db.execute(f'SELECT * FROM "{table}"').fetchall():
            for value in row:
                if isinstance(value, bytes):
                    parts.append(value.decode("utf-8", "replace"))
                elif value is not None:
                    parts.append(str(value))
    return "\n".join(parts)


def _chacha20(key: bytes, nonce: bytes, counter: int, data: bytes) -> bytes:
    return Cipher(algorithms.ChaCha20(key, counter.to_bytes(4, "little") + nonce), mode=None).encryptor().update(data)


def decrypted_pages(path: Path, key: bytes) -> bytes:
    """Every page of the store file, decrypted as SQLite3 Multiple Ciphers' ChaCha20-Poly1305
    (sqleet) cipher encrypts it, free pages and the unused space of pages included: what
    whoever holds the key could read beyond the tables. Each page's Poly1305 tag is checked,
    so a wrong reading of the format fails here instead of finding nothing.

    The cipher (src/cipher_chacha20.c of SQLite3MultipleCiphers): the key is PBKDF2-HMAC-SHA256
    of the store key (``PRAGMA hexkey``), salted with the file's first 16 bytes, 64007 rounds;
    each page ends with 32 reserved bytes, a 16-byte nonce and the tag; the page's one-time key
    is ChaCha20(key, nonce[:12], counter = nonce[12:16] ^ page number), the page is
    ChaCha20(one-time key[32:], nonce[:12], counter + 1), and page 1 keeps its first 24 bytes
    in clear (the salt, then the page size and reserved bytes SQLite reads first)."""
    data = Path(path).read_bytes()
    derived = hashlib.pbkdf2_hmac("sha256", key, data[:16], 64007, 32)
    size = int.from_bytes(data[16:18], "big") or 65536
    reserved = data[20]
    assert reserved == 32 and len(data) % size == 0
    clear = []
    for number in range(1, len(data) // size + 1):
        page = data[(number - 1) * size:number * size]
        end = size - reserved
        nonce = page[end:end + 16]
        counter = int.from_bytes(nonce[12:], "little") ^ number
        one_time = _chacha20(derived, nonce[:12], counter, bytes(64))
        assert Poly1305.generate_tag(one_time[:32], page[:end + 16]) == page[end + 16:], f"page {number}"
        start = 24 if number == 1 else 0
        clear.append(page[:start] + _chacha20(one_time[32:], nonce[:12], counter + 1, page[start:end]))
    return b"".join(clear)


@dataclass
class Kit:
    home: Home
    identity: object
    store: Store
    team: Team
    ca_file: str | None = None

    def sync(self):
        tally = sync_config(self.home.config(), self.store, self.identity, ca_file=self.ca_file,
                            password_prompt=no_prompt)
        assert tally.offline is None and not tally.ignored, tally
        return tally


# -- the whole of it: a real mailbox, a real events folder ------------------------------------

@pytest.fixture
def imap_kit(tmp_path, staff_gnupg, imap_account, certificate, staff_keyring, relay_corpus):
    """Kit A (GnuPG) whose report mailbox is the INBOX of a Dovecot account holding the relay's
    mails (imported), and whose events folder is a folder of the same account."""
    staff_keyring.set_password(KEYRING_SERVICE, f"{imap_account.user}@{HOST}", imap_account.password)
    keys = key_folder(tmp_path / "staff-keys", {"a.asc": staff_gnupg.public, "b.asc": staff_gnupg.locked_public})
    config = Config(key=staff_gnupg.fingerprint, gnupg_home=str(staff_gnupg.home), imap=imap_account.url,
                    staff_keys=str(keys), events=f"{imap_account.url}/{EVENTS}")
    home = Home(tmp_path / "kit-a")
    identity = init(home, config)
    imap_account.deliver(maildir_mails(relay_corpus.maildir))
    store = open_store(home, identity=identity)
    with ImapSource(imap_account.url, ca_file=certificate[0], password_prompt=no_prompt) as source:
        import_mail(source, store, identity, progress=False)
    kit = Kit(home, identity, store, Team.load(keys), str(certificate[0]))
    yield kit
    store.close()


def test_retention_deletes_the_text_keeps_the_counts_and_cleans_the_mailbox(imap_kit, imap_account, relay_corpus,
                                                                              tmp_path):
    kit, store = imap_kit, imap_kit.store
    retired, kept, deleted = relay_corpus.references[1], relay_corpus.references[0], relay_corpus.references[3]
    # The case to retire: its report and addition, a note, a request, an outcome and a host.
    url = "https://a.example.net/x/1"
    store.add_note(retired, NOTE)
    store.add_request(retired, url, target="host", target_name="Example Hosting", method="email",
                      sent_on=OLD.date() - timedelta(days=20), ticket="TICKET-55871", recheck_days=7,
                      at=OLD - timedelta(days=20))
    store.set_url_state(retired, url, "removed", on=OLD.date() - timedelta(days=5), at=OLD - timedelta(days=5))
    store.set_url_host(retired, url, {"overseas": True, "network": {"name": "Hosting Otter", "country": "US"}},
                       at=OLD - timedelta(days=19))
    store.set_status(retired, "closed", at=OLD)
    # A case closed recently (not due) and one deleted on request before (its mails left behind).
    store.set_status(kept, "closed", at=RECENT)
    mails_retired, mails_kept, mails_deleted = (mails_of(store, ref) for ref in (retired, kept, deleted))
    assert len(mails_retired) == 2 and len(mails_deleted) == 1
    store.delete(deleted)
    kit.sync()
    assert check_mail_ids(store, imap_mails(imap_account, EVENTS), kit.identity, kit.team) == 7
    events_retired, events_kept = event_mails_of(store, retired), event_mails_of(store, kept)
    assert len(events_retired) == 5 and len(events_kept) == 1

    facts, stats = store.facts(), stats_text(store)
    inbox, events = imap_ids(imap_account), imap_ids(imap_account, EVENTS)
    assert mails_retired | mails_kept | mails_deleted <= set(inbox) and events_retired | events_kept <= set(events)
    places, not_looked = mail_places(kit.home.config(), imap_ca=kit.ca_file, password_prompt=no_prompt)
    assert [place.label for place in places] == ["report mailbox", "events folder"] and not_looked == []
    out = io.StringIO()
    ask = answers("yes", "yes")
    assert retention(store, on=TODAY, days=365, places=places, ask=ask, out=out) == 0
    said = out.getvalue()

    # The listing: the due case by reference, date and counts; no word of it.
    assert retired in said and kept not in said
    assert re.search(rf"^{retired}\s+{OLD.date()}\s+\S+\s+1\s+1\s+1\s+3\s+5$", said, re.M), said
    for secret in (NOTE, MARK_EN, "Otter5512", "parent.corpus@example.org", "a.example.net", "TICKET-55871"):
        assert secret not in said
    assert ask.asked == ["Type yes to retire it: ", "Type yes to delete them: "]
    assert f"report mailbox {imap_account.url}: 2 mails of these cases, 1 of cases deleted or retired before; " \
           f"{len(inbox) - 3} other mails stay" in said
    assert f"events folder {imap_account.url}/{EVENTS}: 5 mails of these cases; {len(events) - 5} other mails stay" \
           in said
    assert (f"Delete these 8 mails for good: 3 from the report mailbox ({imap_account.url}), 5 from the events "
            f"folder ({imap_account.url}/{EVENTS})? Other mails stay.") in said
    assert said.splitlines()[-1] == ("retired 1 case (their counts stay for the statistics); deleted 8 mails "
                                     "(3 in the report mailbox, 5 in the events folder)")

    # The store: the case gone, its counts kept, the other cases as they were.
    assert store.case(retired) is None and store.case(kept).status == "closed"
    assert store.facts() == facts and stats_text(store) == stats
    assert [event.type for event in store.pending_events()] == ["retire"]
    assert store.url(url) is None
    # The mailbox: exactly those mails gone, over IMAP as any mail program sees it.
    assert set(imap_ids(imap_account)) == set(inbox) - mails_retired - mails_deleted
    assert set(imap_ids(imap_account, EVENTS)) == set(events) - events_retired
    # Once more: nothing left to do, nothing asked.
    out = io.StringIO()
    assert retention(store, on=TODAY, days=365, places=places, ask=answers(), out=out) == 0
    assert out.getvalue().splitlines()[-1] == "retired 0 cases; no mail of them found"

    # Nothing of its text in the store, whatever table, once the retire event is sent (until
    # then it waits in the store with the reference): looked at through a second store opened
    # on a copy of the file (the kit's own closed first, so the WAL is folded back).
    assert kit.sync().sent == 1
    key = store_key(kit.home, kit.identity)
    store.close()
    copy = tmp_path / "copy.sqlite3"
    shutil.copyfile(kit.home.store_file, copy)
    gone = (NOTE, MARK_EN, "Otter5512", "parent.corpus@example.org", "a.example.net/x/1", "TICKET-55871",
            "Hosting Otter", "d.example.org/img/44", "self.corpus@example.com")
    with Store.open(copy, key) as second:
        everything = texts_of(second)
        assert MARK_JA in everything and relay_corpus.references[0] in everything  # the kept case: found
        for secret in gone:
            assert secret not in everything, secret
        assert second.facts() == facts
        # The references stay in one place only: the signed retire and delete events, kept (with
        # no case) so that a member who joins later gets them too (``team share``).
        second._db.execute("DELETE FROM events WHERE case_id IS NULL AND type IN ('retire', 'delete') "
                           "AND reference IN (?, ?)", (retired, deleted))
        assert second._db.changes() == 2
        everything = texts_of(second)
        assert retired not in everything and deleted not in everything
    # Nor in the file's pages, free ones included (secure_delete overwrote what was deleted);
    # the words as stored and as search folds them.
    assert not Path(f"{kit.home.store_file}-wal").exists()
    pages = decrypted_pages(kit.home.store_file, key)
    assert MARK_JA.encode() in pages and fold(MARK_JA).encode() in pages
    for secret in gone:
        assert secret.encode() not in pages and fold(secret).encode() not in pages, secret
    kit.store = Store.open(kit.home.store_file, key)  # for the fixture to close


# -- the team: a retire event retires the case in every kit -----------------------------------

@pytest.fixture
def two_kits(tmp_path, staff_gnupg):
    """Kits A (GnuPG) and B (a key file with a passphrase) sharing a local events folder."""
    keys = key_folder(tmp_path / "staff-keys", {"a.asc": staff_gnupg.public, "b.asc": staff_gnupg.locked_public})
    events = tmp_path / "events"
    b_key = tmp_path / "b.sec.asc"
    b_key.write_bytes(staff_gnupg.locked_secret)
    kits = []
    for name, config, passphrase in (
            ("a", Config(key=staff_gnupg.fingerprint, gnupg_home=str(staff_gnupg.home)), None),
            ("b", Config(key_file=str(b_key)), staff_gnupg.passphrase)):
        config.staff_keys, config.events = str(keys), str(events)
        home = Home(tmp_path / f"kit-{name}")
        identity = init(home, config, passphrase=passphrase)
        kits.append(Kit(home, identity, open_store(home, identity=identity), Team.load(keys)))
    yield kits
    for kit in kits:
        kit.store.close()


def test_a_second_kit_retires_the_case_when_the_retire_event_comes(two_kits, tmp_path):
    a, b = two_kits
    events = Path(a.home.config().events)
    shared = "https://shared.example.com/p/1"
    old = a.store.add_phone_case(role="self", description=f"電話: {NOTE}", urls=[shared, "https://only.example/2"],
                                 email="caller.old@example.jp", at=OLD - timedelta(days=30))
    new = a.store.add_phone_case(role="guardian", description="まだ対応中", urls=[shared], at=RECENT)
    a.store.add_request(old, shared, target="site", target_name="Shared Site", method="form",
                        sent_on=OLD.date() - timedelta(days=25), recheck_days=7, at=OLD - timedelta(days=25))
    a.store.add_note(old, "Wombat4471 answered")
    a.store.set_status(old, "closed", at=OLD)
    gone = a.store.add_phone_case(role="self", description="削除を希望", email="gone@example.jp", at=RECENT)
    a.store.add_note(gone, "Quokka3318 asked for deletion")
    a.sync()
    b.sync()
    assert b.store.facts() == a.store.facts() and b.store.case(old) is not None
    assert check_mail_ids(a.store, maildir_mails(events), a.identity, a.team) == 7
    before = maildir_ids(events)
    # Deleted on request with no clean-up then: its event mails wait, known only by their HMAC.
    a.store.delete(gone)

    places, not_looked = mail_places(a.home.config())
    assert [place.label for place in places] == ["events folder"]
    assert not_looked == ["the report mailbox was not looked at (give --maildir DIR or --imap URL)"]
    out = io.StringIO()
    assert retention(a.store, on=TODAY, days=365, places=places, not_looked=not_looked, yes=True, out=out) == 0
    # The phone case's event and its note and status: their mails go; the request about the
    # address the other case holds stays, with its mail (that address's history).
    said = out.getvalue()
    assert f"events folder {events}: 3 mails of these cases, 2 of cases deleted or retired before; " \
           f"{len(before) - 5} other mails stay" in said
    assert said.splitlines()[-1] == (
        "retired 1 case (their counts stay for the statistics); deleted 5 mails (5 in the events folder); "
        "the report mailbox was not looked at (give --maildir DIR or --imap URL)")
    assert len(maildir_ids(events)) == len(before) - 5
    facts = a.store.facts()
    assert a.store.case(old) is None and a.store.url(shared).requests[0].target_name == "Shared Site"

    # The retire event goes with A's next sync; its own mail stays in the folder: it is what
    # tells a kit that has not synced yet.
    assert a.sync().sent == 2 and len(maildir_ids(events)) == len(before) - 5 + 2
    tally = b.sync()
    assert (tally.received, tally.applied) == (2, 2)  # the delete and the retire
    assert b.store.case(old) is None and b.store.case(new) is not None
    assert b.store.facts() == facts
    assert [state.to_json() for state in b.store.urls_of(new)] == [state.to_json() for state in a.store.urls_of(new)]
    for kit in (a, b):
        text = texts_of(kit.store)
        assert "Wombat4471" not in text and "caller.old@example.jp" not in text and NOTE not in text
        assert "Quokka3318" not in text and "gone@example.jp" not in text
        assert "まだ対応中" in text


# -- delete on request: the same clean-up, a Maildir report mailbox ------------------------------

@pytest.fixture
def maildir_kit(tmp_path, staff_home, relay_maildir):
    """Kit A with the relay's mails in a Maildir of its own (imported); no events folder."""
    folder = copy_maildir(relay_maildir, tmp_path / "Maildir")
    identity = identity_of(staff_home)
    store = open_store(staff_home, identity=identity)
    import_mail(MaildirSource(folder), store, identity, progress=False)
    yield staff_home, store, folder, identity
    store.close()


def test_delete_offers_the_case_mails_and_keeps_them_when_not_confirmed(maildir_kit, relay_corpus):
    home, store, folder, identity = maildir_kit
    first, second = relay_corpus.references[0], relay_corpus.references[1]
    mails_first, mails_second = mails_of(store, first), mails_of(store, second)
    before = maildir_ids(folder)
    places, not_looked = mail_places(home.config(), maildir=folder)
    assert not_looked == ['no events folder in config.json (events)']

    # Declined: the case is deleted, its mails stay.
    out = io.StringIO()
    ask = answers(first, "no")
    assert delete_case(store, first, ask=ask, out=out, places=places, not_looked=not_looked) == 0
    said = out.getvalue()
    assert f"report mailbox {folder}: 2 mails of this case; {len(before) - 2} other mails stay" in said
    assert said.splitlines()[-1] == (f"deleted {first}; 2 mails found and kept (not confirmed); "
                                     "no events folder in config.json (events)")
    assert store.case(first) is None and maildir_ids(folder) == before

    # The next delete offers its own mails and the ones left before; confirmed, they go.
    out = io.StringIO()
    assert delete_case(store, second, ask=answers(second, "yes"), out=out, places=places) == 0
    said = out.getvalue()
    assert f"2 mails of this case, 2 of cases deleted or retired before; {len(before) - 4} other mails stay" in said
    assert said.splitlines()[-1] == f"deleted {second}; deleted 4 mails (4 in the report mailbox)"
    assert maildir_ids(folder) == before - mails_first - mails_second
    # Importing again brings neither back, and finds nothing to clean.
    tally = import_mail(MaildirSource(folder), store, identity, progress=False)
    assert (tally.reports, tally.additions) == (0, 0)
    assert store.case(first) is None and store.case(second) is None


def test_without_a_mailbox_delete_says_the_mails_stay(maildir_kit, relay_corpus):
    store = maildir_kit[1]
    out = io.StringIO()
    assert delete_case(store, relay_corpus.references[2], yes=True, out=out) == 0
    assert "stay in the mailbox" in out.getvalue()


def test_nothing_is_retired_without_yes(maildir_kit, relay_corpus):
    home, store, folder, _ = maildir_kit
    reference = relay_corpus.references[2]
    store.set_status(reference, "closed", at=OLD)
    facts = store.facts()
    places, _ = mail_places(home.config(), maildir=folder)
    with pytest.raises(StaffError, match="nothing retired: type yes to confirm, or use --yes"):
        retention(store, on=TODAY, days=365, places=places, ask=answers("y"), out=io.StringIO())
    assert store.case(reference) is not None and store.facts() == facts and store.pending_events()[-1].type == "status"
    # Not yet due on an earlier day, due later: the days count from the day it was closed.
    out = io.StringIO()
    retention(store, on=OLD.date() + timedelta(days=365), days=365, places=[], ask=answers(), out=out)
    assert out.getvalue().startswith("no case has been closed for more than 365 days on")
    assert store.case(reference) is not None


def test_a_mailbox_out_of_reach_is_said_and_the_retirement_stands(maildir_kit, relay_corpus):
    home, store, folder, _ = maildir_kit
    reference = relay_corpus.references[5]
    store.set_status(reference, "closed", at=OLD)
    config = home.config()
    config.imap = f"imap://staff@127.0.0.1:{free_port()}/INBOX"  # nothing listens there
    places, not_looked = mail_places(config, password_prompt=lambda prompt: "secret")
    out = io.StringIO()
    assert retention(store, on=TODAY, days=365, places=places, not_looked=not_looked, yes=True, out=out) == 1
    last = out.getvalue().splitlines()[-1]
    assert last.startswith("retired 1 case (their counts stay for the statistics); no mail of them found; the report "
                           "mailbox could not be used (127.0.0.1:") and "refused the connection" in last
    assert store.case(reference) is None
    # A mail of a case that is gone, remembered by its Message-ID alone (an event's mail that
    # came after its case was deleted), is found by the next clean-up.
    stray = next(mid for _, mid in MaildirSource(folder).message_ids() if mid and "corpus.test" in mid)
    store.bury_mail(stray)
    out = io.StringIO()
    places, not_looked = mail_places(config, maildir=folder)
    before = maildir_ids(folder)
    assert retention(store, on=TODAY, days=365, places=places, not_looked=not_looked, yes=True, out=out) == 0
    said = out.getvalue()
    assert f"report mailbox {folder}: 2 mails of cases deleted or retired before; {len(before) - 2} other mails stay" \
           in said  # the retired case's report and the stray mail
    assert said.splitlines()[-1] == ("retired 0 cases; deleted 2 mails (2 in the report mailbox); no events folder "
                                     "in config.json (events)")
    assert bare(stray) not in maildir_ids(folder) and len(maildir_ids(folder)) == len(before) - 2


def test_the_command_line_retires_and_cleans_a_maildir(maildir_kit, relay_corpus):
    home, store, folder, identity = maildir_kit
    reference = relay_corpus.references[4]
    store.set_status(reference, "closed", at=OLD)
    mails = mails_of(store, reference)
    before = maildir_ids(folder)
    store.close()
    bad = staff_cli("--home", str(home.folder), "retention", "--on", "2026-13-01", "--yes")
    assert bad.returncode == 1
    assert bad.stderr == "safeline-staff: --on '2026-13-01' is not a date: write it YYYY-MM-DD\n"
    # Typed answers: the case retired, the mail kept ("no" at the second question).
    asked = staff_cli("--home", str(home.folder), "retention", "--maildir", str(folder), input="yes\nno\n")
    assert asked.returncode == 0, asked.stderr
    assert "Type yes to retire it: " in asked.stdout and "Type yes to delete them: " in asked.stdout
    assert asked.stdout.splitlines()[-1] == ("retired 1 case (their counts stay for the statistics); 1 mail found and "
                                             "kept (not confirmed); no events folder in config.json (events)")
    assert maildir_ids(folder) == before
    # For a script: nothing due now, the mail left behind found by its tombstone and deleted.
    done = staff_cli("--home", str(home.folder), "retention", "--yes", "--maildir", str(folder),
                     "--on", str(TODAY))
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == ("retired 0 cases; deleted 1 mail (1 in the report mailbox); no events "
                                            "folder in config.json (events)")
    assert maildir_ids(folder) == before - mails
    # delete on the command line: the reference typed, then yes for its mails.
    other = relay_corpus.references[6]
    deleted = staff_cli("--home", str(home.folder), "delete", other, "--maildir", str(folder), input=f"{other}\nyes\n")
    assert deleted.returncode == 0, deleted.stderr
    # (input() writes its prompt with no line end: a typed answer ends the line on a terminal)
    assert deleted.stdout.splitlines()[-1].endswith(f"delete them: deleted {other}; deleted 1 mail (1 in the report "
                                                    "mailbox); no events folder in config.json (events)")
    assert len(maildir_ids(folder)) == len(before) - 2
    with open_store(home, identity=identity) as reopened:
        assert reopened.case(reference) is None and reopened.case(other) is None


# -- IMAP: exactly the chosen messages, or nothing -----------------------------------------------

@pytest.fixture
def reports_folder(imap_account, certificate, staff_keyring):
    staff_keyring.set_password(KEYRING_SERVICE, f"{imap_account.user}@{HOST}", imap_account.password)
    mails = [f"Message-ID: <m{number}@test>\r\nSubject: {number}\r\n\r\nbody {number}\r\n".encode()
             for number in range(4)]
    uids = imap_account.deliver(mails, folder="Reports")
    return f"{imap_account.url}/Reports", uids, str(certificate[0])


def test_imap_without_uidplus_deletes_nothing(reports_folder, imap_account):
    url, uids, ca_file = reports_folder
    # Someone else's mail program marked a message deleted without expunging it yet.
    with imap_account.client() as client:
        client.select_folder("Reports")
        client.add_flags([uids[3]], [b"\\Deleted"])
    with ImapMailbox(url, ca_file=ca_file, password_prompt=no_prompt) as box:
        assert sorted(box.message_ids()) == [(str(uid), f"<m{n}@test>") for n, uid in enumerate(uids)]
        box._client.has_capability = lambda name: name.upper() != "UIDPLUS"
        with pytest.raises(ImapError, match="lacks UIDPLUS.*nothing deleted"):
            box.delete([uids[0]])
    flags = imap_account.flags("Reports")
    assert sorted(flags) == uids and flags[uids[0]] == () and flags[uids[3]] == (b"\\Deleted",)
    # With UIDPLUS: exactly the one chosen; the other mark (someone else's) is left alone.
    with ImapMailbox(url, ca_file=ca_file, password_prompt=no_prompt) as box:
        assert box.delete([uids[0], 99999]) == 1
    assert sorted(imap_account.flags("Reports")) == uids[1:]


def test_imap_folder_made_again_since_the_listing_deletes_nothing(reports_folder, imap_account):
    url, uids, ca_file = reports_folder
    with ImapMailbox(url, ca_file=ca_file, password_prompt=no_prompt) as box:
        listed = dict(box.message_ids())
        with imap_account.client() as client:
            client.delete_folder("Reports")
        again = imap_account.deliver([f"Message-ID: <n{n}@test>\r\n\r\nx\r\n".encode() for n in range(4)],
                                     folder="Reports")
        assert again == uids  # the same numbers, other messages
        with pytest.raises(ImapError, match="made again since it was listed.*nothing deleted"):
            box.delete(list(listed))
    assert sorted(imap_account.flags("Reports")) == again


def test_an_events_folder_not_made_yet_holds_no_mail(reports_folder, imap_account):
    url, _, ca_file = reports_folder
    missing = url.replace("/Reports", "/Nothing-Yet")
    with ImapMailbox(missing, ca_file=ca_file, password_prompt=no_prompt, missing_ok=True) as box:
        assert list(box.message_ids()) == [] and box.delete([]) == 0
    with pytest.raises(ImapError, match="no folder 'Nothing-Yet'"):
        ImapMailbox(missing, ca_file=ca_file, password_prompt=no_prompt)
    with imap_account.client() as client:
        assert not client.folder_exists("Nothing-Yet")  # looking made nothing
