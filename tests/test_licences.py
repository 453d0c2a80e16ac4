"""Every pinned dependency has a licence that the project's AGPL-3.0-or-later can include.

A new dependency with an unknown or incompatible licence fails here until someone has
looked at it; see "Licence" in README.md.
"""

from __future__ import annotations

from importlib.metadata import distribution

import pytest

from tests.support.site import ROOT

# Licence words as packages state them (License-Expression, License, or a classifier),
# and whether AGPL-3.0-or-later may include code under them.
COMPATIBLE = (
    "MIT", "BSD", "Apache", "PSF", "Python Software Foundation", "ISC", "Unlicense", "Public Domain", "CC0",
    "MPL-2.0", "Mozilla Public License 2.0", "LGPL", "Lesser General Public License",
    "GPLv2+", "GPL-2.0-or-later", "GPLv3+", "GPL-3.0-or-later", "General Public License v2 or later",
    "General Public License v3 or later", "AGPLv3", "AGPL-3.0", "Affero",
)
# Packages whose metadata says too little for the words above, read by hand: the name, what the
# metadata says (checked, so a new version with other words is looked at again), and the verdict.
REVIEWED = {
    # LICENSE: the zlib licence, "or any OSI approved open source license" (SPDX any-OSI); SQLite
    # is public domain and SQLite3 Multiple Ciphers MIT. Read 2026-12-06.
    "apsw_sqlite3mc": "OSI Approved",
}
INCOMPATIBLE = ("GPL-2.0-only", "GPLv2 only", "SSPL", "Commons Clause", "BUSL", "Business Source", "proprietary")


def pins() -> list[str]:
    lines = (ROOT / "requirements.txt").read_text(encoding="utf-8").splitlines()
    return [line.split("==")[0] for line in lines if "==" in line and not line.startswith("#")]


def licence_of(name: str) -> str:
    """What the package states: metadata first, else the first line of its licence file."""
    dist = distribution(name)
    meta = dist.metadata
    classifiers = [c for c in (meta.get_all("Classifier") or []) if c.startswith("License ::")]
    stated = " | ".join(filter(None, [meta.get("License-Expression"), (meta.get("License") or "")[:200], *classifiers]))
    if stated:
        return stated
    files = [f for f in (dist.files or []) if "licen" in str(f).lower() or "copying" in str(f).lower()]
    heads = [f.locate().read_text(encoding="utf-8", errors="replace").strip() for f in files]
    return " | ".join(head.splitlines()[0] for head in heads if head)


@pytest.mark.parametrize("name", pins())
def test_dependency_licence_fits(name):
    stated = licence_of(name)
    if name in REVIEWED:
        assert stated == REVIEWED[name], f"{name} now states {stated!r}: read its licence again"
        return
    assert stated, f"{name} states no licence: check it by hand and record it here"
    assert not any(word.lower() in stated.lower() for word in INCOMPATIBLE), f"{name}: {stated}"
    assert any(word.lower() in stated.lower() for word in COMPATIBLE), f"{name}: {stated} (unknown: review it)"


def test_project_licence_is_agpl():
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert "GNU AFFERO GENERAL PUBLIC LICENSE" in text and "Version 3" in text
