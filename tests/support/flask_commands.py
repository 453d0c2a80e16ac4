"""``flask --app relay …`` as a process, with every command this checkout's pyproject.toml declares.

Flask finds its plugin commands (``keys``, ``deliver``, ``status``) through the entry points of the
installed distribution, which ``./run`` writes when it installs the project, and it imports them
before ``--app`` puts the working folder on the path.  A command added here would therefore be
missing, or be imported from another checkout, until the shared virtual environment is installed
again.  ``command_env(folder)`` returns the PYTHONPATH that avoids both: this checkout first, and a
distribution's metadata written from this pyproject.toml's ``flask.commands`` (Flask registers a
command found twice once; the code it names is this checkout's).
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from tests.support.site import ROOT


def entry_point_folder(folder: Path) -> Path:
    """A folder holding the metadata of this checkout's Flask commands, made once in ``folder``."""
    target = Path(folder) / "flask-commands"
    info = target / "safeline_relay_commands-0.dist-info"
    if not info.exists():
        info.mkdir(parents=True)
        declared = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
        commands = declared["project"]["entry-points"]["flask.commands"]
        (info / "METADATA").write_text("Metadata-Version: 2.1\nName: safeline-relay-commands\nVersion: 0\n",
                                       encoding="utf-8")
        (info / "entry_points.txt").write_text(
            "[flask.commands]\n" + "".join(f"{name} = {target_}\n" for name, target_ in commands.items()),
            encoding="utf-8")
    return target


def command_env(folder: Path) -> str:
    """PYTHONPATH for ``flask --app relay …``: this checkout, then its commands' metadata."""
    return f"{ROOT}:{entry_point_folder(folder)}"
