"""A copy of the project in a scratch folder, for tests that run tasks or change a file.

- ``PROJECT_FILES``: what the tasks need of the checkout (no .venv, output/ or var/).
- ``copy_project(target, names)``: copy those (or only ``names``) into ``target``; return it.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.support.site import ROOT

PROJECT_FILES = ("content", "theme", "data", "plugins", "relay", "safeline", "staff", "devtools", "pelicanconf.py",
                 "publishconf.py", "tasks.py", "babel.cfg")


def copy_project(target: Path, names: tuple[str, ...] = PROJECT_FILES) -> Path:
    for name in names:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, target / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, target / name)
    return target
