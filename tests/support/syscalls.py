"""The system calls a piece of Python really makes, as strace sees them.

Durability and privacy are promises about system calls (an fsync of the file before its rename,
of the folder after it; a file opened with O_EXCL and mode 0600; a descriptor not inherited by
children), which no file left on disk afterwards can show.  ``trace(program, cwd)`` runs
``program`` in a fresh Python under ``strace -f -y`` and returns its calls; ``mark(name)`` in the
program (``os.open`` of a path that cannot exist) splits them into named parts.  ./run test
installs strace (``apt-get install -y strace``) when it is missing.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

from tests.support.site import ROOT

STRACE = shutil.which("strace") or "/usr/bin/strace"
CALLS = "openat,read,fsync,fdatasync,rename,renameat,renameat2,unlink,unlinkat,mkdir,mkdirat,chmod,fchmodat,flock,close"
MARKER = "/.syscalls-mark-"
PRELUDE = f'''
import os
def mark(name):
    try:
        os.close(os.open("{MARKER}" + name, os.O_RDONLY))
    except FileNotFoundError:
        pass
'''
_LINE = re.compile(r"^(?:\d+\s+)?(?P<name>\w+)\((?P<args>.*)\)\s+=\s+(?P<result>.*)$")


@dataclass(frozen=True)
class Call:
    name: str
    args: str  # as strace prints them; with -y a descriptor reads 3</the/path>
    result: str


def trace(program: str, cwd: Path, *, inject: str | None = None) -> dict[str, list[Call]]:
    """The calls of ``program`` (run with ``sys.executable`` in ``cwd``), by the part
    ``mark(name)`` began; calls before the first mark are left out (Python's start-up).

    ``inject`` makes the kernel fail a call as a real fault would: strace's ``-e inject=``
    syntax, e.g. ``"fsync:error=EIO:when=2"`` (the second fsync of the program fails).
    """
    log = cwd / "strace.log"
    done = subprocess.run(
        ["strace", "-f", "-y", "-qq", "-e", f"trace={CALLS}", *(["-e", f"inject={inject}"] if inject else []),
         "-o", str(log), sys.executable, "-c", PRELUDE + textwrap.dedent(program)],
        cwd=cwd, env={**os.environ, "PYTHONPATH": _python_path()}, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    parts: dict[str, list[Call]] = {}
    current = None
    for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
        found = _LINE.match(line.strip())
        if not found:
            continue  # <unfinished …>, signals, exits
        call = Call(found["name"], found["args"], found["result"])
        if call.name == "openat" and MARKER in call.args:
            current = call.args.split(MARKER, 1)[1].split('"', 1)[0]
            parts[current] = []
        elif current is not None and not (call.name == "close" and "<" not in call.args):
            parts[current].append(call)
    return parts


def run_with_fault(program: str, cwd: Path, *, calls: str, error: str, path: Path | None = None) -> str:
    """The standard output of ``program`` run with the system calls ``calls`` (e.g.
    ``"newfstatat,statx"``) failing with ``error`` (e.g. ``"ENOENT"``), only those on ``path``
    when given (an absolute path, as the program must name it): a race or a disk fault at an
    exact place, made by the kernel."""
    where = ["-P", str(path)] if path is not None else []
    done = subprocess.run(
        ["strace", "-f", "-qq", "-o", "/dev/null", *where, "-e", f"trace={calls}", "-e", f"inject={calls}:error={error}",
         sys.executable, "-c", textwrap.dedent(program)],
        cwd=cwd, env={**os.environ, "PYTHONPATH": _python_path()}, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def _python_path() -> str:
    """This tree first: the program imports this tree's code, not whatever .venv's editable
    install points at (./run mutants runs the tests in a copy of the tree, whose mutated
    module must be the one traced)."""
    return os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH", "")]))
