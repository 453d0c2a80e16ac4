"""Loading the staff keys: real keys made by GnuPG (tests/fixtures/keys) and by pysequoia."""

from __future__ import annotations

import base64
import logging
import os
import re
import shutil
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from relay import openpgp
from relay.keys import StaffKey, StaffKeyError, StaffKeys, describe, is_development_key, load_staff_keys
from tests.support.gnupg import GnupgKey, make_key
from tests.support.keys import FIXTURES, GPG_PUBLIC
from tests.support.site import ROOT

STAFF_FPR = openpgp.fingerprint(openpgp.parse_certs(GPG_PUBLIC.read_bytes())[0])
FPR = re.compile(r"\b[0-9A-F]{40}\b")
DAY = timedelta(days=1)


def fixture_fpr(name: str) -> str:
    return openpgp.fingerprint(openpgp.parse_certs((FIXTURES / name).read_bytes())[0])


def copy(name: str, folder: Path, as_name: str | None = None) -> Path:
    target = folder / (as_name or name)
    shutil.copyfile(FIXTURES / name, target)
    return target


def refusal(source) -> StaffKeyError:
    with pytest.raises(StaffKeyError) as caught:
        load_staff_keys(source)
    return caught.value


def dearmor(armored: bytes) -> bytes:
    """The binary packets of an ASCII-armored block, so no armor header gives it away."""
    lines = armored.decode("ascii").strip().splitlines()
    body = lines[lines.index("") + 1:-1]
    return base64.b64decode("".join(line for line in body if not line.startswith("=")))


@pytest.fixture(scope="module")
def soon() -> openpgp.KeyPair:
    """A key that expires in 10 days."""
    return openpgp.generate_key("Safeline Soon <soon@example.org>", validity_seconds=10 * 86400)


def test_loads_the_gnupg_v4_key():
    keys = load_staff_keys(FIXTURES / "staff-gpg-v4.pub.asc")
    assert isinstance(keys, StaffKeys)
    assert [key.fingerprint for key in keys] == [STAFF_FPR]
    assert keys.warnings == []
    assert len(keys.certs) == 1


def test_reads_the_environment_variable(monkeypatch):
    monkeypatch.setenv("RELAY_STAFF_KEYS", str(FIXTURES / "staff-gpg-v4.pub.asc"))
    assert [key.fingerprint for key in load_staff_keys()] == [STAFF_FPR]


def test_a_folder_with_several_keys_loads_them_all_in_name_order(tmp_path, caplog):
    copy("two-keys.pub.asc", tmp_path, "a-team.asc")
    copy("staff-gpg-v4.pub.asc", tmp_path, "b-staff.asc")
    generated = openpgp.generate_key("Safeline Generated <generated@example.org>", v6=True)
    (tmp_path / "c-generated.pub").write_bytes(generated.public)
    (tmp_path / ".hidden.asc").write_text("an editor's backup, never read")
    (tmp_path / "README.txt").write_text("the staff keys")
    with caplog.at_level(logging.WARNING, logger="relay.keys"):
        keys = load_staff_keys(tmp_path)
    two = [openpgp.fingerprint(cert) for cert in openpgp.parse_certs((FIXTURES / "two-keys.pub.asc").read_bytes())]
    assert [key.fingerprint for key in keys] == [*two, STAFF_FPR, generated.fingerprint]
    assert [key.path.name for key in keys] == ["a-team.asc", "a-team.asc", "b-staff.asc", "c-generated.pub"]
    assert keys.warnings == [f"{tmp_path / 'README.txt'}: ignored, staff keys are read from *.asc and *.pub files only"]
    assert [record.getMessage() for record in caplog.records] == keys.warnings


def test_one_file_may_hold_several_armored_blocks(tmp_path):
    generated = openpgp.generate_key("Safeline Generated <generated@example.org>")
    both = tmp_path / "staff.asc"
    both.write_bytes((FIXTURES / "staff-gpg-v4.pub.asc").read_bytes() + generated.public)
    assert [key.fingerprint for key in load_staff_keys(both)] == [STAFF_FPR, generated.fingerprint]


@pytest.mark.parametrize("name, problem", [
    ("expired.pub.asc", "expired on 2020-12-31"),
    ("revoked.pub.asc", "is revoked"),
    ("sign-only.pub.asc", "has no encryption subkey"),
    ("subkey-expired.pub.asc", "its encryption subkey expired on 2020-12-31"),
    ("secret-only.sec.asc", "holds SECRET key material"),
    ("staff-gpg-v4.sec.asc", "holds SECRET key material"),
])
def test_an_unusable_key_is_refused_with_one_clear_line(name, problem):
    error = refusal(FIXTURES / name)
    # An ordinary exception: raised while serving a request, a handler must be able to catch it.
    assert isinstance(error, Exception) and not isinstance(error, SystemExit)
    assert len(error.lines) == 1
    line = error.lines[0]
    assert str(error) == line
    assert line.startswith(f"{FIXTURES / name}: key {fixture_fpr(name)} (Safeline ")
    assert problem in line
    assert "\n" not in line and "Traceback" not in line


def test_pysequoia_cannot_encrypt_to_the_gnupg_sign_only_key():
    # The probe the loader relies on for keys with nothing to encrypt to.
    sign_only = openpgp.parse_certs((FIXTURES / "sign-only.pub.asc").read_bytes())
    with pytest.raises(openpgp.OpenPGPError, match="^cannot encrypt: No suitable encryption subkey"):
        openpgp.encrypt(b"probe", sign_only)


def test_an_expired_encryption_subkey_is_found_from_the_packets():
    # pysequoia falls back to an expired subkey rather than fail, so the loader reads subkey
    # lifetimes itself: here the primary key never expires, its only encryption subkey did.
    cert = openpgp.parse_certs((FIXTURES / "subkey-expired.pub.asc").read_bytes())[0]
    assert openpgp.expiration(cert) is None
    [subkey] = openpgp.encryption_keys(cert)
    assert subkey.expires == datetime(2020, 12, 31, tzinfo=timezone.utc)
    assert not subkey.alive(datetime.now(timezone.utc))


def test_secret_key_material_is_refused_even_without_armor(tmp_path):
    binary = tmp_path / "staff.pub"
    binary.write_bytes(dearmor((FIXTURES / "staff-gpg-v4.sec.asc").read_bytes()))
    assert b"PRIVATE KEY BLOCK" not in binary.read_bytes()
    [line] = refusal(binary).lines
    assert line.startswith(f"{binary}: key {STAFF_FPR} (Safeline Test Staff <staff@example.org>) holds SECRET key")


def test_a_binary_public_key_is_fine(tmp_path):
    binary = tmp_path / "staff.pub"
    binary.write_bytes(dearmor((FIXTURES / "staff-gpg-v4.pub.asc").read_bytes()))
    assert [key.fingerprint for key in load_staff_keys(binary)] == [STAFF_FPR]


def test_a_damaged_secret_key_is_still_called_secret(tmp_path):
    damaged = tmp_path / "staff.asc"
    damaged.write_bytes((FIXTURES / "secret-only.sec.asc").read_bytes()[:300])
    [line] = refusal(damaged).lines
    assert line.startswith(f"{damaged}: holds SECRET key material")


@pytest.mark.parametrize("content, problem", [
    (b"not a key at all\n", "not an OpenPGP public key (cannot read the OpenPGP key: "),
    (b"", "holds no OpenPGP key"),
    ((FIXTURES / "staff-gpg-v4.pub.asc").read_bytes()[:200], "not an OpenPGP public key"),
])
def test_an_unparsable_file_is_refused(tmp_path, content, problem):
    bad = tmp_path / "staff.asc"
    bad.write_bytes(content)
    [line] = refusal(bad).lines
    assert line.startswith(f"{bad}: {problem}")
    assert "backtrace" not in line.lower() and "\n" not in line


def test_an_unreadable_file_is_refused(tmp_path, monkeypatch):
    key = copy("staff-gpg-v4.pub.asc", tmp_path)

    def denied(self):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "read_bytes", denied)
    assert refusal(key).lines == [f"{key}: cannot read it (Permission denied)"]


def test_missing_places_and_no_keys_are_refused(tmp_path, monkeypatch):
    assert refusal(tmp_path / "nowhere").lines == [f"{tmp_path / 'nowhere'}: no such file or folder (RELAY_STAFF_KEYS)"]
    assert refusal(tmp_path).lines == [f"{tmp_path}: no *.asc or *.pub key files in this folder"]
    monkeypatch.delenv("RELAY_STAFF_KEYS", raising=False)
    assert refusal(None).lines[0].startswith("RELAY_STAFF_KEYS is not set")
    assert refusal("").lines[0].startswith("RELAY_STAFF_KEYS is not set")


def test_every_problem_in_a_folder_gets_its_own_line(tmp_path):
    for name in ("expired.pub.asc", "revoked.pub.asc", "staff-gpg-v4.pub.asc", "sign-only.pub.asc"):
        copy(name, tmp_path)
    copy("staff-gpg-v4.pub.asc", tmp_path, "z-copy.asc")
    lines = refusal(tmp_path).lines
    assert len(lines) == 4
    assert [Path(line.split(":")[0]).name for line in lines] == [
        "expired.pub.asc", "revoked.pub.asc", "sign-only.pub.asc", "z-copy.asc"]
    assert f"key {STAFF_FPR}" in lines[3] and "is also in" in lines[3]
    assert all(len(FPR.findall(line)) == 1 for line in lines)


def test_a_key_already_read_is_named_and_the_keys_after_it_in_that_file_are_still_checked(tmp_path):
    copy("staff-gpg-v4.pub.asc", tmp_path, "a-staff.asc")
    both = tmp_path / "b-both.asc"
    both.write_bytes((FIXTURES / "staff-gpg-v4.pub.asc").read_bytes() + (FIXTURES / "expired.pub.asc").read_bytes())
    lines = refusal(tmp_path).lines
    assert [line.split(": key ")[0] for line in lines] == [str(both), str(both)]
    assert f"is also in {tmp_path / 'a-staff.asc'}: keep one copy" in lines[0]
    assert lines[1].endswith("(Safeline Expired <expired@example.org>) expired on 2020-12-31: ask its owner to extend it, or remove it")


def test_a_key_that_expires_within_30_days_gives_a_warning(tmp_path, soon, caplog):
    path = tmp_path / "soon.asc"
    path.write_bytes(soon.public)
    with caplog.at_level(logging.WARNING, logger="relay.keys"):
        keys = load_staff_keys(path)
    expires = openpgp.expiration(keys.certs[0])
    assert keys.warnings == [
        f"staff key {soon.fingerprint} (Safeline Soon <soon@example.org>) expires on {expires:%Y-%m-%d} (in 10 days):"
        " extend or replace it"]
    logged = [(record.name, record.levelno, record.getMessage()) for record in caplog.records]
    assert logged == [("relay.keys", logging.WARNING, keys.warnings[0])]


@pytest.mark.parametrize("seconds, left", [(100, "in 2 minutes"), (30, "in 1 minute"),
                                           (5 * 3600 + 60, "in 5 hours"), (90 * 60, "in 1 hour")])
def test_under_a_day_the_warning_says_hours_or_minutes_and_the_time(tmp_path, gnupg_home, seconds, left):
    """Not "(in 1 day)" for a key that stops working in 100 seconds.  (GnuPG's keys start
    now; pysequoia's are dated a minute back.)"""
    pair = make_key(gnupg_home, "Safeline Brief <brief@example.org>", seconds=seconds)
    path = tmp_path / "brief.asc"
    path.write_bytes(pair.public)
    [warning] = load_staff_keys(path).warnings
    expires = openpgp.expiration(openpgp.parse_certs(pair.public)[0])
    assert f"expires on {expires:%Y-%m-%d %H:%M} UTC ({left}): extend or replace it" in warning, warning


def test_no_warning_for_a_key_that_lasts_longer(tmp_path):
    later = openpgp.generate_key("Safeline Later <later@example.org>", validity_seconds=40 * 86400)
    path = tmp_path / "later.asc"
    path.write_bytes(later.public)
    assert load_staff_keys(path).warnings == []


def test_check_usable_refuses_once_a_key_has_expired(tmp_path, soon):
    copy("staff-gpg-v4.pub.asc", tmp_path)
    (tmp_path / "soon.asc").write_bytes(soon.public)
    keys = load_staff_keys(tmp_path)
    now = datetime.now(timezone.utc)
    assert len(keys.check_usable(now + DAY)) == 1  # still usable, still warned about
    with pytest.raises(StaffKeyError) as caught:
        keys.check_usable(now + 11 * DAY)
    [line] = caught.value.lines
    assert line.startswith(f"{tmp_path / 'soon.asc'}: key {soon.fingerprint} (Safeline Soon <soon@example.org>)"
                           " expired on ")


def test_ensure_usable_remembers_until_the_first_key_expires(tmp_path, soon):
    copy("staff-gpg-v4.pub.asc", tmp_path)
    (tmp_path / "soon.asc").write_bytes(soon.public)
    keys = load_staff_keys(tmp_path)
    now = datetime.now(timezone.utc)
    keys.ensure_usable(now)
    keys.ensure_usable(now + 9 * DAY)  # inside the window it remembered
    with pytest.raises(StaffKeyError) as caught:
        keys.ensure_usable(now + 11 * DAY)
    assert "expired on " in caught.value.lines[0]
    with pytest.raises(StaffKeyError):
        keys.ensure_usable(now + 12 * DAY)  # a failure is never remembered as usable
    keys.ensure_usable(now + DAY)


def test_describe_lists_fingerprint_user_ids_and_expiry(tmp_path, soon):
    copy("two-keys.pub.asc", tmp_path, "a.asc")
    (tmp_path / "b.asc").write_bytes(soon.public)
    rows = describe(load_staff_keys(tmp_path))
    assert [(row.user_ids, row.expires) for row in rows] == [
        (("Safeline Staff One <one@example.org>",), "never"),
        (("Safeline Staff Two <two@example.org>",), "never"),
        (("Safeline Soon <soon@example.org>",), (datetime.now(timezone.utc) + 10 * DAY).strftime("%Y-%m-%d")),
    ]
    assert all(FPR.fullmatch(row.fingerprint) for row in rows)
    assert rows[2].fingerprint == soon.fingerprint and rows[2].path == str(tmp_path / "b.asc")


def test_development_keys_are_recognised(tmp_path):
    dev = openpgp.generate_key("Safeline Dev (Safeline development key, not for real reports) <dev@example.org>")
    (tmp_path / "dev.asc").write_bytes(dev.public)
    copy("staff-gpg-v4.pub.asc", tmp_path)
    keys = load_staff_keys(tmp_path)
    assert [is_development_key(key) for key in keys] == [True, False]
    assert [is_development_key(cert) for cert in keys.certs] == [True, False]


def test_the_relay_stops_with_the_lines_alone_and_no_backtrace(tmp_path):
    copy("sign-only.pub.asc", tmp_path)
    (tmp_path / "broken.asc").write_text("-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nAAAA\n"
                                         "-----END PGP PUBLIC KEY BLOCK-----\n")
    env = {name: value for name, value in os.environ.items() if not name.startswith("RELAY_")}
    env.update(RUST_BACKTRACE="full", RELAY_STAFF_KEYS=str(tmp_path), RELAY_OUTBOX=str(tmp_path / "outbox"))
    # Where the process starts, the problems become its exit: the heading, then one line each.
    result = subprocess.run([sys.executable, "-c", "import relay; relay.create_app()"],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    heading, *lines = result.stderr.splitlines()
    assert heading == "relay: refusing to start:"
    assert len(lines) == 2, result.stderr
    assert lines[0].startswith(f"{tmp_path / 'broken.asc'}: not an OpenPGP public key (cannot read the OpenPGP key: ")
    assert lines[1].startswith(f"{tmp_path / 'sign-only.pub.asc'}: key ")
    assert "Traceback" not in result.stderr and "backtrace" not in result.stderr.lower()


# Boundaries the docstrings promise, each at the exact instant and the microsecond around it.

TICK = timedelta(microseconds=1)


@pytest.fixture(scope="module")
def later() -> openpgp.KeyPair:
    """A key that expires in 40 days: far enough back for a "30 days left" moment."""
    return openpgp.generate_key("Safeline Later <later@example.org>", validity_seconds=40 * 86400)


def loaded(folder: Path, *pairs: openpgp.KeyPair) -> StaffKeys:
    for number, pair in enumerate(pairs):
        (folder / f"{number}.asc").write_bytes(pair.public)
    return load_staff_keys(folder)


def staff_key(name: str) -> StaffKey:
    """A fixture key as the loader would hold it, whether or not it would load."""
    cert = openpgp.parse_certs((FIXTURES / name).read_bytes())[0]
    return StaffKey(FIXTURES / name, cert, openpgp.fingerprint(cert), tuple(openpgp.user_ids(cert)))


@pytest.mark.parametrize("name, expired", [
    ("expired.pub.asc", "expired on 2020-12-31"),
    ("subkey-expired.pub.asc", "its encryption subkey expired on 2020-12-31"),
])
def test_a_key_stops_being_usable_at_its_expiry_instant(name, expired):
    # The primary key (expired.pub.asc) or its only encryption subkey (subkey-expired.pub.asc)
    # expires at 2020-12-31 00:00 UTC: usable a microsecond before, refused at that instant.
    key = staff_key(name)
    end = datetime(2020, 12, 31, tzinfo=timezone.utc)
    assert key.problems(end - TICK) == []
    [problem] = key.problems(end)
    assert problem.startswith(expired)
    assert key.usable_until(end - TICK) == end


def test_ensure_usable_refuses_at_the_instant_the_first_key_expires(tmp_path, soon):
    keys = loaded(tmp_path, soon)
    now = datetime.now(timezone.utc)
    end = keys.keys[0].usable_until(now)
    keys.ensure_usable(now)
    keys.ensure_usable(end - TICK)
    with pytest.raises(StaffKeyError) as caught:
        keys.ensure_usable(end)
    assert "expired on " in caught.value.lines[0]


def test_ensure_usable_does_not_walk_the_keys_inside_its_window(tmp_path, soon, monkeypatch):
    """One comparison per report while every key stays usable (its docstring's promise)."""
    keys = loaded(tmp_path, soon)
    now = datetime.now(timezone.utc)
    keys.ensure_usable(now)
    walks = []
    real = openpgp.encryption_keys
    monkeypatch.setattr(openpgp, "encryption_keys", lambda *args: walks.append(args) or real(*args))
    for moment in (now, now + TICK, now + DAY, now + 9 * DAY):
        keys.ensure_usable(moment)
    assert walks == []
    # Before the window (the clock was set back) it checks again: the key did not exist yet.
    with pytest.raises(StaffKeyError):
        keys.ensure_usable(now - DAY)
    assert walks


def test_describe_after_a_key_expired_still_gives_its_expiry(tmp_path, soon):
    # No encryption subkey is alive any more: the primary key's expiry still answers.
    keys = loaded(tmp_path, soon)
    end = openpgp.expiration(keys.certs[0])
    assert [row.expires for row in describe(keys, end + DAY)] == [f"{end:%Y-%m-%d}"]
    assert staff_key("subkey-expired.pub.asc").usable_until(datetime(2021, 6, 1, tzinfo=timezone.utc)) is None


@pytest.mark.parametrize("left, says", [
    (30 * DAY, "in 30 days"),
    (DAY + TICK, "in 2 days"),  # days round up: a day and a moment is not "1 day"
    (DAY, "in 1 day"),
    (DAY - TICK, "in 23 hours"),  # hours round down
    (timedelta(hours=2) - timedelta(seconds=1), "in 1 hour"),
    (timedelta(hours=1), "in 1 hour"),
    (timedelta(hours=1) - timedelta(seconds=1), "in 60 minutes"),  # minutes round up
    (timedelta(seconds=61), "in 2 minutes"),
    (timedelta(seconds=60), "in 1 minute"),
    (TICK, "in 1 minute"),  # never "0 minutes"
])
def test_the_warning_counts_what_is_left_at_each_unit_boundary(tmp_path, later, left, says):
    keys = loaded(tmp_path, later)
    end = keys.keys[0].usable_until()
    [warning] = keys.check_usable(end - left)
    assert f"({says}): extend or replace it" in warning, warning


def test_the_warning_starts_exactly_30_days_before_and_gives_the_time_within_a_day(tmp_path, later):
    keys = loaded(tmp_path, later)
    end = keys.keys[0].usable_until()
    assert keys.check_usable(end - 30 * DAY - TICK) == []
    [warning] = keys.check_usable(end - DAY)
    assert f"expires on {end:%Y-%m-%d} (in 1 day)" in warning
    [warning] = keys.check_usable(end - DAY + TICK)
    assert f"expires on {end:%Y-%m-%d %H:%M} UTC (in 23 hours)" in warning


def several_subkeys(home: Path, user_id: str, *subkeys: str, primary: str = "ed25519",
                    encryption: str = "cv25519", more_user_ids: tuple[str, ...] = (), revoked: int = 0) -> GnupgKey:
    """A GnuPG key whose primary key only certifies and signs, with one encryption subkey per
    lifetime in ``subkeys`` ("never", "10d", …), the first ``revoked`` of them revoked."""
    home.mkdir(parents=True, exist_ok=True)
    home.chmod(0o700)
    env = {**os.environ, "GNUPGHOME": str(home)}

    def gpg(*args: str, answers: str | None = None) -> bytes:
        return subprocess.run(["gpg", "--batch", "--quiet", "--pinentry-mode", "loopback", "--passphrase", "", *args],
                              env=env, check=True, capture_output=True, timeout=60,
                              input=answers.encode() if answers else None).stdout

    gpg("--quick-gen-key", user_id, primary, "cert,sign", "never")
    listing = gpg("--with-colons", "--list-keys", user_id).decode()
    fingerprint = next(line.split(":")[9] for line in listing.splitlines() if line.startswith("fpr:"))
    for lifetime in subkeys:
        gpg("--quick-add-key", fingerprint, encryption, "encr", lifetime)
    for number in range(1, revoked + 1):  # select the subkey, revoke it (reason 0, no text), save
        gpg("--command-fd", "0", "--edit-key", fingerprint, answers=f"key {number}\nrevkey\ny\n0\n\ny\nsave\n")
    for more in more_user_ids:
        gpg("--quick-add-uid", fingerprint, more)
    return GnupgKey(public=gpg("--armor", "--export", fingerprint),
                    secret=gpg("--armor", "--export-secret-keys", fingerprint), fingerprint=fingerprint)


def test_a_key_lasts_as_long_as_its_last_living_encryption_subkey(tmp_path, gnupg_home):
    # Three keys, none whose primary key expires: only the encryption subkeys end.
    folder = tmp_path / "staff-keys"
    folder.mkdir()
    never = several_subkeys(gnupg_home, "Never <never@example.org>", "10d", "never")
    (folder / "a-never.asc").write_bytes(never.public)
    (folder / "b-later.asc").write_bytes(several_subkeys(gnupg_home, "Later <later@example.org>", "10d", "40d").public)
    (folder / "c-soon.asc").write_bytes(several_subkeys(gnupg_home, "Soon <soon@example.org>", "20d", "5d").public)
    keys = load_staff_keys(folder)
    now = datetime.now(timezone.utc)
    # One subkey ending soon does not matter while another lives on.
    assert [row.expires for row in describe(keys, now)] == [
        "never", f"{now + 40 * DAY:%Y-%m-%d}", f"{now + 20 * DAY:%Y-%m-%d}"]
    [warning] = keys.warnings
    assert "Soon <soon@example.org>" in warning and "(in 20 days)" in warning
    # Once the first subkey has ended, the key is as usable as before, on the other one.
    assert [re.search(r"\(in [^)]*\)", warning)[0] for warning in keys.check_usable(now + 11 * DAY)] == [
        "(in 29 days)", "(in 9 days)"]
    with pytest.raises(StaffKeyError) as caught:
        keys.check_usable(now + 21 * DAY)
    [line] = caught.value.lines
    assert "Soon <soon@example.org>) its encryption subkey expired on " in line


def test_a_key_too_weak_for_sequoia_is_refused_with_one_clear_line(tmp_path, gnupg_home):
    # pysequoia will not even read the user IDs of an RSA-1024 key (cut off since 2014).
    folder = tmp_path / "staff-keys"
    folder.mkdir()
    weak = several_subkeys(gnupg_home, "Weak <weak@example.org>", "never", primary="rsa1024", encryption="rsa1024")
    (folder / "a-weak.asc").write_bytes(weak.public)
    shutil.copyfile(GPG_PUBLIC, folder / "b-staff.asc")
    [line] = refusal(folder).lines
    assert line == (f"{folder / 'a-weak.asc'}: key {weak.fingerprint} is refused by the OpenPGP policy:"
                    " Policy rejected asymmetric algorithm: ask its owner for a new key")
    # Its secret half, in a file without armor, is still called a secret.
    binary = tmp_path / "weak.pub"
    binary.write_bytes(dearmor(weak.secret))
    [line] = refusal(binary).lines
    assert line.startswith(f"{binary}: key {weak.fingerprint} holds SECRET key material: delete this file")


def without_user_ids(armored: bytes) -> bytes:
    """The binary packets of a key minus its user IDs and their signatures."""
    data, kept, at, in_user_id = dearmor(armored), [], 0, False
    while at < len(data):
        if data[at] & 0x40:  # new packet format
            tag, first = data[at] & 0x3F, data[at + 1]
            head, length = ((2, first) if first < 192 else (3, ((first - 192) << 8) + data[at + 2] + 192)
                            if first < 224 else (6, int.from_bytes(data[at + 2:at + 6], "big")))
        else:
            tag, size = (data[at] >> 2) & 0x0F, (1, 2, 4)[data[at] & 3]
            head, length = 1 + size, int.from_bytes(data[at + 1:at + 1 + size], "big")
        in_user_id = tag == 13 or (in_user_id and tag == 2)
        if not in_user_id:
            kept.append(data[at:at + head + length])
        at += head + length
    return b"".join(kept)


def test_problems_name_a_key_by_its_first_user_id_or_say_it_has_none(tmp_path, gnupg_home):
    folder = tmp_path / "staff-keys"
    folder.mkdir()
    two = several_subkeys(gnupg_home, "First <first@example.org>", "10d",
                          more_user_ids=("Second <second@example.org>",))
    (folder / "a-two.asc").write_bytes(two.public)
    # A v6 key carries its flags and expiry on a direct-key signature, so it stays usable without any user ID.
    bare = openpgp.generate_key("Gone <gone@example.org>", validity_seconds=10 * 86400, v6=True)
    (folder / "b-bare.pub").write_bytes(without_user_ids(bare.public))
    keys = load_staff_keys(folder)
    assert [key.user_ids for key in keys] == [("First <first@example.org>", "Second <second@example.org>"), ()]
    assert [warning.split(" expires on ")[0] for warning in keys.warnings] == [
        f"staff key {two.fingerprint} (First <first@example.org>)", f"staff key {bare.fingerprint} (no user ID)"]


def test_a_folder_reads_key_files_whatever_the_case_of_their_suffix_and_no_folders(tmp_path):
    shutil.copyfile(GPG_PUBLIC, tmp_path / "STAFF.ASC")
    (tmp_path / "old.asc").mkdir()  # a folder named like a key file is no key file
    keys = load_staff_keys(tmp_path)
    assert [key.path.name for key in keys] == ["STAFF.ASC"]
    assert keys.warnings == [f"{tmp_path / 'old.asc'}: ignored, staff keys are read from *.asc and *.pub files only"]


def test_a_folder_that_cannot_be_listed_is_refused(tmp_path, monkeypatch):
    def denied(self):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "iterdir", denied)
    assert refusal(tmp_path).lines == [f"{tmp_path}: cannot list this folder (Permission denied)"]


def test_blank_is_not_set_and_no_keys_is_never_usable(monkeypatch):
    monkeypatch.setenv("RELAY_STAFF_KEYS", "   ")
    assert refusal(None).lines[0].startswith("RELAY_STAFF_KEYS is not set")
    for keys in (StaffKeys([]), StaffKeys(())):
        with pytest.raises(StaffKeyError) as caught:
            keys.ensure_usable()
        assert caught.value.lines == ["no staff keys loaded"]


def test_a_revoked_encryption_subkey_is_refused_unless_another_lives(tmp_path, gnupg_home):
    spare = tmp_path / "spare.asc"
    spare.write_bytes(several_subkeys(gnupg_home, "Spare <spare@example.org>", "never", "never", revoked=1).public)
    assert [row.expires for row in describe(load_staff_keys(spare))] == ["never"]
    # The only one revoked; "later": revoked before its own end, so revoked, not "expired" on
    # a day still to come.
    for name, lifetime in (("only", "never"), ("later", "10d")):
        path = tmp_path / f"{name}.asc"
        user_id = f"{name.title()} <{name}@example.org>"
        key = several_subkeys(gnupg_home, user_id, lifetime, revoked=1)
        path.write_bytes(key.public)
        assert refusal(path).lines == [
            f"{path}: key {key.fingerprint} ({user_id}) its encryption subkey is revoked: cannot encrypt to it"]


def test_an_encryption_subkey_too_weak_for_sequoia_is_caught_by_the_probe_at_start(tmp_path, gnupg_home):
    # The primary key passes Sequoia's policy and the subkey's binding looks alive; only
    # encrypting to it shows that the policy refuses RSA-1024.
    weak = tmp_path / "weak.asc"
    key = several_subkeys(gnupg_home, "Weak Subkey <weak-subkey@example.org>", "never", encryption="rsa1024")
    weak.write_bytes(key.public)
    [line] = refusal(weak).lines
    assert line.startswith(f"{weak}: key {key.fingerprint} (Weak Subkey <weak-subkey@example.org>)"
                           " has no encryption key usable now (")
