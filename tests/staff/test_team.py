"""The team's keys (staff/team.py): read as the relay reads RELAY_STAFF_KEYS, who can be encrypted
to now, and who signed a message, verified against the certificates alone (no GnuPG keyring)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from staff.openpgp import GnuPGIdentity, KeyFileIdentity
from staff.problems import StaffError
from staff.team import KEY_SUFFIXES, NotVerified, Team, TeamError
from tests.support.gnupg import stop_agent
from tests.support.staff_team import expiry_of, fast_key, key_folder, revoke, short_home, wait_until
from tests.support.staffkit import gpg


@pytest.fixture(scope="module")
def odd_keys():
    """A key that expires seconds after it was made (with a message it signed at once), and a
    revoked key (with a message it signed before it was revoked)."""
    with short_home() as expiring_home, short_home() as revoked_home:
        expiring = fast_key(expiring_home, "Expiring <expiring@safeline.example>", seconds=5)
        expiring_signed = gpg(expiring_home, "--sign", input=b"signed while current", passphrase="")
        revoked = fast_key(revoked_home, "Revoked <revoked@safeline.example>")
        revoked_signed = gpg(revoked_home, "--sign", input=b"signed before the revocation", passphrase="")
        revoked_public = revoke(revoked_home, revoked.fingerprint)
        yield {"expiring_home": expiring_home, "expiring": expiring, "expiring_signed": expiring_signed,
               "expires": expiry_of(expiring_home, expiring.fingerprint),
               "revoked": revoked, "revoked_public": revoked_public, "revoked_signed": revoked_signed}


@pytest.fixture(scope="module")
def past(tmp_path_factory):
    from tests.support.staff_team import past_keys

    with past_keys(tmp_path_factory.mktemp("past") / "keys") as keys:
        yield keys


@pytest.fixture
def team_folder(tmp_path, staff_gnupg, odd_keys):
    return key_folder(tmp_path / "staff-keys", {
        "a.asc": staff_gnupg.public, "b.pub": staff_gnupg.locked_public,
        "expiring.asc": odd_keys["expiring"].public, "revoked.asc": odd_keys["revoked_public"]})


def one_line(raised: pytest.ExceptionInfo) -> str:
    text = str(raised.value)
    assert text and "\n" not in text
    assert isinstance(raised.value, StaffError)
    return text


# -- reading the folder ----------------------------------------------------------------------

def test_the_folder_is_read_as_the_relay_reads_it(team_folder, staff_gnupg, odd_keys):
    assert KEY_SUFFIXES == (".asc", ".pub")
    (team_folder / ".hidden.asc").write_bytes(b"not read at all")
    (team_folder / "carol.gpg").write_bytes(staff_gnupg.other_public)
    (team_folder / "README").write_text("keys of the team")
    team = Team.load(str(team_folder))
    assert [member.fingerprint for member in team] == [
        staff_gnupg.fingerprint, staff_gnupg.locked_fingerprint, odd_keys["expiring"].fingerprint,
        odd_keys["revoked"].fingerprint]
    a = team.member(staff_gnupg.fingerprint)
    assert a.user_id == "Safeline Staff A <staff-a@safeline.example>"
    assert a.expires is None and not a.revoked and a.path == team_folder / "a.asc"
    assert team.member(odd_keys["revoked"].fingerprint).revoked
    assert team.member(odd_keys["expiring"].fingerprint).expires == odd_keys["expires"]
    # Left out, and said so: a key under another name is noticed, not silently used or dropped.
    assert [warning.split(":")[0] for warning in team.warnings] == [str(team_folder / "README"),
                                                                  str(team_folder / "carol.gpg")]
    assert team.member(staff_gnupg.other_fingerprint) is None


def test_one_file_with_several_keys_and_a_binary_key(tmp_path, staff_gnupg):
    both = tmp_path / "team.asc"
    both.write_bytes(staff_gnupg.public + staff_gnupg.locked_public)
    assert [m.fingerprint for m in Team.load(both)] == [staff_gnupg.fingerprint, staff_gnupg.locked_fingerprint]
    binary = tmp_path / "b.pub"
    binary.write_bytes(gpg(staff_gnupg.locked_home, "--export", staff_gnupg.locked_fingerprint))
    assert [m.fingerprint for m in Team.load(binary)] == [staff_gnupg.locked_fingerprint]


def test_a_member_is_found_by_a_subkey_too(team_folder, staff_gnupg):
    team = Team.load(team_folder)
    identity = GnuPGIdentity(staff_gnupg.fingerprint, gnupg_home=staff_gnupg.home)
    assert all(team.member(key_id).fingerprint == staff_gnupg.fingerprint for key_id in identity.key_ids)
    assert team.member(staff_gnupg.fingerprint.lower()).fingerprint == staff_gnupg.fingerprint


def test_what_cannot_be_used_is_one_line_naming_the_file(tmp_path, staff_gnupg):
    with pytest.raises(TeamError, match="staff_keys") as raised:
        Team.load(None)
    one_line(raised)
    missing = tmp_path / "nowhere"
    with pytest.raises(TeamError) as raised:
        Team.load(missing)
    assert str(missing) in one_line(raised)
    empty = key_folder(tmp_path / "empty", {"notes.txt": b"x"})
    with pytest.raises(TeamError, match="no \\*.asc or \\*.pub") as raised:
        Team.load(empty)
    assert str(empty) in one_line(raised)
    cases = {
        "secret.asc": (staff_gnupg.secret, "SECRET"),
        "garbage.asc": (b"-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nAAAA\n-----END PGP PUBLIC KEY BLOCK-----\n",
                        "not an OpenPGP public key"),
        "nothing.asc": (b"", ""),
    }
    for name, (data, words) in cases.items():
        folder = key_folder(tmp_path / name.split(".")[0], {"a.asc": staff_gnupg.public, name: data})
        with pytest.raises(TeamError) as raised:
            Team.load(folder)
        text = one_line(raised)
        assert str(folder / name) in text and words in text
        assert "Stack backtrace" not in text
    twice = key_folder(tmp_path / "twice", {"a.asc": staff_gnupg.public, "again.asc": staff_gnupg.public})
    with pytest.raises(TeamError, match="keep one copy") as raised:
        Team.load(twice)
    assert str(twice / "again.asc") in one_line(raised)


# -- who can be encrypted to -------------------------------------------------------------------

def test_recipients_are_the_keys_usable_now(team_folder, staff_gnupg, odd_keys):
    team = Team.load(team_folder)
    before = odd_keys["expires"] - timedelta(seconds=1)
    after = odd_keys["expires"] + timedelta(seconds=1)
    everyone = [staff_gnupg.fingerprint, staff_gnupg.locked_fingerprint]
    assert [m.fingerprint for m in team.recipients(before)] == [*everyone, odd_keys["expiring"].fingerprint]
    assert [m.fingerprint for m in team.recipients(after)] == everyone
    wait_until(odd_keys["expires"])
    assert [m.fingerprint for m in team.recipients()] == everyone


# -- who signed ------------------------------------------------------------------------------

def test_a_member_signature_gives_the_member_and_the_signed_bytes(team_folder, staff_gnupg, tmp_path):
    team = Team.load(team_folder)
    data = "イベント\r\n{\"a\": 1}\n".encode()
    gnupg = GnuPGIdentity(staff_gnupg.fingerprint, gnupg_home=staff_gnupg.home)
    assert team.verify(gnupg.sign(data))[:2] == (data, staff_gnupg.fingerprint)
    key_file = tmp_path / "b.asc"
    key_file.write_bytes(staff_gnupg.locked_secret)
    locked = KeyFileIdentity.load(key_file, staff_gnupg.passphrase)
    assert team.verify(locked.sign(data))[:2] == (data, staff_gnupg.locked_fingerprint)


def test_no_gnupg_is_needed_to_verify(team_folder, staff_gnupg, monkeypatch, tmp_path):
    signed = gpg(staff_gnupg.home, "--sign", input=b"x")
    team = Team.load(team_folder)
    monkeypatch.setenv("GNUPGHOME", str(tmp_path / "no-such-home"))
    monkeypatch.setenv("PATH", str(tmp_path))  # no gpg to be found either
    assert team.verify(signed).signer == staff_gnupg.fingerprint


def test_a_detached_signature(team_folder, staff_gnupg):
    team = Team.load(team_folder)
    signature = gpg(staff_gnupg.home, "--detach-sign", input=b"the data")
    assert team.verify(b"the data", signature)[:2] == (b"the data", staff_gnupg.fingerprint)
    with pytest.raises(NotVerified) as raised:
        team.verify(b"other data", signature)
    assert raised.value.kind == "unsigned"
    with pytest.raises(NotVerified) as raised:
        team.verify(b"the data", b"not a signature")
    assert raised.value.kind == "malformed"


@pytest.mark.parametrize("case", ["literal", "stranger", "garbage", "empty", "encrypted", "tampered"])
def test_what_no_member_signed(team_folder, staff_gnupg, case):
    team = Team.load(team_folder)
    signed = gpg(staff_gnupg.home, "--sign", "--compress-algo", "none", input=b"hello there")
    made = {
        "literal": (gpg(staff_gnupg.home, "--store", input=b"hello there"), "unsigned"),
        "stranger": (None, "unknown signer"),
        "garbage": (b"hello there", "unsigned"),
        "empty": (b"", "unsigned"),
        "encrypted": (gpg(staff_gnupg.home, "--encrypt", "--recipient", staff_gnupg.fingerprint, input=b"x"),
                      "malformed"),
        "tampered": (signed.replace(b"hello there", b"hello thor!"), "unsigned"),
    }
    data, kind = made[case]
    if case == "stranger":
        with short_home() as home:
            fast_key(home, "Stranger <stranger@elsewhere.example>")
            data = gpg(home, "--sign", input=b"hello there")
    with pytest.raises(NotVerified) as raised:
        team.verify(data)
    assert raised.value.kind == kind


def test_a_revoked_member_is_not_current(team_folder, odd_keys):
    team = Team.load(team_folder)
    with pytest.raises(NotVerified) as raised:
        team.verify(odd_keys["revoked_signed"])
    assert raised.value.kind == "signer not current"


def test_what_a_member_signed_while_current_stays_valid_after_the_key_expired(team_folder, odd_keys):
    """The signer rule: valid when it signed, not now (else kits that sync after the expiry
    would ignore what the others applied, and the team's states would part)."""
    team = Team.load(team_folder)
    signed = odd_keys["expiring_signed"]
    before = odd_keys["expires"] - timedelta(seconds=1)
    verified = team.verify(signed, now=before)
    assert verified.signer == odd_keys["expiring"].fingerprint
    assert verified.signed_at < odd_keys["expires"]
    wait_until(odd_keys["expires"])
    assert team.verify(signed) == verified
    member = team.member(odd_keys["expiring"].fingerprint)
    assert member.current(before) and not member.current()
    assert member.valid_at(verified.signed_at) and not member.valid_at(odd_keys["expires"])


def test_a_signature_dated_after_the_key_expired_is_not_current(past):
    team = Team.load(past.folder)
    member = team.member(past.expired.fingerprint)
    assert member.expires == past.expires and not member.current()
    verified = team.verify(past.while_valid)  # expired 9 days ago, signed 9.5 days ago
    assert verified.signer == past.expired.fingerprint and verified.signed_at < past.expires
    assert team.member(past.late.fingerprint).expires == past.late_expires
    with pytest.raises(NotVerified) as raised:
        team.verify(past.after_expiry)
    assert raised.value.kind == "signer not current"


def test_a_signature_from_the_future_is_not_current_beyond_the_clock_skew(tmp_path):
    from datetime import datetime, timezone

    from staff.team import CLOCK_SKEW
    from tests.support.staff_team import sign_at

    now = datetime.now(timezone.utc)
    with short_home() as home:
        key = fast_key(home, "Ahead <ahead@safeline.example>")
        team = Team.load(key_folder(tmp_path / "keys", {"ahead.asc": key.public}))
        soon = sign_at(home, key.fingerprint, b"clock ahead", now + CLOCK_SKEW - timedelta(minutes=2))
        later = sign_at(home, key.fingerprint, b"clock far ahead", now + timedelta(hours=2))
    assert team.verify(soon).signer == key.fingerprint
    with pytest.raises(NotVerified) as raised:
        team.verify(later)
    assert raised.value.kind == "signer not current"


def test_signing_with_an_expired_key_is_one_line(tmp_path, odd_keys):
    wait_until(odd_keys["expires"])
    from staff.openpgp import KeyUnavailable

    gnupg = GnuPGIdentity(odd_keys["expiring"].fingerprint, gnupg_home=odd_keys["expiring_home"])
    with pytest.raises(KeyUnavailable) as raised:
        gnupg.sign(b"too late")
    assert "cannot sign" in one_line(raised)
