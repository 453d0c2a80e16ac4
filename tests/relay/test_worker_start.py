"""The delivery worker starts and empties the outbox whatever state the web relay is in.

``flask --app relay deliver`` is the command systemd runs (Restart=always).  It never
encrypts, so it needs only the outbox, the mail server and the addresses: here it runs as
its own process from a copy of the relay package alone (no theme, no catalogs, no content),
in production, with the staff keys expired, revoked or gone and the web relay's own
settings missing, while reports confirmed to victims wait in the outbox.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.keys import FIXTURES, GPG_SECRET
from tests.support.mail import wait_until
from tests.support.relay_app import outbox_files
from tests.support.reports import decrypt_mail, submit
from tests.support.site import ROOT

FLASK = Path(sys.executable).with_name("flask")
TYPED = {"email": "worker.hanako@example.jp", "description": "配送だけを確かめる通報です。"}


@pytest.fixture
def waiting(client, outbox_dir):
    """Two reports accepted by the web relay (sealed to the staff keys of the test settings)."""
    for _ in range(2):
        assert submit(client, **TYPED).status_code == 303
    assert len(outbox_files(outbox_dir)) == 2
    return outbox_files(outbox_dir)


@pytest.fixture
def bare_install(tmp_path) -> Path:
    """The relay's code on its own: none of the site's theme, catalogs or content beside it."""
    folder = tmp_path / "srv"
    for package in ("relay", "safeline"):
        shutil.copytree(ROOT / package, folder / package, ignore=shutil.ignore_patterns("__pycache__"))
    return folder


def worker_env(relay_env, folder: Path, keys: str) -> dict[str, str]:
    """Production, with the worker's settings only; the web relay's are missing or broken."""
    env = {name: value for name, value in os.environ.items() if not name.startswith(("RELAY_", "FLASK_"))}
    env.update({name: relay_env[name] for name in ("RELAY_MAIL_TO", "RELAY_MAIL_FROM", "RELAY_SMTP_URL", "RELAY_OUTBOX")})
    # The state file beside the test's outbox: production's default is the machine's own
    # /var/lib/safeline/delivery, never to be touched by a test.
    env.update(RELAY_ENV="production", RELAY_STAFF_KEYS=keys, PYTHONPATH=str(folder),
               RELAY_DELIVERY_STATE=str(Path(relay_env["RELAY_OUTBOX"]).parent / "delivery-state.json"))
    return env


@pytest.mark.parametrize("keys", ["expired.pub.asc", "revoked.pub.asc", "missing"])
def test_the_worker_delivers_once_while_the_web_relay_could_not_start(
        relay_env, waiting, bare_install, mail_server, outbox_dir, keys):
    env = worker_env(relay_env, bare_install, str(FIXTURES / keys))
    web = subprocess.run([sys.executable, "-c", "import relay; relay.create_app()"], cwd=bare_install, env=env,
                         capture_output=True, text=True, timeout=60)
    assert web.returncode == 1 and "relay: refusing to start:" in web.stderr  # the web relay would not

    result = subprocess.run([str(FLASK), "--app", "relay", "deliver", "--once"], cwd=bare_install, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "sent 2, deferred 0, refused 0, waiting 0" in result.stdout
    assert outbox_files(outbox_dir) == []
    received = [decrypt_mail(path.read_bytes(), GPG_SECRET)[2] for path in mail_server.messages()]
    assert [record["email"] for record in received] == [TYPED["email"]] * 2
    assert "Traceback" not in result.stderr


def test_the_worker_runs_and_stops_on_sigterm_as_under_systemd(relay_env, waiting, bare_install, mail_server,
                                                               outbox_dir):
    env = worker_env(relay_env, bare_install, str(FIXTURES / "expired.pub.asc"))
    worker = subprocess.Popen([str(FLASK), "--app", "relay", "deliver", "--poll", "0.1"], cwd=bare_install, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert wait_until(lambda: len(mail_server.messages()) == 2, timeout=30)
        assert wait_until(lambda: outbox_files(outbox_dir) == [], timeout=10)
        assert client_sends_again(relay_env, mail_server)
    finally:
        worker.send_signal(signal.SIGTERM)
        out, err = worker.communicate(timeout=30)
    assert worker.returncode == 0, err
    assert "Traceback" not in err
    assert sum(" sent size=" in line for line in err.splitlines()) == 3


def client_sends_again(relay_env, mail_server) -> bool:
    """A third report put into the outbox while the worker runs is delivered too."""
    import relay

    app = relay.create_app(relay_env)
    assert submit(app.test_client(), **TYPED).status_code == 303
    return wait_until(lambda: len(mail_server.messages()) == 3, timeout=30)


def test_the_worker_checks_its_own_settings_with_one_line_each(relay_env, bare_install, tmp_path):
    env = worker_env(relay_env, bare_install, "")
    env.update(RELAY_SMTP_URL="http://mail.example.org", RELAY_MAIL_TO="staff", RELAY_OUTBOX="relative/outbox")
    result = subprocess.run([str(FLASK), "--app", "relay", "deliver", "--once"], cwd=bare_install, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "relay deliver: refusing to start:",
        "RELAY_MAIL_TO: 'staff' is not an e-mail address (An email address must have an @-sign.)",
        "RELAY_SMTP_URL: SMTP URL: scheme is 'http'; use smtp://, smtp+starttls:// or smtps://",
        "RELAY_OUTBOX: must be an absolute path in production, not 'relative/outbox'",
    ]

    blocker = tmp_path / "a-file"
    blocker.write_text("")
    env.update(RELAY_MAIL_TO=relay_env["RELAY_MAIL_TO"], RELAY_SMTP_URL=relay_env["RELAY_SMTP_URL"],
               RELAY_OUTBOX=str(blocker))
    result = subprocess.run([str(FLASK), "--app", "relay", "deliver", "--once"], cwd=bare_install, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert result.stderr.splitlines()[1].startswith(f"RELAY_OUTBOX: outbox {blocker} is not writable")

