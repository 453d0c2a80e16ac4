"""What the staff kit may lean on: the mail and the shared contract, not the relay; and no
call that exists only on POSIX systems, so that it runs on macOS and Windows too.

Both read the kit's source (its syntax tree), so a new import or call shows here at once.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.site import ROOT

STAFF = ROOT / "staff"
SOURCES = sorted(STAFF.rglob("*.py"))
# Modules that exist only on POSIX systems (or whose use there has no Windows meaning).
POSIX_MODULES = {"fcntl", "termios", "tty", "pty", "pwd", "grp", "resource", "posix", "syslog", "crypt"}
# Calls of os that Windows lacks, or where they do nothing there (chmod as the only protection).
POSIX_CALLS = {"fork", "forkpty", "setsid", "getuid", "geteuid", "getgid", "chown", "chmod", "fchmod", "kill",
               "killpg", "getpgid", "setpgid", "mkfifo", "symlink", "link", "umask", "sync"}
# The kit's own packages, the standard library, and the dependencies of its [staff] extra.
ALLOWED_ROOTS = {"staff", "safeline", "apsw", "gnupg", "imapclient", "keyring", "pysequoia", "flask", "werkzeug",
                 "jinja2", "markupsafe", "babel", "ada_url"}


def imports(tree: ast.AST) -> list[tuple[str, int]]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.module, node.lineno))
    return found


@pytest.mark.parametrize("source", SOURCES, ids=lambda path: str(path.relative_to(ROOT)))
def test_imports_only_the_contract_the_standard_library_and_its_own_dependencies(source):
    tree = ast.parse(source.read_text(encoding="utf-8"))
    for name, line in imports(tree):
        root = name.split(".")[0]
        where = f"{source.relative_to(ROOT)}:{line}"
        assert root in ALLOWED_ROOTS or root in sys.stdlib_module_names, f"{where} imports {name}"
        assert root not in POSIX_MODULES, f"{where} imports {name}, which Windows lacks"
        if root == "safeline":
            assert name in ("safeline", "safeline.record"), f"{where}: the kit shares only safeline.record"


@pytest.mark.parametrize("source", SOURCES, ids=lambda path: str(path.relative_to(ROOT)))
def test_no_call_that_only_posix_has(source):
    tree = ast.parse(source.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "os":
            assert node.attr not in POSIX_CALLS, f"{source.relative_to(ROOT)}:{node.lineno} uses os.{node.attr}"
            assert not node.attr.startswith("O_") or node.attr in {"O_RDONLY", "O_WRONLY", "O_RDWR", "O_CREAT",
                                                                  "O_EXCL", "O_TRUNC", "O_APPEND"}, \
                f"{source.relative_to(ROOT)}:{node.lineno} uses os.{node.attr}"


def test_the_kit_starts_without_the_relay_or_the_site():
    # In a process where relay/, devtools/ and Pelican cannot be imported, the whole command
    # line (every command module) still loads: the kit needs only its own extra.
    program = (
        "import sys, importlib.abc\n"
        "class Refuse(importlib.abc.MetaPathFinder):\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('relay', 'devtools', 'pelican', 'yaml', 'redis', 'aiosmtpd'):\n"
        "            raise ImportError('the staff kit imported ' + name)\n"
        "sys.meta_path.insert(0, Refuse())\n"
        "from staff.cli import parser\n"
        "parser()\n"
        "import staff.web.app, staff.store, staff.imap\n"
        "print('ok')\n"
    )
    done = subprocess.run([sys.executable, "-c", program], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.stdout == "ok\n", done.stderr[-2000:]


def test_the_sources_were_found():
    assert Path(STAFF / "cli.py") in SOURCES and len(SOURCES) > 10
