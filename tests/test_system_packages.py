"""./run test brings the system packages the tests start, or says in one line what to run.

``SYSTEM_PACKAGES`` in tasks.py is the one list: these tests check that it names every
program a test starts, and run the task itself with a stand-in PATH: one where a program is
missing and apt-get cannot be run (the task stops before any test, naming the commands), and
one with a stand-in apt-get (the task installs exactly what is missing, then runs pytest).
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tasks import SEARCH_EXTRA, SYSTEM_PACKAGES
from tests.support.site import ROOT

PROGRAMS = [program for program, _, _ in SYSTEM_PACKAGES]
# Programs the tests start that come in the package of a listed one.
COMES_WITH = {"gpgconf": "gpg"}
STARTED = re.compile(r'shutil\.which\("([^"]+)"\)|subprocess\.(?:run|Popen|check_output|check_call)\(\s*\[\s*"([^"]+)"')


def started_by_tests() -> set[str]:
    found = set()
    # devtools/ too: the tests start nginx through devtools.nginx, as the benchmarks do.
    for path in [*(ROOT / "tests").rglob("*.py"), *(ROOT / "devtools").rglob("*.py")]:
        for match in STARTED.finditer(path.read_text(encoding="utf-8")):
            found.add(match[1] or match[2])
    return found


def test_the_list_names_every_program_the_tests_start():
    started = started_by_tests()
    assert started, "the scan found nothing: has the way tests start programs changed?"
    assert {COMES_WITH.get(program, program) for program in started} == set(PROGRAMS)


def stand_in_path(folder: Path, *, leave_out: set[str]) -> str:
    """A folder of links to the real programs, without ``leave_out``, as the whole PATH."""
    folder.mkdir()
    path = os.pathsep.join([os.environ.get("PATH", ""), *SEARCH_EXTRA])
    for program in PROGRAMS:
        if program not in leave_out:
            (folder / program).symlink_to(shutil.which(program, path=path))
    return str(folder)


def script(path: Path, text: str) -> None:
    path.write_text("#!/bin/sh\n" + text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


def run_test_task(path: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": path}
    return subprocess.run([sys.executable, "-m", "invoke", "test", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)


def test_a_missing_program_stops_the_task_with_one_line_before_any_test(tmp_path):
    path = stand_in_path(tmp_path / "bin", leave_out={"redis-server", "systemd-analyze"})  # and no apt-get
    result = run_test_task(path)
    assert result.returncode == 1
    assert "test session starts" not in result.stdout  # pytest never started
    assert result.stderr.splitlines() == [
        "run test: the tests need redis-server, systemd-analyze, missing here; install them with: "
        "sudo apt-get install -y redis-server systemd (on macOS: brew install redis; systemd-analyze: none on macOS)"]


def test_what_is_missing_is_installed_with_apt_get_then_the_tests_run(tmp_path):
    folder = tmp_path / "bin"
    path = stand_in_path(folder, leave_out={"redis-server", "systemd-analyze"})
    log = tmp_path / "apt-get.log"
    # apt-get as the task runs it: record the call and its environment, and "install" each
    # package by putting a program of its name where PATH finds it (systemd brings
    # systemd-analyze).  sudo, used only when not root, runs what follows -n.
    script(folder / "apt-get", f'echo "$DEBIAN_FRONTEND $*" >> {log}\n'
                               f'[ "$1" = install ] || exit 0\n'
                               f'for p in "$@"; do case "$p" in -*|install) ;; *)\n'
                               f'  [ "$p" = systemd ] && p=systemd-analyze\n'
                               f'  printf "#!/bin/sh\\n" > {folder}/"$p"; /bin/chmod +x {folder}/"$p";; esac; done\n')
    script(folder / "sudo", '[ "$1" = -n ] && shift\nexec "$@"\n')
    result = run_test_task(path, "-k", "no_test_has_this_name")
    assert log.read_text().splitlines() == [
        "noninteractive update -q", "noninteractive install -y -q redis-server systemd"]
    assert "run test: installing redis-server systemd (the tests start redis-server, systemd-analyze)" in result.stdout
    assert "test session starts" in result.stdout
    assert result.returncode == 5, result.stderr  # pytest ran, and selected nothing
