"""Mutation testing of the relay's core and the hours engine: do the tests fail when the code is wrong?

``./run mutants [MODULE…]`` (this module, ``python -m devtools.mutants``) changes each module one
small way at a time (a ``<`` made ``<=``, a number made another, a ``+`` made ``-``, …) and runs
the fast tests that cover it.  A change the tests notice is *killed*; one they do not notice
*survives*: either a test is missing, or the change cannot alter behaviour (an equivalent
mutant), which ``tests/mutants-equivalent.txt`` then says, one line each, with why.

Cosmic Ray does the changing, not mutmut: it writes each mutant into the file on disk and runs
an ordinary command, so a test that starts a subprocess (the delivery worker, gunicorn) runs the
mutant too; mutmut 3 switches mutants inside the test process only.  It runs in a copy of the
project (never this work tree) with its own virtual environment (``.venv-mutants``, pinned
below), so its dependencies never mix with the project's; the tests themselves run with
``.venv``'s Python.  Not part of ``./run test``.

A mutant faces first the tests that run its line.  The baseline run measures, with coverage, which
test runs which line of the module (``devtools/mutant_coverage.py``); for each mutant, Cosmic Ray
calls this module again (``--tests-for``), which finds the changed lines by comparing the file with
its original and runs those tests first, in their usual order, stopping at the first failure; only
a mutant they miss faces the others (a test may run the line in a subprocess, unmeasured).  A line
run outside any test (at import) faces every test at once.  So the outcome is the full run's; only
a kill comes sooner.  Modules run side by side (``--jobs``, default: one per core), each in its own copy.

Equivalent mutants are listed as ``MODULE  OPERATOR  SOURCE LINE  -- why``: the module, Cosmic
Ray's operator name (``*``: every mutant of that line, e.g. a signature whose annotations are never
evaluated), the line the mutant changes as it stands in the module (stripped), and one sentence.
A line that no longer matches any mutant is reported as stale.
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv-mutants"
COSMIC_RAY = "cosmic-ray==8.7.0"
COVERAGE = "coverage==7.6.10"  # for the tests' Python (.venv's), kept apart in .venv-mutants/for-tests
FOR_TESTS = VENV / "for-tests"
MAP = "mutants-map.json"  # in a module's copy: which test runs which line (devtools/mutant_coverage.py)
ORIGINAL = ".mutants-original"  # in a module's copy: the module before any mutant
TEST_OPTIONS = ("-q", "-p", "no:cacheprovider", "-p", "no:randomly")

# Run by .venv-mutants' Python on a new session: marks "skipped" every mutant that lies wholly in
# a type annotation of a module with ``from __future__ import annotations``, where annotations are
# strings that nothing here evaluates (no get_type_hints; dataclasses read only their text):
# ``str | None`` made ``str + None`` cannot change behaviour, and listing each would bury the rest.
SKIP_ANNOTATIONS = """
import ast, sys
from cosmic_ray.work_db import WorkDB, use_db
from cosmic_ray.work_item import WorkerOutcome, WorkResult
module, session = sys.argv[1:]
tree = ast.parse(open(module, encoding="utf-8").read())
postponed = any(isinstance(node, ast.ImportFrom) and node.module == "__future__"
                and any(alias.name == "annotations" for alias in node.names) for node in tree.body)
spans = []
for node in ast.walk(tree) if postponed else ():
    kept = [node.returns] if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) else []
    kept += [node.annotation] if isinstance(node, (ast.arg, ast.AnnAssign)) else []
    spans += [((a.lineno, a.col_offset), (a.end_lineno, a.end_col_offset)) for a in kept if a is not None]
with use_db(session, WorkDB.Mode.open) as db:
    skipped = [item.job_id for item in db.pending_work_items
               if all(any(start <= tuple(m.start_pos) and tuple(m.end_pos) <= end for start, end in spans)
                      for m in item.mutations)]
    if skipped:
        db.set_multiple_results(skipped, WorkResult(worker_outcome=WorkerOutcome.SKIPPED, output="annotation"))
"""
EQUIVALENT = ROOT / "tests" / "mutants-equivalent.txt"
GOAL = 0.90  # of the mutants of each module, at least this share killed

# Each module with the fast tests that cover it (no browser, no nginx): what a mutant must fail.
MODULES: dict[str, tuple[str, ...]] = {
    "relay/report.py": ("tests/relay/test_inputs.py", "tests/relay/test_properties.py",
                        "tests/relay/test_report_options.py", "tests/relay/test_app_form.py"),
    "relay/abuse.py": ("tests/relay/test_app_security.py",),
    "relay/chunked_body.py": ("tests/relay/test_chunked_bodies.py",),
    "relay/token.py": ("tests/relay/test_spent_tokens.py", "tests/relay/test_token_store_redis.py",
                       "tests/relay/test_app_security.py", "tests/relay/test_app_form.py"),
    "relay/quota.py": ("tests/relay/test_quota.py", "tests/relay/test_quota_stores.py"),
    "relay/receipt.py": ("tests/relay/test_confirmation.py",),
    "relay/open_now.py": ("tests/relay/test_not_now.py",),
    "relay/followup.py": ("tests/relay/test_followup.py", "tests/relay/test_followup_vectors.py"),
    "relay/outbox.py": ("tests/relay/test_outbox.py", "tests/relay/test_outbox_syscalls.py"),
    "relay/seal.py": ("tests/relay/test_seal.py",),
    "relay/smtp.py": ("tests/relay/test_smtp.py", "tests/relay/test_smtp_replies.py", "tests/relay/test_smtp_limits.py"),
    "relay/delivery.py": ("tests/relay/test_delivery.py", "tests/relay/test_app_delivery.py",
                          "tests/relay/test_status.py"),  # the state file the worker records
    "relay/config.py": ("tests/relay/test_settings.py", "tests/relay/test_app_config.py"),
    "relay/keys.py": ("tests/relay/test_keys.py",),
    "relay/status.py": ("tests/relay/test_status.py",),
    "safeline/record.py": ("tests/test_record.py",),
    "safeline/release.py": ("tests/test_publish.py", "tests/test_release_switch.py"),
    "safeline/publish.py": ("tests/test_publish.py",),
    "staff/web/guard.py": ("tests/staff/test_web_guard.py", "tests/staff/test_web_pages.py"),
    "staff/message.py": ("tests/staff/test_message_shapes.py", "tests/staff/test_message.py"),
    "staff/store.py": ("tests/staff/test_store.py", "tests/staff/test_casework.py"),
    "staff/decryption.py": ("tests/staff/test_decryption.py", "tests/staff/test_sync.py"),
    "staff/sync.py": ("tests/staff/test_sync.py",),
    "staff/events.py": ("tests/staff/test_events.py", "tests/staff/test_merge.py"),
    "staff/team.py": ("tests/staff/test_team.py", "tests/staff/test_share.py"),
    "staff/facts.py": ("tests/staff/test_facts.py", "tests/staff/test_stats.py"),
    "staff/stats.py": ("tests/staff/test_stats.py", "tests/staff/test_web_stats.py"),
    "staff/drafts.py": ("tests/staff/test_drafts.py",),
    "staff/rdap.py": ("tests/staff/test_hosting.py",),
    "safeline/hotlines/schedule.py": ("tests/test_schedule_rules.py", "tests/test_schedule.py",
                                      "tests/test_hotline_sources.py"),
    "safeline/hotlines/hours.py": ("tests/test_hours_text.py", "tests/test_schedule.py", "tests/test_hotline_sources.py",
                                   "tests/test_i18n.py"),
}


@dataclass
class Result:
    module: str
    killed: int = 0
    equivalent: int = 0
    incompetent: int = 0  # the mutant could not even run (e.g. a syntax the parser refuses)
    annotations: int = 0  # in a type annotation, never evaluated: skipped, not counted (SKIP_ANNOTATIONS)
    survivors: list[dict] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def total(self) -> int:
        return self.killed + self.equivalent + len(self.survivors)

    @property
    def score(self) -> float:
        """Killed, of the mutants that could change behaviour (the equivalent ones left out)."""
        counted = self.killed + len(self.survivors)
        return self.killed / counted if counted else 1.0


def cosmic_ray() -> Path:
    """The cosmic-ray command of .venv-mutants, made (once) with the pinned version."""
    command = VENV / "bin" / "cosmic-ray"
    if not command.exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run([str(VENV / "bin" / "python"), "-m", "pip", "install", "--quiet",
                        "--disable-pip-version-check", COSMIC_RAY], check=True)
    if not (FOR_TESTS / "coverage").is_dir():
        subprocess.run([str(VENV / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                        "--target", str(FOR_TESTS), COVERAGE], check=True)
    return command


# What a copy of the project leaves out: environments, build output, local state, caches.
NOT_COPIED = shutil.ignore_patterns(".git", ".venv", ".venv-mutants", "output", "var", "node_modules",
                                    "__pycache__", ".pytest_cache", ".hypothesis", "*.egg-info")


def project_copy(into: Path, source: Path = ROOT) -> Path:
    """The work tree as it is (compiled catalogs included), without what NOT_COPIED names."""
    shutil.copytree(source, into, ignore=NOT_COPIED, symlinks=True)
    return into


def equivalents() -> dict[tuple[str, str, str], str]:
    found = {}
    if EQUIVALENT.exists():
        for row in EQUIVALENT.read_text(encoding="utf-8").splitlines():
            if not row.strip() or row.startswith("#"):
                continue
            what, _, why = row.partition(" -- ")
            module, operator, line = what.split(maxsplit=2)
            found[module, operator, line.strip()] = why.strip()
    return found


def mutated_line(module_source: list[str], mutation: dict) -> str:
    return module_source[mutation["start_pos"][0] - 1].strip()


def run(module: str, tests: tuple[str, ...], scratch: Path, known: dict, seen: set) -> Result:
    started = time.monotonic()
    work = project_copy(scratch / module.replace("/", "_"), scratch / "snapshot")
    python = ROOT / ".venv" / "bin" / "python"
    command = cosmic_ray()
    shutil.copyfile(work / module, work / ORIGINAL)
    baseline = time.monotonic()
    measured = subprocess.run(
        [str(python), "-m", "pytest", "-x", *TEST_OPTIONS, "-p", "devtools.mutant_coverage", *tests], cwd=work,
        capture_output=True, text=True,
        env={**os.environ, "PYTHONPATH": str(FOR_TESTS), "MUTANTS_MODULE": module, "MUTANTS_MAP": MAP})
    if measured.returncode != 0:
        raise SystemExit(f"mutants: the tests of {module} fail before any mutant: {' '.join(tests)}\n"
                         f"{measured.stdout[-3000:]}{measured.stderr[-3000:]}")
    timeout = max(60.0, 5 * (time.monotonic() - baseline))
    test_command = f"{python} -m devtools.mutants --tests-for {module} {' '.join(tests)}"
    (work / "cosmic-ray.toml").write_text(
        "[cosmic-ray]\n"
        f'module-path = "{module}"\n'
        f"timeout = {timeout:.0f}.0\n"
        "excluded-modules = []\n"
        f'test-command = "{test_command}"\n\n'
        '[cosmic-ray.distributor]\nname = "local"\n', encoding="utf-8")
    subprocess.run([str(command), "init", "cosmic-ray.toml", "session.sqlite"], cwd=work, check=True,
                   stdout=subprocess.DEVNULL)
    subprocess.run([str(VENV / "bin" / "python"), "-c", SKIP_ANNOTATIONS, module, "session.sqlite"], cwd=work, check=True)
    subprocess.run([str(command), "exec", "cosmic-ray.toml", "session.sqlite"], cwd=work, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    dump = subprocess.run([str(command), "dump", "session.sqlite"], cwd=work, capture_output=True, text=True,
                          check=True).stdout
    source = (work / ORIGINAL).read_text(encoding="utf-8").splitlines()
    result = Result(module)
    for row in filter(None, dump.splitlines()):
        job, outcome = json.loads(row)
        mutation = job["mutations"][0]
        key = (module, mutation["operator_name"], mutated_line(source, mutation))
        if outcome is None:
            continue
        if outcome["worker_outcome"] == "skipped":
            result.annotations += 1
            continue
        if outcome["worker_outcome"] == "normal" and outcome["test_outcome"] == "survived":
            listed = key if key in known else (module, "*", key[2])
            if listed in known:
                seen.add(listed)
                result.equivalent += 1
            else:
                result.survivors.append({"line": mutation["start_pos"][0], "operator": mutation["operator_name"],
                                         "diff": outcome.get("diff", "")})
        elif outcome["test_outcome"] == "incompetent":
            result.incompetent += 1
        else:  # failed tests, or a timeout (the tests hung): noticed either way
            result.killed += 1
    result.seconds = time.monotonic() - started
    return result


def changed_lines(original: list[str], mutated: list[str]) -> set[int]:
    """Line numbers (from 1, in the original) that a mutant changed or removed; an insertion counts
    the line it follows."""
    changed = set()
    for tag, start, end, _, _ in difflib.SequenceMatcher(None, original, mutated, autojunk=False).get_opcodes():
        if tag != "equal":
            changed.update(range(start + 1, end + 1) if end > start else {max(start, 1)})
    return changed


def tests_for(module: str, tests: list[str]) -> int:
    """Run, in a module's copy with a mutant in place, the tests that run the mutated lines."""
    run_all = [sys.executable, "-m", "pytest", "-x", *TEST_OPTIONS, *tests]
    coverage_map = json.loads(Path(MAP).read_text(encoding="utf-8"))
    original = Path(ORIGINAL).read_text(encoding="utf-8").splitlines()
    mutated = Path(module).read_text(encoding="utf-8").splitlines()
    chosen: set[str] = set()
    for line in changed_lines(original, mutated):
        chosen.update(coverage_map["lines"].get(str(line), [""]))
    if not chosen or "" in chosen:
        return subprocess.run(run_all).returncode
    in_order = [test for test in coverage_map["tests"] if test in chosen]
    outcome = subprocess.run([sys.executable, "-m", "pytest", "-x", *TEST_OPTIONS, *in_order]).returncode
    if outcome in (4, 5):  # pytest could not find a node ID: never count that as a kill
        return subprocess.run(run_all).returncode
    if outcome != 0:
        return outcome
    # Survived the tests that run the line here; a test may still run it in a subprocess.
    rest = subprocess.run([*run_all, *(f"--deselect={test}" for test in in_order)]).returncode
    return 0 if rest == 5 else rest  # 5: every test was already chosen


def report(result: Result) -> None:
    for survivor in result.survivors:
        print(f"\nSURVIVED {result.module}:{survivor['line']} {survivor['operator']}")
        print("\n".join(survivor["diff"].splitlines()[3:]))
    print(f"\nmutants: {result.module} done: {result.killed} killed, {result.equivalent} equivalent, "
          f"{len(result.survivors)} survived ({result.score:.0%}) in {result.seconds / 60:.1f} min", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="./run mutants", description=__doc__.split("\n\n")[0])
    parser.add_argument("modules", nargs="*", help=f"of: {', '.join(MODULES)} (default: all)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="modules run side by side")
    parser.add_argument("--tests-for", metavar="MODULE", help=argparse.SUPPRESS)  # called by Cosmic Ray
    args = parser.parse_args(argv)
    if args.tests_for:
        return tests_for(args.tests_for, args.modules)
    unknown = [name for name in args.modules if name not in MODULES]
    if unknown:
        print(f"mutants: not a module this task knows: {', '.join(unknown)} (see devtools/mutants.py)",
              file=sys.stderr)
        return 2
    known, seen = equivalents(), set()
    cosmic_ray()  # made once, before modules run side by side
    with tempfile.TemporaryDirectory(prefix="mutants-") as scratch:
        project_copy(Path(scratch) / "snapshot")  # the work tree as it is now, even if edited meanwhile

        def one(module: str) -> Result:
            print(f"mutants: {module} …", flush=True)
            result = run(module, MODULES[module], Path(scratch), known, seen)
            report(result)
            return result

        with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
            results = list(pool.map(one, args.modules or list(MODULES)))
    stale = [key for key in known if key[0] in {r.module for r in results} and key not in seen]
    for module, operator, line in stale:
        print(f"\nSTALE tests/mutants-equivalent.txt: {module} {operator} {line!r} matches no surviving mutant")
    print(f"\n{'module':32} {'mutants':>7} {'killed':>6} {'equiv.':>6} {'survived':>8} {'score':>6} {'time':>6}"
          "  (annotations skipped)")
    for r in results:
        mark = "" if r.score >= GOAL else "  < goal"
        print(f"{r.module:32} {r.total:7} {r.killed:6} {r.equivalent:6} {len(r.survivors):8} {r.score:6.0%} "
              f"{r.seconds / 60:5.1f}m  ({r.annotations}){mark}")
    return 0 if all(r.score >= GOAL for r in results) and not stale else 1


if __name__ == "__main__":
    os.chdir(ROOT)
    sys.exit(main())
