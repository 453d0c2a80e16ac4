"""The relay against a bare Flask baseline, both under gunicorn with deploy/gunicorn.conf.py.

Used by relay_throughput.py (benchmark a: accepted reports, 303) and relay_ratelimited.py
(benchmark b: rate-limited POSTs, 429).  Both servers run at once on free loopback ports, with
the same worker count and worker class; the same load tool (bench/load.py) sends the same
requests to each (the same form body, each with its own form token), alternating rounds.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the project, for relay.*

from bench import load, nginx_stack  # noqa: E402
from safeline.site import CATALOGS, LANGUAGES  # noqa: E402
from bench.common import (HOST, add_run_options, cpu_times, gunicorn_command, gunicorn_env,  # noqa: E402
                          gunicorn_workers, load_average, others_share, print_machine, scratch_folder, server,
                          smoke, stop_on_sigterm, tree_cpu, verdict, wait_until_quiet)
from devtools.ports import free_port  # noqa: E402

DESCRIPTION = (
    "昨年の夏ごろに交際相手に撮影された写真が、本人の同意なく掲示板とSNSに投稿されています。"
    "顔がはっきり写っていて、名前と学校名も一緒に書かれています。最初の投稿は三月で、"
    "その後いくつかのまとめサイトに転載されました。削除をお願いしたいです。"
)
URLS = "https://bbs.example.com/thread/123456\nhttps://example.net/matome/987?page=2\nsns.example.org/user/abc/status/42"
# The benchmarked relay's addresses: its development defaults (relay/config.py); nothing is
# delivered anywhere but to a benchmark's own local mail server.
BENCH_MAIL_FROM = "relay@safeline.test"
BENCH_MAIL_TO = "staff@safeline.test"


def form_body(token: str) -> bytes:
    """A complete, valid report as the browser sends it (the honeypot left empty)."""
    return urlencode({
        "role": "self",
        "email": "hanako.yamada@example.jp",
        "urls": URLS,
        "description": DESCRIPTION,
        "consent": "yes",
        "website": "",
        "token": token,
    }).encode("ascii")


@dataclass
class Setup:
    folder: Path
    secret: str
    outbox: Path
    keys: Path


def make_setup(folder: Path, *, staff_keys: int = 1) -> Setup:
    from relay import openpgp

    keys = folder / "staff-keys"
    keys.mkdir()
    for number in range(staff_keys):
        pair = openpgp.generate_key(f"Safeline Bench Staff {number} <staff{number}@safeline.test>")
        (keys / f"staff{number}.asc").write_bytes(pair.public)
    return Setup(folder=folder, secret=secrets.token_urlsafe(48), outbox=folder / "outbox", keys=keys)


def relay_env(setup: Setup, port: int, *, ratelimit: str, ratelimit_posts: str) -> dict[str, str]:
    return {
        "RELAY_ENV": "development",
        "RELAY_SECRET_KEY": setup.secret,
        "RELAY_STAFF_KEYS": str(setup.keys),
        "RELAY_MAIL_TO": BENCH_MAIL_TO,
        "RELAY_MAIL_FROM": BENCH_MAIL_FROM,
        "RELAY_SMTP_URL": "smtp://127.0.0.1:9",  # not used: nothing is delivered in this benchmark
        "RELAY_OUTBOX": str(setup.outbox),
        "RELAY_SITE_ORIGIN": f"http://{HOST}:{port}",
        "RELAY_MIN_FILL_SECONDS": "0",
        "RELAY_RATELIMIT_STORAGE": "memory://",
        "RELAY_RATELIMIT": ratelimit,
        # One client sends every report of the benchmark: the site's ceiling is set as high.
        "RELAY_RATELIMIT_SITE": ratelimit,
        "RELAY_RATELIMIT_POSTS": ratelimit_posts,
    }


def requests_for(setup: Setup, port: int, count: int) -> list[bytes]:
    """``count`` POSTs of the report form, each with a fresh token signed with the relay's secret."""
    from relay.token import FormTokens, MemorySpentTokens

    tokens = FormTokens(setup.secret, min_fill_seconds=0, spent=MemorySpentTokens())
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "Origin": f"http://{HOST}:{port}",
        "Sec-Fetch-Site": "same-origin",
        "User-Agent": "safeline-bench/1",
        "Accept": "text/html",
    }
    return [load.request_bytes("POST", HOST, port, "/report/", headers=headers, body=form_body(tokens.issue()))
            for _ in range(count)]


def stale_catalogs() -> list[str]:
    """Catalogs the relay would refuse (it needs each .mo newer than its .po)."""
    found = []
    for lang in LANGUAGES:
        po = CATALOGS / lang / "LC_MESSAGES" / "messages.po"
        mo = po.with_suffix(".mo")
        if not mo.exists() or mo.stat().st_mtime < po.stat().st_mtime:
            found.append(f"{mo.relative_to(CATALOGS.parent.parent)} is missing or older than its .po")
    return found


def arguments(description: str, *, requests: int) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--requests", type=int, default=requests, help="per run and server (default %(default)s)")
    parser.add_argument("--rounds", type=int, default=5, help="baseline/relay rounds, alternating (default 5)")
    parser.add_argument("--single", type=int, default=200,
                        help="requests over one connection per round and server, for unloaded latency (default 200)")
    parser.add_argument("--concurrency", type=int, default=4, help="connections (default %(default)s)")
    parser.add_argument("--processes", type=int, default=2, help="load tool processes (default 2)")
    parser.add_argument("--warmup", type=int, default=100, help="requests before measuring (default 100)")
    parser.add_argument("--max-seconds", type=float, default=40.0, help="time limit of each run (default 40)")
    parser.add_argument("--staff-keys", type=int, default=1, help="staff keys to encrypt to (default 1)")
    parser.add_argument("--no-breakdown", action="store_true", help="skip the in-process cost of each step")
    parser.add_argument("--repeat", type=int, default=None,
                        help="calls of each step in the in-process breakdown (default: its own, 300 or 500)")
    add_run_options(parser)
    args = parser.parse_args()
    # One gunicorn worker each: with the relay's limits per worker (memory://), the warm-up's
    # first POST then spends the only one allowed, and every later POST of (b) is a 429.
    smoke(args, requests=12, rounds=1, single=4, concurrency=2, processes=1, warmup=4, max_seconds=20.0, repeat=3)
    if args.smoke:
        os.environ["RELAY_WORKERS"] = "1"
    return args


def compare(*, title: str, expected: int, baseline_status: int, ratelimit: str, ratelimit_posts: str,
            goal_ratio: float, goal_p99_ms: float | None, description: str, requests: int, breakdown,
            stack: bool = False, floor: bool = False) -> int:
    """``stack``: also load the relay behind deploy/nginx (bench/nginx_stack.py), as "stack";
    ``floor``: also load bench/floor_app.py (encrypt + durable store, nothing else), as "floor"."""
    from relay.outbox import Outbox

    args = arguments(description, requests=requests)
    stop_on_sigterm()
    print(title)
    stale = stale_catalogs()
    if stale:
        print("the relay would refuse to start: " + "; ".join(stale) + " (run ./run i18n-compile first)")
        return 2
    wait_until_quiet(args.quiet_wait)
    print_machine()
    workers = gunicorn_workers()
    started = time.monotonic()
    with scratch_folder(args.keep) as folder:
        setup = make_setup(folder, staff_keys=args.staff_keys)
        base_port, relay_port = free_port(), free_port()
        base_env = gunicorn_env(base_port, {"BENCH_BASELINE_STATUS": str(baseline_status)})
        env = gunicorn_env(relay_port, relay_env(setup, relay_port, ratelimit=ratelimit,
                                                  ratelimit_posts=ratelimit_posts))
        print(f"gunicorn: deploy/gunicorn.conf.py, {workers} sync workers each; load: bench/load.py, "
              f"{args.concurrency} connections in {args.processes} processes, {args.requests} requests per run, "
              f"{args.rounds} rounds; relay: {args.staff_keys} staff key(s), limits "
              f"RELAY_RATELIMIT={ratelimit!r} RELAY_RATELIMIT_POSTS={ratelimit_posts!r}")
        with contextlib.ExitStack() as running:
            base_server = running.enter_context(server(gunicorn_command("bench.baseline_app:app"), port=base_port,
                                                       env=base_env, log=folder / "baseline.log"))
            relay_server = running.enter_context(server(gunicorn_command("relay:create_app()"), port=relay_port,
                                                        env=env, log=folder / "relay.log"))
            targets = {"baseline": base_port, "relay": relay_port}
            masters = {"baseline": [base_server.pid], "relay": [relay_server.pid]}
            if stack:
                stack_port = free_port()
                site = nginx_stack.build_site(folder / "site")
                nginx = running.enter_context(server(
                    nginx_stack.command(folder / "nginx", site_root=site, relay_port=relay_port, port=stack_port),
                    port=stack_port, env=dict(os.environ), log=folder / "nginx.log"))
                targets["stack"] = stack_port
                masters["stack"] = [nginx.pid, relay_server.pid]  # nginx and the relay behind it
                print(f"stack: deploy/nginx as shipped (bench/nginx_stack.py) on port {stack_port}, "
                      f"in front of the same relay")
            if floor:
                floor_port = free_port()
                floor_env = gunicorn_env(floor_port, {"FLOOR_STAFF_KEYS": str(setup.keys),
                                                      "FLOOR_OUTBOX": str(folder / "floor-outbox")})
                floor_server = running.enter_context(server(gunicorn_command("bench.floor_app:app"),
                                                            port=floor_port, env=floor_env, log=folder / "floor.log"))
                targets["floor"] = floor_port
                masters["floor"] = [floor_server.pid]
                print("floor: bench/floor_app.py, bare Flask + encrypt + outbox.put, under the same gunicorn")
            runs: dict[str, list[load.Result]] = {name: [] for name in targets}

            def one(name: str, count: int, concurrency: int) -> load.Result:
                port = targets[name]
                batch = requests_for(setup, port, count)
                cpu, machine_before = sum(tree_cpu(pid) for pid in masters[name]), cpu_times()
                result = load.run(HOST, port, batch, concurrency=concurrency, processes=args.processes,
                                  max_seconds=args.max_seconds)
                result.server_cpu = sum(tree_cpu(pid) for pid in masters[name]) - cpu
                result.others_busy = others_share(machine_before, cpu_times(),
                                                  result.server_cpu + result.client_cpu)
                return result

            for name in targets:  # warm-up: imports, first template renders, first fsyncs
                one(name, args.warmup, args.concurrency)
            for path in Outbox(setup.outbox).pending() + Outbox(folder / "floor-outbox").pending():
                path.unlink()
            single: dict[str, list[load.Result]] = {name: [] for name in targets}
            for round_number in range(1, args.rounds + 1):
                for name in targets:
                    result = one(name, args.requests, args.concurrency)
                    runs[name].append(result)
                    print(f"  round {round_number} {name:8} x{args.concurrency}: {result.summary()}", flush=True)
                stored = Outbox(setup.outbox).pending()
                if expected == 303 and len(stored) != runs["relay"][-1].statuses.get(303, 0):
                    print(f"  WARNING: {len(stored)} messages in the outbox for "
                          f"{runs['relay'][-1].statuses.get(303, 0)} accepted reports")
                for name in targets:  # unloaded latency: one connection, one request at a time
                    result = one(name, args.single, 1)
                    single[name].append(result)
                    print(f"  round {round_number} {name:8} x1: {result.summary()}", flush=True)
                for path in Outbox(setup.outbox).pending() + Outbox(folder / "floor-outbox").pending():
                    path.unlink()
        failures = 0
        for name in targets:
            wanted = baseline_status if name == "baseline" else expected
            for result in runs[name] + single[name]:
                wrong = result.sent - result.statuses.get(wanted, 0) + sum(result.errors.values())
                failures += wrong
                if wrong:
                    print(f"  WARNING: {name}: {wrong} answers other than {wanted}: {dict(result.statuses)} "
                          f"{dict(result.errors)}")

        def med(results, figure):
            return statistics.median(figure(result) for result in results)

        best = {name: max(results, key=lambda result: result.rate) for name, results in runs.items()}
        print()
        print(f"{args.concurrency} connections, {args.rounds} rounds: median (best round)")
        labels = {"baseline": f"baseline (bare Flask, {baseline_status})", "relay": f"relay ({expected})",
                  "stack": f"nginx + relay ({expected})", "floor": f"floor ({expected})"}
        for name in targets:
            label, results = labels[name], runs[name]
            print(f"  {label:28} {med(results, lambda r: r.rate):6.0f} req/s ({best[name].rate:.0f}), "
                  f"p50 {med(results, lambda r: r.p(0.5)):.1f} ms ({best[name].p(0.5):.1f}), "
                  f"p99 {med(results, lambda r: r.p(0.99)):.1f} ms ({best[name].p(0.99):.1f}), "
                  f"server CPU {med(results, lambda r: r.server_cpu / r.sent * 1000):.2f} ms/request")
        print(f"one connection, {args.single} requests x {args.rounds} rounds: median (best round)")
        for name in targets:
            results = single[name]
            print(f"  {name:28} p50 {med(results, lambda r: r.p(0.5)):.1f} ms "
                  f"({min(r.p(0.5) for r in results):.1f}), p99 {med(results, lambda r: r.p(0.99)):.1f} ms "
                  f"({min(r.p(0.99) for r in results):.1f})")
        ratio_median = med(runs["relay"], lambda r: r.rate) / med(runs["baseline"], lambda r: r.rate)
        ratio_best = best["relay"].rate / best["baseline"].rate
        cpu_ratio = (med(runs["baseline"], lambda r: r.server_cpu / r.sent)
                     / med(runs["relay"], lambda r: r.server_cpu / r.sent))
        print(f"ratio relay/baseline: {ratio_best:.2f} best rounds, {ratio_median:.2f} medians, "
              f"{cpu_ratio:.2f} by server CPU per request"
              + ("" if stack else f" (goal >= {goal_ratio}: {verdict(ratio_best >= goal_ratio)})"))
        if floor:
            floor_best = best["floor"].rate / best["baseline"].rate
            reach = "within reach" if floor_best >= goal_ratio else "out of reach for the relay here"
            print(f"ratio floor/baseline: {floor_best:.2f} best rounds, "
                  f"{med(runs['floor'], lambda r: r.rate) / med(runs['baseline'], lambda r: r.rate):.2f} medians: "
                  f"the most a relay that encrypts and stores as the outbox does reaches (goal >= {goal_ratio}: {reach}); "
                  f"relay/floor: {best['relay'].rate / best['floor'].rate:.2f} best rounds")
        if stack:
            stack_best = best["stack"].rate / best["baseline"].rate
            stack_median = med(runs["stack"], lambda r: r.rate) / med(runs["baseline"], lambda r: r.rate)
            print(f"ratio nginx + relay/baseline: {stack_best:.2f} best rounds, {stack_median:.2f} medians "
                  f"(goal >= {goal_ratio}: {verdict(stack_best >= goal_ratio)})")
        if goal_p99_ms is not None:
            p99_loaded = med(runs["relay"], lambda r: r.p(0.99))
            print(f"relay p99 at {args.concurrency} connections: {p99_loaded:.1f} ms median, "
                  f"{best['relay'].p(0.99):.1f} ms in the best round "
                  f"(goal <= {goal_p99_ms:g} ms: {verdict(best['relay'].p(0.99) <= goal_p99_ms)})")
            p99_alone = med(single["relay"], lambda r: r.p(0.99))
            print(f"relay p99 with one connection: {p99_alone:.1f} ms median, "
                  f"{min(r.p(0.99) for r in single['relay']):.1f} ms best "
                  f"(goal <= {goal_p99_ms:g} ms: {verdict(min(r.p(0.99) for r in single['relay']) <= goal_p99_ms)})")
        if failures:
            print(f"{failures} requests were not answered as expected: the figures above are not valid")
        if not args.no_breakdown:
            print()
            breakdown(setup, **({"repeat": args.repeat} if args.repeat else {}))
        print(f"took {time.monotonic() - started:.0f} s; load average at the end {load_average()}")
        return 1 if failures else 0
