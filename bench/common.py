"""Helpers shared by the benchmarks: child processes, gunicorn, machine facts, figures.

Every server a benchmark starts listens on 127.0.0.1 on a free port (devtools.ports, as in
the tests), runs in its own process group, and is stopped (SIGTERM, then SIGKILL) in a
``finally``: nothing outlives the script.
"""

from __future__ import annotations

import datetime
import math
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

from devtools.ports import HOST, wait_for_port

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
GUNICORN_CONF = ROOT / "deploy" / "gunicorn.conf.py"


def stop_on_sigterm() -> None:
    """Make SIGTERM (and SIGHUP) unwind like Ctrl+C, so every ``finally`` stops its servers."""
    def raise_exit(signum, frame):
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, raise_exit)
    signal.signal(signal.SIGHUP, raise_exit)


def stop_group(process: subprocess.Popen, *, grace: float = 10.0) -> None:
    """SIGTERM the process group of ``process`` (started with start_new_session), then SIGKILL."""
    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            pass
    try:  # workers of a stopped master, if any were left behind
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    if process.poll() is None:
        process.wait(5)


@contextmanager
def server(command: list[str], *, port: int, env: dict[str, str], log: Path, cwd: Path = ROOT,
           ready_timeout: float = 60.0):
    """Run ``command`` in its own process group until the block ends; wait for ``port`` first."""
    with open(log, "ab") as out:
        process = subprocess.Popen(command, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        try:
            wait_for_port(port, process=process, timeout=ready_timeout)
        except RuntimeError as error:
            tail = log.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"{error}; {log}:\n{tail}") from None
        yield process
    finally:
        stop_group(process)


def gunicorn_command(app: str) -> list[str]:
    """gunicorn with the production settings (deploy/gunicorn.conf.py), serving ``app``."""
    return [PY, "-m", "gunicorn", "-c", str(GUNICORN_CONF), app]


def gunicorn_env(port: int, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("RELAY_")}
    env["RELAY_BIND"] = f"{HOST}:{port}"
    env["RELAY_WORKERS"] = str(gunicorn_workers())  # what the benchmark says it runs (RELAY_WORKERS here too)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.update(extra or {})
    return env


def gunicorn_workers() -> int:
    """What deploy/gunicorn.conf.py gives on this machine (RELAY_WORKERS or 2 x cores + 1)."""
    return int(os.environ.get("RELAY_WORKERS", (os.cpu_count() or 1) * 2 + 1))


def machine() -> dict[str, str]:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram = "unknown"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
                break
    except OSError:
        pass
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": str(os.cpu_count()),
        "cpu": model,
        "ram": ram,
        "python": platform.python_version(),
        "kernel": platform.release(),
    }


def load_average() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"


def print_machine() -> None:
    facts = machine()
    print(f"machine: {facts['nproc']} CPUs ({facts['cpu']}), {facts['ram']} RAM, Python {facts['python']}, "
          f"Linux {facts['kernel']}; {facts['date']}; load average {load_average()}")


def cpu_times() -> tuple[int, int]:
    """(idle, total) jiffies of all CPUs since boot."""
    fields = [int(value) for value in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    return fields[3] + fields[4], sum(fields[:8])  # idle + iowait; user..steal


def others_share(before: tuple[int, int], after: tuple[int, int], ours_seconds: float) -> float:
    """The share of all CPUs that processes other than ours (``ours_seconds`` of CPU) used
    between two ``cpu_times()``: the interference a figure suffered."""
    tick = os.sysconf("SC_CLK_TCK")
    busy = ((after[1] - after[0]) - (before[1] - before[0])) / tick
    capacity = (after[1] - before[1]) / tick
    return max(0.0, busy - ours_seconds) / capacity if capacity else 0.0


def busy_fraction(seconds: float = 1.0) -> float:
    """How busy all CPUs together were over the next ``seconds`` (0 idle, 1 saturated)."""
    idle0, total0 = cpu_times()
    time.sleep(seconds)
    idle1, total1 = cpu_times()
    return 1 - (idle1 - idle0) / max(1, total1 - total0)


def wait_until_quiet(max_wait: float, *, below: float = 0.10, quiet_seconds: int = 5) -> None:
    """Wait (at most ``max_wait`` s) until the CPUs were idle for ``quiet_seconds`` in a row.

    Other work on the machine (a test run, a browser) takes CPU from the servers under test;
    the figures of a busy machine are not comparable.  Says so when it stays busy.
    """
    if max_wait <= 0:
        return
    deadline = time.monotonic() + max_wait
    quiet = 0
    while time.monotonic() < deadline:
        quiet = quiet + 1 if busy_fraction(1.0) < below else 0
        if quiet >= quiet_seconds:
            return
    print(f"WARNING: the machine stayed busy for {max_wait:g} s (load average {load_average()}): figures are noisy")


def process_cpu(pid: int) -> float:
    """User + system CPU seconds of a live process so far (Linux /proc); 0 if it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def tree_cpu(pid: int) -> float:
    """CPU seconds of a process and its direct children (a gunicorn master and its workers)."""
    total = process_cpu(pid)
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def percentile(sorted_values: list[float], fraction: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    if not sorted_values:
        return float("nan")
    rank = max(1, min(len(sorted_values), math.ceil(fraction * len(sorted_values))))
    return sorted_values[rank - 1]


def verdict(ok: bool) -> str:
    return "MET" if ok else "MISSED"


def add_run_options(parser) -> None:
    """``--keep``, ``--quiet-wait`` and ``--smoke``, which every benchmark takes."""
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (and any server logs)")
    parser.add_argument("--quiet-wait", type=float, default=0.0,
                        help="first wait up to this many seconds for 5 s of idle CPUs (other work < 10 %%)")
    parser.add_argument("--smoke", action="store_true",
                        help="run every step once with tiny counts (the tests do): proves the benchmark runs, "
                             "its figures mean nothing")


def smoke(args, **tiny) -> None:
    """With ``--smoke``, replace the counts of ``args`` by ``tiny`` ones and say so.

    The test suite runs each benchmark this way (tests/test_bench_smoke.py), so a change to
    the code a benchmark drives breaks a test rather than the next measurement.
    """
    if not args.smoke:
        return
    for name, value in tiny.items():
        if not hasattr(args, name):
            raise AttributeError(f"--smoke sets {name}, which this benchmark does not take")
        setattr(args, name, value)
    args.quiet_wait = 0.0
    print("SMOKE RUN: every step once with tiny counts; the figures below are not measurements", flush=True)


@contextmanager
def scratch_folder(keep: bool):
    """A temporary folder for one run: removed at the end, or kept and named (``--keep``)."""
    folder = Path(tempfile.mkdtemp(prefix="safeline-bench-"))
    try:
        yield folder
    finally:
        if keep:
            print(f"kept {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)


GPG = shutil.which("gpg") or "/usr/bin/gpg"


def gpg(home: Path, *args: str, stdin: bytes | None = None) -> bytes:
    """gpg in the throw-away ``home``, without questions; its stdout."""
    return subprocess.run([GPG, "--homedir", str(home), "--batch", "--quiet", "--pinentry-mode", "loopback",
                           "--passphrase", "", *args], input=stdin, check=True, capture_output=True).stdout


@contextmanager
def staff_gnupg(home: Path):
    """A throw-away GnuPG ``home`` with one staff key (no passphrase: gpg-agent's questions are
    not what the staff kit's benchmarks measure); yields its fingerprint, stops its agent after."""
    home.mkdir(mode=0o700)
    try:
        gpg(home, "--quick-gen-key", "Bench Staff <staff@safeline.example>", "default", "default", "never")
        listing = gpg(home, "--with-colons", "--list-keys").decode()
        yield next(line.split(":")[9] for line in listing.splitlines() if line.startswith("fpr:"))
    finally:
        subprocess.run(["gpgconf", "--homedir", str(home), "--kill", "all"], capture_output=True)
