"""The staff member's own key: GnuPG (with and without a passphrase) and an armored key file."""

from __future__ import annotations

import os
from email import message_from_bytes

import pytest

from staff.openpgp import GnuPGIdentity, KeyFileIdentity, KeyUnavailable, NotEncrypted, NotForThisKey, \
    addressed_to, check_addressed
from staff.problems import StaffError
from tests.support.staffkit import gpg


def ciphertext_of(path) -> bytes:
    outer = message_from_bytes(path.read_bytes())
    return outer.get_payload()[1].get_payload(decode=True)


@pytest.fixture(scope="module")
def relay_ciphertext(relay_maildir) -> bytes:
    """The armored ciphertext of one report the relay sent."""
    path = next(path for path in sorted((relay_maildir / "new").iterdir()) if path.name.endswith(".corpus"))
    return ciphertext_of(path)


@pytest.fixture
def staff(staff_gnupg) -> GnuPGIdentity:
    return GnuPGIdentity(staff_gnupg.fingerprint, gnupg_home=staff_gnupg.home)


def test_gnupg_decrypts_a_relay_mail(staff, relay_ciphertext):
    clear = staff.decrypt(relay_ciphertext)
    assert b"Content-Type: application/json" in clear


def test_gnupg_encrypts_to_itself_and_to_nobody_else(staff, staff_gnupg):
    sealed = staff.encrypt_to_self("秘密 key".encode())
    assert sealed.startswith(b"-----BEGIN PGP MESSAGE-----")
    assert staff.decrypt(sealed) == "秘密 key".encode()
    assert len(addressed_to(sealed)) == 1
    assert addressed_to(sealed)[0] in staff.key_ids


def test_the_key_given_by_fingerprint_in_any_spelling(staff_gnupg):
    spaced = " ".join(staff_gnupg.fingerprint[i:i + 4] for i in range(0, 40, 4)).lower()
    assert GnuPGIdentity(spaced, gnupg_home=staff_gnupg.home).fingerprint == staff_gnupg.fingerprint


def test_a_passphrase_goes_to_gnupg_by_loopback(staff_gnupg, relay_ciphertext):
    locked = GnuPGIdentity(staff_gnupg.locked_fingerprint, gnupg_home=staff_gnupg.locked_home,
                           passphrase=staff_gnupg.passphrase)
    assert b"application/json" in locked.decrypt(relay_ciphertext)
    assert locked.decrypt(locked.encrypt_to_self(b"k")) == b"k"


def test_a_wrong_passphrase_is_one_line_that_says_so(staff_gnupg, relay_ciphertext):
    locked = GnuPGIdentity(staff_gnupg.locked_fingerprint, gnupg_home=staff_gnupg.locked_home,
                           passphrase="not the passphrase")
    with pytest.raises(KeyUnavailable) as raised:
        locked.decrypt(relay_ciphertext)
    message = str(raised.value)
    assert "\n" not in message and "wrong passphrase" in message
    assert isinstance(raised.value, StaffError)


def test_a_mail_for_another_key_never_reaches_gpg(staff_gnupg, staff):
    from relay import openpgp

    ciphertext = openpgp.encrypt(b"for someone else", openpgp.parse_certs(staff_gnupg.other_public))
    broken = GnuPGIdentity(staff_gnupg.fingerprint, gnupg_home=staff_gnupg.home)
    broken._gpg = None  # any use of gpg would fail: the packets alone decide
    with pytest.raises(NotForThisKey):
        broken.decrypt(ciphertext)
    with pytest.raises(NotForThisKey):
        staff.decrypt(ciphertext)


def test_a_password_encrypted_message_opens_no_pinentry(staff_gnupg, staff):
    symmetric = gpg(staff_gnupg.home, "--armor", "--symmetric", input=b"hello", passphrase="pw")
    with pytest.raises(NotForThisKey):
        staff.decrypt(symmetric)


@pytest.mark.parametrize("data", [b"", b"hello", b"-----BEGIN PGP MESSAGE-----\n\n!!!!\n-----END PGP MESSAGE-----\n",
                                  b"\x85\x01", bytes(range(256)), b"\xc1\xff\xff\xff\xff\xff"])
def test_what_is_no_encrypted_message(staff, data):
    with pytest.raises((NotEncrypted, NotForThisKey)):
        staff.decrypt(data)


def test_a_signed_but_not_encrypted_message_is_refused(staff_gnupg, staff):
    signed = gpg(staff_gnupg.home, "--armor", "--sign", input=b"hello")
    with pytest.raises(NotEncrypted):
        staff.decrypt(signed)


def test_an_unknown_key_or_gnupg_folder(staff_gnupg, tmp_path):
    with pytest.raises(KeyUnavailable, match="no secret key"):
        GnuPGIdentity(staff_gnupg.other_fingerprint, gnupg_home=staff_gnupg.home)
    with pytest.raises(KeyUnavailable, match="not a key fingerprint"):
        GnuPGIdentity("1234", gnupg_home=staff_gnupg.home)
    missing = tmp_path / "no-such-gnupg"
    with pytest.raises(KeyUnavailable, match="no GnuPG folder"):
        GnuPGIdentity(staff_gnupg.fingerprint, gnupg_home=missing)
    assert not missing.exists()


def test_a_key_file_without_passphrase(staff_gnupg, tmp_path, relay_ciphertext):
    path = tmp_path / "key.asc"
    path.write_bytes(staff_gnupg.secret)
    identity = KeyFileIdentity.load(path)
    assert identity.fingerprint == staff_gnupg.fingerprint
    assert b"application/json" in identity.decrypt(relay_ciphertext)
    assert identity.decrypt(identity.encrypt_to_self(b"k")) == b"k"
    # What a key file encrypts to itself, GnuPG with the same key reads.
    gnupg = GnuPGIdentity(staff_gnupg.fingerprint, gnupg_home=staff_gnupg.home)
    assert gnupg.decrypt(identity.encrypt_to_self(b"both")) == b"both"


def test_a_key_file_with_passphrase(staff_gnupg, tmp_path, relay_ciphertext):
    path = tmp_path / "locked.asc"
    path.write_bytes(staff_gnupg.locked_secret)
    assert b"application/json" in KeyFileIdentity.load(path, staff_gnupg.passphrase).decrypt(relay_ciphertext)
    asked = []
    identity = KeyFileIdentity.load(path, ask=lambda: asked.append(1) or staff_gnupg.passphrase)
    assert asked == [1] and identity.fingerprint == staff_gnupg.locked_fingerprint
    with pytest.raises(KeyUnavailable, match="wrong passphrase"):
        KeyFileIdentity.load(path, "wrong")
    with pytest.raises(KeyUnavailable, match="protected by a passphrase"):
        KeyFileIdentity.load(path)


def test_a_key_file_that_cannot_serve(staff_gnupg, tmp_path):
    public = tmp_path / "public.asc"
    public.write_bytes(staff_gnupg.public)
    with pytest.raises(KeyUnavailable, match="holds no secret key"):
        KeyFileIdentity.load(public)
    with pytest.raises(KeyUnavailable, match="cannot read the key file"):
        KeyFileIdentity.load(tmp_path / "missing.asc")
    mangled = tmp_path / "mangled.asc"
    mangled.write_bytes(b"-----BEGIN PGP PRIVATE KEY BLOCK-----\n\nAAAA\n-----END PGP PRIVATE KEY BLOCK-----\n")
    with pytest.raises(KeyUnavailable) as raised:
        KeyFileIdentity.load(mangled)
    assert "\n" not in str(raised.value)


def test_a_key_file_refuses_mail_for_another_key(staff_gnupg, tmp_path):
    from relay import openpgp

    path = tmp_path / "key.asc"
    path.write_bytes(staff_gnupg.secret)
    with pytest.raises(NotForThisKey):
        KeyFileIdentity.load(path).decrypt(openpgp.encrypt(b"x", openpgp.parse_certs(staff_gnupg.other_public)))


def test_gnupg_keeps_clear_text_off_the_disk(staff_gnupg, relay_ciphertext, tmp_path, monkeypatch):
    """python-gnupg decrypts through pipes: no temporary file, here or in TMPDIR."""
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    monkeypatch.setenv("TMPDIR", str(tmp))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)
    made = []
    monkeypatch.setattr(tempfile, "mkstemp", lambda *a, **k: made.append(a) or (_ for _ in ()).throw(AssertionError))
    identity = GnuPGIdentity(staff_gnupg.fingerprint, gnupg_home=staff_gnupg.home)
    assert b"application/json" in identity.decrypt(relay_ciphertext)
    identity.encrypt_to_self(b"k")
    assert made == [] and os.listdir(tmp) == []


def test_check_addressed_reads_the_recipients(staff, staff_gnupg, relay_ciphertext):
    recipients = addressed_to(relay_ciphertext)
    assert len(recipients) == 2  # both staff members' keys
    check_addressed(relay_ciphertext, staff)


def test_an_expired_key_file_says_how_to_get_the_cases_back(gnupg_home, tmp_path):
    # Sequoia uses no key past its expiry, even to decrypt what was sent to it before: the
    # store's key cannot be opened. One line says why and how; extending the key is the cure,
    # and the same store opens again with the key file exported anew.
    import time

    from staff.home import Config, Home
    from staff.setup import init, open_store
    from tests.support.gnupg import make_key

    key = make_key(gnupg_home, "Expiring Staff <expiring@safeline.example>", seconds=4)
    path = tmp_path / "key.asc"
    path.write_bytes(key.secret)
    home = Home(tmp_path / "kit")
    init(home, Config(key_file=str(path)))
    open_store(home).close()
    time.sleep(5)
    with pytest.raises(KeyUnavailable, match=r"expired on \d{4}-\d\d-\d\d: extend it .* nothing is lost"):
        open_store(home)
    gpg(gnupg_home, "--quick-set-expire", key.fingerprint, "1y", passphrase="")
    gpg(gnupg_home, "--quick-set-expire", key.fingerprint, "1y", "*", passphrase="")
    path.write_bytes(gpg(gnupg_home, "--armor", "--export-secret-keys", key.fingerprint, passphrase=""))
    with open_store(home) as store:
        assert store.count() == 0


# -- signing (the team's events) ---------------------------------------------------------------

def signed_content(home, signed: bytes) -> tuple[bytes, str]:
    """What GnuPG (a classic client, with the signer's public key) reads out of ``signed``, and
    the fingerprint it says made the good signature."""
    import subprocess

    from tests.support.gnupg import GPG

    done = subprocess.run([GPG, "--batch", "--status-fd", "2", "--decrypt"], input=signed, capture_output=True,
                          timeout=60, env={**os.environ, "GNUPGHOME": str(home)}, check=True)
    valid = [line.split()[2] for line in done.stderr.decode(errors="replace").splitlines() if line.startswith("[GNUPG:] VALIDSIG")]
    return done.stdout, valid[0]


SIGNED = "イベント {\"a\": 1}\r\nlast line without end".encode()


def test_gnupg_signs_inline_in_binary_and_the_bytes_stay_as_they_were(staff, staff_gnupg):
    signed = staff.sign(SIGNED)
    assert not signed.startswith(b"-----BEGIN")  # binary: no armor, no text mode
    assert signed_content(staff_gnupg.home, signed) == (SIGNED, staff_gnupg.fingerprint)


def test_gnupg_signs_with_a_passphrase_by_loopback(staff_gnupg):
    locked = GnuPGIdentity(staff_gnupg.locked_fingerprint, gnupg_home=staff_gnupg.locked_home,
                           passphrase=staff_gnupg.passphrase)
    assert signed_content(staff_gnupg.locked_home, locked.sign(SIGNED)) == (SIGNED, staff_gnupg.locked_fingerprint)
    wrong = GnuPGIdentity(staff_gnupg.locked_fingerprint, gnupg_home=staff_gnupg.locked_home,
                          passphrase="not the passphrase")
    with pytest.raises(KeyUnavailable) as raised:
        wrong.sign(SIGNED)
    message = str(raised.value)
    assert "\n" not in message and "wrong passphrase" in message


def test_a_key_file_signs_and_gnupg_reads_it(staff_gnupg, tmp_path):
    path = tmp_path / "locked.asc"
    path.write_bytes(staff_gnupg.locked_secret)
    identity = KeyFileIdentity.load(path, staff_gnupg.passphrase)
    signed = identity.sign(SIGNED)
    assert not signed.startswith(b"-----BEGIN")
    assert signed_content(staff_gnupg.locked_home, signed) == (SIGNED, staff_gnupg.locked_fingerprint)
    plain = tmp_path / "plain.asc"
    plain.write_bytes(staff_gnupg.secret)
    assert signed_content(staff_gnupg.home, KeyFileIdentity.load(plain).sign(b"x")) == (b"x", staff_gnupg.fingerprint)


def test_gnupg_signs_with_this_key_and_no_other(staff_gnupg, tmp_path):
    """A home with two secret keys: the signature is the identity's own key's."""
    from tests.support.staff_team import fast_key, short_home

    with short_home() as home:
        first = fast_key(home, "First <first@safeline.example>")
        second = fast_key(home, "Second <second@safeline.example>")
        for key in (first, second):
            assert signed_content(home, GnuPGIdentity(key.fingerprint, gnupg_home=home).sign(b"x"))[1] == key.fingerprint
