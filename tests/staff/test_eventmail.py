"""An event as a mail (staff/eventmail.py): nothing of the case outside the encryption, signed by
its author, read back by every member; every forgery rejected with its kind."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from email import message_from_bytes, policy

import pysequoia
import pytest

from staff.eventmail import KINDS, Rejected, SealError, _armored, _mail, is_event_mail, is_shared, message_id_of, open_mail, \
    reseal, seal, seal_event, unseal
from staff.events import new_event
from staff.openpgp import GnuPGIdentity, KeyFileIdentity, NotForThisKey
from staff.team import Team
from tests.support.staff_team import expiry_of, fast_key, key_folder, past_keys, revoke, short_home, wait_until

REFERENCE = "SL-7KQ3-9MXA"
NOTE = "電話で確認した。Hanako-Otter-5512"


@pytest.fixture
def expiring():
    """A member whose key expires seconds after it was made (each test its own: it waits for that)."""
    with short_home() as home:
        key = fast_key(home, "Expiring <expiring@safeline.example>", seconds=5)
        yield {"home": home, "key": key, "expires": expiry_of(home, key.fingerprint)}


@pytest.fixture
def team(tmp_path, staff_gnupg, expiring) -> Team:
    return Team.load(key_folder(tmp_path / "staff-keys", {
        "a.asc": staff_gnupg.public, "b.asc": staff_gnupg.locked_public, "expiring.asc": expiring["key"].public}))


@pytest.fixture(scope="module")
def past(tmp_path_factory):
    with past_keys(tmp_path_factory.mktemp("past") / "keys", REFERENCE) as keys:
        yield keys


@pytest.fixture
def past_team(tmp_path, staff_gnupg, past) -> Team:
    return Team.load(key_folder(tmp_path / "staff-keys", {
        "a.asc": staff_gnupg.public, "expired.asc": past.expired.public, "late.asc": past.late.public}))


@pytest.fixture
def a(staff_gnupg) -> GnuPGIdentity:
    return GnuPGIdentity(staff_gnupg.fingerprint, gnupg_home=staff_gnupg.home)


@pytest.fixture
def b(staff_gnupg, tmp_path) -> KeyFileIdentity:
    path = tmp_path / "b.sec.asc"
    path.write_bytes(staff_gnupg.locked_secret)
    return KeyFileIdentity.load(path, staff_gnupg.passphrase)


def note_by(author: str, *, at: datetime | None = None, text: str = NOTE):
    return new_event(REFERENCE, "note", {"text": text}, author=author, at=at)


def encrypt_to(team: Team, data: bytes) -> bytes:
    return bytes(pysequoia.encrypt(bytes=data, recipients=[member.cert for member in team.recipients()], armor=True))


def rejected(mail: bytes, identity, team: Team) -> str:
    with pytest.raises(Rejected) as raised:
        unseal(mail, identity, team)
    assert str(raised.value) == raised.value.kind  # carries nothing of the mail
    assert raised.value.kind in KINDS
    return raised.value.kind


# -- the mail --------------------------------------------------------------------------------

def test_the_outer_mail_says_nothing_of_the_case(a, team, staff_gnupg):
    event = note_by(a.fingerprint)
    mail = seal(event.to_bytes(), a, team)
    outer = message_from_bytes(mail, policy=policy.default)
    assert [name.lower() for name in outer.keys()] == [
        "from", "to", "subject", "date", "message-id", "x-safeline-staff", "mime-version", "content-type"]
    assert outer["From"] == outer["To"] == "safeline-staff@invalid"
    assert outer["Subject"] == "safeline-staff event"
    assert outer["X-Safeline-Staff"] == "event 1"
    assert outer["Date"].datetime.utcoffset() == timedelta(0)
    assert len(outer["Message-ID"]) == len("<@safeline-staff.invalid>") + 32
    assert outer.get_content_type() == "multipart/encrypted"
    assert outer.get_param("protocol") == "application/pgp-encrypted"
    control, payload = outer.iter_parts()
    assert control.get_content_type() == "application/pgp-encrypted"
    assert control.get_payload().strip() == "Version: 1"
    assert payload.get_content_type() == "application/octet-stream"
    # Nothing of the event in clear anywhere in the mail: not the case, the text, the author, the id.
    for secret in (REFERENCE, "Hanako", event.id, a.fingerprint, a.fingerprint[-16:], "note"):
        assert secret.encode() not in mail.replace(b"\r\n", b"")
    # Lines end in CRLF (IMAP's form: the server stores it byte for byte).
    assert b"\n" not in mail.replace(b"\r\n", b"")
    # Two mails of the same event share nothing but the fixed headers.
    again = message_from_bytes(seal(event.to_bytes(), a, team), policy=policy.default)
    assert again["Message-ID"] != outer["Message-ID"]


def test_every_member_reads_what_another_sealed(a, b, team, staff_gnupg):
    for author, reader in ((a, b), (b, a), (a, a)):
        event = note_by(author.fingerprint)
        data, signer = unseal(seal(event.to_bytes(), author, team), reader, team)
        assert data == event.to_bytes() and signer == author.fingerprint


def test_the_mail_is_encrypted_to_every_current_key(a, team, expiring, staff_gnupg):
    from staff.openpgp import addressed_to

    mail = seal(note_by(a.fingerprint).to_bytes(), a, team, now=expiring["expires"] - timedelta(seconds=1))
    assert len(addressed_to(ciphertext(mail))) == 3
    mail = seal(note_by(a.fingerprint).to_bytes(), a, team, now=expiring["expires"] + timedelta(seconds=1))
    assert len(addressed_to(ciphertext(mail))) == 2


def ciphertext(mail: bytes) -> bytes:
    return message_from_bytes(mail).get_payload()[1].get_payload(decode=True)


def test_a_key_outside_the_team_cannot_seal(tmp_path, a, staff_gnupg):
    alone_b = Team.load(key_folder(tmp_path / "only-b", {"b.asc": staff_gnupg.locked_public}))
    with pytest.raises(SealError, match="not among the staff keys") as raised:
        seal(note_by(a.fingerprint).to_bytes(), a, alone_b)
    assert "\n" not in str(raised.value)


def test_an_expired_member_cannot_seal(team, expiring):
    identity = GnuPGIdentity(expiring["key"].fingerprint, gnupg_home=expiring["home"])
    wait_until(expiring["expires"])
    with pytest.raises(SealError, match="expired or is revoked"):
        seal(note_by(identity.fingerprint).to_bytes(), identity, team)


# -- forgeries -------------------------------------------------------------------------------

def test_an_unsigned_event_is_rejected(a, b, team):
    forged = _mail(encrypt_to(team, note_by(b.fingerprint).to_bytes()), datetime.now(timezone.utc))
    assert rejected(forged, a, team) == "unsigned"


def test_an_event_signed_by_a_key_not_in_the_folder_is_rejected(a, team, staff_gnupg, tmp_path):
    with short_home() as home:
        stranger = fast_key(home, "Stranger <stranger@elsewhere.example>")
        identity = GnuPGIdentity(stranger.fingerprint, gnupg_home=home)
        signed = identity.sign(note_by(stranger.fingerprint).to_bytes())
    forged = _mail(encrypt_to(team, signed), datetime.now(timezone.utc))
    assert rejected(forged, a, team) == "unknown signer"


def test_an_event_signed_while_its_key_was_valid_is_read_after_it_expired(a, team, expiring):
    """The signer rule: a kit that syncs after a member's key expired applies what the others,
    syncing before, applied (else the team's states would part)."""
    identity = GnuPGIdentity(expiring["key"].fingerprint, gnupg_home=expiring["home"])
    event = note_by(identity.fingerprint)
    mail = seal(event.to_bytes(), identity, team)
    assert unseal(mail, a, team) == (event.to_bytes(), identity.fingerprint)
    wait_until(expiring["expires"])
    assert not team.member(identity.fingerprint).current()
    assert unseal(mail, a, team) == (event.to_bytes(), identity.fingerprint)


def test_an_event_signed_long_ago_while_valid_is_read_with_its_signed_form(a, past_team, past):
    moment = past.made + timedelta(hours=12)  # the key expired 9 days ago, a day after it was made
    event = note_by(past.expired.fingerprint, at=moment)
    signed = past.sign_expired(event.to_bytes(), moment)
    opened = open_mail(_mail(encrypt_to(past_team, signed), datetime.now(timezone.utc)), a, past_team)
    assert opened == (event.to_bytes(), past.expired.fingerprint, signed, moment, event)


def test_an_event_signed_after_its_key_expired_is_rejected(a, past_team, past):
    # Dated (at) while the key was valid, but signed after it expired.
    assert past_team.member(past.late.fingerprint).valid_at(past.late_event.at)
    forged = _mail(encrypt_to(past_team, past.after_expiry), datetime.now(timezone.utc))
    assert rejected(forged, a, past_team) == "signer not current"


def test_every_event_of_a_revoked_key_is_rejected(a, tmp_path, staff_gnupg):
    with short_home() as home:
        key = fast_key(home, "Stolen <stolen@safeline.example>")
        identity = GnuPGIdentity(key.fingerprint, gnupg_home=home)
        folder = key_folder(tmp_path / "keys", {"a.asc": staff_gnupg.public, "stolen.asc": key.public})
        before = Team.load(folder)
        event = note_by(key.fingerprint)
        mail = seal(event.to_bytes(), identity, before)
        assert unseal(mail, a, before) == (event.to_bytes(), key.fingerprint)
        revoked = revoke(home, key.fingerprint)
    (folder / "stolen.asc").write_bytes(revoked)
    after = Team.load(folder)
    assert after.member(key.fingerprint).revoked
    # Signed while valid, dated while valid: still ignored (the key may have been stolen).
    assert rejected(mail, a, after) == "signer not current"


def test_a_sealed_event_gives_its_signed_form_and_message_id(a, b, team):
    event = note_by(a.fingerprint)
    sealed = seal_event(event.to_bytes(), a, team)
    assert message_id_of(sealed.mail) == sealed.message_id
    assert sealed.message_id.endswith("@safeline-staff.invalid>") and not is_shared(sealed.mail)
    opened = open_mail(sealed.mail, b, team)
    assert opened.signed == sealed.signed and opened.data == event.to_bytes()


def test_a_resealed_event_is_for_one_member_only_and_keeps_its_author(a, b, team, staff_gnupg):
    from staff.openpgp import addressed_to

    event = note_by(b.fingerprint)
    sealed = seal_event(event.to_bytes(), b, team)
    again = reseal(sealed.signed, team.member(a.fingerprint))
    assert is_event_mail(again) and is_shared(again)
    assert len(addressed_to(ciphertext(again))) == 1
    assert unseal(again, a, team) == (event.to_bytes(), b.fingerprint)  # B's signature, for A alone
    assert rejected(again, b, team) == "not for this key"
    assert message_id_of(again) != sealed.message_id


def test_an_event_dated_after_its_signer_expired_is_rejected(a, team, expiring):
    # Signed while the key was current, but made in the name of a moment it no longer was.
    identity = GnuPGIdentity(expiring["key"].fingerprint, gnupg_home=expiring["home"])
    late = note_by(identity.fingerprint, at=expiring["expires"] + timedelta(days=1))
    mail = seal(late.to_bytes(), identity, team)
    with pytest.raises(Rejected) as raised:
        unseal(mail, a, team, now=expiring["expires"] - timedelta(seconds=1))
    assert raised.value.kind == "signer not current"


def test_an_event_in_the_name_of_another_member_is_rejected(a, b, team):
    forged = seal(note_by(a.fingerprint).to_bytes(), b, team)  # B signs an event "by A"
    assert rejected(forged, a, team) == "author mismatch"


def test_an_event_for_other_keys_is_not_for_this_key(a, b, team, tmp_path, staff_gnupg):
    only_b = Team.load(key_folder(tmp_path / "only-b", {"b.asc": staff_gnupg.locked_public}))
    mail = seal(note_by(b.fingerprint).to_bytes(), b, only_b)
    assert rejected(mail, a, team) == "not for this key"


@pytest.mark.parametrize("case", ["no mark", "other mark", "clear text", "damaged", "not an event", "report"])
def test_what_is_no_event_mail_is_malformed(a, b, team, case):
    good = seal(note_by(b.fingerprint).to_bytes(), b, team)
    now = datetime.now(timezone.utc)
    mails = {
        "no mark": good.replace(b"X-Safeline-Staff: event 1\r\n", b""),
        "other mark": good.replace(b"X-Safeline-Staff: event 1", b"X-Safeline-Staff: event 2"),
        "clear text": b"From: x@example.com\r\nX-Safeline-Staff: event 1\r\n\r\n" + note_by(b.fingerprint).to_bytes(),
        "damaged": _mail(b"-----BEGIN PGP MESSAGE-----\n\nhQEMA0Yp\n-----END PGP MESSAGE-----\n", now),
        "not an event": _mail(encrypt_to(team, b.sign(b'{"format": 1, "kind": "report"}')), now),
        "report": _mail(encrypt_to(team, b.sign(b"\xff\xfe not even UTF-8")), now),
    }
    assert rejected(mails[case], a, team) == "malformed"


def variants(good: bytes) -> dict[str, bytes]:
    """The same mail as servers and clients may hand it back, and some that are not quite it."""
    head, _, body = good.partition(b"\r\n\r\n")
    boundary = good.split(b'boundary="', 1)[1].split(b'"', 1)[0]
    return {
        "as sealed": good,
        "LF lines": good.replace(b"\r\n", b"\n"),
        "a header added": b"Received: by imap.example.com\r\n" + good,
        "folded Content-Type": good.replace(b"; boundary=", b";\r\n boundary="),
        "a third part": good.replace(b"--" + boundary + b"--", b"--" + boundary + b"\r\nContent-Type: text/plain\r\n\r\n"
                                     b"hello\r\n--" + boundary + b"--"),
        "an epilogue": good + b"trailing words\r\n",
        "a second Content-Type": head + b"\r\nX-Content-Type: text/plain\r\n\r\n" + body,
        "armor shortened": good.replace(b"-----END PGP MESSAGE-----", b"-----END PGP MESSAGE"),
    }


def outcome(mail: bytes, identity, team: Team):
    try:
        return unseal(mail, identity, team)
    except Rejected as rejected:
        return rejected.kind


def test_the_fast_reader_takes_apart_only_what_seal_writes(b, team):
    from staff.message import envelope

    good = seal(note_by(b.fingerprint).to_bytes(), b, team)
    assert _armored(good) == envelope(good)[1]
    taken = [name for name, mail in variants(good).items() if _armored(mail) is not None]
    assert taken == ["as sealed", "a header added"]  # a trace header changes nothing below it


def test_every_shape_reads_as_the_mime_parser_reads_it(b, team, monkeypatch):
    """Whatever the fast reader takes, Python's email parser (its stand-in for every other
    shape) reads alike: the same event, or the same rejection."""
    import staff.eventmail as eventmail

    good = seal(note_by(b.fingerprint).to_bytes(), b, team)
    fast = {name: outcome(mail, b, team) for name, mail in variants(good).items()}
    monkeypatch.setattr(eventmail, "_armored", lambda mail: None)
    assert fast == {name: outcome(mail, b, team) for name, mail in variants(good).items()}
    read = fast["as sealed"]
    assert read[1] == b.fingerprint
    assert fast["LF lines"] == fast["a header added"] == fast["folded Content-Type"] == fast["an epilogue"] == read
    assert fast["a third part"] == "malformed"


def test_is_event_mail_reads_only_the_outer_headers(a, team):
    mail = seal(note_by(a.fingerprint).to_bytes(), a, team)
    assert is_event_mail(mail)
    assert is_event_mail(mail.replace(b"\r\n", b"\n"))
    assert not is_event_mail(b"Subject: x\r\n\r\nX-Safeline-Staff: event 1\r\n")


def test_a_reader_whose_key_cannot_decrypt_is_stopped_not_rejected(b, team, staff_gnupg):
    from staff.openpgp import KeyUnavailable

    mail = seal(note_by(b.fingerprint).to_bytes(), b, team)
    wrong = GnuPGIdentity(staff_gnupg.locked_fingerprint, gnupg_home=staff_gnupg.locked_home, passphrase="wrong")
    with pytest.raises(KeyUnavailable):
        unseal(mail, wrong, team)
    assert NotForThisKey  # (imported for the kinds' names)


def test_a_team_with_a_sequoia_made_key_still_writes_what_gnupg_reads(a, staff_gnupg, tmp_path):
    """pitfalls.md: Sequoia's own keys announce SEIPDv2, which GnuPG 2.2 cannot read; with a
    GnuPG-made key among the recipients the message stays classic, so a GnuPG kit reads it."""
    tsk = pysequoia.Tsk.generate(user_id="Sequoia Staff <sequoia@safeline.example>",
                                 profile=pysequoia.Profile.RFC4880)
    secret = tmp_path / "c.sec.asc"
    secret.write_bytes(str(tsk).encode("ascii"))
    c = KeyFileIdentity.load(secret)
    mixed = Team.load(key_folder(tmp_path / "mixed", {
        "a.asc": staff_gnupg.public, "c.asc": str(tsk.extract_certificate()).encode("ascii")}))
    event = note_by(c.fingerprint)
    assert unseal(seal(event.to_bytes(), c, mixed), a, mixed) == (event.to_bytes(), c.fingerprint)
    event = note_by(a.fingerprint)
    assert unseal(seal(event.to_bytes(), a, mixed), c, mixed) == (event.to_bytes(), a.fingerprint)
