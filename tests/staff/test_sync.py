"""Two staff kits, with different keys, sharing one history through one real Dovecot IMAP folder
(staff/sync.py): each one's changes reach the other, concurrent changes end the same in both,
a kit offline keeps its changes and sends them when back, and a forged event is ignored and
reported."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

import pytest

from devtools.ports import HOST, free_port
from staff.eventfolder import open_folder
from staff.eventmail import _mail, message_id_of, seal
from staff.events import new_event
from staff.home import Config, Home
from staff.imap import KEYRING_SERVICE
from staff.openpgp import GnuPGIdentity
from staff.setup import init, open_store
from staff.sync import OFFLINE_STATUS, SyncTally, sync_config
from staff.team import Team
from tests.support.staff_keyring import keyring_env
from tests.support.staff_team import fast_key, key_folder, past_keys, revoke, short_home
from tests.support.staffkit import staff_cli

FOLDER = "Safeline-Events"
URL = "https://images.example.com/p/ajisai1"
JST = timezone(timedelta(hours=9))


@dataclass
class Kit:
    """One staff member's kit: their folder, key and open store."""

    home: Home
    identity: object
    team: Team
    store: object
    events: str
    ca_file: str

    def folder(self, where: str | None = None):
        return open_folder(where or self.events, ca_file=self.ca_file, password_prompt=no_prompt)

    def sync(self, where: str | None = None) -> SyncTally:
        """As the web interface syncs: the config's folder and keys, no password asked."""
        config = self.home.config()
        config.events = where or config.events
        return sync_config(config, self.store, self.identity, ca_file=self.ca_file, password_prompt=no_prompt)


def no_prompt(prompt: str) -> str:
    raise AssertionError("the IMAP password was asked where the keyring holds it")


@pytest.fixture
def team_keys(tmp_path, staff_gnupg):
    return key_folder(tmp_path / "staff-keys", {"a.asc": staff_gnupg.public, "b.asc": staff_gnupg.locked_public})


@pytest.fixture
def kits(tmp_path, staff_gnupg, team_keys, imap_account, certificate, staff_keyring):
    """Kit A (the key in GnuPG) and kit B (an armored key file with a passphrase), one team
    mailbox on the session's Dovecot, its password in the (test) keyring."""
    staff_keyring.set_password(KEYRING_SERVICE, f"{imap_account.user}@{HOST}", imap_account.password)
    events = f"{imap_account.url}/{FOLDER}"
    b_key = tmp_path / "b.sec.asc"
    b_key.write_bytes(staff_gnupg.locked_secret)
    made = []
    for name, config, passphrase in (
            ("a", Config(key=staff_gnupg.fingerprint, gnupg_home=str(staff_gnupg.home)), None),
            ("b", Config(key_file=str(b_key)), staff_gnupg.passphrase)):
        config.staff_keys, config.events = str(team_keys), events
        home = Home(tmp_path / f"kit-{name}")
        identity = init(home, config, passphrase=passphrase)
        store = open_store(home, identity=identity)
        made.append(Kit(home, identity, Team.load(team_keys), store, events, str(certificate[0])))
    yield made
    for kit in made:
        kit.store.close()


def state(kit: Kit, reference: str) -> dict:
    case = kit.store.case(reference)
    return {"case": case.to_json() if case else None,
            "urls": [url.to_json() for url in kit.store.urls_of(reference)] if case else None,
            "events": [event.to_bytes() for event in kit.store.events(reference)] if case else None}


def phone_case(kit: Kit, at: datetime | None = None) -> str:
    return kit.store.add_phone_case(role="self", description="写真が無断で投稿された", urls=[URL],
                                    email="hanako@example.jp", at=at)


def long_history(kit: Kit, monkeypatch, *, chunk: int, notes: int) -> str:
    """A phone case and ``notes`` notes made in ``kit`` and sent; sync reads ``chunk`` mails at a
    time and, from the second chunk on, a key file decrypts them in its second process."""
    from staff import decryption, sync as sync_module

    monkeypatch.setattr(sync_module, "BATCH", chunk)
    monkeypatch.setattr(decryption, "SECOND_PROCESS_FROM", 2)
    reference = phone_case(kit)
    for number in range(notes):
        kit.store.add_note(reference, f"折り返し {number}")
    assert kit.sync().sent == notes + 1
    return reference


# -- two kits, one history -------------------------------------------------------------------

def test_each_kit_gets_the_others_changes(kits):
    a, b = kits
    reference = phone_case(a)
    a.store.set_status(reference, "in_progress")
    a.store.add_note(reference, "電話で確認した")
    sent = a.sync()
    assert (sent.sent, sent.received, sent.offline) == (3, 0, None)
    assert sent.summary() == "sent 3; received 0 (applied 0, already known 0); ignored 0"
    assert a.store.pending_events() == []
    got = b.sync()
    assert got.summary() == "sent 0; received 3 (applied 3, already known 0); ignored 0"
    assert state(b, reference) == state(a, reference)
    b.store.add_note(reference, "B also called back")
    b.store.assign(reference, b.identity.fingerprint)
    assert b.sync().summary() == "sent 2; received 0 (applied 0, already known 0); ignored 0"
    assert a.sync().summary() == "sent 0; received 2 (applied 2, already known 0); ignored 0"
    assert state(a, reference) == state(b, reference)
    assert a.store.case(reference).assignee == b.identity.fingerprint
    # Nothing new: nothing sent, nothing read twice.
    for kit in kits:
        assert kit.sync().summary() == "sent 0; received 0 (applied 0, already known 0); ignored 0"


def test_a_long_history_is_read_in_chunks_the_later_decrypted_beside(kits, imap_account, monkeypatch):
    """More mails than a chunk: each chunk applied in its own transaction with its position, the
    later ones decrypted by the key file's second process (staff/decryption.py), forgeries
    among them still ignored, and nothing read twice."""
    from staff import decryption

    a, b = kits
    reference = long_history(a, monkeypatch, chunk=4, notes=8)
    a.store.set_status(reference, "in_progress")
    assert a.sync().sent == 1
    imap_account.deliver([b"From: someone@example.com\r\nSubject: hello\r\n\r\nnot an event\r\n"], folder=FOLDER)
    a.store.assign(reference, a.identity.fingerprint)
    a.sync()
    seen = []
    real = decryption.Decryptions.results

    def results(self, batch):
        got = real(self, batch)
        seen.append((batch[0], self.elsewhere))
        return got

    monkeypatch.setattr(decryption.Decryptions, "results", results)
    tally = b.sync()
    assert tally.summary() == "sent 0; received 12 (applied 11, already known 0); ignored 1 (1 malformed)"
    assert seen == [("threads", 0), ("process", 1), ("process", 2)]
    assert state(b, reference) == state(a, reference)
    assert b.sync().summary() == "sent 0; received 0 (applied 0, already known 0); ignored 0"


def test_a_long_read_stopped_midway_loses_nothing_and_leaves_no_process(kits, monkeypatch):
    """Ctrl+C while a chunk is applied (the next one decrypting in the second process): that
    chunk is rolled back with its position, the second process is gone, and the next sync
    reads on from the last whole chunk."""
    import multiprocessing

    a, b = kits
    reference = long_history(a, monkeypatch, chunk=3, notes=10)
    real, calls = type(b.store).apply, []

    def apply(store, event, **kept):
        calls.append(event.id)
        if len(calls) == 8:  # the second of the third chunk's three
            raise KeyboardInterrupt
        return real(store, event, **kept)

    monkeypatch.setattr(type(b.store), "apply", apply)
    with pytest.raises(KeyboardInterrupt):
        b.sync()
    monkeypatch.setattr(type(b.store), "apply", real)
    assert multiprocessing.active_children() == []
    assert len(b.store.events(reference)) == 6  # two whole chunks; the third rolled back
    again = b.sync()
    assert again.summary() == "sent 0; received 5 (applied 5, already known 0); ignored 0"
    assert state(b, reference) == state(a, reference)


def test_concurrent_changes_to_the_same_url_end_the_same_in_both(kits):
    a, b = kits
    reference = phone_case(a)
    a.sync()
    b.sync()
    now = datetime.now(JST)
    # Both work on the same address before either syncs again: B sends a request, A (later by
    # its clock) records that the site refused; both write a note and change the status.
    b.store.add_request(reference, URL, target="site", target_name="Example Images", method="form",
                        sent_on=date(2026, 12, 1), ticket="T-1", recheck_days=7, at=now)
    b.store.set_status(reference, "waiting", at=now + timedelta(seconds=1))
    a.store.set_url_state(reference, URL, "refused", on=date(2026, 12, 2), reason="no consent shown",
                          next_on=date(2026, 12, 9), at=now + timedelta(seconds=2))
    a.store.set_status(reference, "in_progress", at=now)
    a.store.add_note(reference, "A's note")
    b.store.add_note(reference, "B's note")
    a.sync()
    b.sync()
    a.sync()
    assert state(a, reference) == state(b, reference)
    url = a.store.url(URL)
    assert url.to_json() == b.store.url(URL).to_json()
    assert url.state == "refused"  # A's change came later by its clock than B's request
    assert [request.ticket for request in url.requests] == ["T-1"]  # the request stays in the log
    assert a.store.case(reference).status == "waiting"  # B's status is the later one
    assert sorted(note.text for note in a.store.case(reference).notes) == ["A's note", "B's note"]


def test_a_kit_offline_keeps_its_changes_and_sends_them_when_back(kits, imap_account):
    a, b = kits
    reference = phone_case(a)
    a.sync()
    b.sync()
    wrong = f"imaps://{imap_account.user}@{HOST}:{free_port()}/{FOLDER}"  # the server cannot be reached
    b.store.add_note(reference, "written on the train")
    b.store.set_status(reference, "waiting")
    away = b.sync(wrong)
    assert away.offline and "refused the connection" in away.offline
    assert away.queued == 2 and away.sent == 0
    assert "2 local changes stay queued" in away.offline_line()
    assert len(b.store.pending_events()) == 2
    # Meanwhile A goes on.
    a.store.add_note(reference, "A meanwhile")
    a.sync()
    back = b.sync()
    assert (back.sent, back.applied, back.offline, back.queued) == (2, 1, None, 0)
    a.sync()
    assert state(a, reference) == state(b, reference)
    assert sorted(note.text for note in a.store.case(reference).notes) == ["A meanwhile", "written on the train"]
    assert a.store.case(reference).status == "waiting"


def test_an_event_appended_but_not_marked_sent_is_sent_again_harmlessly(kits, monkeypatch):
    a, b = kits
    reference = phone_case(a)
    # The kit stops between the APPEND and the mark (a crash, the connection lost).
    monkeypatch.setattr(type(a.store), "mark_sent", lambda self, ids, **kept: (_ for _ in ()).throw(KeyboardInterrupt))
    with pytest.raises(KeyboardInterrupt):
        a.sync()
    monkeypatch.undo()
    assert len(a.store.pending_events()) == 1
    again = a.sync()
    assert again.sent == 1
    got = b.sync()
    assert (got.received, got.applied, got.known) == (2, 1, 1)
    assert state(b, reference) == state(a, reference)


def test_a_forged_event_is_ignored_and_reported_once(kits, imap_account, staff_gnupg, tmp_path):
    a, b = kits
    reference = phone_case(a)
    a.sync()
    b.sync()
    before = state(b, reference)
    # Someone with the mailbox's password but no staff key: an event signed by a stranger, and
    # one not signed at all, both encrypted to the team's keys; and one in A's name signed by B.
    with short_home() as home:
        stranger = fast_key(home, "Stranger <stranger@elsewhere.example>")
        signed = GnuPGIdentity(stranger.fingerprint, gnupg_home=home).sign(
            new_event(reference, "status", {"status": "closed"}, author=stranger.fingerprint).to_bytes())
    import pysequoia

    certs = [member.cert for member in a.team.recipients()]
    now = datetime.now(timezone.utc)
    forged = [
        _mail(bytes(pysequoia.encrypt(bytes=signed, recipients=certs, armor=True)), now),
        _mail(bytes(pysequoia.encrypt(bytes=new_event(reference, "status", {"status": "closed"},
                                                      author=a.identity.fingerprint).to_bytes(),
                                      recipients=certs, armor=True)), now),
        seal(new_event(reference, "delete", {}, author=a.identity.fingerprint).to_bytes(), b.identity, b.team),
        b"From: someone@example.com\r\nSubject: hello\r\n\r\nnot an event\r\n",
    ]
    uids = imap_account.deliver(forged, folder=FOLDER)
    tally = b.sync()
    assert tally.summary() == ("sent 0; received 4 (applied 0, already known 0); ignored 4 "
                               "(1 unsigned, 1 unknown signer, 1 author mismatch, 1 malformed)")
    assert tally.ignored_mails == [(str(uid), kind) for uid, kind in
                                   zip(uids, ["unknown signer", "unsigned", "author mismatch", "malformed"])]
    assert state(b, reference) == before
    assert b.sync().summary() == "sent 0; received 0 (applied 0, already known 0); ignored 0"


def test_the_signer_rule_through_the_folder(kits, imap_account, team_keys, tmp_path):
    """Valid when it signed (and at its time), whatever now: applied, also by a kit syncing after
    the key expired; signed after the expiry: ignored; a revoked key: ignored, whenever signed."""
    a, b = kits
    reference = phone_case(a)
    a.sync()
    b.sync()
    with past_keys(tmp_path / "past", reference) as past, short_home() as stolen_home:
        stolen = fast_key(stolen_home, "Stolen <stolen@safeline.example>")
        for name, public in (("expired.asc", past.expired.public), ("late.asc", past.late.public),
                             ("stolen.asc", stolen.public)):
            (team_keys / name).write_bytes(public)
        team = Team.load(team_keys)
        moment = past.made + timedelta(hours=12)
        old = new_event(reference, "note", {"text": "signed while valid"}, author=past.expired.fingerprint, at=moment)
        import pysequoia

        certs = [member.cert for member in team.recipients()]
        now = datetime.now(timezone.utc)
        mails = [_mail(bytes(pysequoia.encrypt(bytes=past.sign_expired(old.to_bytes(), moment), recipients=certs,
                                               armor=True)), now),
                 _mail(bytes(pysequoia.encrypt(bytes=past.after_expiry, recipients=certs, armor=True)), now),
                 seal(new_event(reference, "status", {"status": "closed"}, author=stolen.fingerprint).to_bytes(),
                      GnuPGIdentity(stolen.fingerprint, gnupg_home=stolen_home), team)]
        uids = imap_account.deliver(mails, folder=FOLDER)
        got = a.sync()  # before the revocation is known
        assert got.summary() == "sent 0; received 3 (applied 2, already known 0); ignored 1 (1 signer not current)"
        assert got.ignored_mails == [(str(uids[1]), "signer not current")]
        (team_keys / "stolen.asc").write_bytes(revoke(stolen_home, stolen.fingerprint))
    late = b.sync()  # after: the stolen key's event stays out
    assert late.summary() == "sent 0; received 3 (applied 1, already known 0); ignored 2 (2 signer not current)"
    assert [kind for _, kind in late.ignored_mails] == ["signer not current"] * 2
    assert [note.text for note in b.store.case(reference).notes] == ["signed while valid"]
    assert b.store.case(reference).status != "closed"
    # (A applied it before it learnt of the revocation: a revocation is not retroactive; README.)
    assert a.store.case(reference).status == "closed"


def test_the_command_lists_20_ignored_mails_and_counts_the_rest(kits, imap_account, certificate, staff_gnupg):
    from staff.sync import LISTED

    _, b = kits
    b.store.close()
    imap_account.deliver([f"From: someone@example.com\r\nSubject: {number}\r\n\r\nnot an event\r\n".encode()
                          for number in range(LISTED + 2)], folder=FOLDER)
    env = {**keyring_env([(KEYRING_SERVICE, f"{imap_account.user}@{HOST}", imap_account.password)]),
           "SAFELINE_STAFF_PASSPHRASE": staff_gnupg.passphrase}
    done = staff_cli("--home", str(b.home.folder), "sync", "--imap-ca", str(certificate[0]), env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"sent 0; received {LISTED + 2} (applied 0, already known 0); ignored {LISTED + 2} " \
                          f"({LISTED + 2} malformed)\n"
    said = done.stderr.splitlines()
    assert LISTED == 20 and len(said) == 21, said
    assert all(line.startswith("ignored mail ") and line.endswith(" of the events folder: malformed")
               for line in said[:20])
    assert said[20] == "… and 2 more ignored mails"


def test_the_command_says_what_it_did_and_exits_3_offline(kits, imap_account, certificate, staff_gnupg):
    a, b = kits
    reference = phone_case(b)
    b.store.close()
    env = {**keyring_env([(KEYRING_SERVICE, f"{imap_account.user}@{HOST}", imap_account.password)]),
           "SAFELINE_STAFF_PASSPHRASE": staff_gnupg.passphrase}
    done = staff_cli("--home", str(b.home.folder), "sync", "--imap-ca", str(certificate[0]), env=env)
    assert (done.returncode, done.stdout, done.stderr) == (0, "sent 1; received 0 (applied 0, already known 0); "
                                                              "ignored 0\n", "")
    config = b.home.config()
    config.events = f"imaps://{imap_account.user}@{HOST}:{free_port()}/{FOLDER}"
    b.home.save_config(config)
    b.store = open_store(b.home, identity=b.identity)
    b.store.add_note(reference, "queued")
    b.store.close()
    done = staff_cli("--home", str(b.home.folder), "sync", "--imap-ca", str(certificate[0]), env=env)
    # 3 literally: scripts and the README name the number, not the constant.
    assert done.returncode == OFFLINE_STATUS == 3
    assert done.stdout == "sent 0; received 0 (applied 0, already known 0); ignored 0\n"
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("offline: ") and "1 local change stays queued" in lines[0]
    b.store = open_store(b.home, identity=b.identity)


def test_cases_from_the_relay_mail_share_one_history(kits, relay_corpus):
    """Both kits read the same relay mail; what one does to a web report reaches the other, and
    a kit that has not imported the report yet keeps the events until its report comes."""
    from staff.importer import import_mail
    from staff.mailbox import MaildirSource

    a, b = kits
    import_mail(MaildirSource(relay_corpus.maildir), a.store, a.identity, progress=False)
    reference = relay_corpus.references[1]  # the guardian's report with three addresses
    url = a.store.urls_of(reference)[0].url
    a.store.set_status(reference, "in_progress")
    a.store.add_request(reference, url, target="host", target_name="Example Hosting", method="email",
                        sent_on=date(2026, 12, 3), recheck_days=7)
    a.store.add_note(reference, "依頼を送った")
    assert a.sync().sent == 3
    got = b.sync()  # B has not imported the mail yet
    assert (got.received, got.applied) == (3, 3)
    import_mail(MaildirSource(relay_corpus.maildir), b.store, b.identity, progress=False)
    assert state(b, reference) == state(a, reference)
    assert b.store.url(url).state == "asked" and b.store.url(url).next_on == date(2026, 12, 10)


def test_a_deletion_reaches_every_kit_and_later_changes_stay_out(kits):
    a, b = kits
    reference = phone_case(a)
    a.sync()
    b.sync()
    b.store.add_note(reference, "B, before hearing of the deletion")
    assert a.store.delete(reference)
    assert a.sync().sent == 1
    got = b.sync()
    assert (got.sent, got.applied) == (1, 1)
    assert b.store.case(reference) is None
    late = a.sync()  # B's note arrives after the deletion: it stays out
    assert late.summary() == "sent 0; received 1 (applied 0, already known 0, for deleted cases 1); ignored 0"
    assert a.store.case(reference) is None
    # ... and its mail is known as one of that case (by its HMAC), for the mailbox clean-up, as
    # the phone case's mail is since the deletion (the deletion's own mail is kept with it).
    with a.folder() as folder:
        phone, deletion, note = [message_id_of(mail.data) for mail in folder.read(None)]
    assert a.store.buried_mails([phone, deletion, note]) == {phone, note}


def test_a_kit_without_team_settings_says_what_to_set(staff_home, team_keys):
    done = staff_cli("--home", str(staff_home.folder), "sync")
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr.count("\n") == 1 and '"staff_keys"' in done.stderr
    config = staff_home.config()
    config.staff_keys = str(team_keys)
    staff_home.save_config(config)
    done = staff_cli("--home", str(staff_home.folder), "sync")
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr.count("\n") == 1 and '"events"' in done.stderr


def test_the_mail_server_holds_nothing_readable(kits, imap_account):
    a, b = kits
    reference = phone_case(a)
    a.store.add_note(reference, "Marmoset7341 紫陽花ヤマアラシ")
    a.store.add_request(reference, URL, target="host", target_name="Otter Hosting 5512", method="email",
                        sent_on=date(2026, 12, 3), ticket="TICKET-99881", recheck_days=7)
    a.sync()
    b.sync()
    stored = imap_account.server.folder / "home" / imap_account.user
    files = [path for path in stored.rglob("*") if path.is_file()]
    assert len([path for path in files if "Safeline-Events" in str(path)]) >= 3
    data = b"".join(path.read_bytes() for path in files)
    for secret in (reference, "Marmoset7341", "紫陽花", "Otter Hosting", "TICKET-99881", "images.example.com",
                   "hanako@example.jp", a.identity.fingerprint, b.identity.fingerprint):
        assert secret.encode() not in data, secret
