"""Every benchmark runs: each once, through bench/run_all.py, with ``--smoke`` (tiny counts).

No figure is checked (a smoke run measures nothing); what is checked is that each benchmark
gets to its end and exits 0, i.e. that the code it drives (the relay's routes, the seal, the
outbox and delivery, nginx as shipped, the site's build and audit) still works the way the
benchmark drives it.  Two benchmarks had silently stopped running after such changes (issue 21).
Every server they start listens on a free loopback port and is stopped by the benchmark.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from bench.run_all import BENCHMARKS
from tests.support.site import ROOT

RUN_ALL = ROOT / "bench" / "run_all.py"


def run_all(*args: str, timeout: float = 240) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(RUN_ALL), *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout)


@pytest.mark.parametrize("key", sorted(BENCHMARKS))
def test_each_benchmark_runs_to_its_end(key):
    done = run_all("--smoke", "--only", key, "--timeout", "180")
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-6000:]
    assert "SMOKE RUN" in output, output[-3000:]  # the tiny counts were used, not the real ones
    assert "\ntook " in output, output[-3000:]  # its last line: every step ran
    assert "FAILED" not in output, output[-3000:]


def test_run_all_fails_when_a_benchmark_fails():
    # A benchmark stopped at its time limit is one that failed: the run says so and exits 1.
    done = run_all("--smoke", "--only", "c", "--timeout", "0.1", timeout=60)
    output = done.stdout + done.stderr
    assert done.returncode == 1, output[-3000:]
    assert "(c) FAILED: exit status" in output, output[-3000:]
