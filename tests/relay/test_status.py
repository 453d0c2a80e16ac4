"""``flask --app relay status``: each line and metric, and when it says a person is needed.

Real parts only: reports the real relay sealed into a real outbox, the real delivery worker
handing them to aiosmtpd and then to the same server refusing them (its state file filled by
that), Debian's redis-server up, down and frozen, keys GnuPG made to expire in seconds or days,
a publisher's site root laid out as the publisher lays it.  Most runs are the click command
in this process (``status``: the command, its exit status, its output); a few are the real
``flask --app relay …`` process (``flask``), where a traceback would show.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner
from prometheus_client.parser import text_string_to_metric_families

from relay.cli import status_command
from relay.delivery import DeliveryState
from tests.support.flask_commands import command_env
from tests.support.gnupg import make_key
from tests.support.keys import FIXTURES, GENERATED_USER_ID, GPG_PUBLIC, GPG_USER_ID
from tests.support.redis_server import RedisServer
from tests.support.relay_app import (RELAY_CONTACT_ADDRESS, RELAY_MAIL_FROM, RELAY_MAIL_TO, SECRET_KEY,
                                     outbox_files)
from tests.support.reports import submit
from tests.support.site import ROOT

FLASK = Path(sys.executable).with_name("flask")
# What a reporter typed: none of it may reach the status, its metrics or the state file.
TYPED = {"email": "status.hanako@example.jp", "urls": "https://status-leak.example.com/p/31",
         "description": "状態表示に出てはいけない説明文です。"}
REDIS_PASSWORD = "status-redis-password-7c1e"
COMMIT = "3f" * 20


def never_shown() -> list[str]:
    """What must never appear in status output or the state file: the report, every address,
    the staff keys' user IDs, the relay's secret and Redis's password."""
    return [*TYPED.values(), "status-leak.example.com", RELAY_MAIL_TO, RELAY_MAIL_FROM, RELAY_CONTACT_ADDRESS,
            GPG_USER_ID, GENERATED_USER_ID, "staff@example.org", "generated@safeline.example", SECRET_KEY,
            REDIS_PASSWORD, "@"]


def assert_nothing_private(*texts: str) -> None:
    for text in texts:
        for secret in never_shown():
            assert secret not in text, (secret, text)


@pytest.fixture(autouse=True)
def no_outside_settings(monkeypatch):
    """The command reads the process environment: only what each test gives it counts."""
    for name in list(os.environ):
        if name.startswith("RELAY_") or name in ("SAFELINE_SITE_ROOT", "FLASK_APP"):
            monkeypatch.delenv(name)


@pytest.fixture
def env(relay_env, tmp_path) -> dict[str, str]:
    """The test relay's settings, with the delivery state and the site root in this test's folder."""
    return {**relay_env, "RELAY_DELIVERY_STATE": str(tmp_path / "delivery" / "state.json"),
            "SAFELINE_SITE_ROOT": str(tmp_path / "site")}


def status(env: dict[str, str], *args: str) -> tuple[int, str]:
    """The status command in this process with ``env``: (exit status, what it printed)."""
    result = CliRunner().invoke(status_command, list(args), env=env, catch_exceptions=False)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stdout


def flask(env: dict[str, str], tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    """``flask --app relay ARGS`` as systemd runs it, in its own process."""
    whole = {name: value for name, value in os.environ.items() if not name.startswith(("RELAY_", "FLASK_"))}
    whole.update(env, PYTHONPATH=command_env(tmp_path))
    return subprocess.run([str(FLASK), "--app", "relay", *args], cwd=ROOT, env=whole, capture_output=True,
                          text=True, timeout=60)


def lines(screen: str, topic: str) -> list[str]:
    """The lines of ``topic``, each with its mark ("!" or " ") first."""
    return [line for line in screen.splitlines() if line[2:].startswith(f"{topic:<10} ")]


def flagged(screen: str) -> list[str]:
    return [line for line in screen.splitlines()[1:-1] if line.startswith("!")]


def metrics(text: str) -> dict[str, list[tuple[dict, float]]]:
    """The metrics as Prometheus's own parser reads them: name → [(labels, value)]."""
    found = {}
    for family in text_string_to_metric_families(text):
        assert family.name.startswith("safeline_") and family.type == "gauge" and family.documentation
        found[family.name] = [(sample.labels, sample.value) for sample in family.samples]
    return found


def value(found: dict, name: str, **labels) -> float:
    [(_, number)] = [(got, number) for got, number in found[name] if got == labels]
    return number


def publish(root: Path, *, built: datetime, commit: str = COMMIT, subject: str = "Opening hours for the holidays",
            **more):
    """A release as the publisher lays it out: releases/<commit>-<time>/{output/, release.json},
    and ``current`` switched to it by renaming a new symlink over the old."""
    name = f"{commit}-{built:%Y%m%dT%H%M%SZ}"
    release = root / "releases" / name
    (release / "output").mkdir(parents=True)
    (release / "release.json").write_text(json.dumps({
        "commit": commit, "subject": subject, "committed": built.isoformat(),
        "built": built.strftime("%Y-%m-%dT%H:%M:%SZ"), "seconds": 4.2, **more}), encoding="utf-8")
    link = root / "current.new"
    link.symlink_to(Path("releases") / name)
    os.replace(link, root / "current")
    return release


def now() -> datetime:
    return datetime.now(timezone.utc)


# -- everything well, every line and metric ---------------------------------------------------

def test_every_line_and_metric_with_reports_waiting_redis_up_and_a_fresh_release(app, env, tmp_path, mail_server,
                                                                                 staff_keys):
    redis = RedisServer(tmp_path / "redis", password=REDIS_PASSWORD).start()
    try:
        env.update(RELAY_RATELIMIT_STORAGE=redis.url, RELAY_RATELIMIT_SITE="60 per hour;500 per day")
        client = app(RELAY_RATELIMIT_STORAGE=redis.url, RELAY_RATELIMIT_SITE="60 per hour;500 per day").test_client()
        assert submit(client, **TYPED).status_code == 303
        delivered = flask(env, tmp_path, "deliver", "--once")  # the worker's own command records its state
        assert delivered.returncode == 0 and "sent 1," in delivered.stdout, delivered.stderr
        # The state's folder, made by the worker at its first record: the worker's own, 0700.
        assert stat.S_IMODE(Path(env["RELAY_DELIVERY_STATE"]).parent.stat().st_mode) == 0o700
        for _ in range(2):
            assert submit(client, **TYPED).status_code == 303
        waiting = outbox_files(Path(env["RELAY_OUTBOX"]))
        os.utime(waiting[0], (time.time() - 125, time.time() - 125))
        publish(Path(env["SAFELINE_SITE_ROOT"]), built=now() - timedelta(hours=3))

        done = flask(env, tmp_path, "status")
        exposition = flask(env, tmp_path, "status", "--prometheus")
    finally:
        redis.stop()
    assert done.returncode == 0 and not done.stderr, done
    screen = done.stdout
    assert screen.startswith("safeline status at ") and screen.endswith("  nothing needs a person\n")
    assert not flagged(screen)
    assert lines(screen, "settings") == ["  settings   sound (development)"]
    [outbox] = lines(screen, "outbox")
    size = sum(path.stat().st_size for path in waiting)
    assert outbox == f"  outbox     2 waiting ({size / 1024:.1f} KB), the oldest for 2 min", outbox
    assert re.fullmatch(r"  delivery   last sent \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC \(\d+ s ago\)",
                        lines(screen, "delivery")[0]), screen
    assert lines(screen, "delivery")[1] == "  delivery   no delivery error recorded"
    assert sorted(lines(screen, "staff key")) == sorted(
        f"  staff key  {fingerprint} never expires" for fingerprint in staff_keys.fingerprints.values())
    assert lines(screen, "redis") == [f"  redis      answers at 127.0.0.1:{redis.port}"]
    assert lines(screen, "ceiling") == ["  ceiling    3 of 60 per hour, 3 of 500 per day: accepting"]
    [published] = lines(screen, "published")
    assert re.fullmatch(rf'  published  {COMMIT[:12]} "Opening hours for the holidays" built .* \(3 hours ago\)',
                        published), published
    assert len(screen.splitlines()) <= 24  # one screen

    assert exposition.returncode == 0 and not exposition.stderr
    found = metrics(exposition.stdout)
    assert value(found, "safeline_status_needs_person") == 0
    assert value(found, "safeline_settings_problems") == 0
    assert value(found, "safeline_outbox_waiting") == 2
    assert value(found, "safeline_outbox_bytes") == sum(path.stat().st_size for path in waiting)
    assert 125 <= value(found, "safeline_outbox_oldest_seconds") < 185
    state = json.loads(Path(env["RELAY_DELIVERY_STATE"]).read_text())
    assert value(found, "safeline_last_delivery_timestamp_seconds") == state["last_delivery"]["timestamp"]
    assert "safeline_last_delivery_error_timestamp_seconds" not in found  # none yet: absent, not 0
    for fingerprint in staff_keys.fingerprints.values():
        assert value(found, "safeline_staff_key_expiry_timestamp_seconds", fingerprint=fingerprint) == float("inf")
        assert value(found, "safeline_staff_key_usable", fingerprint=fingerprint) == 1
    assert value(found, "safeline_redis_up") == 1
    assert value(found, "safeline_site_ceiling_used", window_seconds="3600") == 3
    assert value(found, "safeline_site_ceiling_limit", window_seconds="3600") == 60
    assert value(found, "safeline_site_ceiling_used", window_seconds="86400") == 3
    assert value(found, "safeline_site_ceiling_limit", window_seconds="86400") == 500
    assert value(found, "safeline_site_ceiling_refusing") == 0
    assert abs(value(found, "safeline_published_timestamp_seconds") - (now() - timedelta(hours=3)).timestamp()) < 60
    assert value(found, "safeline_published_info", commit=COMMIT) == 1
    assert abs(value(found, "safeline_status_timestamp_seconds") - time.time()) < 60
    # Every family has its HELP and TYPE before its samples (node_exporter refuses a file without).
    names = [line.split()[0] for line in exposition.stdout.splitlines() if not line.startswith("#")]
    for name in set(names):
        bare = name.split("{")[0]
        text = exposition.stdout
        assert text.index(f"# HELP {bare} ") < text.index(f"# TYPE {bare} gauge") < text.index(f"\n{bare}")
    assert_nothing_private(screen, exposition.stdout, Path(env["RELAY_DELIVERY_STATE"]).read_text())


# -- the delivery worker's state file, filled by real deliveries -------------------------------

def test_a_delivery_then_a_refusal_fill_the_state_file_and_the_refusal_needs_a_person(client, env, tmp_path,
                                                                                      mail_server):
    assert submit(client, **TYPED).status_code == 303
    sent = flask(env, tmp_path, "deliver", "--once")
    assert sent.returncode == 0 and "sent 1," in sent.stdout, sent.stderr
    state_file = Path(env["RELAY_DELIVERY_STATE"])
    first = json.loads(state_file.read_text())
    name = re.search(r"relay\.delivery: (\S+\.eml) sent size=", sent.stderr)[1]  # as the log names it
    assert first == {"last_delivery": {"at": first["last_delivery"]["at"], "timestamp": first["last_delivery"][
        "timestamp"], "message": name}}
    assert abs(datetime.fromisoformat(first["last_delivery"]["at"]).timestamp() - time.time()) < 60
    code, screen = status(env)
    assert code == 0 and lines(screen, "delivery")[1] == "  delivery   no delivery error recorded"

    # The server now refuses: its reply quotes an address, which neither the log nor the state keep.
    mail_server.fail_with = f"550 5.7.1 <{RELAY_MAIL_TO}> mailbox refused"
    assert submit(client, **TYPED).status_code == 303
    refused = flask(env, tmp_path, "deliver", "--once")
    assert refused.returncode == 0 and "refused 1," in refused.stdout
    state = json.loads(state_file.read_text())
    assert state["last_delivery"] == first["last_delivery"]  # kept
    error = state["last_error"]
    assert error["level"] == "error"
    assert re.fullmatch(r"\S+\.eml refused \(server answered 550 5\.7\.1 to DATA\), kept; size=\d+ ms=\d+ "
                        r"attempt=1 retry_in=600s", error["line"]), error
    logged = [line for line in refused.stderr.splitlines() if " ERROR relay.delivery: " in line]
    assert [line.split(" ERROR relay.delivery: ", 1)[1] for line in logged] == [error["line"]]  # as logged

    code, screen = status(env)
    assert code == 1
    [last_sent, last_error] = lines(screen, "delivery")
    assert last_sent.startswith("  delivery   last sent ")
    assert last_error.startswith("! delivery   last error ") and last_error.endswith(
        f"ERROR: {error['line']} (none delivered since)")
    assert flagged(screen) == [last_error] and screen.endswith("! needs a person: 1 line marked !\n")
    found = metrics(status(env, "--prometheus")[1])
    assert value(found, "safeline_last_delivery_error_timestamp_seconds") == error["timestamp"]
    assert value(found, "safeline_status_needs_person") == 1
    assert_nothing_private(screen, state_file.read_text(), refused.stderr)

    # Mended: the waiting report goes out, and the old error is history, shown but not marked.
    mail_server.fail_with = None
    assert flask(env, tmp_path, "deliver", "--once").returncode == 0
    code, screen = status(env)
    assert code == 0 and lines(screen, "delivery")[1].startswith("  delivery   last error ")
    # A deferral newer than the last delivery is left to the outbox's 30 minutes: retries mend it.
    mail_server.fail_with = "451 4.3.0 try again later"
    assert submit(client, **TYPED).status_code == 303
    assert "deferred 1," in flask(env, tmp_path, "deliver", "--once").stdout
    code, screen = status(env)
    assert code == 0, screen
    assert re.search(r"WARNING: \S+ deferred \(server answered 451 4\.3\.0 to DATA\)", lines(screen, "delivery")[1])
    assert_nothing_private(screen, state_file.read_text())


@pytest.mark.parametrize("garbage", [b"{\"last_delivery\": {\"at\": ", b"\x00\xff not json", b"[1, 2]",
                                     b'{"last_delivery": "yesterday", "last_error": {"timestamp": "soon"}}'])
def test_a_broken_state_file_is_a_line_not_a_traceback(env, tmp_path, garbage):
    state_file = Path(env["RELAY_DELIVERY_STATE"])
    state_file.parent.mkdir()
    state_file.write_bytes(garbage)
    done = flask(env, tmp_path, "status")
    assert done.returncode == 0 and "Traceback" not in done.stderr and not done.stderr, done
    shown = " ".join(lines(done.stdout, "delivery"))
    assert ("cannot be used (not JSON)" in shown or "cannot be used (not a JSON object)" in shown
            or "nothing sent since the state file was made" in shown), done.stdout
    # The worker writes a whole new file over it at its next record.
    DeliveryState(state_file).failed("x.eml deferred (timed out at RCPT (300 s)) size=1 ms=1 attempt=1 retry_in=5s",
                                     "warning")
    assert json.loads(state_file.read_text())["last_error"]["level"] == "warning"


def test_the_state_file_is_replaced_whole_never_rewritten_in_place(tmp_path):
    """A reader (status, every minute) must never see half a file: each record is a new file
    renamed over the old one, private to the worker's user, with no temporary file left."""
    path = tmp_path / "delivery" / "state.json"
    state = DeliveryState(path)
    state.delivered("20261207T000000000000Z-SL-AAAA-BBBB.eml")
    first = path.stat().st_ino
    state.failed("20261207T000000000000Z-SL-CCCC-DDDD.eml deferred (connection failed (timed out)) size=1 ms=1 "
                 "attempt=1 retry_in=5s", "warning")
    assert path.stat().st_ino != first
    assert os.listdir(path.parent) == ["state.json"] and path.stat().st_mode & 0o777 == 0o600
    assert set(json.loads(path.read_text())) == {"last_delivery", "last_error"}  # the second kept the first


NAMESPACE = r'''
mount -t tmpfs -o "$1" safeline-state "$2" || exit 99
if [ "$3" = fill ]; then head -c 10000000 /dev/zero > "$2/filler" 2>/dev/null; fi
shift 3
exec "$@"
'''


@pytest.mark.parametrize(("disk", "options", "reason"), [("read-only", "ro,size=64k", "Read-only file system"),
                                                         ("full", "size=16k", "No space left on device")])
def test_delivery_goes_on_when_the_state_file_cannot_be_written(client, env, tmp_path, mail_server, disk, options,
                                                                reason):
    """The state's folder is a real read-only or full filesystem, mounted in a mount namespace of
    the worker's own (unshare: nothing outside it sees the mount)."""
    if not shutil.which("unshare"):
        pytest.fail("no unshare: apt-get install -y util-linux")
    folder = Path(env["RELAY_DELIVERY_STATE"]).parent
    folder.mkdir()
    for _ in range(3):
        assert submit(client, **TYPED).status_code == 303
    whole = {name: value for name, value in os.environ.items() if not name.startswith(("RELAY_", "FLASK_"))}
    whole.update(env, PYTHONPATH=command_env(tmp_path))
    done = subprocess.run(["unshare", "--map-root-user", "--mount", "sh", "-c", NAMESPACE, "namespace", options,
                           str(folder), "fill" if disk == "full" else "-", str(FLASK), "--app", "relay", "deliver",
                           "--once"], cwd=ROOT, env=whole, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "sent 3, deferred 0, refused 0, waiting 0" in done.stdout
    assert outbox_files(Path(env["RELAY_OUTBOX"])) == [] and len(mail_server.messages()) == 3
    warnings = [line for line in done.stderr.splitlines() if "delivery state" in line]
    assert warnings == [f"{warnings[0][:23]} WARNING relay.delivery: delivery state not recorded in "
                        f"{env['RELAY_DELIVERY_STATE']} ({reason}); delivery goes on"], done.stderr  # once
    assert "Traceback" not in done.stderr
    assert not list(folder.iterdir())  # outside the namespace: the folder as it was


# -- the outbox ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("minutes", "needs_person"), [(29, False), (31, True)])
def test_a_report_waiting_over_30_minutes_needs_a_person(client, env, minutes, needs_person):
    assert submit(client, **TYPED).status_code == 303
    [waiting] = outbox_files(Path(env["RELAY_OUTBOX"]))
    then = time.time() - minutes * 60
    os.utime(waiting, (then, then))
    code, screen = status(env)
    assert code == int(needs_person), screen
    [line] = lines(screen, "outbox")
    assert re.search(rf"1 waiting \(\d+\.\d KB\), the oldest for {minutes} min", line)
    if needs_person:
        assert line.startswith("! outbox ")
        assert line.endswith("over 30 min, delivery is failing (see the delivery lines)")
        assert flagged(screen) == [line]
    else:
        assert not flagged(screen)
    assert 60 * minutes <= value(metrics(status(env, "--prometheus")[1]), "safeline_outbox_oldest_seconds") < 60 * (
        minutes + 1)


def test_a_missing_then_an_empty_outbox(env):
    code, screen = status(env)
    assert code == 0
    assert lines(screen, "outbox") == [f"  outbox     {env['RELAY_OUTBOX']} does not exist yet (the relay makes it "
                                       "when it starts)"]
    assert value(metrics(status(env, "--prometheus")[1]), "safeline_outbox_waiting") == 0
    Path(env["RELAY_OUTBOX"]).mkdir()
    code, screen = status(env)
    assert code == 0 and lines(screen, "outbox") == ["  outbox     empty: nothing waits for the mail server"]


# -- staff keys ---------------------------------------------------------------------------------

def test_keys_gnupg_made_to_expire_in_seconds_and_days(env, tmp_path, gnupg_home):
    folder = tmp_path / "expiring-keys"
    folder.mkdir()
    made = {}
    for name, seconds in (("eight-days", 8 * 86400), ("six-days", 6 * 86400), ("seconds", 6)):
        made[name] = make_key(gnupg_home, f"Staff {name} <{name}@staff.example>", seconds=seconds)
        (folder / f"{name}.asc").write_bytes(made[name].public)
    env["RELAY_STAFF_KEYS"] = str(folder)
    code, screen = status(env)
    shown = {line[2:].split()[2]: line for line in lines(screen, "staff key")}
    assert set(shown) == {key.fingerprint for key in made.values()}
    assert re.fullmatch(r"  staff key  \S+ expires \S+ \S+ UTC \(in 8 days\)", shown[made["eight-days"].fingerprint])
    assert re.fullmatch(r"! staff key  \S+ expires \S+ \S+ UTC \(in 6 days\): extend it with its owner, or replace it",
                        shown[made["six-days"].fingerprint])
    assert re.fullmatch(r"! staff key  \S+ expires \S+ \S+ UTC \(in 1 minute\): extend it with its owner, or replace "
                        r"it", shown[made["seconds"].fingerprint])
    assert code == 1
    found = metrics(status(env, "--prometheus")[1])
    expiry = value(found, "safeline_staff_key_expiry_timestamp_seconds", fingerprint=made["six-days"].fingerprint)
    assert abs(expiry - (time.time() + 6 * 86400)) < 120
    ends = value(found, "safeline_staff_key_expiry_timestamp_seconds", fingerprint=made["seconds"].fingerprint)
    assert 0 < ends - time.time() <= 6

    time.sleep(ends - time.time() + 1)  # the seconds key has expired now
    code, screen = status(env)
    [line] = [line for line in lines(screen, "staff key") if made["seconds"].fingerprint in line]
    assert re.fullmatch(rf"! staff key  {made['seconds'].fingerprint} expired on \d{{4}}-\d\d-\d\d: ask its owner to "
                        "extend it, or remove it", line)
    found = metrics(status(env, "--prometheus")[1])
    assert value(found, "safeline_staff_key_usable", fingerprint=made["seconds"].fingerprint) == 0
    assert value(found, "safeline_staff_key_usable", fingerprint=made["eight-days"].fingerprint) == 1

    # The eight-day key alone needs nobody: 7 days is the line.
    (folder / "six-days.asc").unlink()
    (folder / "seconds.asc").unlink()
    code, screen = status(env)
    assert code == 0 and not flagged(screen)
    assert "staff.example" not in screen


@pytest.mark.parametrize(("file", "said"), [
    ("expired.pub.asc", r"\S+ expired on \d{4}-\d\d-\d\d: ask its owner to extend it, or remove it"),
    ("revoked.pub.asc", r"\S+ is revoked: remove it and ask its owner for their new key"),
    ("sign-only.pub.asc", r"\S+ has no encryption subkey \(a sign-only key\?\): cannot encrypt to it"),
    ("subkey-expired.pub.asc", r"\S+ its encryption subkey expired on \S+: ask its owner to extend it"),
    ("secret-only.sec.asc", r"secret-only\.sec\.asc holds SECRET key material: delete it from the server, keep only "
                            r"the public key"),
    ("garbage", r"garbage\.asc is not an OpenPGP public key"),
])
def test_a_key_the_relay_would_refuse_is_named_by_fingerprint_and_needs_a_person(env, tmp_path, file, said):
    folder = tmp_path / "keys-with-one-bad"
    folder.mkdir()
    shutil.copyfile(FIXTURES / "staff-gpg-v4.pub.asc", folder / "good.asc")
    if file == "garbage":
        (folder / "garbage.asc").write_text("not a key\n")
    else:
        shutil.copyfile(FIXTURES / file, folder / file.replace(".pub.asc", ".asc"))
    env["RELAY_STAFF_KEYS"] = str(folder)
    done = flask(env, tmp_path, "status")  # the relay itself would refuse to start with these keys
    assert done.returncode == 1 and not done.stderr, done
    [line] = flagged(done.stdout)
    assert re.fullmatch(rf"! staff key  {said}", line), line
    assert len(lines(done.stdout, "staff key")) == 2  # the good key is still listed
    assert_nothing_private(done.stdout)


# -- Redis and the site-wide ceiling --------------------------------------------------------------

def test_redis_up_then_down_then_frozen(env, redis_server):
    env["RELAY_RATELIMIT_STORAGE"] = redis_server.url
    code, screen = status(env)
    assert code == 0 and lines(screen, "redis") == [f"  redis      answers at 127.0.0.1:{redis_server.port}"]
    assert lines(screen, "ceiling") == ["  ceiling    0 of 1000 per hour: accepting"]
    redis_server.freeze()  # accepts connections, never answers
    try:
        started = time.monotonic()
        code, screen = status(env)
        assert time.monotonic() - started < 5
    finally:
        redis_server.thaw()
    assert code == 1 and lines(screen, "redis") == [
        f"! redis      does not answer at 127.0.0.1:{redis_server.port} (TimeoutError): limits fail open meanwhile"]
    redis_server.stop()
    code, screen = status(env)
    assert code == 1 and lines(screen, "redis") == [
        f"! redis      does not answer at 127.0.0.1:{redis_server.port} (ConnectionError): limits fail open meanwhile"]
    assert lines(screen, "ceiling") == ["  ceiling    unknown while Redis does not answer"]
    found = metrics(status(env, "--prometheus")[1])
    assert value(found, "safeline_redis_up") == 0 and value(found, "safeline_status_needs_person") == 1
    assert "safeline_site_ceiling_used" not in found


def test_the_site_ceiling_refusing_needs_a_person(app, env, redis_server):
    limits = {"RELAY_RATELIMIT_STORAGE": redis_server.url, "RELAY_RATELIMIT_SITE": "2 per hour"}
    env.update(limits)
    client = app(**limits).test_client()
    assert submit(client, **TYPED).status_code == 303
    code, screen = status(env)
    assert code == 0 and lines(screen, "ceiling") == ["  ceiling    1 of 2 per hour: accepting"]
    assert submit(client, **TYPED).status_code == 303
    assert submit(client, **TYPED).status_code == 503  # the relay refuses the third (the site is full): status says so
    code, screen = status(env)
    assert code == 1 and lines(screen, "ceiling") == [
        "! ceiling    2 of 2 per hour: REFUSING reports (a flood, or a real surge: then raise RELAY_RATELIMIT_SITE)"]
    found = metrics(status(env, "--prometheus")[1])
    assert value(found, "safeline_site_ceiling_refusing") == 1
    assert value(found, "safeline_site_ceiling_used", window_seconds="3600") == 2


# -- the published site ---------------------------------------------------------------------------

@pytest.mark.parametrize(("case", "needs_person", "said"), [
    ("absent", False, r"  published  not published by the publisher \(no .*/site/current\)"),
    ("fresh", False, r'  published  3f3f3f3f3f3f "Opening hours for the holidays" built .* \(1 day ago\)'),
    ("three days", True, r'! published  3f3f3f3f3f3f "Opening hours for the holidays" built .* \(3 days ago\): over 2 '
                         r"days, the daily rebuild is failing \(journalctl -u safeline-publish\)"),
    ("dangling", True, r"! published  .*/current points to releases/\S+, which has no release\.json: nginx may be "
                       r"serving nothing"),
    ("garbage", True, r"! published  .*/release\.json cannot be read \(JSONDecodeError\)"),
    ("no commit", True, r"! published  .*/release\.json is not what the publisher writes \(commit, built\)"),
    ("no time", True, r"! published  .*/release\.json is not what the publisher writes \(commit, built\)"),
])
def test_the_published_commit_and_its_age(env, case, needs_person, said):
    root = Path(env["SAFELINE_SITE_ROOT"])
    if case != "absent":
        age = timedelta(days=3, hours=1) if case == "three days" else timedelta(days=1, hours=1)
        release = publish(root, built=now() - age)
        if case == "dangling":
            shutil.rmtree(release)
        elif case == "garbage":
            (release / "release.json").write_text("{not json")
        elif case in ("no commit", "no time"):
            facts = json.loads((release / "release.json").read_text())
            facts.update({"commit": "HEAD"} if case == "no commit" else {"built": "yesterday"})
            (release / "release.json").write_text(json.dumps(facts))
    code, screen = status(env)
    assert code == int(needs_person), screen
    [line] = lines(screen, "published")
    assert re.fullmatch(said, line), line


def test_a_commit_the_publisher_refused_is_shown_without_calling_a_person(env):
    # The publisher's state.json (safeline/publish.py): the editors fix their commit; the site
    # stays as it was, so nobody is paged for it.
    root = Path(env["SAFELINE_SITE_ROOT"])
    publish(root, built=now() - timedelta(hours=3))
    head = "8b" * 20
    (root / "state.json").write_text(json.dumps({
        "head": head, "tried": now().isoformat(), "result": "failed",
        "error": "data/hotlines.yaml:41:19 (syntax):\x1b[31m expected <block end>\n"}), encoding="utf-8")
    code, screen = status(env)
    assert code == 0, screen
    assert lines(screen, "publisher") == [
        f"  publisher  not published {head[:12]}: data/hotlines.yaml:41:19 (syntax): [31m expected <block end> "
        "(the editors' to fix; the site stays as it was)"]
    assert value(metrics(status(env, "--prometheus")[1]), "safeline_publish_newest_failed") == 1
    (root / "state.json").write_text(json.dumps({"head": head, "result": "published", "error": ""}))
    code, screen = status(env)
    assert code == 0 and lines(screen, "publisher") == []
    assert value(metrics(status(env, "--prometheus")[1]), "safeline_publish_newest_failed") == 0


def test_a_relay_whose_data_differs_from_the_published_commits_needs_a_person(env):
    """release.json's relay_inputs (safeline/release.py) against this checkout's files, which
    the relay reads when it starts: a phone number changed on the site only must be seen."""
    from safeline.release import RELAY_INPUTS, digests

    root = Path(env["SAFELINE_SITE_ROOT"])
    same = digests(ROOT)
    assert set(same) == set(RELAY_INPUTS)
    publish(root, built=now() - timedelta(hours=1), relay_inputs=same)
    code, screen = status(env)
    assert code == 0 and lines(screen, "relay") == [], screen
    assert value(metrics(status(env, "--prometheus")[1]), "safeline_relay_behind_published") == 0
    edited = {**same, "data/hotlines.yaml": hashlib.sha256(b"organisations: []\n").hexdigest()}
    publish(root, built=now() - timedelta(minutes=5), relay_inputs=edited)
    code, screen = status(env)
    assert code == 1
    assert lines(screen, "relay") == [
        f"! relay      data/hotlines.yaml in {ROOT} not as in the published commit: the form's pages show "
        "other lines or words than the site; update the checkout (git pull), then systemctl restart safeline-relay"]
    assert value(metrics(status(env, "--prometheus")[1]), "safeline_relay_behind_published") == 1


# -- when the relay cannot start --------------------------------------------------------------

def test_status_works_while_the_relay_cannot_start(env, tmp_path, redis_server):
    """Production with a short secret, a development address, an expired key and Redis down: the
    relay would refuse to start; status still gives every line, without a traceback."""
    redis_server.stop()
    env.update(RELAY_ENV="production", RELAY_SECRET_KEY="short", RELAY_PROXIES="1",
               RELAY_RATELIMIT_STORAGE=redis_server.url, RELAY_STAFF_KEYS=str(FIXTURES / "expired.pub.asc"),
               RELAY_MAIL_TO="staff-at-nowhere", RUST_BACKTRACE="1")
    done = flask(env, tmp_path, "status")
    assert done.returncode == 1 and not done.stderr, done
    screen = done.stdout
    assert lines(screen, "settings") == [
        "! settings   RELAY_SECRET_KEY: too short; use at least 32 random characters (e.g. python3 -c '…')",
        "! settings   RELAY_MAIL_TO: '…' is not an e-mail address (An email address must have an @-sign.)"]
    assert lines(screen, "outbox")[0].startswith("  outbox ")
    assert re.fullmatch(r"! staff key  \S+ expired on .*", lines(screen, "staff key")[0])
    assert lines(screen, "redis")[0].startswith("! redis      does not answer at 127.0.0.1:")
    assert "staff-at-nowhere" not in screen and "short" not in screen.replace("too short", "")
    found = metrics(flask(env, tmp_path, "status", "--prometheus").stdout)
    assert value(found, "safeline_settings_problems") == 2


# -- the metrics file -----------------------------------------------------------------------------

def test_the_metrics_file_is_written_atomically_readable_by_node_exporter(env, tmp_path):
    folder = tmp_path / "textfile"
    folder.mkdir()
    target = folder / "safeline.prom"
    target.write_text("# an older file\n")
    before = target.stat().st_ino
    old_umask = os.umask(0o077)  # the units' UMask=
    try:
        code, printed = status(env, "--prometheus", str(target))
    finally:
        os.umask(old_umask)
    assert code == 0 and printed == ""
    assert os.listdir(folder) == ["safeline.prom"]  # no temporary file left
    assert target.stat().st_ino != before  # a new file renamed over the old, never rewritten in place
    assert target.stat().st_mode & 0o777 == 0o644  # node_exporter runs as another user
    assert value(metrics(target.read_text()), "safeline_status_needs_person") == 0

    done = flask(env, tmp_path, "status", "--prometheus", str(tmp_path / "missing" / "safeline.prom"))
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr == (f"relay status: cannot write {tmp_path / 'missing' / 'safeline.prom'} "
                           "(No such file or directory)\n")


# -- what the mutation run (./run mutants relay/status.py) found untested ------------------------

def test_an_empty_outbox_has_waited_0_seconds(env):
    Path(env["RELAY_OUTBOX"]).mkdir(parents=True, exist_ok=True)
    code, screen = status(env)
    assert code == 0 and lines(screen, "outbox") == ["  outbox     empty: nothing waits for the mail server"]
    found = metrics(status(env, "--prometheus")[1])
    assert value(found, "safeline_outbox_oldest_seconds") == value(found, "safeline_outbox_waiting") == 0


def test_an_outbox_that_is_a_file_needs_a_person(env, tmp_path):
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("")
    env["RELAY_OUTBOX"] = str(blocked)
    code, screen = status(env)
    assert code == 1 and lines(screen, "outbox") == [f"! outbox     {blocked} is not a folder: the relay cannot start"]


def test_a_development_key_in_production_needs_a_person(env, tmp_path):
    made = make_key(tmp_path / "gnupg", "Dev (Safeline development key, never for production) <dev@safeline.test>")
    keys = tmp_path / "keys"
    keys.mkdir()
    (keys / "dev.asc").write_bytes(made.public)
    env.update(RELAY_STAFF_KEYS=str(keys))
    code, screen = status(env)  # development: the development key is what it is for
    assert not any("development key" in line for line in lines(screen, "staff key")), screen
    env.update(RELAY_ENV="production")
    code, screen = status(env)
    assert code == 1
    assert f"! staff key  {made.fingerprint} is a development key: production needs the staff's real keys" in \
        lines(screen, "staff key")


def test_a_site_ceiling_that_cannot_be_read_needs_a_person(env, redis_server):
    env.update(RELAY_RATELIMIT_STORAGE=redis_server.url, RELAY_RATELIMIT_SITE="sixty an hour")
    code, screen = status(env)
    assert code == 1
    assert lines(screen, "ceiling") == ["! ceiling    RELAY_RATELIMIT_SITE cannot be read (see the settings lines)"]


def test_a_ceiling_above_256_refuses_when_reached(env, redis_server):
    # Python keeps one object for each small int: a comparison by identity would hold up to 256
    # and fail above.  The counter is filled where relay.quota counts (the refusing test above
    # shows the relay and status agree on that key).
    from relay.quota import RedisStore, Rule, _counter

    env.update(RELAY_RATELIMIT_STORAGE=redis_server.url, RELAY_RATELIMIT_SITE="300 per hour")
    key = RedisStore.PREFIX + _counter("site", ("all",), Rule.parse("300 per hour")).read
    store = RedisStore(redis_server.url)
    moment = time.time()
    store._redis.zadd(key, {f"report-{number}": moment - number for number in range(300)})
    code, screen = status(env)
    assert code == 1 and lines(screen, "ceiling")[0].startswith("! ceiling    300 of 300 per hour: REFUSING"), screen


def test_long_texts_from_files_are_cut_to_one_line(env):
    root = Path(env["SAFELINE_SITE_ROOT"])
    publish(root, built=now() - timedelta(hours=1), subject="件名" * 60)
    (root / "state.json").write_text(json.dumps({"head": "8b" * 20, "result": "failed", "error": "x" * 1000}))
    code, screen = status(env)
    [published] = lines(screen, "published")
    assert f'"{"件名" * 40}" built ' in published  # 80 characters of the subject
    [refused] = lines(screen, "publisher")
    assert f": {'x' * 299}… (the editors' to fix" in refused  # LINE_TEXT_LIMIT, the cut marked


def test_a_build_time_with_a_tokyo_offset_is_read_as_such(env):
    # release.json's "built" is UTC today; a time written with its offset must still count right.
    root = Path(env["SAFELINE_SITE_ROOT"])
    built = (now() - timedelta(hours=3)).astimezone(timezone(timedelta(hours=9)))
    release = publish(root, built=now())
    facts = json.loads((release / "release.json").read_text())
    (release / "release.json").write_text(json.dumps({**facts, "built": built.isoformat()}))
    [line] = lines(status(env)[1], "published")
    assert line.endswith("(3 hours ago)"), line


@pytest.mark.parametrize(("url", "place"), [
    ("rediss://:secret@127.0.0.1:{port}/0", "127.0.0.1:{port}"),  # TLS: still host and port, no password
    ("redis://127.0.0.1:99999/0", "127.0.0.1"),  # a port redis-py cannot use: the host alone
])
def test_where_redis_is_said_without_anything_else_of_its_address(env, url, place):
    from devtools.ports import free_port

    port = free_port()  # nothing listens there
    env.update(RELAY_RATELIMIT_STORAGE=url.format(port=port))
    code, screen = status(env)
    [line] = lines(screen, "redis")
    assert code == 1 and line.startswith(f"! redis      does not answer at {place.format(port=port)} ("), line
    assert "secret" not in screen


def test_only_key_files_in_the_folder_count_and_a_missing_folder_needs_a_person(env, tmp_path):
    # As the relay reads the folder (relay/keys.py): *.asc and *.pub, not hidden, not folders.
    keys = tmp_path / "keys"
    keys.mkdir()
    (keys / "staff.asc").write_bytes(GPG_PUBLIC.read_bytes())
    (keys / "README.txt").write_text("public keys of the staff, one file each\n")
    (keys / ".old.asc").write_text("not a key\n")
    (keys / "archive.asc").mkdir()
    env.update(RELAY_STAFF_KEYS=str(keys))
    code, screen = status(env)
    assert len(lines(screen, "staff key")) == 1 and not flagged(screen), screen
    env.update(RELAY_STAFF_KEYS=str(tmp_path / "no-such-folder"))
    code, screen = status(env)
    assert code == 1 and lines(screen, "staff key") == [
        f"! staff key  {tmp_path / 'no-such-folder'} does not exist (RELAY_STAFF_KEYS)"]


def test_the_ceilings_windows_are_named(env, redis_server):
    env.update(RELAY_RATELIMIT_STORAGE=redis_server.url,
               RELAY_RATELIMIT_SITE="500 per day;60 per 2 hours;5 per minute;3 per 90 seconds;1 per 2 days")
    code, screen = status(env)
    assert code == 0 and lines(screen, "ceiling") == [
        "  ceiling    0 of 500 per day, 0 of 60 per 2 hours, 0 of 5 per minute, 0 of 3 per 90 seconds, "
        "0 of 1 per 2 days: accepting"], screen


def test_the_ceiling_counts_only_its_window(env, redis_server):
    from relay.quota import RedisStore, Rule, _counter

    env.update(RELAY_RATELIMIT_STORAGE=redis_server.url, RELAY_RATELIMIT_SITE="60 per hour")
    key = RedisStore.PREFIX + _counter("site", ("all",), Rule.parse("60 per hour")).read
    moment = time.time()
    RedisStore(redis_server.url)._redis.zadd(key, {"old-1": moment - 7200, "old-2": moment - 3700, "new": moment - 60})
    assert lines(status(env)[1], "ceiling") == ["  ceiling    1 of 60 per hour: accepting"]


def test_a_redis_address_without_a_port_is_said_with_redis_own():
    from relay.status import _place

    assert _place("redis://:secret@127.0.0.1/0") == "127.0.0.1:6379"
    assert _place("redis+unix:///run/redis/redis.sock?db=0") == "/run/redis/redis.sock"


@pytest.mark.parametrize(("seconds", "said"), [
    (59.9, "59 s"), (60, "1 min"), (3599, "59 min"), (3600, "1 hour"), (7200, "2 hours"),
    (86399, "23 hours"), (86400, "1 day"), (3 * 86400 + 5, "3 days"),
])
def test_durations_are_said_in_their_largest_whole_unit(seconds, said):
    from relay.status import _duration

    assert _duration(seconds) == said


def test_the_same_key_twice_in_the_folder_needs_a_person(env, tmp_path):
    keys = tmp_path / "keys"
    keys.mkdir()
    (keys / "hanako.asc").write_bytes(GPG_PUBLIC.read_bytes())
    (keys / "hanako-copy.asc").write_bytes(GPG_PUBLIC.read_bytes())
    env.update(RELAY_STAFF_KEYS=str(keys))
    code, screen = status(env)
    said = lines(screen, "staff key")
    assert code == 1 and len(said) == 2, screen
    assert sum("is in the folder twice: keep one copy" in line for line in said) == 1, said


def test_memory_limits_in_production_need_a_person(env):
    env.update(RELAY_ENV="production", RELAY_RATELIMIT_STORAGE="memory://")
    code, screen = status(env)
    assert code == 1 and lines(screen, "redis") == [
        "! redis      RELAY_RATELIMIT_STORAGE cannot be used (see the settings lines)"], screen


@pytest.mark.parametrize(("name", "topic", "said"), [
    ("RELAY_OUTBOX", "outbox", "! outbox     cannot be found: RELAY_OUTBOX is not set"),
    ("RELAY_STAFF_KEYS", "staff key", "! staff key  RELAY_STAFF_KEYS is not set: the relay encrypts to nobody"),
])
def test_an_unset_place_in_production_needs_a_person(env, name, topic, said):
    env.update(RELAY_ENV="production")
    env.pop(name)
    code, screen = status(env)
    assert code == 1 and lines(screen, topic) == [said], screen


def test_the_state_file_is_the_servers_in_production_and_var_dev_otherwise():
    from relay.delivery import state_path

    assert state_path({"RELAY_ENV": "production"}) == Path("/var/lib/safeline/delivery/state.json")
    assert state_path({}) == ROOT / "var" / "dev" / "delivery" / "state.json"
    assert state_path({"RELAY_ENV": "production", "RELAY_DELIVERY_STATE": "/srv/x/state.json"}) == \
        Path("/srv/x/state.json")
