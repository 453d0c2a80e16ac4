"""A team with one history (staff/team.py, staff/store.py's signed forms, staff/sync.py): the
store keeps each event as its author signed it; `safeline-staff team` lists the keys, and
`safeline-staff team share FINGERPRINT` gives a member who joins later the whole history, through
one real Dovecot, down to the same state as the others, including what a member whose key has
expired since signed, and a deletion."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

import pytest

from devtools.ports import HOST
from staff.eventmail import _mail
from staff.events import new_event
from staff.home import Config, Home
from staff.imap import KEYRING_SERVICE
from staff.openpgp import GnuPGIdentity
from staff.setup import init, open_store
from staff.store import Store
from staff.sync import SyncTally, sync_config
from staff.team import EXPIRY_WARNING_DAYS, Team
from tests.support.staff_keyring import keyring_env
from tests.support.staff_team import fast_key, key_folder, past_keys, revoke, short_home
from tests.support.staffkit import staff_cli

FOLDER = "Safeline-Events"
URL = "https://images.example.com/p/ajisai1"
KEY = bytes(range(32))


def ev(type_, data, *, ref="SL-7KQ3-9MXA", author="A" * 40, at=None):
    return new_event(ref, type_, data, author=author, at=at or datetime(2026, 12, 1, 9, tzinfo=timezone.utc))


@pytest.fixture
def store(tmp_path):
    with Store.create(tmp_path / "cases.sqlite3", KEY) as opened:
        opened.author = "A" * 40
        yield opened


# -- the store keeps the signed forms ----------------------------------------------------------

def test_an_applied_event_keeps_its_signed_form_and_mail_id(store):
    note = ev("note", {"text": "電話で確認した"})
    assert store.apply(note, signed=b"signed note", mail_id="<1@safeline-staff.invalid>") == "applied"
    # Read again (another mail of it, or a share): the first stays.
    assert store.apply(note, signed=b"other", mail_id="<2@safeline-staff.invalid>") == "known"
    status = ev("status", {"status": "in_progress"}, at=datetime(2026, 12, 2, tzinfo=timezone.utc))
    assert store.apply(status) == "applied"  # without: nothing to share yet
    assert store.apply(status, signed=b"signed status") == "known"  # filled when it comes with it
    assert list(store.signed_events()) == [b"signed note", b"signed status"]
    rows = store._db.execute("SELECT id, mail_id FROM events ORDER BY sort_key").fetchall()
    assert rows == [(note.id, "<1@safeline-staff.invalid>"), (status.id, None)]
    assert store.signed_counts() == {"signed": 2, "unsigned": 0, "pending": 0}


def test_a_sent_event_keeps_what_sync_made_of_it(store):
    reference = store.add_phone_case(role="self", description="写真", urls=[URL])
    store.add_note(reference, "note")
    first, second = store.pending_events()
    assert store.signed_counts() == {"signed": 0, "unsigned": 0, "pending": 2}
    store.mark_sent([first.id], signed={first.id: b"first signed"}, mail_ids={first.id: "<f@safeline-staff.invalid>"})
    store.mark_sent([second.id])  # (a kit of before: nothing kept, nothing lost)
    assert store.pending_events() == []
    assert list(store.signed_events()) == [b"first signed"]
    assert store.signed_counts() == {"signed": 1, "unsigned": 1, "pending": 0}


def test_a_deletion_keeps_its_signed_form_and_no_text(store):
    reference = store.add_phone_case(role="self", description="Marmoset7341 紫陽花", urls=[URL])
    store.mark_sent([event.id for event in store.pending_events()])
    assert store.delete(reference)
    (delete,) = store.pending_events()
    store.mark_sent([delete.id], signed={delete.id: b"signed delete"}, mail_ids={delete.id: "<d@x.invalid>"})
    # Received from another kit: the same.
    other = ev("delete", {}, ref="SL-AAAA-BBBB", author="B" * 40)
    assert store.apply(other, signed=b"their delete", mail_id="<o@x.invalid>") == "applied"
    assert store.apply(ev("note", {"text": "late"}, ref="SL-AAAA-BBBB")) == "deleted"
    assert store.apply(other, signed=b"their delete") == "known"
    assert sorted(store.signed_events()) == [b"signed delete", b"their delete"]
    assert store.case(reference) is None and store.events(reference) == []
    rows = store._db.execute("SELECT case_id, type, data, sent FROM events").fetchall()
    assert rows == [(None, "delete", "{}", 1), (None, "delete", "{}", 1)]
    values = repr(store._db.execute("SELECT * FROM events").fetchall())
    for text in ("Marmoset7341", "紫陽花", "images.example.com"):
        assert text not in values
    # A delete sent by a kit that keeps no signed form is forgotten, as before.
    third = store.add_phone_case(role="self", description="x")
    store.mark_sent([event.id for event in store.pending_events()])
    store.delete(third)
    store.mark_sent([event.id for event in store.pending_events()])
    assert store._db.execute("SELECT count(*) FROM events WHERE case_id IS NULL").fetchone()[0] == 2


# -- `safeline-staff team` ---------------------------------------------------------------------

def test_the_team_command_lists_each_key_with_its_state(tmp_path, staff_home, staff_gnupg):
    with short_home() as soon_home, short_home() as revoked_home:
        soon = fast_key(soon_home, "Soon <soon@safeline.example>", seconds=10 * 86400)
        gone = fast_key(revoked_home, "Gone <gone@safeline.example>")
        gone_public = revoke(revoked_home, gone.fingerprint)
    with past_keys(tmp_path / "past") as past:
        folder = key_folder(tmp_path / "keys", {"a.asc": staff_gnupg.public, "expired.asc": past.expired.public,
                                                "gone.asc": gone_public, "soon.asc": soon.public,
                                                "notes.txt": b"x"})
        expired_day = past.expires.astimezone(timezone(timedelta(hours=9))).date()
    config = staff_home.config()
    config.staff_keys = str(folder)
    staff_home.save_config(config)
    done = staff_cli("--home", str(staff_home.folder), "team")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == f"{staff_gnupg.fingerprint}  Safeline Staff A <staff-a@safeline.example>  never expires"
    assert lines[1].startswith(f"{past.expired.fingerprint}  Expired <expired@safeline.example>  "
                               f"expired {expired_day} (what it signed before stays valid")
    assert lines[2] == f"{gone.fingerprint}  Gone <gone@safeline.example>  REVOKED: its events are ignored"
    assert lines[3].startswith(f"{soon.fingerprint}  Soon <soon@safeline.example>  expires ")
    assert ": expires in 10 days, ask them to extend it" in lines[3] or ": expires in 9 days," in lines[3]
    assert len(lines) == 4 and EXPIRY_WARNING_DAYS == 30
    assert done.stderr.count("\n") == 1 and "notes.txt: left out" in done.stderr


# -- a member who joins later ----------------------------------------------------------------

@dataclass
class Kit:
    home: Home
    identity: object
    store: object
    ca_file: str

    def sync(self) -> SyncTally:
        return sync_config(self.home.config(), self.store, self.identity, ca_file=self.ca_file,
                           password_prompt=no_prompt)


def no_prompt(prompt: str) -> str:
    raise AssertionError("the IMAP password was asked where the keyring holds it")


def state(kit: Kit, reference: str) -> dict:
    case = kit.store.case(reference)
    return {"case": case.to_json() if case else None,
            "urls": [url.to_json() for url in kit.store.urls_of(reference)] if case else None,
            "events": [event.to_bytes() for event in kit.store.events(reference)] if case else None}


def test_a_member_who_joins_later_gets_the_whole_history(tmp_path, staff_gnupg, imap_account, certificate,
                                                         staff_keyring):
    staff_keyring.set_password(KEYRING_SERVICE, f"{imap_account.user}@{HOST}", imap_account.password)
    events = f"{imap_account.url}/{FOLDER}"
    b_key = tmp_path / "b.sec.asc"
    b_key.write_bytes(staff_gnupg.locked_secret)
    with past_keys(tmp_path / "past") as past, short_home() as c_home:
        keys = key_folder(tmp_path / "staff-keys", {"a.asc": staff_gnupg.public, "b.asc": staff_gnupg.locked_public,
                                                    "expired.asc": past.expired.public})
        kits = []
        for name, config, passphrase in (
                ("a", Config(key=staff_gnupg.fingerprint, gnupg_home=str(staff_gnupg.home)), None),
                ("b", Config(key_file=str(b_key)), staff_gnupg.passphrase)):
            config.staff_keys, config.events, config.imap_ca = str(keys), events, str(certificate[0])
            home = Home(tmp_path / f"kit-{name}")
            identity = init(home, config, passphrase=passphrase)
            kits.append(Kit(home, identity, open_store(home, identity=identity), str(certificate[0])))
        a, b = kits
        try:
            # The history: A's case, with B's changes; a case A deleted; and a note by a member
            # whose key expired 9 days ago, signed while it was valid.
            reference = a.store.add_phone_case(role="self", description="写真が無断で投稿された", urls=[URL],
                                               email="hanako@example.jp")
            a.store.set_status(reference, "in_progress")
            a.store.add_request(reference, URL, target="site", target_name="Example Images", method="form",
                                sent_on=date(2026, 12, 1), ticket="T-1", recheck_days=7)
            gone = a.store.add_phone_case(role="self", description="消してほしい")
            moment = past.made + timedelta(hours=12)
            old_note = new_event(reference, "note", {"text": "前任者のメモ"}, author=past.expired.fingerprint,
                                 at=moment)
            certs = [member.cert for member in Team.load(keys).recipients()]
            import pysequoia

            imap_account.deliver([_mail(bytes(pysequoia.encrypt(
                bytes=past.sign_expired(old_note.to_bytes(), moment), recipients=certs, armor=True)),
                datetime.now(timezone.utc))], folder=FOLDER)
            assert a.sync().applied == 1
            assert a.store.delete(gone)
            b.sync()
            b.store.add_note(reference, "B called back")
            b.store.assign(reference, b.identity.fingerprint)
            b.sync()
            a.sync()
            b.sync()
            assert state(a, reference) == state(b, reference)
            assert b.store.case(gone) is None
            assert "前任者のメモ" in [note.text for note in a.store.case(reference).notes]

            # C joins: their key goes into staff_keys; they set up their kit with the team's settings.
            c = fast_key(c_home, "Safeline Staff C <staff-c@safeline.example>")
            (keys / "c.asc").write_bytes(c.public)
            c_kit = tmp_path / "kit-c"
            made = staff_cli("--home", str(c_kit), "init", "--key", c.fingerprint, "--gnupg-home", str(c_home),
                             "--staff-keys", str(keys), "--events", events, "--imap-ca", str(certificate[0]))
            assert made.returncode == 0, made.stderr
            c_identity = GnuPGIdentity(c.fingerprint, gnupg_home=c_home)
            kit_c = Kit(Home(c_kit), c_identity, open_store(Home(c_kit), identity=c_identity), str(certificate[0]))
            before = kit_c.sync()
            assert before.applied == 0 and before.ignored["not for this key"] == before.received > 0
            assert kit_c.store.case(reference) is None

            # A shares its history with C (the command, as staff run it: CA and keys from the settings).
            env = keyring_env([(KEYRING_SERVICE, f"{imap_account.user}@{HOST}", imap_account.password)])
            shared = staff_cli("--home", str(a.home.folder), "team", "share", c.fingerprint, env=env)
            assert shared.returncode == 0, shared.stderr
            count = a.store.signed_counts()["signed"]
            assert shared.stdout == (f"shared {count} events with {c.fingerprint} "
                                     "(Safeline Staff C <staff-c@safeline.example>)\n")
            got = kit_c.sync()
            assert (got.received, got.applied, sum(got.ignored.values())) == (count, count, 0)
            assert state(kit_c, reference) == state(a, reference) == state(b, reference)
            assert "前任者のメモ" in [note.text for note in kit_c.store.case(reference).notes]
            # The deletion came too: what of that case comes later stays out.
            assert kit_c.store.apply(new_event(gone, "note", {"text": "late"}, author=b.identity.fingerprint)) \
                == "deleted"
            # From now on C is one of the team: their change reaches the others.
            kit_c.store.add_note(reference, "C joined")
            assert kit_c.sync().sent == 1
            for kit in (a, b):
                tally = kit.sync()
                assert tally.summary() == (f"sent 0; received {count + 1} (applied 1, already known 0, "
                                           f"shared with another member {count}); ignored 0")
            assert state(a, reference) == state(b, reference) == state(kit_c, reference)
        finally:
            for kit in kits:
                kit.store.close()
            if "kit_c" in locals():
                kit_c.store.close()


def test_what_a_kit_cannot_share_is_said(tmp_path, staff_home, staff_gnupg):
    from staff.team import ShareTally

    member = Team.load(key_folder(tmp_path / "keys", {"a.asc": staff_gnupg.public})).member(staff_gnupg.fingerprint)
    tally = ShareTally(shared=3, unsigned=2, pending=1)
    tally.left_out["signer not current"] = 1
    assert tally.summary(member) == (
        f"shared 3 events with {member.label}; 2 this kit holds without their signed form (received or made "
        "before it kept them, or not sent from here) cannot be shared; 1 left out (1 signer not current); "
        "1 change not sent yet reaches them with your next sync")


def test_sharing_with_a_key_not_in_the_team_is_one_line(tmp_path, staff_home, staff_gnupg):
    config = staff_home.config()
    config.staff_keys = str(key_folder(tmp_path / "keys", {"a.asc": staff_gnupg.public}))
    config.events = str(tmp_path / "events")
    staff_home.save_config(config)
    done = staff_cli("--home", str(staff_home.folder), "team", "share", staff_gnupg.other_fingerprint)
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr.count("\n") == 1 and "add the member's public key there first" in done.stderr


def test_sharing_leaves_out_what_the_signer_rule_now_refuses(tmp_path, store, staff_gnupg):
    """share() checks each signed form as a kit reading it would: one whose signer's key was
    revoked since is counted by its kind, not appended; the others go, each encrypted to the
    new member, into the events folder (a local Maildir here)."""
    from staff.eventfolder import MaildirEventFolder
    from staff.team import share
    from tests.support.staffkit import gpg

    with short_home() as home:  # the first event of the history is the one left out
        gone = fast_key(home, "Gone <gone@safeline.example>")
        left = new_event("SL-7KQ3-9MXA", "note", {"text": "left"}, author=gone.fingerprint)
        store.apply(left, signed=gpg(home, "--sign", input=left.to_bytes(), passphrase=""))
        gone_public = revoke(home, gone.fingerprint)
    kept = new_event("SL-7KQ3-9MXA", "note", {"text": "kept"}, author=staff_gnupg.fingerprint)
    store.apply(kept, signed=gpg(staff_gnupg.home, "--sign", input=kept.to_bytes()))
    team = Team.load(key_folder(tmp_path / "keys", {"a.asc": staff_gnupg.public, "b.asc": staff_gnupg.locked_public,
                                                    "gone.asc": gone_public}))
    folder = MaildirEventFolder(tmp_path / "events")
    tally = share(store, folder, team, team.member(staff_gnupg.locked_fingerprint))
    assert (tally.shared, dict(tally.left_out), tally.unsigned, tally.pending, tally.offline) == (
        1, {"signer not current": 1}, 0, 0, None)
    assert len(list((tmp_path / "events" / "new").iterdir())) == 1


def test_sharing_when_the_events_server_cannot_be_reached_says_so(tmp_path, staff_home, staff_gnupg):
    from devtools.ports import free_port
    from staff.sync import OFFLINE_STATUS

    config = staff_home.config()
    config.staff_keys = str(key_folder(tmp_path / "keys", {"a.asc": staff_gnupg.public}))
    config.events = f"imaps://staff@{HOST}:{free_port()}/Safeline-Events"  # nothing listens there
    staff_home.save_config(config)
    done = staff_cli("--home", str(staff_home.folder), "team", "share", staff_gnupg.fingerprint)
    assert done.returncode == OFFLINE_STATUS
    assert done.stdout == f"shared 0 events with {staff_gnupg.fingerprint} (Safeline Staff A <staff-a@safeline.example>)\n"
    assert done.stderr.startswith("offline: ") and done.stderr.count("\n") == 1
    assert "share again when the server can be reached" in done.stderr


def test_sharing_stops_when_the_connection_is_lost_and_says_so(tmp_path, store, staff_gnupg, imap_account,
                                                              certificate):
    import socket

    from staff.eventfolder import open_folder
    from staff.team import share
    from tests.support.staffkit import gpg

    kept = new_event("SL-7KQ3-9MXA", "note", {"text": "kept"}, author=staff_gnupg.fingerprint)
    store.apply(kept, signed=gpg(staff_gnupg.home, "--sign", input=kept.to_bytes()))
    team = Team.load(key_folder(tmp_path / "keys", {"a.asc": staff_gnupg.public, "b.asc": staff_gnupg.locked_public}))
    folder = open_folder(f"{imap_account.url}/{FOLDER}", ca_file=certificate[0],
                         password_prompt=lambda prompt: imap_account.password, keyring_service=None)
    # The network goes while the kit is connected (as in test_eventfolder.py).
    folder._connection._client.socket().shutdown(socket.SHUT_RDWR)
    tally = share(store, folder, team, team.member(staff_gnupg.locked_fingerprint))
    assert (tally.shared, sum(tally.left_out.values())) == (0, 0)
    assert tally.offline and "\n" not in tally.offline and "run sync again" in tally.offline
