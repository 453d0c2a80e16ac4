"""Benchmark (a): accepted reports per second and p99 latency, relay against a bare Flask POST.

Both under gunicorn with deploy/gunicorn.conf.py (same sync workers), both loaded by
bench/load.py with the same requests: a complete report, each with a fresh form token.
The relay validates, seals (OpenPGP), fsyncs into a temporary outbox and answers 303; the
baseline reads the same fields and answers 303.  Goal: >= 0.5 of the baseline, p99 <= 20 ms.
A third server, bench/floor_app.py, does only what no relay can leave out (encrypt, store
durably): its ratio is the most any relay could reach on this machine.

    .venv/bin/python bench/relay_throughput.py [--requests N] [--concurrency C] [--rounds R]
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import relay_breakdown  # noqa: E402
from bench.relay_common import compare  # noqa: E402

if __name__ == "__main__":
    sys.exit(compare(
        title="(a) accepted reports through gunicorn: relay vs bare Flask",
        expected=303, baseline_status=303,
        ratelimit="1000000 per hour", ratelimit_posts="1000000 per hour",
        goal_ratio=0.5, goal_p99_ms=20.0, description=__doc__.splitlines()[0], requests=1000,
        breakdown=lambda setup, **options: relay_breakdown.accepted(setup, setup.folder / "breakdown-outbox", **options),
        floor=True,
    ))
