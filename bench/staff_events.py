"""(g) The staff kit's sync: replaying 100,000 team events into an empty store, against decrypting them alone.

    .venv/bin/python bench/staff_events.py [--events 100000] [--rounds 1] [--corpus DIR] [--smoke]

Makes three staff keys as key files, no passphrase (the two authors' by pysequoia, fast; the
reader's by GnuPG, ``future-default``: Ed25519 to sign, Curve25519 to encrypt; see ``make_keys``) and their public keys in a ``staff_keys`` folder,
then a corpus of ``--events`` event mails in a Maildir events folder: a realistic mix of
every type (notes, statuses, assignments, removal requests to every target, URL states, next
dates, confirmed hosts, a phone case now and then, a few deletions and retirements) over a few
thousand cases (one per 30 events), by the three members in turn, in the order they were made,
each sealed as every kit seals its own (``staff.eventmail.seal``: signed by its author's key
file, encrypted to the three keys). ``--corpus DIR`` keeps the corpus there and uses it again
next time (making 100,000 takes a few minutes: about 1 ms a mail, on both cores).

Then, in each round (medians over the rounds), with the third member's key file as the
reading identity (``staff.openpgp.KeyFileIdentity``: decryption by pysequoia; a GnuPG key
would add a gpg process of some 11 ms a mail to both sides alike, bench (e), and hide the
kit's own work):

- baseline: ``identity.decrypt`` of each mail's armored part (taken out of the mails
  beforehand, outside the timing), one after the other, output thrown away: what reading the
  events costs at the least;
- for the breakdown: ``staff.eventmail.unseal`` of each mail (the envelope, decryption, the
  signature verified against the team's keys, the event checked), and each step alone;
- the kit: ``staff.sync.sync`` on the Maildir folder into a fresh, empty store (its events
  folder read, each mail unsealed and applied, ``staff.sync.BATCH`` to a transaction with the
  position saved after each): what ``safeline-staff sync`` does, without the IMAP server.
  From its second batch on it decrypts in a second process (staff/decryption.py), one mail
  at a time as the baseline does, while its first process checks signatures and applies:
  so it uses both cores where the baseline uses one. The CPU time of each process is
  printed with it.

Goal (issue 23): the kit takes at most 1.5x the baseline.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import secrets
import shutil
import statistics
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import add_run_options, load_average, smoke, stop_on_sigterm, wait_until_quiet  # noqa: E402
from safeline.record import REFERENCE_ALPHABET  # noqa: E402

GOAL = 1.5
JAPAN = timezone(timedelta(hours=9))
NAMES = ("aoki", "baba", "chiba")  # the three members; the last one reads
CORPUS_VERSION = 3
# How often each type is made (per 100 events, roughly; phone cases, deletions and
# retirements come once per case that has them).
MIX = {"note": 18, "request": 24, "url_state": 15, "status": 12, "url_next": 10, "url_host": 10, "assign": 6}
TARGETS = (("site", 40), ("host", 25), ("search", 12), ("platform", 12), ("registrar", 6), ("police", 5))
NOTES = ("電話で本人に確認しました。", "サイト運営者のフォームから依頼済み。返信待ち。", "Sent the form again; no ticket yet.",
         "ホスティング事業者から受付番号が届いた。", "画像がミラーサイトにも転載されている。", "Waiting for the registrar.")


def make_keys(folder: Path) -> None:
    """The members' key files and public keys: the authors' by pysequoia (fast to make), the
    reader's by GnuPG (``future-default``: Ed25519 and Curve25519), as staff make theirs. Its
    key advertises no v6 encryption (SEIPD v2), which GnuPG 2.2 and 2.4 cannot read: so Sequoia
    encrypts every event as GnuPG reads it, and the reader can be the key file or GnuPG."""
    import subprocess

    import pysequoia

    from bench.common import gpg

    (folder / "staff-keys").mkdir(parents=True)
    for name in NAMES[:-1]:
        tsk = pysequoia.Tsk.generate(user_id=f"Bench {name} <{name}@safeline.example>")
        (folder / f"{name}.key").write_text(str(tsk))
        (folder / "staff-keys" / f"{name}.asc").write_text(str(tsk.extract_certificate()))
    home = Path(tempfile.mkdtemp(prefix="gpg-", dir="/tmp"))  # short: gpg-agent's socket path
    try:
        home.chmod(0o700)
        user = f"Bench {NAMES[-1]} <{NAMES[-1]}@safeline.example>"
        gpg(home, "--quick-gen-key", user, "future-default", "default", "never")
        (folder / f"{NAMES[-1]}.key").write_bytes(gpg(home, "--armor", "--export-secret-keys", user))
        (folder / "staff-keys" / f"{NAMES[-1]}.asc").write_bytes(gpg(home, "--armor", "--export", user))
    finally:
        subprocess.run(["gpgconf", "--homedir", str(home), "--kill", "all"], capture_output=True)
        shutil.rmtree(home, ignore_errors=True)


def plan(count: int, fingerprints: list[str], seed: int = 23) -> list[tuple]:
    """``count`` events as (at, author, case, type, data), in the order they were made."""
    rng = random.Random(seed)
    cases = max(10, count // 30)
    start = datetime(2025, 1, 6, 9, 0, tzinfo=JAPAN)
    per_case = [1] * cases
    for _ in range(count - cases):
        per_case[rng.randrange(cases)] += 1
    kinds = list(MIX)
    weights = list(MIX.values())
    made: list[tuple] = []
    shared: list[str] = []
    for number in range(cases):
        began = start + timedelta(minutes=rng.randrange(0, 700 * 24 * 60))
        author = rng.choice(fingerprints)
        if number % 10 == 9:  # a phone case: its first event makes it
            ref = f"TEL-{began.strftime('%Y%m%d')}-{number % 1000:03d}-{author[-4:]}"
        else:
            ref = "SL-" + "".join(rng.choice(REFERENCE_ALPHABET) for _ in range(4)) + "-" + \
                  "".join(rng.choice(REFERENCE_ALPHABET) for _ in range(4))
        urls = [f"https://site{rng.randrange(400)}.example/p/{number}/{k}" for k in range(rng.randint(1, 4))]
        if shared and rng.random() < 0.05:
            urls.append(rng.choice(shared))  # the same address reported in another case
        shared.append(urls[0])
        moment = began
        left = per_case[number]
        if ref.startswith("TEL"):
            made.append((moment, author, ref, "phone_case", {"fields": {
                "role": rng.choice(("self", "guardian")), "email": "", "contact_safety": "",
                "urls": urls, "where": "", "description": "電話での相談", "police_referral": rng.random() < 0.2,
                "language": "ja"}}))
            left -= 1
        end = None
        if left > 1 and rng.random() < 0.02:
            end = "retire" if rng.random() < 0.7 else "delete"
            left -= 1
        for _ in range(left):
            moment += timedelta(minutes=rng.randrange(1, 3 * 24 * 60), microseconds=rng.randrange(10**6))
            who = rng.choice(fingerprints) if rng.random() < 0.3 else author
            kind = rng.choices(kinds, weights)[0]
            day = moment.astimezone(JAPAN).date()
            url = rng.choice(urls)
            if kind == "note":
                data = {"text": rng.choice(NOTES)}
            elif kind == "status":
                data = {"status": rng.choice(("new", "in_progress", "waiting", "closed"))}
            elif kind == "assign":
                data = {"to": rng.choice(fingerprints + [None])}
            elif kind == "request":
                target = rng.choices([t for t, _ in TARGETS], [w for _, w in TARGETS])[0]
                data = {"url": url, "target": target, "target_name": "Example Hosting, Inc.",
                        "method": rng.choice(("form", "email", "post")), "sent_on": day,
                        "ticket": f"T-{rng.randrange(10**6):06d}" if rng.random() < 0.4 else "",
                        "next_on": day + timedelta(days=7)}
            elif kind == "url_state":
                state = rng.choice(("removed", "removed", "refused", "no_answer", "asked"))
                data = {"url": url, "state": state, "on": day, "reason": "規約違反ではないとの回答" if state == "refused" else "",
                        "next_on": None if state == "removed" else day + timedelta(days=7)}
            elif kind == "url_next":
                data = {"url": url, "next_on": rng.choice((None, day + timedelta(days=rng.randrange(1, 15))))}
            else:
                overseas = rng.random() < 0.6
                data = {"url": url, "host": {
                    "addresses": [f"192.0.2.{rng.randrange(1, 255)}"], "holder": "Example Network",
                    "country": "US" if overseas else "JP", "registrar": "Example Registrar", "overseas": overseas,
                    "looked_up_at": moment.isoformat()}}
            made.append((moment, who, ref, kind, data))
        if end:
            made.append((moment + timedelta(days=400), author, ref, end, {}))
    made.sort(key=lambda item: item[0])
    return made[:count]


_WORKER: dict = {}


def _worker_start(folder: str) -> None:
    from staff.openpgp import KeyFileIdentity
    from staff.team import Team

    _WORKER["team"] = Team.load(Path(folder) / "staff-keys")
    _WORKER["identities"] = {identity.fingerprint: identity for identity in
                             (KeyFileIdentity.load(Path(folder) / f"{name}.key") for name in NAMES)}


def _seal_some(items: list[tuple]) -> list[bytes]:
    from staff.eventmail import seal
    from staff.events import new_event

    mails = []
    for at, author, ref, kind, data in items:
        event = new_event(ref, kind, data, author=author, at=at)
        mails.append(seal(event.to_bytes(), _WORKER["identities"][author], _WORKER["team"]))
    return mails


def make_corpus(folder: Path, count: int) -> None:
    """Keys and ``count`` sealed event mails in ``folder`` (Maildir ``events``)."""
    folder.mkdir(parents=True, exist_ok=True)
    make_keys(folder)
    from staff.openpgp import KeyFileIdentity

    fingerprints = [KeyFileIdentity.load(folder / f"{name}.key").fingerprint for name in NAMES]
    planned = plan(count, fingerprints)
    for sub in ("new", "cur", "tmp"):
        (folder / "events" / sub).mkdir(parents=True)
    chunks = [planned[start:start + 500] for start in range(0, len(planned), 500)]
    number = 0
    with ProcessPoolExecutor(max(1, min(2, os.cpu_count() or 1)), initializer=_worker_start,
                             initargs=(str(folder),)) as pool:
        for mails in pool.map(_seal_some, chunks):
            for mail in mails:
                (folder / "events" / "new" / f"{number:012d}.{secrets.token_hex(4)}.bench").write_bytes(mail)
                number += 1
    types: dict[str, int] = {}
    for item in planned:
        types[item[3]] = types.get(item[3], 0) + 1
    (folder / "corpus.json").write_text(json.dumps({"version": CORPUS_VERSION, "events": count, "types": types,
                                                    "cases": len({item[2] for item in planned})}))


def corpus(folder: Path, count: int) -> dict:
    """The corpus in ``folder``, made when it is missing or of another size."""
    manifest = folder / "corpus.json"
    if manifest.is_file():
        made = json.loads(manifest.read_text())
        if made.get("version") == CORPUS_VERSION and made.get("events") == count:
            print(f"corpus: reusing {folder}")
            return made
        raise SystemExit(f"{folder} holds a corpus of another size or version: give another --corpus")
    began = time.monotonic()
    make_corpus(folder, count)
    print(f"corpus: {count} event mails sealed in {time.monotonic() - began:.0f} s into {folder}")
    return json.loads(manifest.read_text())


def decrypt_alone(identity, ciphertexts: list[bytes]) -> float:
    began = time.perf_counter()
    for ciphertext in ciphertexts:
        identity.decrypt(ciphertext)
    return time.perf_counter() - began


def decrypt_overlapped(identity, ciphertexts: list[bytes], workers: int) -> float:
    from concurrent.futures import ThreadPoolExecutor

    began = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(identity.decrypt, ciphertexts))
    return time.perf_counter() - began


def gnupg_identity(home: Path, key_file: Path, fingerprint: str):
    """The reader's key imported into a throw-away GnuPG ``home`` (its agent stopped at exit)."""
    import atexit
    import subprocess

    from bench.common import gpg
    from staff.openpgp import GnuPGIdentity

    home.mkdir(mode=0o700)
    gpg(home, "--import", str(key_file))
    atexit.register(subprocess.run, ["gpgconf", "--homedir", str(home), "--kill", "all"], capture_output=True)
    return GnuPGIdentity(fingerprint, gnupg_home=home)


def unseal_alone(identity, team, mails: list[bytes]) -> float:
    from staff.eventmail import unseal

    began = time.perf_counter()
    for mail in mails:
        unseal(mail, identity, team)
    return time.perf_counter() - began


def parts_alone(identity, team, mails: list[bytes], ciphertexts: list[bytes]) -> dict[str, float]:
    """The steps of ``unseal`` one by one over every mail: the envelope, the signature (of
    the decrypted messages, decrypted beforehand), reading the event."""
    from staff.eventmail import ciphertext_of
    from staff.events import Event

    signed = [identity.decrypt(ciphertext) for ciphertext in ciphertexts]
    took = {}
    began = time.perf_counter()
    for mail in mails:
        ciphertext_of(mail)
    took["the envelope (staff.eventmail.ciphertext_of)"] = time.perf_counter() - began
    began = time.perf_counter()
    verified = [team.verify(message).data for message in signed]
    took["signature (Team.verify)"] = time.perf_counter() - began
    began = time.perf_counter()
    for data in verified:
        Event.from_bytes(data)
    took["Event.from_bytes"] = time.perf_counter() - began
    return took


def apply_alone(events: list, scratch: Path, per_transaction: int) -> float:
    """``Store.apply`` of every (event, signed form, Message-ID) into a fresh store, as sync
    applies them, ``per_transaction`` to a transaction."""
    from staff.store import Store

    path = Path(tempfile.mkdtemp(dir=scratch, prefix="apply-")) / "cases.sqlite3"
    store = Store.create(path, secrets.token_bytes(32))
    store.author = events[0][0].author
    with store:
        began = time.perf_counter()
        for start in range(0, len(events), per_transaction):
            if per_transaction == 1:
                event, signed, mail_id = events[start]
                store.apply(event, signed=signed, mail_id=mail_id)
                continue
            with store.batch():
                for event, signed, mail_id in events[start:start + per_transaction]:
                    store.apply(event, signed=signed, mail_id=mail_id)
        took = time.perf_counter() - began
    for file in path.parent.iterdir():
        file.unlink()
    path.parent.rmdir()
    return took


def kit_sync(identity, team, folder: Path, scratch: Path) -> tuple[float, str, int, tuple[float, float]]:
    from staff.eventfolder import MaildirEventFolder
    from staff.store import Store
    from staff.sync import sync

    path = Path(tempfile.mkdtemp(dir=scratch, prefix="kit-")) / "cases.sqlite3"
    store = Store.create(path, secrets.token_bytes(32))
    store.author = identity.fingerprint
    with store:
        cpu, children = time.process_time(), _children_cpu()
        began = time.perf_counter()
        tally = sync(store, MaildirEventFolder(folder), identity, team)
        took = time.perf_counter() - began
        cpu, children = time.process_time() - cpu, _children_cpu() - children
        cases = len(store.cases(limit=None))
    size = path.stat().st_size
    for file in path.parent.iterdir():
        file.unlink()
    path.parent.rmdir()
    if tally.offline or sum(tally.ignored.values()):
        raise RuntimeError(f"sync did not read every event: {tally.summary()} {tally.offline or ''}")
    return took, f"{tally.summary()}; {cases} cases, store {size / 1e6:.0f} MB", cases, (cpu, children)


def _children_cpu() -> float:
    """CPU time of this process's children that ended (sync's second process, once closed)."""
    import resource

    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--corpus", type=Path, help="keep the keys and mails here, and use them again next time")
    parser.add_argument("--no-breakdown", action="store_true", help="leave out the steps measured one by one")
    parser.add_argument("--reader", choices=("keyfile", "gnupg"), default="keyfile",
                        help="decrypt with the reader's key file (default) or with the same key imported into a "
                             "throw-away GnuPG home (a gpg process a mail, both sides; slow: try --events 5000)")
    add_run_options(parser)
    args = parser.parse_args()
    smoke(args, events=60, rounds=1)
    stop_on_sigterm()  # run_all's time limit: the scratch folder and the gpg agent go too
    began = time.monotonic()
    print(f"load average at the start {load_average()}")
    from staff.message import envelope
    from staff.openpgp import KeyFileIdentity
    from staff.team import Team

    with tempfile.TemporaryDirectory(prefix="bench-staff-events-") as scratch_name:
        scratch = Path(scratch_name)
        folder = args.corpus or scratch / "corpus"
        made = corpus(folder, args.events)
        identity = KeyFileIdentity.load(folder / f"{NAMES[-1]}.key")
        team = Team.load(folder / "staff-keys")
        mails = [entry.read_bytes() for entry in sorted((folder / "events" / "new").iterdir())]
        ciphertexts = [envelope(mail)[1] for mail in mails]
        from staff.eventmail import message_id_of, open_mail
        from staff.decryption import GPG_WORKERS
        from staff.sync import BATCH

        events = [(opened.event, opened.signed, message_id_of(mail))
                  for mail in mails for opened in [open_mail(mail, identity, team)]]
        reading = f"the key file of {NAMES[-1]} (pysequoia, in this process)"
        if args.reader == "gnupg":
            identity = gnupg_identity(scratch / "gnupg", folder / f"{NAMES[-1]}.key", identity.fingerprint)
            reading = (f"the key of {NAMES[-1]} in a GnuPG home (a gpg process a mail; sync runs {GPG_WORKERS} at "
                       f"a time, so the baseline is the faster of one and {GPG_WORKERS} at a time)")
            args.no_breakdown = True
        decrypt_alone(identity, ciphertexts[:20])  # warm up
        wait_until_quiet(args.quiet_wait)
        baseline, unsealed, kit, cpus, summary = [], [], [], [], ""
        parts: dict[str, list[float]] = {}
        for _ in range(args.rounds):
            baseline.append(decrypt_alone(identity, ciphertexts))
            if args.reader == "gnupg":
                baseline[-1] = min(baseline[-1], decrypt_overlapped(identity, ciphertexts, GPG_WORKERS))
            if not args.no_breakdown:
                unsealed.append(unseal_alone(identity, team, mails))
                for name, took in parts_alone(identity, team, mails, ciphertexts).items():
                    parts.setdefault(name, []).append(took)
                parts.setdefault("Store.apply, one transaction each", []).append(
                    apply_alone(events, scratch, 1))
                parts.setdefault(f"Store.apply, {BATCH} to a transaction (store.batch)", []).append(
                    apply_alone(events, scratch, BATCH))
            took, summary, _cases, cpu = kit_sync(identity, team, folder / "events", scratch)
            kit.append(took)
            cpus.append(cpu)
    n = args.events
    base, mine = statistics.median(baseline), statistics.median(kit)
    types = ", ".join(f"{kind} {number}" for kind, number in sorted(made["types"].items(), key=lambda item: -item[1]))
    print(f"events: {n} mails by {len(NAMES)} members over {made['cases']} cases ({types}); "
          f"read with {reading}; {args.rounds} round(s), medians")
    print(f"decrypt alone (baseline):          {base:7.2f} s ({base / n * 1000:.2f} ms a mail)")
    if unsealed:
        opened = statistics.median(unsealed)
        print(f"unseal alone (+ envelope, signature): {opened:5.2f} s ({opened / n * 1000:.2f} ms a mail)")
    for name, values in parts.items():
        took = statistics.median(values)
        print(f"  breakdown: {name}: {took:.2f} s ({took / n * 1000:.3f} ms an event)")
    if parts:
        needed = base + sum(statistics.median(values) for name, values in parts.items()
                            if not name.startswith(("the envelope", "Store.apply, one")))
        print(f"  the steps sync cannot do without (decrypt + signature + Event.from_bytes + apply, {BATCH} to a "
              f"transaction), one after the other: {needed:.2f} s, {needed / base:.2f}× the baseline")
    print(f"safeline-staff sync into a new store: {mine:5.2f} s ({mine / n * 1000:.2f} ms a mail)")
    here, there = (statistics.median(values) for values in zip(*cpus))
    print(f"  its CPU time: {here:.2f} s in its own process, {there:.2f} s in the processes it started (decryption: "
          "the key file's second process, or gpg)")
    print(f"sync said: {summary}")
    ratio = mine / base
    verdict = "met" if ratio <= GOAL else "MISSED"
    print(f"sync / decrypt alone: {ratio:.2f}× (goal ≤ {GOAL}×): {verdict}")
    print(f"took {time.monotonic() - began:.0f} s; load average at the end {load_average()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
