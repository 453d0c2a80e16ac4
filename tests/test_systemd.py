"""deploy/systemd: the units are hardened, keep what they need, and the programs run under them.

- ``systemd-analyze security --offline=true`` rates each shipped unit file at an overall
  exposure of 2.5 or less (it was 6.7, MEDIUM, for both).
- Each unit keeps what it needs: the outbox writable, the settings file, the relay's
  RestartPreventExitStatus, the worker's Restart=always; the relay reaches loopback only.
- The relay under gunicorn and the delivery worker do their work under each unit's own
  system call filter and MemoryDenyWriteExecute=.  systemd is not running here, so the test
  loads the same rules itself, through libseccomp (the library systemd uses): the allow list
  is what ``systemd-analyze syscall-filter`` says the unit's SystemCallFilter= lines name,
  on the native architecture only, and the write-and-execute rule is systemd's (no mapping
  both writable and executable, no mprotect to executable, no executable shmat).  Both are
  stricter here than in the units: any call outside them kills the process, where the units
  answer EPERM, so a pass shows that no such call is made at all.
"""

from __future__ import annotations

import ctypes.util
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

import pytest

from devtools.mail import DevMail
from devtools.ports import free_port, wait_for_port
from tests.support.keys import GPG_PUBLIC
from tests.support.mail import wait_until
from tests.support.redis_server import RedisServer
from tests.support.relay_app import RELAY_MAIL_FROM, RELAY_MAIL_TO
from tests.support.site import ROOT, compile_catalogs

UNITS = ROOT / "deploy" / "systemd"
RELAY_UNIT, WORKER_UNIT = UNITS / "safeline-relay.service", UNITS / "safeline-delivery.service"
PUBLISH_UNIT, PUBLISH_TIMER = UNITS / "safeline-publish.service", UNITS / "safeline-publish.timer"
# Every shipped unit: each service is rated, each unit file verified (a new one is included as it comes).
SERVICES = sorted(UNITS.glob("*.service"))
ALL_UNITS = sorted(UNITS.glob("*.service")) + sorted(UNITS.glob("*.timer"))
ANALYZE = shutil.which("systemd-analyze") or "/usr/bin/systemd-analyze"
BIN = Path(sys.executable).parent  # .venv/bin: gunicorn and flask, beside the tests' Python


def analyze(*args: str) -> str:
    if not Path(ANALYZE).exists():
        pytest.fail(f"no systemd-analyze at {ANALYZE}: apt-get install -y systemd")
    result = subprocess.run([ANALYZE, *args], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout


def settings(unit: Path) -> dict[str, list[str]]:
    """The [Service] settings of a unit file, each with every value it is given, in order."""
    found: dict[str, list[str]] = {}
    section = None
    for line in unit.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line
        elif section == "[Service]":
            name, _, value = line.partition("=")
            found.setdefault(name.strip(), []).append(value.strip())
    return found


@pytest.mark.parametrize("unit", SERVICES, ids=lambda unit: unit.name)
def test_systemd_analyze_rates_the_unit_2_5_or_less(unit):
    report = analyze("security", "--offline=true", str(unit))
    exposure = float(re.search(rf"Overall exposure level for {re.escape(unit.name)}: (\d+\.\d+)", report)[1])
    assert exposure <= 2.5, report


@pytest.mark.parametrize("unit", [RELAY_UNIT, WORKER_UNIT], ids=lambda unit: unit.name)
def test_the_unit_keeps_what_it_needs(unit):
    service = settings(unit)
    assert service["User"] == service["Group"] == ["safeline"]
    assert service["EnvironmentFile"] == ["/etc/safeline/relay.env"]
    assert "/var/lib/safeline/outbox" in " ".join(service["ReadWritePaths"]).split()
    assert service["ProtectSystem"] == ["strict"] and service["UMask"] == ["0077"]
    assert service["NoNewPrivileges"] == ["true"] and service["CapabilityBoundingSet"] == [""]
    if unit == RELAY_UNIT:
        assert {"1", "3"} <= set(" ".join(service["RestartPreventExitStatus"]).split())
        assert service["ExecReload"] == ["/bin/kill -HUP $MAINPID"]
        # nginx and Redis only, both on this machine.
        assert service["IPAddressAllow"] == ["localhost"] and service["IPAddressDeny"] == ["any"]
    else:
        assert service["Restart"] == ["always"]
        assert "IPAddressDeny" not in service  # the mail server may be anywhere


@pytest.mark.parametrize("unit", ALL_UNITS, ids=lambda unit: unit.name)
def test_systemd_analyze_verify_finds_nothing_wrong(unit, tmp_path):
    """``systemd-analyze verify`` on a copy of every unit file (a timer beside its service),
    with the installed checkout's .venv/bin/ (which must exist for verify) pointed at ours."""
    for each in ALL_UNITS:
        text = each.read_text(encoding="utf-8").replace("/srv/safeline/.venv/bin/", f"{BIN}/")
        (tmp_path / each.name).write_text(text, encoding="utf-8")
    result = subprocess.run([ANALYZE, "verify", str(tmp_path / unit.name)], capture_output=True, text=True,
                            timeout=60)
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


def test_the_publisher_unit_and_timer_keep_what_they_need():
    service = settings(PUBLISH_UNIT)
    assert service["Type"] == ["oneshot"] and service["User"] == service["Group"] == ["safeline"]
    assert service["EnvironmentFile"] == ["/etc/safeline/publish.env"]
    assert service["WorkingDirectory"] == ["/srv/safeline"]
    assert service["ExecStart"] == ["/srv/safeline/.venv/bin/python -m safeline.publish"]
    assert set(" ".join(service["ReadWritePaths"]).split()) == {"/srv/safeline/site", "/var/lib/safeline/publish"}
    assert service["Environment"] == ["HOME=/var/lib/safeline/publish"]  # git reads its config there
    assert service["ProtectSystem"] == ["strict"] and service["NoNewPrivileges"] == ["true"]
    assert service["UMask"] == ["0022"]  # nginx (another user) reads the releases
    # A commit's code runs in the build: it never sees the reports, the delivery record or relay.env.
    assert set(" ".join(service["InaccessiblePaths"]).split()) == {
        "-/var/lib/safeline/outbox", "-/var/lib/safeline/delivery", "-/etc/safeline/relay.env"}
    assert "IPAddressDeny" not in service  # the repository's host may be anywhere
    timer = PUBLISH_TIMER.read_text(encoding="utf-8")
    assert re.search(r"^OnCalendar=\*:0/5$", timer, re.M) and re.search(r"^Persistent=true$", timer, re.M)
    assert re.search(r"^OnBootSec=", timer, re.M) and re.search(r"^WantedBy=timers.target$", timer, re.M)


# ---------------------------------------------------------------------------------------------
# The programs under the units' filters.

def group(name: str) -> set[str]:
    """The system calls a systemd group (e.g. @system-service) or a single name stands for."""
    if not name.startswith("@"):
        return {name}
    calls: set[str] = set()
    for line in analyze("syscall-filter", name).splitlines()[1:]:
        item = line.strip()
        if item and not item.startswith("#"):
            calls |= group(item)
    return calls


def allowed_calls(service: dict[str, list[str]]) -> set[str]:
    """What SystemCallFilter= lets through, read as systemd does: the first line makes an
    allow list (and brings @default with it); a later ~line takes calls out, a plain one adds."""
    lines = service.get("SystemCallFilter", [])
    assert lines and not lines[0].startswith("~"), "expected an allow list first"
    allowed = group("@default")
    for line in lines:
        deny = line.startswith("~")
        names = set().union(*(group(item) for item in line.lstrip("~").split()))
        allowed = allowed - names if deny else allowed | names
    return allowed


# Loads the filters into its own process, then becomes the program: every process the program
# starts (gunicorn's workers) inherits them.  libseccomp through ctypes; no compiler needed.
LAUNCHER = r'''
import ctypes, json, os, sys

spec = json.loads(open(sys.argv[1]).read())
seccomp = ctypes.CDLL(spec["libseccomp"], use_errno=True)
seccomp.seccomp_init.restype = ctypes.c_void_p
seccomp.seccomp_init.argtypes = [ctypes.c_uint32]
seccomp.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
seccomp.seccomp_rule_add_array.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int, ctypes.c_uint,
                                           ctypes.c_void_p]
seccomp.seccomp_load.argtypes = [ctypes.c_void_p]


class Compare(ctypes.Structure):  # struct scmp_arg_cmp
    _fields_ = [("arg", ctypes.c_uint), ("op", ctypes.c_int), ("datum_a", ctypes.c_uint64),
                ("datum_b", ctypes.c_uint64)]


KILL_PROCESS, ALLOW, MASKED_EQ = 0x80000000, 0x7FFF0000, 7
PROT_WRITE, PROT_EXEC, SHM_EXEC = 0x2, 0x4, 0o100000


def rule(context, action, name, *conditions):
    number = seccomp.seccomp_syscall_resolve_name(name.encode())
    if number < 0:
        return  # no such call on this architecture
    array = (Compare * len(conditions))(*[Compare(*condition) for condition in conditions]) if conditions else None
    if seccomp.seccomp_rule_add_array(context, action, number, len(conditions), array) != 0:
        raise OSError(f"seccomp_rule_add {name}")


if ctypes.CDLL(None, use_errno=True).prctl(38, 1, 0, 0, 0) != 0:  # PR_SET_NO_NEW_PRIVS, as NoNewPrivileges=
    raise OSError("PR_SET_NO_NEW_PRIVS")
# A context holds the native architecture only, and kills a call of any other (as
# SystemCallArchitectures=native).
allow = seccomp.seccomp_init(KILL_PROCESS)
for name in spec["allow"]:
    rule(allow, ALLOW, name)
if spec["mdwe"]:
    mdwe = seccomp.seccomp_init(ALLOW)
    rule(mdwe, KILL_PROCESS, "mmap", (2, MASKED_EQ, PROT_WRITE | PROT_EXEC, PROT_WRITE | PROT_EXEC))
    rule(mdwe, KILL_PROCESS, "mprotect", (2, MASKED_EQ, PROT_EXEC, PROT_EXEC))
    rule(mdwe, KILL_PROCESS, "pkey_mprotect", (2, MASKED_EQ, PROT_EXEC, PROT_EXEC))
    rule(mdwe, KILL_PROCESS, "shmat", (2, MASKED_EQ, SHM_EXEC, SHM_EXEC))
    if seccomp.seccomp_load(mdwe) != 0:
        raise OSError("seccomp_load (memory)")
if seccomp.seccomp_load(allow) != 0:  # last: loading a filter is not a call the list allows
    raise OSError("seccomp_load (calls)")
os.execv(sys.argv[2], sys.argv[2:])
'''


@pytest.fixture
def confined(tmp_path):
    """``confined(unit, command)``: the command line that runs ``command`` under ``unit``'s filters."""
    library = ctypes.util.find_library("seccomp")
    if not library:
        pytest.fail("no libseccomp: apt-get install -y libseccomp2 (systemd depends on it)")
    launcher = tmp_path / "confine.py"
    launcher.write_text(LAUNCHER, encoding="utf-8")

    def command(unit: Path, program: list[str]) -> list[str]:
        service = settings(unit)
        assert service["SystemCallArchitectures"] == ["native"]
        spec = tmp_path / f"{unit.stem}.json"
        spec.write_text(json.dumps({"libseccomp": library, "allow": sorted(allowed_calls(service)),
                                    "mdwe": service.get("MemoryDenyWriteExecute") == ["true"]}), encoding="utf-8")
        return [sys.executable, str(launcher), str(spec), *program]

    return command


def request(port: int, path: str, *, method: str = "GET", body: bytes | None = None) -> tuple[int, dict, bytes]:
    """A request as nginx passes it on: one proxy, https, from our own page."""
    import http.client

    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
    try:
        headers = {"X-Forwarded-For": "192.0.2.7", "X-Forwarded-Proto": "https", "Host": "safeline.example",
                   "Sec-Fetch-Site": "same-origin"}
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_the_relay_and_the_worker_work_under_their_units_filters(confined, tmp_path):
    """Start (preload, fork), the form, a report sealed with pysequoia, a refusal by the
    Redis limits, a reload (HUP, new workers), a clean stop; then the worker delivers it."""
    compile_catalogs()
    keys = tmp_path / "staff-keys"
    keys.mkdir()
    shutil.copyfile(GPG_PUBLIC, keys / "staff.asc")
    mail = DevMail(tmp_path / "received").start()
    redis = RedisServer(tmp_path / "redis").start()
    port = free_port()
    env = {name: value for name, value in os.environ.items() if not name.startswith("RELAY_")}
    env.update({
        "RELAY_ENV": "production",
        "RELAY_SECRET_KEY": "systemd-test-secret-4c2e9a7f1b3d5e8062a4c6e8f0b2d4f6",
        "RELAY_STAFF_KEYS": str(keys),
        "RELAY_MAIL_TO": RELAY_MAIL_TO,
        "RELAY_MAIL_FROM": RELAY_MAIL_FROM,
        "RELAY_SMTP_URL": f"smtp://127.0.0.1:{mail.port}",
        "RELAY_OUTBOX": str(tmp_path / "outbox"),
        "RELAY_DELIVERY_STATE": str(tmp_path / "delivery" / "state.json"),  # not the machine's own
        "RELAY_RATELIMIT_STORAGE": redis.url,
        "RELAY_RATELIMIT": "1 per hour",
        "RELAY_SITE_ORIGIN": "https://safeline.example",
        "RELAY_CONTACT_ADDRESS": "contact@safeline.example",
        "RELAY_MIN_FILL_SECONDS": "1",
        "RELAY_PROXIES": "1",
        "RELAY_BIND": f"127.0.0.1:{port}",
        "RELAY_WORKERS": "2",
    })
    log = tmp_path / "relay.log"
    relay = None
    try:
        with log.open("w") as output:
            relay = subprocess.Popen(confined(RELAY_UNIT, [str(BIN / "gunicorn"), "-c", "deploy/gunicorn.conf.py"]),
                                     cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT)
        try:
            wait_for_port(port, process=relay, timeout=30)
        except RuntimeError as error:
            raise AssertionError(f"{error}:\n{log.read_text(errors='replace')}") from None

        def send_report() -> tuple[int, dict, bytes]:
            status, _, form = request(port, "/en/report/")
            assert status == 200, log.read_text()
            token = re.search(rb'name="token" value="([^"]+)"', form)[1].decode()
            time.sleep(1.1)  # RELAY_MIN_FILL_SECONDS
            fields = {"role": "self", "email": "hanako@example.jp", "urls": "https://images.example.com/p/77",
                      "description": "海辺で撮られた写真です。", "consent": "yes", "token": token, "website": ""}
            return request(port, "/en/report/", method="POST", body=urllib.parse.urlencode(fields).encode())

        status, headers, _ = send_report()
        assert status == 303, log.read_text()
        assert request(port, headers["Location"])[0] == 200
        assert send_report()[0] == 429  # the second report of this client, counted in Redis
        booted = re.findall(r"Booting worker with pid: (\d+)", log.read_text())
        assert len(booted) == 2, log.read_text()
        relay.send_signal(signal.SIGHUP)  # ExecReload=: gunicorn starts new workers, then stops the old

        def reloaded() -> bool:
            pids = re.findall(r"Booting worker with pid: (\d+)", log.read_text())
            return len(pids) == 4 and not any(alive(int(pid)) for pid in pids[:2]) and all(alive(int(pid)) for pid in pids[2:])

        assert wait_until(reloaded, timeout=30), log.read_text()
        assert request(port, "/report/")[0] == 200
        relay.send_signal(signal.SIGTERM)
        assert relay.wait(timeout=30) == 0, log.read_text()
        text = log.read_text()
        assert "Handling signal: hup" in text
        assert not re.search(r"SIGSYS|signal 31|exited with code|was sent", text), text

        sealed = [path for path in (tmp_path / "outbox").iterdir() if path.is_file()]
        assert len(sealed) == 1
        worker_log = tmp_path / "worker.log"
        with worker_log.open("w") as output:
            worker = subprocess.run(confined(WORKER_UNIT, [str(BIN / "flask"), "--app", "relay", "deliver", "--once"]),
                                    cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT, timeout=60)
        assert worker.returncode == 0, worker_log.read_text()
        assert not [path for path in (tmp_path / "outbox").iterdir() if path.is_file()], worker_log.read_text()
        assert len(list((tmp_path / "received").glob("*.eml"))) == 1
    finally:
        if relay is not None and relay.poll() is None:
            relay.kill()
            relay.wait()
        mail.stop()
        redis.stop()


@pytest.mark.parametrize(("what", "code"), [
    ("setuid (in @privileged)", "import os; os.setuid(os.getuid())"),
    ("setpriority (in @resources)", "import os; os.setpriority(os.PRIO_PROCESS, 0, 0)"),
    ("memory both writable and executable",
     "import mmap; mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)"),
])
def test_the_filters_do_bite(confined, what, code):
    """Proof that the test above means something: what the units forbid kills the process."""
    probe = [sys.executable, "-c", f"{code}; print('allowed')"]
    result = subprocess.run(confined(RELAY_UNIT, probe), capture_output=True, text=True, timeout=30)
    assert result.returncode == -signal.SIGSYS and "allowed" not in result.stdout, (what, result)


# ---------------------------------------------------------------------------------------------
# safeline-status (flask --app relay status, every minute) and the delivery worker's state file.

STATUS_UNIT, STATUS_TIMER = UNITS / "safeline-status.service", UNITS / "safeline-status.timer"


def test_the_status_unit_and_timer_keep_what_they_need_and_verify_clean(tmp_path):
    service = settings(STATUS_UNIT)
    assert service["Type"] == ["oneshot"] and service["User"] == service["Group"] == ["safeline"]
    assert service["EnvironmentFile"] == ["/etc/safeline/relay.env"]
    assert service["ExecStart"] == ["/srv/safeline/.venv/bin/flask --app relay status --prometheus "
                                    "/var/lib/safeline/metrics/safeline.prom"]
    # It writes only its own metrics folder (the rename needs the folder, not the file), which
    # deploy/install links into node_exporter's textfile folder.
    assert service["ReadWritePaths"] == ["/var/lib/safeline/metrics"]
    assert service["SuccessExitStatus"] == ["1"]  # "needs a person" is a metric, not a failed unit
    assert service["ProtectSystem"] == ["strict"] and service["UMask"] == ["0077"]
    assert service["IPAddressAllow"] == ["localhost"] and service["IPAddressDeny"] == ["any"]
    timer = STATUS_TIMER.read_text(encoding="utf-8")
    assert re.search(r"^OnCalendar=\*-\*-\* \*:\*:00$", timer, re.M) and "WantedBy=timers.target" in timer
    # The delivery worker may write its state file's folder, and starts without it ("-").
    assert "-/var/lib/safeline/delivery" in " ".join(settings(WORKER_UNIT)["ReadWritePaths"]).split()
    # verify checks that ExecStart's program exists: the copies name this checkout's flask.
    for unit in (STATUS_UNIT, STATUS_TIMER):
        text = unit.read_text(encoding="utf-8").replace("/srv/safeline/.venv/bin/flask", str(BIN / "flask"))
        (tmp_path / unit.name).write_text(text, encoding="utf-8")
    if not Path(ANALYZE).exists():
        pytest.fail(f"no systemd-analyze at {ANALYZE}: apt-get install -y systemd")
    result = subprocess.run([ANALYZE, "verify", STATUS_UNIT.name, STATUS_TIMER.name], cwd=tmp_path,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and not result.stdout and not result.stderr, result


def test_status_works_under_its_units_filters(confined, tmp_path):
    """The status command reads keys (pysequoia), the outbox and Redis, and writes its metrics
    file, under the status unit's system call filter and MemoryDenyWriteExecute=."""
    from tests.support.flask_commands import command_env

    keys = tmp_path / "staff-keys"
    keys.mkdir()
    shutil.copyfile(GPG_PUBLIC, keys / "staff.asc")
    redis = RedisServer(tmp_path / "redis").start()
    env = {name: value for name, value in os.environ.items() if not name.startswith("RELAY_")}
    env.update(RELAY_STAFF_KEYS=str(keys), RELAY_OUTBOX=str(tmp_path / "outbox"),
               RELAY_RATELIMIT_STORAGE=redis.url, RELAY_DELIVERY_STATE=str(tmp_path / "state.json"),
               SAFELINE_SITE_ROOT=str(tmp_path / "site"), PYTHONPATH=command_env(tmp_path))
    metrics = tmp_path / "textfile" / "safeline.prom"
    metrics.parent.mkdir()
    try:
        result = subprocess.run(confined(STATUS_UNIT, [str(BIN / "flask"), "--app", "relay", "status",
                                                       "--prometheus", str(metrics)]),
                                cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    finally:
        redis.stop()
    assert result.returncode in (0, 1), result  # 1: the test's key expires within 7 days, say
    assert not re.search(r"SIGSYS|Traceback", result.stderr), result.stderr
    assert "safeline_redis_up 1" in metrics.read_text()


def test_the_publisher_fetches_builds_and_switches_under_its_units_filters(confined, tmp_path):
    """git (init, fetch through git-upload-pack, archive, verify-commit with ssh-keygen) and the
    strict build (Pelican, Babel) under safeline-publish.service's filter and
    MemoryDenyWriteExecute=, killed at the first call outside them."""
    from tests.support.git_repo import GitRepo, git, publisher_env, run_publisher

    repo = GitRepo.from_checkout(tmp_path / "repo")
    key = tmp_path / "editor"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    allowed = tmp_path / "allowed_signers"
    allowed.write_text(f"editor@safeline.example {key.with_suffix('.pub').read_text()}")
    git(repo.path, "-c", "gpg.format=ssh", "-c", f"user.signingkey={key}", "commit", "--quiet", "--allow-empty", "-S",
        "-m", "signed")
    root = tmp_path / "site"
    root.mkdir()
    env = publisher_env(root, tmp_path / "repo.git", repo.path, PUBLISH_ALLOWED_SIGNERS=str(allowed))
    launcher = confined(PUBLISH_UNIT, [])  # [python, launcher, spec]: then the program
    result = run_publisher(env, prefix=launcher)
    assert result.returncode == 0, result
    assert result.stdout.startswith(f"published {repo.head} in "), result
    assert (root / "current" / "output" / "index.html").is_file()
