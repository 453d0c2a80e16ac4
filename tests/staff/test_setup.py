"""``safeline-staff init`` and opening the store: the store's key, encrypted to the staff
member's own key, is all it takes; and init never writes over an existing kit."""

from __future__ import annotations

import json

import pytest

from staff.home import Config, Home
from staff.openpgp import PASSPHRASE_ENV, GnuPGIdentity, addressed_to
from staff.problems import StaffError
from staff.setup import init, open_store
from tests.support.staffkit import staff_cli


def test_init_makes_the_folder(staff_home, staff_gnupg):
    assert sorted(path.name for path in staff_home.folder.iterdir()) == ["cases.sqlite3", "config.json",
                                                                       "store-key.asc"]
    config = staff_home.config()
    assert config.key == staff_gnupg.fingerprint and config.gnupg_home == str(staff_gnupg.home)
    sealed = staff_home.store_key_file.read_bytes()
    assert sealed.startswith(b"-----BEGIN PGP MESSAGE-----")
    identity = GnuPGIdentity(staff_gnupg.fingerprint, gnupg_home=staff_gnupg.home)
    assert addressed_to(sealed)[0] in identity.key_ids and len(addressed_to(sealed)) == 1
    with open_store(staff_home) as store:
        assert store.count() == 0


def test_init_never_writes_over_a_kit(staff_home, staff_gnupg):
    before = staff_home.store_key_file.read_bytes()
    with pytest.raises(StaffError, match="exists already"):
        init(staff_home, Config(key=staff_gnupg.fingerprint, gnupg_home=str(staff_gnupg.home)))
    assert staff_home.store_key_file.read_bytes() == before


def test_a_failed_init_leaves_nothing(tmp_path, staff_gnupg):
    home = Home(tmp_path / "home")
    with pytest.raises(StaffError, match="no secret key"):
        init(home, Config(key=staff_gnupg.other_fingerprint, gnupg_home=str(staff_gnupg.home)))
    assert not home.folder.exists() or list(home.folder.iterdir()) == []


def test_the_cli_init_then_again(tmp_path, staff_gnupg):
    home = tmp_path / "kit"
    made = staff_cli("--home", str(home), "init", "--key", staff_gnupg.fingerprint,
                     "--gnupg-home", str(staff_gnupg.home))
    assert made.returncode == 0, made.stderr
    assert made.stdout.startswith(f"made {home}:") and made.stderr == ""
    again = staff_cli("--home", str(home), "init", "--key", staff_gnupg.fingerprint,
                      "--gnupg-home", str(staff_gnupg.home))
    assert again.returncode == 1
    assert again.stderr.count("\n") == 1 and "exists already" in again.stderr
    both = staff_cli("--home", str(home), "init", "--key", "X", "--key-file", "Y")
    assert both.returncode == 2  # argparse: one of the two


def test_init_with_a_locked_gnupg_key_by_loopback(tmp_path, staff_gnupg):
    home = tmp_path / "kit"
    made = staff_cli("--home", str(home), "init", "--key", staff_gnupg.locked_fingerprint,
                     "--gnupg-home", str(staff_gnupg.locked_home), env={PASSPHRASE_ENV: staff_gnupg.passphrase})
    assert made.returncode == 0, made.stderr
    assert staff_gnupg.passphrase not in (home / "config.json").read_text()
    with open_store(Home(home), passphrase=staff_gnupg.passphrase) as store:
        assert store.count() == 0
    with pytest.raises(StaffError) as raised:
        open_store(Home(home), passphrase="wrong")
    assert "wrong passphrase" in str(raised.value) and "\n" not in str(raised.value)


def test_init_with_a_key_file(tmp_path, staff_gnupg):
    key_file = tmp_path / "secret.asc"
    key_file.write_bytes(staff_gnupg.locked_secret)
    home = tmp_path / "kit"
    made = staff_cli("--home", str(home), "init", "--key-file", str(key_file),
                     env={PASSPHRASE_ENV: staff_gnupg.passphrase})
    assert made.returncode == 0, made.stderr
    config = json.loads((home / "config.json").read_text())
    assert config["key_file"] == str(key_file) and config["key"] is None
    with open_store(Home(home), passphrase=staff_gnupg.passphrase) as store:
        assert store.count() == 0
    # The same key in GnuPG opens it too: one key, whichever way it is kept.
    gnupg = GnuPGIdentity(staff_gnupg.locked_fingerprint, gnupg_home=staff_gnupg.locked_home,
                          passphrase=staff_gnupg.passphrase)
    with open_store(Home(home), identity=gnupg) as store:
        assert store.count() == 0
    for sub in ("cur", "new", "tmp"):
        (tmp_path / "Maildir" / sub).mkdir(parents=True)
    wrong = staff_cli("--home", str(home), "import", "--maildir", str(tmp_path / "Maildir"),
                      env={PASSPHRASE_ENV: "wrong"})
    assert wrong.returncode == 1 and wrong.stderr.count("\n") == 1 and "wrong passphrase" in wrong.stderr


def test_a_store_key_for_another_key(staff_home, staff_gnupg):
    from relay import openpgp

    staff_home.store_key_file.write_bytes(openpgp.encrypt(b"x", openpgp.parse_certs(staff_gnupg.other_public)))
    with pytest.raises(StaffError, match="not encrypted to your key"):
        open_store(staff_home)


@pytest.mark.parametrize("content", [b"garbage", b"safeline-staff store key 1\nnot hex\n",
                                     b"safeline-staff store key 1\n" + b"ab" * 16 + b"\n"])
def test_a_damaged_store_key(staff_home, staff_gnupg, content):
    identity = GnuPGIdentity(staff_gnupg.fingerprint, gnupg_home=staff_gnupg.home)
    staff_home.store_key_file.write_bytes(content if content == b"garbage" else identity.encrypt_to_self(content))
    with pytest.raises(StaffError) as raised:
        open_store(staff_home)
    assert "store-key.asc" in str(raised.value)


def test_no_kit_yet(tmp_path):
    result = staff_cli("--home", str(tmp_path / "none"), "import", "--imap", "imaps://u@127.0.0.1/INBOX")
    assert result.returncode == 1 and "safeline-staff init" in result.stderr and result.stderr.count("\n") == 1


def test_settings_have_defaults_and_bounds(tmp_path):
    home = Home(tmp_path)
    home.save_config(Config(key="A" * 40))
    home.store_key_file.write_text("sealed")
    config = home.config()
    assert (config.recheck_days, config.retention_days, config.stats_threshold) == (7, 365, 5)
    # An older config.json, written before the settings existed, reads with their defaults.
    home.config_file.write_text(json.dumps({"key": "A" * 40}), encoding="utf-8")
    assert home.config().recheck_days == 7
    for name, value in (("recheck_days", 0), ("retention_days", "365"), ("stats_threshold", True),
                        ("recheck_days", 366)):
        home.config_file.write_text(json.dumps({"key": "A" * 40, name: value}), encoding="utf-8")
        with pytest.raises(StaffError, match=rf'config\.json: .*"{name}" must be a whole number from'):
            home.config()
    home.config_file.write_text(json.dumps({"key": "A" * 40, "staff_keys": 3}), encoding="utf-8")
    with pytest.raises(StaffError, match='"staff_keys" must be a text'):
        home.config()
    home.config_file.write_text("[1]", encoding="utf-8")
    with pytest.raises(StaffError, match="not a JSON object"):
        home.config()
