"""Are the catalogs in step with the code? Used by ``./run check`` and the tests.

A catalog is out of date when extracting the strings afresh from the templates and code
(as ``./run i18n-extract`` does) gives a different set of messages than it holds, or when
a message is untranslated, fuzzy, or its translation names other ``{placeholders}``.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
from pathlib import Path

from babel.messages.pofile import read_po

from safeline.site import catalog_file

PLACEHOLDER = re.compile(r"\{[a-z_]+\}|%\([a-z_]+\)s")


def _read(path: Path):
    with path.open("rb") as handle:
        return read_po(handle)


def extract(root: Path) -> set[str]:
    """Every message id in the templates and code, by ``babel.cfg``."""
    with tempfile.TemporaryDirectory() as scratch:
        pot = Path(scratch) / "messages.pot"
        subprocess.run(
            [sys.executable, "-m", "babel.messages.frontend", "-q", "extract", "-F", "babel.cfg", "-o", str(pot), "."],
            cwd=root,
            check=True,
        )
        return {message.id for message in _read(pot) if message.id}


def problems(root: Path, catalog_dir: Path, languages) -> list[str]:
    """One line per problem; empty when every catalog is complete and current."""
    found: list[str] = []
    wanted = extract(root)
    template = catalog_dir / "messages.pot"
    if {m.id for m in _read(template) if m.id} != wanted:
        found.append(f"{template.relative_to(root)}: out of date; run ./run i18n-update")
    for lang in languages:
        po = catalog_file(lang, catalog_dir)
        shown = po.relative_to(root)
        catalog = _read(po)
        ids = {m.id for m in catalog if m.id}
        for missing in sorted(wanted - ids):
            found.append(f"{shown}: {missing!r} is missing; run ./run i18n-update")
        for stale in sorted(ids - wanted):
            found.append(f"{shown}: {stale!r} is no longer used; run ./run i18n-update")
        for message in catalog:
            if not message.id or message.id not in wanted:
                continue
            if not message.string:
                found.append(f"{shown}:{message.lineno} {message.id!r} is not translated")
            elif message.fuzzy:
                found.append(f"{shown}:{message.lineno} {message.id!r} is marked fuzzy; check it, then remove the flag")
            elif sorted(PLACEHOLDER.findall(message.id)) != sorted(PLACEHOLDER.findall(message.string)):
                found.append(f"{shown}:{message.lineno} {message.id!r}: the translation names other placeholders")
    return found
