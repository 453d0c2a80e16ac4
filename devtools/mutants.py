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
``.venv``'s Python.  Not part of ``./run test``: a full run takes an hour or more.

Equivalent mutants are listed as ``MODULE  OPERATOR  SOURCE LINE  -- why``: the module, Cosmic
Ray's operator name (``*``: every mutant of that line, e.g. a signature whose annotations are never
evaluated), the line the mutant changes as it stands in the module (stripped), and one sentence.
A line that no longer matches any mutant is reported as stale.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv-mutants"
COSMIC_RAY = "cosmic-ray==8.7.0"
EQUIVALENT = ROOT / "tests" / "mutants-equivalent.txt"
GOAL = 0.90  # of the mutants of each module, at least this share killed

# Each module with the fast tests that cover it (no browser, no nginx): what a mutant must fail.
MODULES: dict[str, tuple[str, ...]] = {
    "relay/report.py": ("tests/relay/test_inputs.py", "tests/relay/test_properties.py",
                        "tests/relay/test_report_options.py", "tests/relay/test_app_form.py"),
    "relay/abuse.py": ("tests/relay/test_app_security.py",),
    "relay/chunked_body.py": ("tests/relay/test_chunked_bodies.py",),
    "relay/token.py": ("tests/relay/test_spent_tokens.py", "tests/relay/test_app_security.py",
                       "tests/relay/test_app_form.py"),
    "relay/quota.py": ("tests/relay/test_quota.py",),
    "relay/receipt.py": ("tests/relay/test_confirmation.py",),
    "relay/followup.py": ("tests/relay/test_followup.py", "tests/relay/test_followup_vectors.py"),
    "relay/outbox.py": ("tests/relay/test_outbox.py",),
    "relay/seal.py": ("tests/relay/test_seal.py",),
    "relay/smtp.py": ("tests/relay/test_smtp.py",),
    "relay/delivery.py": ("tests/relay/test_delivery.py", "tests/relay/test_app_delivery.py"),
    "relay/config.py": ("tests/relay/test_app_config.py",),
    "relay/keys.py": ("tests/relay/test_keys.py",),
    "safeline/hotlines/schedule.py": ("tests/test_schedule.py", "tests/test_hotline_sources.py"),
    "safeline/hotlines/hours.py": ("tests/test_schedule.py", "tests/test_hotline_sources.py", "tests/test_i18n.py"),
}


@dataclass
class Result:
    module: str
    killed: int = 0
    equivalent: int = 0
    incompetent: int = 0  # the mutant could not even run (e.g. a syntax the parser refuses)
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
    return command


# What a copy of the project leaves out: environments, build output, local state, caches.
NOT_COPIED = shutil.ignore_patterns(".git", ".venv", ".venv-mutants", "output", "var", "node_modules",
                                    "__pycache__", ".pytest_cache", ".hypothesis", "*.egg-info")


def project_copy(into: Path) -> Path:
    """The work tree as it is (compiled catalogs included), without what NOT_COPIED names."""
    shutil.copytree(ROOT, into, ignore=NOT_COPIED, symlinks=True)
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
    work = project_copy(scratch / module.replace("/", "_"))
    python = ROOT / ".venv" / "bin" / "python"
    test_command = f"{python} -m pytest -x -q -p no:cacheprovider -p no:randomly {' '.join(tests)}"
    baseline = time.monotonic()
    if subprocess.run(test_command.split(), cwd=work, capture_output=True).returncode != 0:
        raise SystemExit(f"mutants: the tests of {module} fail before any mutant: {' '.join(tests)}")
    timeout = max(60.0, 5 * (time.monotonic() - baseline))
    (work / "cosmic-ray.toml").write_text(
        "[cosmic-ray]\n"
        f'module-path = "{module}"\n'
        f"timeout = {timeout:.0f}.0\n"
        "excluded-modules = []\n"
        f'test-command = "{test_command}"\n\n'
        '[cosmic-ray.distributor]\nname = "local"\n', encoding="utf-8")
    command = cosmic_ray()
    subprocess.run([str(command), "init", "cosmic-ray.toml", "session.sqlite"], cwd=work, check=True)
    subprocess.run([str(command), "exec", "cosmic-ray.toml", "session.sqlite"], cwd=work, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    dump = subprocess.run([str(command), "dump", "session.sqlite"], cwd=work, capture_output=True, text=True,
                          check=True).stdout
    source = (ROOT / module).read_text(encoding="utf-8").splitlines()
    result = Result(module)
    for row in filter(None, dump.splitlines()):
        job, outcome = json.loads(row)
        mutation = job["mutations"][0]
        key = (module, mutation["operator_name"], mutated_line(source, mutation))
        if outcome is None:
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="./run mutants", description=__doc__.split("\n\n")[0])
    parser.add_argument("modules", nargs="*", help=f"of: {', '.join(MODULES)} (default: all)")
    args = parser.parse_args(argv)
    unknown = [name for name in args.modules if name not in MODULES]
    if unknown:
        print(f"mutants: not a module this task knows: {', '.join(unknown)} (see devtools/mutants.py)",
              file=sys.stderr)
        return 2
    known, seen, results = equivalents(), set(), []
    with tempfile.TemporaryDirectory(prefix="mutants-") as scratch:
        for module in args.modules or list(MODULES):
            print(f"mutants: {module} …", flush=True)
            results.append(run(module, MODULES[module], Path(scratch), known, seen))
    for result in results:
        for survivor in result.survivors:
            print(f"\nSURVIVED {result.module}:{survivor['line']} {survivor['operator']}")
            print("\n".join(survivor["diff"].splitlines()[3:]))
    stale = [key for key in known if key[0] in {r.module for r in results} and key not in seen]
    for module, operator, line in stale:
        print(f"\nSTALE tests/mutants-equivalent.txt: {module} {operator} {line!r} matches no surviving mutant")
    print(f"\n{'module':32} {'mutants':>7} {'killed':>6} {'equiv.':>6} {'survived':>8} {'score':>6} {'time':>6}")
    for r in results:
        mark = "" if r.score >= GOAL else "  < goal"
        print(f"{r.module:32} {r.total:7} {r.killed:6} {r.equivalent:6} {len(r.survivors):8} {r.score:6.0%} "
              f"{r.seconds / 60:5.1f}m{mark}")
    return 0 if all(r.score >= GOAL for r in results) and not stale else 1


if __name__ == "__main__":
    os.chdir(ROOT)
    sys.exit(main())
