"""Benchmark (b): rate-limited rejections per second, against a bare Flask 429.

Two refusals are measured, each against the same baseline:

- the relay's own (gunicorn, no nginx): its limits are 1 per hour, so after the first POST of
  each worker (spent in the warm-up) every POST is refused with 429 and the form with what
  was typed.  This is the refusal people meet;
- the production path of a flood (deploy/nginx in front of the same relay, bench/nginx_stack.py):
  after its burst, nginx refuses the POSTs itself (safeline-limits.conf).

The baseline reads the same fields and answers 429 with one line.  Same gunicorn settings,
same load tool, same requests.  Goal: >= 0.8 of the baseline.

    .venv/bin/python bench/relay_ratelimited.py [--requests N] [--concurrency C] [--rounds R]
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import relay_breakdown  # noqa: E402
from bench.relay_common import compare  # noqa: E402

if __name__ == "__main__":
    sys.exit(compare(
        title="(b) rate-limited POSTs: relay 429 and nginx + relay 429 vs bare Flask 429 (gunicorn)",
        expected=429, baseline_status=429,
        ratelimit="1 per hour", ratelimit_posts="1 per hour",
        goal_ratio=0.8, goal_p99_ms=None, description=__doc__.splitlines()[0], requests=3000,
        breakdown=relay_breakdown.ratelimited, stack=True,
    ))
