"""Run every benchmark, one after the other, each in its own process (group) with a time limit.

    .venv/bin/python bench/run_all.py [--only a,b,c,d,e,f] [--quiet-wait 120] [--smoke]

Each benchmark prints its own figures, ratios and goals; this prints them in turn, then the
lines that carry the verdicts, and exits with 1 when any benchmark failed (an error, or
stopped at its time limit); a missed goal is a verdict, not a failure.  See BENCHMARKS.md
for the figures of the last recorded run.  The tests run each benchmark through this with
``--smoke`` (tests/test_bench_smoke.py); the measurements themselves are not part of them.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
BENCHMARKS = {
    "a": ("relay throughput (accepted reports)", "relay_throughput.py"),
    "b": ("relay rate-limited rejections", "relay_ratelimited.py"),
    "c": ("outbox delivery into SMTP", "delivery_throughput.py"),
    "d": ("site build", "site_build.py"),
    "e": ("staff kit: import against gpg alone", "staff_import.py"),
    "f": ("staff kit: the case list with 10,000 cases", "staff_cases.py"),
    "g": ("staff kit: sync of 100,000 events against decrypting them alone", "staff_events.py"),
    "h": ("staff kit: statistics over 10,000 cases", "staff_stats.py"),
}
# Time limits longer than --timeout's default, for a benchmark whose recorded run takes longer
# (not for --smoke).
LIMITS = {"g": 3600.0}


def _stop(process: subprocess.Popen, key: str, timeout: float) -> None:
    if process.poll() is not None:
        return
    print(f"({key}) still running after {timeout:g} s: stopping it", flush=True)
    try:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(5)
    except ProcessLookupError:
        pass


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=",".join(BENCHMARKS), help="which benchmarks, e.g. a,c (default all)")
    parser.add_argument("--quiet-wait", type=float, default=0.0,
                        help="before each, wait up to this many seconds for the machine to be idle")
    parser.add_argument("--timeout", type=float, default=300.0,
                        help="time limit per benchmark (default 300 s; (g) 3600 s unless --smoke)")
    parser.add_argument("--smoke", action="store_true",
                        help="each benchmark once with tiny counts: proves they run, the figures mean nothing")
    args = parser.parse_args()
    verdicts: list[str] = []
    failed: list[str] = []
    for key in args.only.split(","):
        key = key.strip()
        title, script = BENCHMARKS[key]
        timeout = args.timeout if args.smoke else max(args.timeout, LIMITS.get(key, 0.0))
        print(f"\n=== ({key}) {title}: .venv/bin/python bench/{script}", flush=True)
        command = [sys.executable, str(BENCH / script)]
        if args.quiet_wait:
            command += ["--quiet-wait", str(args.quiet_wait)]
        if args.smoke:
            command.append("--smoke")
        process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                   start_new_session=True)
        lines = []
        # The benchmark stops its own servers; SIGTERM reaches it through its process group.
        watchdog = threading.Timer(timeout, _stop, args=(process, key, timeout))
        watchdog.start()
        try:
            assert process.stdout is not None
            for line in process.stdout:
                print(line, end="", flush=True)
                lines.append(line.rstrip("\n"))
            process.wait()
        finally:
            watchdog.cancel()
            if process.poll() is None:
                _stop(process, key, timeout)
        verdicts += [f"({key}) {line}" for line in lines if "goal" in line]
        if process.returncode:
            failed.append(key)
            verdicts.append(f"({key}) FAILED: exit status {process.returncode}")
    print("\n=== verdicts")
    print("\n".join(verdicts))
    if failed:
        print(f"failed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
