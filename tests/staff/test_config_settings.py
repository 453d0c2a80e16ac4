"""`safeline-staff settings` and init's team options (staff/setup.py), and the `imap_ca` setting
used by import and sync against a real Dovecot with its own authority."""

from __future__ import annotations

import json

import pytest

from devtools.ports import HOST
from staff.home import Config, Home
from staff.imap import KEYRING_SERVICE
from staff.setup import SETTINGS, init
from tests.support.staff_keyring import keyring_env
from tests.support.staff_team import key_folder
from tests.support.staffkit import staff_cli


def settings(home: Home, *args: str, env: dict | None = None):
    return staff_cli("--home", str(home.folder), "settings", *args, env=env)


def one_line_error(done, *words: str) -> str:
    assert (done.returncode, done.stdout) == (1, ""), done
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("safeline-staff: ")
    for word in words:
        assert word in done.stderr, (word, done.stderr)
    return done.stderr


def test_settings_shows_every_setting_and_no_secret(staff_home, staff_gnupg):
    done = settings(staff_home)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert [line.split(" = ")[0] for line in lines] == list(SETTINGS)
    shown = dict(line.split(" = ", 1) for line in lines)
    assert shown["key"] == staff_gnupg.fingerprint and shown["recheck_days"] == "7"
    assert shown["imap_ca"] == shown["staff_keys"] == shown["events"] == "(not set)"
    assert settings(staff_home, "retention_days").stdout == "retention_days = 365\n"
    # A password in a hand-edited config.json is never shown.
    data = json.loads(staff_home.config_file.read_text())
    data["imap"] = "imaps://staff:Hunter2Secret@mail.example.jp/INBOX"
    staff_home.config_file.write_text(json.dumps(data))
    done = settings(staff_home)
    assert "Hunter2Secret" not in done.stdout + done.stderr
    assert "imap = imaps://staff:***@mail.example.jp/INBOX" in done.stdout


def test_a_number_is_set_within_its_bounds(staff_home):
    done = settings(staff_home, "recheck_days", "14")
    assert (done.returncode, done.stdout, done.stderr) == (0, "recheck_days = 14 (was 7)\n", "")
    assert staff_home.config().recheck_days == 14
    for value in ("0", "366", "two", "1.5", ""):
        error = one_line_error(settings(staff_home, "recheck_days", value), '"recheck_days"', "1 to 365",
                               "nothing changed")
        assert value not in ("", "two") or "whole number" in error
    one_line_error(settings(staff_home, "stats_threshold", "101"), '"stats_threshold"', "1 to 100")
    one_line_error(settings(staff_home, "retention_days", "29"), '"retention_days"', "30 to 3650")
    assert staff_home.config().recheck_days == 14


def test_what_cannot_be_set_is_said_in_one_line(staff_home, staff_gnupg, tmp_path):
    before = staff_home.config_file.read_text()
    one_line_error(settings(staff_home, "colour", "blue"), "no setting 'colour'", "recheck_days")
    one_line_error(settings(staff_home, "key", staff_gnupg.locked_fingerprint), "set by `safeline-staff init`")
    one_line_error(settings(staff_home, "staff_keys", str(tmp_path / "nowhere")), '"staff_keys"', "no such file")
    secret = key_folder(tmp_path / "secret", {"a.asc": staff_gnupg.secret})
    one_line_error(settings(staff_home, "staff_keys", str(secret)), "SECRET", str(secret / "a.asc"))
    one_line_error(settings(staff_home, "events", "imaps://staff@mail.example.jp/INBOX"), "not INBOX")
    one_line_error(settings(staff_home, "imap", "imaps://staff:pw@mail.example.jp/INBOX"), "password")
    not_pem = tmp_path / "ca.pem"
    not_pem.write_text("not a certificate")
    one_line_error(settings(staff_home, "imap_ca", str(not_pem)), '"imap_ca"', "PEM")
    one_line_error(settings(staff_home, "rdap_bootstrap", "ftp://example.org/"), '"rdap_bootstrap"', "https://")
    assert staff_home.config_file.read_text() == before


def test_texts_are_kept_checked_and_unset_with_an_empty_value(staff_home, staff_gnupg, tmp_path, monkeypatch,
                                                              certificate):
    from staff.setup import set_setting

    keys = key_folder(tmp_path / "keys", {"a.asc": staff_gnupg.public})
    assert settings(staff_home, "staff_keys", str(keys)).stdout == f"staff_keys = {keys} (was (not set))\n"
    monkeypatch.chdir(tmp_path)  # a relative path is kept absolute
    assert set_setting(staff_home.config(), "events", "team-events").events == str(tmp_path / "team-events")
    assert set_setting(staff_home.config(), "staff_keys", "keys").staff_keys == str(keys)
    assert settings(staff_home, "events", str(tmp_path / "team-events")).returncode == 0
    assert settings(staff_home, "imap_ca", str(certificate[0])).returncode == 0
    assert settings(staff_home, "rdap_bootstrap", "http://127.0.0.1:8080/rdap").returncode == 0
    config = staff_home.config()
    assert (config.staff_keys, config.events, config.imap_ca) == (str(keys), str(tmp_path / "team-events"),
                                                                  str(certificate[0]))
    assert config.rdap_bootstrap == "http://127.0.0.1:8080/rdap/"
    assert settings(staff_home, "events", "").stdout.startswith("events = (not set) (was ")
    assert settings(staff_home, "rdap_bootstrap", "").returncode == 0
    config = staff_home.config()
    assert config.events is None and config.rdap_bootstrap == Config().rdap_bootstrap


def test_init_takes_the_team_settings_and_checks_them_first(tmp_path, staff_gnupg, certificate):
    keys = key_folder(tmp_path / "keys", {"a.asc": staff_gnupg.public})
    kit = tmp_path / "kit"
    base = ["--home", str(kit), "init", "--key", staff_gnupg.fingerprint, "--gnupg-home", str(staff_gnupg.home)]
    wrong = staff_cli(*base, "--staff-keys", str(tmp_path / "nowhere"), "--events", "imaps://u@h.example/Events")
    one_line_error(wrong, '"staff_keys"')
    assert not kit.exists()
    wrong = staff_cli(*base, "--staff-keys", str(keys), "--events", "imaps://u@h.example/INBOX")
    one_line_error(wrong, "not INBOX")
    assert not kit.exists()
    made = staff_cli(*base, "--staff-keys", str(keys), "--events", "imaps://u@h.example/Events",
                     "--imap-ca", str(certificate[0]))
    assert made.returncode == 0, made.stderr
    config = Home(kit).config()
    assert (config.staff_keys, config.events, config.imap_ca) == (str(keys), "imaps://u@h.example/Events",
                                                                  str(certificate[0]))


def test_an_old_config_without_imap_ca_still_reads(staff_home):
    data = json.loads(staff_home.config_file.read_text())
    data.pop("imap_ca", None)
    staff_home.config_file.write_text(json.dumps(data))
    assert staff_home.config().imap_ca is None
    data["imap_ca"] = 5
    staff_home.config_file.write_text(json.dumps(data))
    with pytest.raises(Exception, match='"imap_ca" must be a text'):
        staff_home.config()


def test_import_and_sync_trust_the_imap_ca_setting(tmp_path, staff_gnupg, imap_account, certificate):
    home = Home(tmp_path / "kit")
    config = Config(key=staff_gnupg.fingerprint, gnupg_home=str(staff_gnupg.home), imap=f"{imap_account.url}/INBOX",
                    staff_keys=str(key_folder(tmp_path / "keys", {"a.asc": staff_gnupg.public})),
                    events=f"{imap_account.url}/Safeline-Events")
    init(home, config)
    env = keyring_env([(KEYRING_SERVICE, f"{imap_account.user}@{HOST}", imap_account.password)])
    # Without it, the server's own authority is not trusted: one line each.
    for command in (["import", "--no-progress"], ["sync"]):
        done = staff_cli("--home", str(home.folder), *command, env=env)
        assert done.returncode == 1 and done.stderr.count("\n") == 1, (command, done)
    assert settings(home, "imap_ca", str(certificate[0])).returncode == 0
    done = staff_cli("--home", str(home.folder), "import", "--no-progress", env=env)
    assert done.returncode == 0, done.stderr
    done = staff_cli("--home", str(home.folder), "sync", env=env)
    assert (done.returncode, done.stdout) == (0, "sent 0; received 0 (applied 0, already known 0); ignored 0\n")
