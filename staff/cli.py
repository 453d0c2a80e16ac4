"""``safeline-staff``: the staff kit's command line (``./run staff …`` in this repository).

Each command lives in the module of its concern, which adds its own subparser in
``register(commands)`` and sets ``func`` to the function that runs it with the parsed
arguments and returns the exit status. A ``StaffError`` becomes one line
on stderr and exit status 1: never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import signal
import sys
from pathlib import Path

from .home import HOME_ENV
from .problems import StaffError

# In the order `safeline-staff --help` lists them.
COMMAND_MODULES = ("staff.setup", "staff.importer", "staff.casework", "staff.removal", "staff.drafts",
                   "staff.hosting", "staff.sync", "staff.team", "staff.stats", "staff.web")


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="safeline-staff", description="Safeline's staff kit: reports as cases, "
                                   "decrypted with your own OpenPGP key and kept in an encrypted store.")
    root.add_argument("--home", type=Path, help=f"the staff kit's folder (default: ${HOME_ENV}, or the "
                      "platform's folder for application data)")
    commands = root.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(commands)
    return root


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    # Ctrl+C (SIGINT) stops every command the same way: the store closed, one line said. Python
    # leaves SIGINT ignored when the parent ignored it (a shell script's background job, some
    # test runners), and `serve` would then not stop at all; SIGINT exists on Windows too.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        status = args.func(args)
    except StaffError as error:
        print(f"safeline-staff: {error}", file=sys.stderr)
        status = 1
    except KeyboardInterrupt:
        print("safeline-staff: stopped", file=sys.stderr)
        status = 130
    sys.exit(status or 0)
