"""(e) The staff kit's import against GnuPG alone, on the same mails.

    .venv/bin/python bench/staff_import.py [--reports 1000] [--rounds 3] [--smoke]

Makes a throw-away GnuPG home with a staff key (no passphrase: gpg-agent is not what is
measured), seals ``--reports`` reports to it with the relay's own code (``relay.seal``, as
the relay does for every report) into a Maildir folder, then measures, in alternating rounds:

- baseline: ``gpg --batch --decrypt`` once per mail on the armored part of each (extracted
  beforehand, outside the timing), output thrown away: what a staff member's mail client
  asks of GnuPG to show the same reports; one at a time, and also as many at a time as the
  kit runs (``staff.importer.GPG_WORKERS``), so the kit's own overlap of gpg processes is
  not counted as its speed;
- the kit: ``safeline-staff import --maildir DIR`` into a fresh store (``init`` beforehand,
  outside the timing): reading every mail, decrypting it through the same gpg, parsing it and
  writing the case store.

Goal (issue 22): the import takes at most 1.25× the faster baseline (medians over the rounds).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from email import message_from_bytes, policy
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import add_run_options, gpg, load_average, smoke, staff_gnupg, wait_until_quiet  # noqa: E402
from relay.followup import FollowUps  # noqa: E402
from relay.intake import new_reference  # noqa: E402
from relay.keys import load_staff_keys  # noqa: E402
from relay.report import Report  # noqa: E402
from relay.seal import seal  # noqa: E402
from staff.importer import GPG_WORKERS  # noqa: E402

GOAL = 1.25
STAFF = [sys.executable, "-m", "staff"]
JAPAN = timezone(timedelta(hours=9))


def make_mails(home: Path, fingerprint: str, maildir: Path, count: int) -> list[bytes]:
    """``count`` sealed reports in ``maildir``/new; returns each mail's armored part."""
    keys_dir = maildir.parent / "staff-keys"
    keys_dir.mkdir()
    (keys_dir / "staff.asc").write_bytes(gpg(home, "--armor", "--export", fingerprint))
    keys = load_staff_keys(keys_dir)
    for sub in ("new", "cur", "tmp"):
        (maildir / sub).mkdir(parents=True)
    start = datetime(2026, 11, 1, 9, 0, tzinfo=JAPAN)
    followups = FollowUps("bench-secret", "safeline.example")
    armored = []
    for n in range(count):
        reference = new_reference()
        report = Report(role="self" if n % 3 else "guardian", email=f"reporter{n}@example.org",
                        urls=tuple(f"https://images{n % 50}.example/{n}/{k}" for k in range(1 + n % 4)),
                        description=f"説明 {n}: 元交際相手が画像を投稿しました。" * (1 + n % 5),
                        lang="ja" if n % 4 else "en", police_referral=n % 7 == 0,
                        contact_safety="平日の夜だけメールしてください" if n % 2 else "")
        mail = seal(report, reference=reference, message_id=followups.message_id(reference),
                    received_at=start + timedelta(minutes=n), keys=keys, mail_from="relay@safeline.example",
                    mail_to=["staff@safeline.example"])
        (maildir / "new" / f"{1700000000 + n}.{n}.bench").write_bytes(mail)
        outer = message_from_bytes(mail, policy=policy.default)
        armored.append(next(part.get_payload(decode=True) for part in outer.iter_parts()
                            if part.get_content_type() == "application/octet-stream"))
    return armored


def gpg_alone(home: Path, armored: list[bytes]) -> float:
    began = time.perf_counter()
    for message in armored:
        gpg(home, "--decrypt", stdin=message)
    return time.perf_counter() - began


def gpg_alone_overlapped(home: Path, armored: list[bytes], workers: int) -> float:
    began = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(lambda message: gpg(home, "--decrypt", stdin=message), armored))
    return time.perf_counter() - began


def kit_import(home: Path, fingerprint: str, maildir: Path, scratch: Path, env: dict) -> tuple[float, str]:
    staff_home = Path(tempfile.mkdtemp(dir=scratch, prefix="kit-"))
    base = [*STAFF, "--home", str(staff_home)]
    subprocess.run([*base, "init", "--key", fingerprint, "--gnupg-home", str(home)], env=env, check=True,
                   capture_output=True)
    began = time.perf_counter()
    done = subprocess.run([*base, "import", "--maildir", str(maildir)], env=env, check=True, capture_output=True,
                          text=True)
    took = time.perf_counter() - began
    shutil.rmtree(staff_home)
    return took, done.stdout.strip().splitlines()[-1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    add_run_options(parser)
    args = parser.parse_args()
    smoke(args, reports=20, rounds=1)
    began = time.monotonic()
    print(f"load average at the start {load_average()}")
    with tempfile.TemporaryDirectory(prefix="bench-staff-") as scratch_name:
        scratch = Path(scratch_name)
        home = scratch / "gnupg"
        env = {**os.environ, "GNUPGHOME": str(home), "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
        with staff_gnupg(home) as fingerprint:
            maildir = scratch / "Maildir"
            armored = make_mails(home, fingerprint, maildir, args.reports)
            gpg_alone(home, armored[:5])  # warm the agent and the page cache
            wait_until_quiet(args.quiet_wait)
            baseline, overlapped, kit, summary = [], [], [], ""
            for _ in range(args.rounds):
                baseline.append(gpg_alone(home, armored))
                overlapped.append(gpg_alone_overlapped(home, armored, GPG_WORKERS))
                took, summary = kit_import(home, fingerprint, maildir, scratch, env)
                kit.append(took)
    one, both, mine = statistics.median(baseline), statistics.median(overlapped), statistics.median(kit)
    base = min(one, both)
    print(f"mails: {args.reports} sealed reports (relay.seal), {args.rounds} rounds, medians")
    print(f"gpg --decrypt per mail, one at a time:  {one:.2f} s ({one / args.reports * 1000:.1f} ms a mail)")
    print(f"gpg --decrypt per mail, {GPG_WORKERS} at a time:   {both:.2f} s ({both / args.reports * 1000:.1f} ms a mail)")
    print(f"safeline-staff import:                 {mine:.2f} s ({mine / args.reports * 1000:.1f} ms a mail)")
    print(f"last import said: {summary}")
    ratio = mine / base
    verdict = "met" if ratio <= GOAL else "MISSED"
    print(f"import / gpg alone (the faster way): {ratio:.2f}× (goal ≤ {GOAL}×): {verdict}")
    print(f"took {time.monotonic() - began:.0f} s; load average at the end {load_average()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
