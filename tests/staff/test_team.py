"""The team's keys (staff/team.py): read as the relay reads RELAY_STAFF_KEYS, who can be encrypted
to now, and who signed a message, verified against the certificates alone (no GnuPG keyring)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from staff.openpgp import GnuPGIdentity, KeyFileIdentity
from staff.problems import StaffError
from staff.team import KEY_SUFFIXES, Member, NotVerified, ShareTally, Team, TeamError, describe
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
    for nothing in (None, "", "  "):
        with pytest.raises(TeamError, match="no \"staff_keys\"") as raised:
            Team.load(nothing)
        one_line(raised)
    # A file that is there but cannot be read, even by root: a process's memory at address 0.
    with pytest.raises(TeamError, match="^/proc/self/mem: cannot read it \\(Input/output error\\)$") as raised:
        Team.load("/proc/self/mem")
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
                        # Sequoia's message, its first line only (a Rust backtrace may follow it)
                        "not an OpenPGP public key (Malformed packet: Malformed CTB: MSB of ptag (0b00000000) not set.)"),
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


@pytest.mark.parametrize("case", ["literal", "stranger", "garbage", "empty", "odd garbage", "encrypted",
                                  "tampered"])
def test_what_no_member_signed(team_folder, staff_gnupg, case):
    team = Team.load(team_folder)
    signed = gpg(staff_gnupg.home, "--sign", "--compress-algo", "none", input=b"hello there")
    made = {
        "literal": (gpg(staff_gnupg.home, "--store", input=b"hello there"), "unsigned"),
        "stranger": (None, "unknown signer"),
        "garbage": (b"hello there", "unsigned"),
        "empty": (b"", "unsigned"),
        "odd garbage": (b"a note\xff", "unsigned"),  # its first octet's low bit set, its high bit not (its last's is)
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


def test_a_binary_secret_key_is_refused_too(tmp_path, staff_gnupg):
    """No armor line to find: the key itself says it holds secret material."""
    binary = gpg(staff_gnupg.home, "--export-secret-keys", staff_gnupg.fingerprint, passphrase="")
    assert b"PRIVATE KEY BLOCK" not in binary
    folder = key_folder(tmp_path / "keys", {"a.pub": binary})
    with pytest.raises(TeamError, match=f"key {staff_gnupg.fingerprint} holds SECRET key material") as raised:
        Team.load(folder)
    assert str(folder / "a.pub") in one_line(raised)


def test_a_signature_may_be_dated_up_to_ten_minutes_after_the_reader_s_clock(past):
    from staff.team import CLOCK_SKEW

    assert CLOCK_SKEW == timedelta(minutes=10)
    team = Team.load(past.folder)
    signed_at = team.verify(past.while_valid).signed_at
    assert team.verify(past.while_valid, now=signed_at - timedelta(minutes=10)).signed_at == signed_at
    with pytest.raises(NotVerified) as raised:
        team.verify(past.while_valid, now=signed_at - timedelta(minutes=10, microseconds=1))
    assert raised.value.kind == "signer not current"


# -- a member's key, its state and its line in `safeline-staff team` ---------------------------

NOW = datetime(2026, 12, 1, 14, 0, tzinfo=timezone.utc)  # 23:00 in Japan
TICK = timedelta(microseconds=1)


def member_of(*, expires: datetime | None = None, revoked: bool = False, encryption: tuple | None = None,
              user_id: str = "Staff <staff@safeline.example>") -> Member:
    """A member as Team.load makes one, its key's dates chosen (an encryption subkey with the
    primary key's expiry unless ``encryption`` says otherwise)."""
    created = datetime(2025, 1, 1, tzinfo=timezone.utc)
    return Member("F" * 40, user_id, created, expires, revoked, Path("staff.asc"), None, frozenset({"F" * 40}),
                  ((created, expires, False),) if encryption is None else encryption)


def test_a_key_is_current_until_the_moment_it_expires():
    expiring = member_of(expires=NOW)
    assert expiring.current(NOW - TICK) and not expiring.current(NOW)
    assert expiring.valid_at(NOW - TICK) and not expiring.valid_at(NOW)
    assert expiring.can_encrypt(NOW - TICK) and not expiring.can_encrypt(NOW)
    assert member_of().current(NOW) and member_of().valid_at(NOW) and member_of().can_encrypt(NOW)
    revoked = member_of(revoked=True)
    assert not revoked.current(NOW) and not revoked.valid_at(NOW) and not revoked.can_encrypt(NOW)
    later = datetime.now(timezone.utc) + timedelta(hours=1)
    assert member_of(expires=later).current() and member_of(expires=later).can_encrypt()
    assert not member_of(expires=NOW).current() and not member_of(expires=NOW).can_encrypt()


def test_an_encryption_subkey_is_usable_from_its_creation_until_its_expiry_unless_revoked():
    made, ends = NOW - timedelta(days=1), NOW + timedelta(days=1)
    subkey = member_of(encryption=((made, ends, False),))
    assert not subkey.can_encrypt(made - TICK) and subkey.can_encrypt(made)
    assert subkey.can_encrypt(ends - TICK) and not subkey.can_encrypt(ends)
    assert not member_of(encryption=((made, None, True),)).can_encrypt(NOW)
    assert not member_of(encryption=()).can_encrypt(NOW)
    assert member_of(encryption=((made, None, True), (made, None, False))).can_encrypt(NOW)  # any one will do
    assert member_of(encryption=((made, None, False), (made, None, True))).can_encrypt(NOW)


def test_the_team_command_line_of_each_state_of_a_key():
    def state(**key) -> str:
        line = describe(member_of(**key), NOW)
        assert line.startswith("F" * 40 + "  ")
        return line.split("  ", 2)[2]

    assert describe(member_of(), NOW) == f"{'F' * 40}  Staff <staff@safeline.example>  never expires"
    assert describe(member_of(user_id=""), NOW) == f"{'F' * 40}  (no user ID)  never expires"
    assert state(revoked=True) == state(revoked=True, expires=NOW) == "REVOKED: its events are ignored"
    expired = "expired 2026-12-01 (what it signed before stays valid; it can no longer sign or read new events)"
    assert state(expires=NOW) == expired
    ask = ", ask them to extend it and send the new public key"
    # Japan dates: 14:00 UTC is already 23:00 in Japan, and an hour later is the next day there.
    assert state(expires=NOW + TICK) == "expires 2026-12-01: expires today" + ask
    assert state(expires=NOW + timedelta(hours=1)) == "expires 2026-12-02: expires in 1 day" + ask
    assert state(expires=NOW + timedelta(days=2)) == "expires 2026-12-03: expires in 2 days" + ask
    assert state(expires=NOW + timedelta(days=30)) == "expires 2026-12-31: expires in 30 days" + ask
    assert state(expires=NOW + timedelta(days=31)) == "expires 2027-01-01"
    no_key = "; no encryption key usable now: events cannot be encrypted to it"
    assert state(encryption=()) == "never expires" + no_key
    assert state(expires=NOW + timedelta(days=31), encryption=()) == "expires 2027-01-01" + no_key
    assert state(expires=NOW, encryption=()) == expired  # an expired key can no longer be used anyway
    assert state(revoked=True, encryption=()) == "REVOKED: its events are ignored"


def test_what_sharing_did_in_one_line():
    member = member_of()
    label = "F" * 40 + " (Staff <staff@safeline.example>)"
    assert member.label == label and member_of(user_id="").label == "F" * 40 + " (no user ID)"
    assert ShareTally().summary(member) == f"shared 0 events with {label}"
    assert ShareTally(shared=1).summary(member) == f"shared 1 event with {label}"
    tally = ShareTally(shared=2, pending=2)
    tally.left_out["unsigned"] += 2
    tally.left_out["signer not current"] += 1
    assert tally.summary(member) == (f"shared 2 events with {label}; 3 left out (1 signer not current, 2 unsigned); "
                                     "2 changes not sent yet reach them with your next sync")


def test_each_encryption_subkey_has_its_own_lifetime_and_revocation(tmp_path):
    """As the relay reads them (relay/keys.py): a subkey's expiry is in its binding signature,
    not in the primary key's; a revoked subkey is not used; a subkey whose binding is dated in
    the future is not (yet) one; a primary key that only signs is no encryption key."""
    from tests.support.staff_team import subkey_fingerprints, subkeys_key

    now = datetime.now(timezone.utc)
    with short_home() as home:
        key = subkeys_key(home, "Subkeys <subkeys@safeline.example>", "10d", "never", "never", revoked=(2,))
        ten_days, revoked, later = subkey_fingerprints(home, key.fingerprint)
        # GnuPG replaces the third subkey's binding with one dated tomorrow.
        tomorrow = f"{int((now + timedelta(days=1)).timestamp())}!"
        gpg(home, "--faked-system-time", tomorrow, "--quick-set-expire", key.fingerprint, "2d", later,
            passphrase="")
        public = gpg(home, "--armor", "--export", key.fingerprint)
        signed = gpg(home, "--sign", input=b"signed by the primary key", passphrase="")
    team = Team.load(key_folder(tmp_path / "keys", {"subkeys.asc": public}))
    member = team.member(key.fingerprint)
    assert member.expires is None and not member.revoked
    assert {ten_days, revoked, later} <= member.key_ids and team.member(later) == member
    # The subkey bound tomorrow is left out; the other two, in the certificate's order.
    by_state = {is_revoked: (made, ends) for made, ends, is_revoked in member.encryption}
    assert len(member.encryption) == 2 and set(by_state) == {False, True}
    made, ten_days_end = by_state[False]
    assert abs(made - now) < timedelta(minutes=1) and abs(by_state[True][0] - now) < timedelta(minutes=1)
    assert by_state[True][1] is None
    assert ten_days_end == made + timedelta(days=10)
    assert member.can_encrypt(made + timedelta(days=10) - TICK) and not member.can_encrypt(made + timedelta(days=10))
    assert team.verify(signed).signer == key.fingerprint


def test_a_subkey_s_newest_binding_says_when_it_expires(tmp_path):
    """A certificate may carry a subkey's old binding beside its new one (a keyserver's or a
    merged copy): the newest is in force."""
    import pysequoia

    from tests.support.staff_team import subkey_fingerprints, subkeys_key

    now = datetime.now(timezone.utc)
    with short_home() as home:
        key = subkeys_key(home, "Rebound <rebound@safeline.example>", at=now - timedelta(hours=2))
        an_hour_ago = f"{int((now - timedelta(hours=1)).timestamp())}!"
        gpg(home, "--faked-system-time", an_hour_ago, "--quick-add-key", key.fingerprint, "cv25519", "encr", "10d",
            passphrase="")
        (subkey,) = subkey_fingerprints(home, key.fingerprint)
        before = pysequoia.Cert.from_bytes(gpg(home, "--export", key.fingerprint))
        gpg(home, "--quick-set-expire", key.fingerprint, "20d", subkey, passphrase="")
        gpg(home, "--quick-add-key", key.fingerprint, "cv25519", "encr", "never", passphrase="")  # made now
        after = pysequoia.Cert.from_bytes(gpg(home, "--export", key.fingerprint))
    for number, merged in enumerate((before.merge(after), after.merge(before))):
        folder = key_folder(tmp_path / f"keys{number}", {"rebound.pub": bytes(merged)})
        member = Team.load(folder).member(key.fingerprint)
        assert abs(member.created - (now - timedelta(hours=2))) < timedelta(minutes=1)  # the primary key's
        [(made, ends, revoked), (newer, never, _)] = sorted(member.encryption, key=lambda subkey: subkey[0])
        assert abs(made - (now - timedelta(hours=1))) < timedelta(minutes=1) and not revoked
        assert abs(ends - (now + timedelta(days=20))) < timedelta(minutes=1)
        assert abs(newer - now) < timedelta(minutes=1) and never is None


def test_a_primary_key_that_encrypts_itself_is_an_encryption_key_until_it_expires(tmp_path):
    with short_home() as home:
        gpg(home, "--quick-gen-key", "Alone <alone@safeline.example>", "rsa2048", "cert,sign,encr", "3d",
            passphrase="")  # no subkey at all
        public = gpg(home, "--armor", "--export", "alone@safeline.example")
    [member] = Team.load(key_folder(tmp_path / "keys", {"alone.asc": public}))
    assert member.expires is not None and member.encryption == ((member.created, member.expires, False),)
    assert member.can_encrypt(member.expires - TICK) and not member.can_encrypt(member.expires)


def test_a_message_signed_by_two_members_names_the_first_signature_s(tmp_path):
    from staff.team import _signature_times

    with short_home() as home:
        one = fast_key(home, "One <one@safeline.example>")
        two = fast_key(home, "Two <two@safeline.example>")
        signed = gpg(home, "--local-user", one.fingerprint, "--local-user", two.fingerprint, "--sign",
                     input=b"signed twice", passphrase="")
    team = Team.load(key_folder(tmp_path / "keys", {"one.asc": one.public, "two.asc": two.public}))
    issuers = [team.member(issuer).fingerprint for issuer, _ in _signature_times(signed)]
    assert sorted(issuers) == sorted([one.fingerprint, two.fingerprint])
    assert team.verify(signed)[:2] == (b"signed twice", issuers[0])
