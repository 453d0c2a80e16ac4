"""Shared fixtures: the real site, built once per test session into a temporary folder.

Helpers live in tests/sitekit.py (import them from there: every conftest.py is imported
under the same module name, so no test imports ``conftest``).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.sitekit import Page, build_site, page_path


@pytest.fixture(scope="session")
def site(tmp_path_factory) -> Path:
    output = tmp_path_factory.mktemp("site")
    result = build_site(output)
    assert result.returncode == 0, result.stdout + result.stderr
    return output


@pytest.fixture(scope="session")
def page(site):
    def load(slug: str, lang: str = "ja") -> Page:
        return Page(site / page_path(slug, lang))

    return load
