"""(f) The staff kit's case list with 10,000 cases: time to answer, p95.

    .venv/bin/python bench/staff_cases.py [--cases 10000] [--requests 300] [--smoke]

Makes a throw-away GnuPG home and staff key, ``safeline-staff init`` with it, fills the
encrypted store with ``--cases`` cases (reports with one to four URLs, a third of them with an
addition, statuses and notes spread over them) through the store's own API, then starts the
real local interface (``safeline-staff serve --no-browser``, its own process, on a free loopback
port) and times, request by request over one kept-alive connection:

- baseline: the interface's style sheet (a static file through the same server, guard and
  headers): what any answer of this server costs;
- the case list (``/``: the newest 100 by last activity), the list filtered by status, and a
  search for a word in the descriptions.

Goal (issue 22): the case list's p95 under 50 ms. Ratios to the baseline are printed too.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import add_run_options, load_average, smoke, staff_gnupg, wait_until_quiet  # noqa: E402
from devtools.ports import HOST, free_port  # noqa: E402
from safeline.record import REFERENCE_ALPHABET, parse  # noqa: E402

GOAL_MS = 50.0
JAPAN = timezone(timedelta(hours=9))


def reference(rng: random.Random) -> str:
    chars = "".join(rng.choice(REFERENCE_ALPHABET) for _ in range(8))
    return f"SL-{chars[:4]}-{chars[4:]}"


def fill(staff_home: Path, count: int, env: dict) -> None:
    """``count`` cases in the store of ``staff_home``, through the store's own API."""
    os.environ.update({key: env[key] for key in ("GNUPGHOME",)})
    from staff.home import Home
    from staff.setup import open_store

    rng = random.Random(22)
    start = datetime(2025, 1, 1, 9, 0, tzinfo=JAPAN)
    words = ["元交際相手", "画像", "動画", "掲示板", "SNS", "アカウント", "削除", "投稿"]
    store = open_store(Home(staff_home))
    with store:
        with store.batch():
            for n in range(count):
                ref = reference(rng)
                at = start + timedelta(minutes=37 * n)
                record = {"format": 1, "kind": "report", "reference": ref, "received_at": at.isoformat(),
                          "role": rng.choice(["self", "guardian"]), "email": f"r{n}@example.org",
                          "contact_safety": "夜だけ" if n % 3 else "",
                          "urls": [f"https://site{n % 300}.example/p/{n}/{k}" for k in range(1 + n % 4)],
                          "where": "", "description": " ".join(rng.choices(words, k=12)),
                          "police_referral": n % 9 == 0, "consent": True, "language": rng.choice(["ja", "en"])}
                store.add(parse(json.dumps(record)), message_id=f"<{ref}@bench>")
                if n % 3 == 0:
                    addition = {"format": 1, "kind": "addition", "reference": ref,
                                "received_at": (at + timedelta(hours=5)).isoformat(),
                                "urls": [f"https://mirror{n % 40}.example/{n}"], "where": "", "description": "追加",
                                "language": record["language"]}
                    store.add(parse(json.dumps(addition)), message_id=f"<{ref}-more@bench>")
        for n, summary in enumerate(store.cases(limit=count)):
            if n % 4:
                store.set_status(summary.reference, ("in_progress", "waiting", "closed")[n % 3])
            if n % 5 == 0:
                store.add_note(summary.reference, "電話で確認済み")


def times(connection: http.client.HTTPConnection, path: str, cookie: str, count: int) -> list[float]:
    taken = []
    for _ in range(count):
        began = time.perf_counter()
        connection.request("GET", path, headers={"Host": connection.host_header, "Cookie": cookie})
        response = connection.getresponse()
        body = response.read()
        taken.append((time.perf_counter() - began) * 1000)
        if response.status != 200:
            raise RuntimeError(f"GET {path}: {response.status} {body[:200]!r}")
    return taken


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1] if len(values) > 1 else values[0]


def measure(scratch: Path, fingerprint: str, env: dict, args) -> dict[str, list[float]]:
    """``init``, fill the store, start ``serve`` and time its pages; the server stops after."""
    server = None
    try:
        staff_home = scratch / "kit"
        base = [sys.executable, "-m", "staff", "--home", str(staff_home)]
        subprocess.run([*base, "init", "--key", fingerprint], env=env, check=True, capture_output=True)
        filled = time.monotonic()
        fill(staff_home, args.cases, env)
        print(f"store filled with {args.cases} cases in {time.monotonic() - filled:.1f} s "
              f"({(staff_home / 'cases.sqlite3').stat().st_size / 1e6:.1f} MB)")
        port = free_port()
        server = subprocess.Popen([*base, "serve", "--no-browser", "--port", str(port)], env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        assert server.stdout is not None
        link = ""
        for line in server.stdout:
            if found := re.search(r"http://127\.0\.0\.1:\d+/\S*token=\S+", line):
                link = found.group(0)
                break
        if not link:
            raise RuntimeError("safeline-staff serve printed no link")
        connection = http.client.HTTPConnection(HOST, port, timeout=30)
        connection.host_header = f"{HOST}:{port}"
        connection.request("GET", link.split(f":{port}", 1)[1], headers={"Host": connection.host_header})
        response = connection.getresponse()
        response.read()
        cookie = response.getheader("Set-Cookie", "").split(";", 1)[0]
        if not cookie:
            raise RuntimeError(f"the launch link set no cookie ({response.status})")
        style = re.search(r'href="(/static/[^"]+\.css)"', times_page(connection, cookie))
        wait_until_quiet(args.quiet_wait)
        rows = {}
        rows["style sheet (baseline)"] = times(connection, style.group(1) if style else "/static/staff.css",
                                               cookie, args.requests)
        rows["case list, newest 100"] = times(connection, "/", cookie, args.requests)
        rows["case list, status waiting"] = times(connection, "/?status=waiting", cookie, args.requests)
        rows["search 削除"] = times(connection, "/?q=%E5%89%8A%E9%99%A4", cookie, max(3, args.requests // 5))
        return rows
    finally:
        if server is not None:
            server.terminate()
            server.wait(10)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=300)
    add_run_options(parser)
    args = parser.parse_args()
    smoke(args, cases=30, requests=3)
    began = time.monotonic()
    print(f"load average at the start {load_average()}")
    with tempfile.TemporaryDirectory(prefix="bench-staff-cases-") as scratch_name:
        scratch = Path(scratch_name)
        home = scratch / "gnupg"
        env = {**os.environ, "GNUPGHOME": str(home), "PYTHONPATH": str(ROOT)}
        with staff_gnupg(home) as fingerprint:
            rows = measure(scratch, fingerprint, env, args)
    baseline = statistics.median(rows["style sheet (baseline)"])
    print(f"{'':28} {'median':>8} {'p95':>8}  ratio of medians to the baseline")
    for name, values in rows.items():
        print(f"{name:28} {statistics.median(values):7.1f}ms {p95(values):7.1f}ms  "
              f"{statistics.median(values) / baseline:.1f}×")
    list_p95 = p95(rows["case list, newest 100"])
    verdict = "met" if list_p95 < GOAL_MS else "MISSED"
    print(f"case list p95 with {args.cases} cases: {list_p95:.1f} ms (goal < {GOAL_MS:g} ms): {verdict}")
    print(f"took {time.monotonic() - began:.0f} s; load average at the end {load_average()}")
    return 0


def times_page(connection: http.client.HTTPConnection, cookie: str) -> str:
    connection.request("GET", "/", headers={"Host": connection.host_header, "Cookie": cookie})
    response = connection.getresponse()
    return response.read().decode("utf-8", "replace")


if __name__ == "__main__":
    sys.exit(main())
