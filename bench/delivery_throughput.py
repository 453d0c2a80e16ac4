"""Benchmark (c): an outbox of 10,000 sealed reports drained into a local SMTP server.

A few real reports are sealed (OpenPGP, to a key made for the run) and copied into a temporary
outbox under distinct names and Message-IDs; devtools.mail (aiosmtpd) runs in its own process
on a free loopback port; relay.delivery.deliver_once then drains the outbox exactly as the
worker does (claim, one SMTP conversation per message, remove with a directory fsync), logging
one line per message to a file.  Goal: >= 200 reports per second.

Then, to show what limits it, the same steps apart, on a sample:
  - SMTP alone, one connection per message (relay.smtp.SmtpTarget.send, as the worker does);
  - SMTP alone, one connection for the whole sample (smtplib MAIL/RCPT/DATA repeated): the baseline;
  - the outbox alone: claim and remove each message (open, flock, read, unlink, fsync).

    .venv/bin/python bench/delivery_throughput.py [--messages 10000] [--sample 1000]
"""

from __future__ import annotations

import argparse
import datetime
import logging
import os
import smtplib
import sys
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (HOST, PY, ROOT, add_run_options, cpu_times, load_average, others_share,  # noqa: E402
                          print_machine, process_cpu, scratch_folder, server, smoke, stop_on_sigterm, verdict,
                          wait_until_quiet)
from bench.relay_common import BENCH_MAIL_FROM, BENCH_MAIL_TO, DESCRIPTION, URLS, make_setup  # noqa: E402
from devtools.ports import free_port  # noqa: E402

RCPT_TO = [BENCH_MAIL_TO]
GOAL = 200.0


def sealed_templates(keys_folder: Path, count: int = 4) -> list[tuple[bytes, str]]:
    """``count`` real reports, sealed; each with the Message-ID it carries."""
    from relay.intake import new_reference
    from relay.keys import load_staff_keys
    from relay.report import validate
    from relay.seal import seal

    keys = load_staff_keys(keys_folder)
    made = []
    for number in range(count):
        lang = "ja" if number % 2 == 0 else "en"
        form = {"role": "self" if number % 3 else "guardian", "email": f"reporter{number}@example.jp",
                "urls": URLS, "description": DESCRIPTION * (1 + number), "consent": "yes"}
        report, errors = validate(form, lang)
        assert not errors, errors
        reference = new_reference()
        message_id = f"<{uuid.uuid4().hex}.{reference}@safeline.test>"
        message = seal(report, reference=reference, message_id=message_id,
                       received_at=datetime.datetime.now(datetime.timezone.utc), keys=keys,
                       mail_from=BENCH_MAIL_FROM, mail_to=RCPT_TO)
        made.append((message, message_id))
    return made


def fill(outbox_folder: Path, templates: list[tuple[bytes, str]], count: int, *, prefix: str = "") -> None:
    """``count`` messages named as the relay names them, each with its own Message-ID."""
    from relay.outbox import Outbox

    Outbox(outbox_folder).check_writable()  # makes the folders as the relay does
    start = datetime.datetime.now(datetime.timezone.utc)
    for number in range(count):
        message, message_id = templates[number % len(templates)]
        reference = f"SL-{number // 10000:04d}-{number % 10000:04d}"
        new_id = f"<{uuid.uuid4().hex}.{reference}@safeline.test>".encode()
        data = message.replace(message_id.encode(), new_id, 1)
        stamp = start + datetime.timedelta(microseconds=number)
        (outbox_folder / f"{prefix}{stamp:%Y%m%dT%H%M%S%fZ}-{reference}.eml").write_bytes(data)
    os.sync()  # setup writes are not part of the delivery's fsyncs


def count_mail(folder: Path) -> int:
    return sum(1 for _ in folder.glob("*.eml"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=10000)
    parser.add_argument("--sample", type=int, default=1000, help="messages per breakdown step (default 1000)")
    parser.add_argument("--max-seconds", type=float, default=120.0, help="time limit of the drain (default 120)")
    add_run_options(parser)
    args = parser.parse_args()
    smoke(args, messages=20, sample=8, max_seconds=30.0)
    stop_on_sigterm()

    from relay.delivery import deliver_once
    from relay.outbox import Outbox
    from relay.smtp import SmtpTarget

    print("(c) outbox drained into a local SMTP server (devtools.mail) by relay.delivery")
    wait_until_quiet(args.quiet_wait)
    print_machine()
    began = time.monotonic()
    with scratch_folder(args.keep) as folder:
        setup = make_setup(folder)
        templates = sealed_templates(setup.keys)
        outbox_folder = folder / "outbox"
        t0 = time.monotonic()
        fill(outbox_folder, templates, args.messages)
        sizes = sorted({len(message) for message, _ in templates})
        print(f"outbox: {args.messages} sealed messages ({', '.join(map(str, sizes))} bytes) written in "
              f"{time.monotonic() - t0:.1f} s")

        mail = folder / "mail"
        port = free_port()
        command = [PY, "-m", "devtools.mail", "--folder", str(mail), "--port", str(port)]
        env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
        handler = logging.FileHandler(folder / "delivery.log")
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        logging.getLogger().addHandler(handler)
        logging.getLogger().setLevel(logging.INFO)  # one line per message, as the worker logs
        with server(command, port=port, env=env, log=folder / "mail.log", cwd=ROOT) as mail_server:
            target = SmtpTarget.from_url(f"smtp://{HOST}:{port}")
            outbox = Outbox(outbox_folder)
            stop = threading.Event()
            timer = threading.Timer(args.max_seconds, stop.set)
            timer.daemon = True
            timer.start()
            sent = deferred = passes = 0
            t0 = time.monotonic()
            cpu0 = time.process_time()
            server_cpu0 = process_cpu(mail_server.pid)
            machine_before = cpu_times()
            try:
                while not stop.is_set() and passes < 20:
                    counts = deliver_once(outbox, target, BENCH_MAIL_FROM, RCPT_TO, stop=stop)
                    passes += 1
                    sent += counts.sent
                    deferred += counts.deferred + counts.refused
                    if not outbox.pending():
                        break
            finally:
                timer.cancel()
            seconds = time.monotonic() - t0
            cpu = time.process_time() - cpu0
            server_cpu = process_cpu(mail_server.pid) - server_cpu0
            others = others_share(machine_before, cpu_times(), cpu + server_cpu)
            left = len(outbox.pending())
            received = count_mail(mail)
            rate = sent / seconds
            print(f"drain: {sent} sent in {seconds:.1f} s = {rate:.0f} reports/s ({seconds / max(sent, 1) * 1000:.2f} ms "
                  f"each; CPU per message: worker {cpu / max(sent, 1) * 1000:.2f} ms, mail server "
                  f"{server_cpu / max(sent, 1) * 1000:.2f} ms); {passes} pass(es), {deferred} deferred, "
                  f"{left} left in the outbox, {received} stored by the server; other processes used {others:.0%} of the CPUs"
                  + (" (stopped by the time limit)" if stop.is_set() else ""))
            ok = left == 0 and received == args.messages and sent == args.messages

            # -- what limits it: the steps apart, on a sample -------------------------------
            sample = [data for data, _ in templates] * (args.sample // len(templates) + 1)
            sample = sample[:args.sample]
            t0 = time.monotonic()
            for data in sample:
                target.send(data, mail_from=BENCH_MAIL_FROM, rcpt_to=RCPT_TO)  # RFC 5321's limits, as the worker
            per_connection = (time.monotonic() - t0) / len(sample)

            t0 = time.monotonic()
            connection = smtplib.SMTP(HOST, port, timeout=30)
            try:
                connection.ehlo()
                for data in sample:
                    wire = data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
                    code, _ = connection.mail(BENCH_MAIL_FROM, [f"SIZE={len(wire)}"])
                    assert code == 250
                    for recipient in RCPT_TO:
                        code, _ = connection.rcpt(recipient)
                        assert code in (250, 251)
                    code, _ = connection.data(wire)
                    assert code == 250
                connection.quit()
            finally:
                connection.close()
            reused = (time.monotonic() - t0) / len(sample)

            store_folder = folder / "outbox-only"
            fill(store_folder, templates, len(sample), prefix="o")
            store = Outbox(store_folder)
            t0 = time.monotonic()
            for path in store.pending():
                with store.claim(path) as claim:
                    assert claim is not None
                    store.remove(path)
            outbox_only = (time.monotonic() - t0) / len(sample)

        per_message = seconds / max(sent, 1)
        print(f"per message: whole delivery {per_message * 1000:.2f} ms; of which, measured apart on "
              f"{len(sample)} messages:")
        print(f"  SMTP, one connection per message (as the worker): {per_connection * 1000:.2f} ms "
              f"= {1 / per_connection:.0f}/s")
        print(f"  SMTP, one connection for all (baseline):          {reused * 1000:.2f} ms = {1 / reused:.0f}/s")
        print(f"  outbox claim + remove (incl. directory fsync):    {outbox_only * 1000:.2f} ms = {1 / outbox_only:.0f}/s")
        print(f"  connection setup and teardown (first - second):   {(per_connection - reused) * 1000:.2f} ms")
        print(f"ratio delivery/baseline (one connection for all): {(1 / per_message) / (1 / reused):.2f}")
        print(f"reports per second: {rate:.0f} (goal >= {GOAL:g}: {verdict(rate >= GOAL and ok)})")
        if not ok:
            print("WARNING: not every message was delivered exactly once: the figure is not valid")
        print(f"took {time.monotonic() - began:.0f} s; load average at the end {load_average()}")
        return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
