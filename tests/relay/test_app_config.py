"""Starting the relay: it starts only when settings, staff keys and outbox are all sound.

Every refusal is a SystemExit whose message has one line per problem, naming the variable
or the file: what an operator reads in the service log, without a traceback.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import relay
from devtools.keys import DEV_USER_ID
from relay import openpgp
from relay.config import DEVELOPMENT_DEFAULTS, Settings
from tests.support.keys import FIXTURES
from tests.support.relay_app import SITE_ORIGIN
from tests.support.reports import submit
from tests.support.site import ROOT

PREFIX = "relay: refusing to start:"
FLASK = Path(sys.executable).with_name("flask")
REQUIRED = ["RELAY_SECRET_KEY", "RELAY_STAFF_KEYS", "RELAY_MAIL_TO", "RELAY_MAIL_FROM", "RELAY_SMTP_URL",
            "RELAY_OUTBOX", "RELAY_RATELIMIT_STORAGE", "RELAY_SITE_ORIGIN", "RELAY_PROXIES", "RELAY_CONTACT_ADDRESS"]
# What production adds to the test settings: a shared store and a stated number of proxies.
# (Nothing connects to this Redis unless a report is sent: tests that send one start a real one.)
PRODUCTION = {"RELAY_ENV": "production", "RELAY_RATELIMIT_STORAGE": "redis://127.0.0.1:6379/0", "RELAY_PROXIES": "1",
              "RELAY_CONTACT_ADDRESS": "contact@safeline.example"}


def refusal(env: dict) -> list[str]:
    """The lines of the SystemExit that ``create_app(env)`` ends with."""
    with pytest.raises(SystemExit) as caught:
        relay.create_app(env)
    message = caught.value.code
    assert isinstance(message, str), message  # printed as is, exit status 1
    lines = message.splitlines()
    return lines[1:] if lines[0] == PREFIX else lines


def named(lines: list[str]) -> list[str]:
    """The variable each line starts with."""
    return [line.split(":", 1)[0] for line in lines]


# -- settings --------------------------------------------------------------------------------

@pytest.mark.parametrize("name, value, problem", [
    ("RELAY_ENV", "staging", "must be 'development' or 'production'"),
    ("RELAY_SMTP_URL", "http://mail.example.org:25", "scheme is 'http'"),
    ("RELAY_SMTP_URL", "smtp://mail.example.org:99999", "port"),
    ("RELAY_SECRET_KEY", "too-short-secret", "too short"),
    ("RELAY_MIN_FILL_SECONDS", "soon", "must be a number"),
    ("RELAY_MIN_FILL_SECONDS", "-1", "must be from 0 to 600"),
    ("RELAY_RATELIMIT", "lots", "is not a rate limit"),
    ("RELAY_RATELIMIT_POSTS", "60 per fortnight", "is not a rate limit"),
    ("RELAY_SITE_ORIGIN", "https://safeline.example/report/", "must be scheme://host[:port]"),
    ("RELAY_SITE_ORIGIN", "safeline.example", "must be scheme://host[:port]"),
    ("RELAY_MAIL_TO", "staff", "is not an e-mail address"),
    ("RELAY_MAIL_TO", "スタッフ@example.jp", "must be written in ASCII"),
    ("RELAY_MAIL_FROM", "relay@例え.jp", "its xn-- form"),
    ("RELAY_RATELIMIT_STORAGE", "memcached://127.0.0.1", "must be memory:// or redis://"),
    ("RELAY_QUICK_EXIT_URL", "http://tenki.jp/", "must start with https://"),
    ("RELAY_CONTACT_ADDRESS", "staff at safeline", "is not an e-mail address"),
    ("RELAY_CONTACT_ADDRESS", "相談@safeline.example", "must be written in ASCII"),
    ("RELAY_STAFF_LANGUAGE", "fr", "must be one of the site's languages (ja, en), not 'fr'"),
])
def test_one_bad_setting_is_one_line_naming_it(relay_env, catalogs, name, value, problem):
    # (An unknown RELAY_ENV is judged by production's rules, which these settings pass.)
    lines = refusal({**relay_env, **PRODUCTION, "RELAY_ENV": "development", name: value})
    assert named(lines) == [name], lines
    assert problem in lines[0]


def test_every_bad_setting_is_reported_at_once(relay_env, catalogs):
    lines = refusal({
        **relay_env,
        **PRODUCTION,
        "RELAY_ENV": "staging",
        "RELAY_SMTP_URL": "http://mail.example.org:25",
        "RELAY_SECRET_KEY": "short",
        "RELAY_MIN_FILL_SECONDS": "soon",
        "RELAY_RATELIMIT": "lots",
        "RELAY_SITE_ORIGIN": "ftp://safeline.example",
    })
    assert sorted(named(lines)) == sorted(["RELAY_ENV", "RELAY_SMTP_URL", "RELAY_SECRET_KEY",
                                           "RELAY_MIN_FILL_SECONDS", "RELAY_RATELIMIT", "RELAY_SITE_ORIGIN"])
    assert all(line.strip() for line in lines)


def test_a_password_in_the_smtp_url_is_never_repeated(relay_env, catalogs):
    lines = refusal({**relay_env, "RELAY_SMTP_URL": "smtp://relay:hunter2-secret@mail.example.org:25/path"})
    assert named(lines) == ["RELAY_SMTP_URL"]
    assert "hunter2" not in "\n".join(lines)


def test_production_with_nothing_set_names_every_missing_variable(catalogs):
    lines = refusal({"RELAY_ENV": "production"})
    assert [line.split(": missing (required when RELAY_ENV=production)")[0] for line in lines] == REQUIRED
    # Where the right value is the same everywhere, the line says what to write.
    assert lines[REQUIRED.index("RELAY_PROXIES")].endswith(
        "1 behind the shipped nginx (ProxyFix then trusts the address it passes on), "
        "0 if clients reach the relay directly")
    assert "redis://127.0.0.1:6379/0" in lines[REQUIRED.index("RELAY_RATELIMIT_STORAGE")]


def test_production_needs_the_number_of_proxies_stated(relay_env, catalogs):
    """Left at 0 behind nginx, every client would be 127.0.0.1: after a few reports the whole
    site would refuse new ones.  0 is fine when written."""
    production = {**relay_env, **PRODUCTION}
    del production["RELAY_PROXIES"]
    lines = refusal(production)
    assert named(lines) == ["RELAY_PROXIES"] and "missing" in lines[0]
    assert Settings.from_env({**production, "RELAY_PROXIES": "0"}).proxies == 0
    assert Settings.from_env({**production, "RELAY_PROXIES": "1"}).proxies == 1
    assert Settings.from_env(relay_env).proxies == 0  # development: the default

def test_production_refuses_the_development_secret_and_an_http_origin(relay_env, catalogs):
    lines = refusal({**relay_env, **PRODUCTION,
                     "RELAY_SECRET_KEY": DEVELOPMENT_DEFAULTS["RELAY_SECRET_KEY"],
                     "RELAY_SITE_ORIGIN": "http://safeline.example"})
    assert lines == [
        "RELAY_SECRET_KEY: is the development default; production needs its own value",
        "RELAY_SITE_ORIGIN: must be https:// in production",
    ]


@pytest.mark.parametrize("name", ["RELAY_MAIL_TO", "RELAY_SMTP_URL", "RELAY_SITE_ORIGIN", "RELAY_CONTACT_ADDRESS"])
def test_production_refuses_each_development_default(relay_env, catalogs, name):
    lines = refusal({**relay_env, **PRODUCTION, name: DEVELOPMENT_DEFAULTS[name]})
    assert named(lines)[0] == name
    assert any("development default" in line for line in lines)


def test_production_refuses_a_development_key(relay_env, catalogs, tmp_path):
    pair = openpgp.generate_key(DEV_USER_ID)  # the user ID of ./run serve's key pair
    folder = tmp_path / "dev-keys"
    folder.mkdir()
    (folder / "staff.pub.asc").write_bytes(pair.public)
    env = {**relay_env, "RELAY_STAFF_KEYS": str(folder)}

    assert relay.create_app(env)  # fine for development
    lines = refusal({**env, **PRODUCTION})
    assert len(lines) == 1
    assert lines[0].startswith("RELAY_STAFF_KEYS:")
    assert pair.fingerprint in lines[0] and "is a development key" in lines[0]


def test_production_starts_with_sound_settings_and_adds_hsts(relay_env, catalogs, redis_server):
    app = relay.create_app({**relay_env, **PRODUCTION, "RELAY_RATELIMIT_STORAGE": redis_server.url})
    client = app.test_client()
    response = client.get("/report/")
    assert response.status_code == 200
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")
    assert submit(client, headers={"Origin": SITE_ORIGIN}).status_code == 303


# -- staff keys ------------------------------------------------------------------------------

@pytest.mark.parametrize("fixture, problem", [
    ("expired.pub.asc", "expired on"),
    ("revoked.pub.asc", "is revoked"),
    ("secret-only.sec.asc", "holds SECRET key material"),
    ("sign-only.pub.asc", "has no encryption subkey"),
    ("subkey-expired.pub.asc", "its encryption subkey expired on"),
])
def test_an_unusable_staff_key_stops_the_relay(relay_env, staff_keys, catalogs, outbox_dir, fixture, problem):
    shutil.copyfile(FIXTURES / fixture, staff_keys.folder / fixture)
    lines = refusal(relay_env)
    assert len(lines) == 1, lines
    assert lines[0].startswith(str(staff_keys.folder / fixture) + ":")
    assert problem in lines[0]
    assert not outbox_dir.exists()  # refused before anything was made


def test_a_missing_key_file_is_named(relay_env, tmp_path, catalogs):
    missing = tmp_path / "nowhere" / "staff.asc"
    lines = refusal({**relay_env, "RELAY_STAFF_KEYS": str(missing)})
    assert lines == [f"{missing}: no such file or folder (RELAY_STAFF_KEYS)"]


def test_a_refusal_in_a_real_process_is_one_message_and_exit_status_1(relay_env, tmp_path, catalogs):
    keys = tmp_path / "expired-only"
    keys.mkdir()
    shutil.copyfile(FIXTURES / "expired.pub.asc", keys / "expired.pub.asc")
    env = {name: value for name, value in os.environ.items() if not name.startswith("RELAY_")}
    env.update(relay_env, RELAY_STAFF_KEYS=str(keys), PYTHONPATH=str(ROOT), RUST_BACKTRACE="1")
    result = subprocess.run([sys.executable, "-c", "import relay; relay.create_app()"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout
    assert f"{keys / 'expired.pub.asc'}: key " in result.stderr
    assert re.search(r"expired on \d{4}-\d\d-\d\d", result.stderr)
    assert result.stderr.strip().splitlines()[0] == PREFIX  # as for any setting
    assert result.stderr.strip().count("\n") == 1  # then one problem, one line


# -- the outbox ------------------------------------------------------------------------------

def test_an_outbox_that_is_a_file_stops_the_relay(relay_env, tmp_path, catalogs):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the outbox should be\n")
    lines = refusal({**relay_env, "RELAY_OUTBOX": str(blocker)})
    assert len(lines) == 1
    assert lines[0].startswith("RELAY_OUTBOX:") and str(blocker) in lines[0]
    assert blocker.read_text() == "a file where the outbox should be\n"


def test_an_outbox_under_a_file_stops_the_relay(relay_env, tmp_path, catalogs):
    blocker = tmp_path / "file"
    blocker.write_text("")
    lines = refusal({**relay_env, "RELAY_OUTBOX": str(blocker / "outbox")})
    assert named(lines) == ["RELAY_OUTBOX"]


def test_the_outbox_is_made_private_at_start(app, outbox_dir):
    app()
    assert outbox_dir.is_dir()
    assert outbox_dir.stat().st_mode & 0o777 == 0o700
    assert [path.name for path in outbox_dir.iterdir()] == ["tmp"]  # the probe left nothing


# -- the command line ------------------------------------------------------------------------

def flask(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    """``flask --app relay …`` as an operator runs it, in a process of its own."""
    clean = {name: value for name, value in os.environ.items() if not name.startswith("RELAY_")}
    return subprocess.run([str(FLASK), "--app", "relay", *args], cwd=ROOT, env={**clean, **env},
                          capture_output=True, text=True, timeout=60)


def test_flask_keys_lists_every_staff_key(relay_env, staff_keys):
    result = flask("keys", env=relay_env)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    for name, fingerprint in staff_keys.fingerprints.items():
        row = next(line for line in lines if line.startswith(fingerprint))
        assert re.match(rf"^{fingerprint}  expires never  {re.escape(str(staff_keys.folder))}/\S+\.asc$", row), row
        assert f"    {staff_keys.user_ids[name]}" in lines[lines.index(row) + 1:]
    assert len([line for line in lines if re.match(r"^[0-9A-F]{40}  ", line)]) == 2


def test_flask_keys_shows_when_a_key_expires(relay_env, tmp_path):
    pair = openpgp.generate_key("Short Lived <short@safeline.example>", validity_seconds=90 * 24 * 3600)
    folder = tmp_path / "short"
    folder.mkdir()
    (folder / "short.asc").write_bytes(pair.public)
    result = flask("keys", env={**relay_env, "RELAY_STAFF_KEYS": str(folder)})
    assert result.returncode == 0, result.stderr
    assert re.search(rf"^{pair.fingerprint}  expires \d{{4}}-\d\d-\d\d  ", result.stdout, re.M)
    assert "Short Lived <short@safeline.example>" in result.stdout


def test_flask_keys_names_the_key_that_keeps_the_relay_from_starting(relay_env, staff_keys):
    """It needs no app: with an expired key, the relay cannot start, but this still answers."""
    shutil.copyfile(FIXTURES / "expired.pub.asc", staff_keys.folder / "c-expired.asc")
    result = flask("keys", env={**relay_env, "RELAY_SECRET_KEY": "short"})  # a broken setting too
    assert result.returncode == 1
    assert result.stderr.splitlines()[0] == "relay keys: the relay cannot use these keys:"
    [line] = result.stderr.splitlines()[1:]
    assert line.startswith(f"{staff_keys.folder / 'c-expired.asc'}: key ") and "expired on 2020-12-31" in line


def test_production_refuses_memory_limits_even_with_one_worker(relay_env, catalogs):
    """gunicorn recycles a worker after max_requests: memory:// would forget the limits and
    the spent form tokens with it, and a spent token could then send a second report."""
    production = {**relay_env, **PRODUCTION}
    for storage in ("memory://", None):
        env = {**production, "RELAY_RATELIMIT_STORAGE": storage} if storage else {
            name: value for name, value in production.items() if name != "RELAY_RATELIMIT_STORAGE"}
        lines = refusal(env)
        assert named(lines) == ["RELAY_RATELIMIT_STORAGE"], lines
        assert "redis://127.0.0.1:6379/0" in lines[0]
    assert "refused in production" in refusal({**production, "RELAY_RATELIMIT_STORAGE": "memory://"})[0]
    assert Settings.from_env(production).production
    assert Settings.from_env(relay_env).ratelimit_storage == "memory://"  # development keeps it


def test_gunicorn_in_production_refuses_memory_limits(relay_env, catalogs, tmp_path):
    env = {name: value for name, value in os.environ.items() if not name.startswith("RELAY_")}
    env.update({**relay_env, **PRODUCTION, "RELAY_RATELIMIT_STORAGE": "memory://", "RELAY_WORKERS": "1",
                "RELAY_BIND": "127.0.0.1:9"})  # never bound: the preloaded app refuses first
    result = subprocess.run([sys.executable, "-m", "gunicorn", "-c", str(ROOT / "deploy" / "gunicorn.conf.py")],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "RELAY_RATELIMIT_STORAGE: memory:// is refused in production" in output
    assert "Traceback" not in output
