"""The Babel catalogs cover every string of the theme and code, in both languages."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
from babel.messages.pofile import read_po

from conftest import LANGS, ROOT

CATALOGS = ROOT / "theme" / "translations"
PLACEHOLDER = re.compile(r"\{[a-z_]+\}")


def read(path):
    with open(path, "rb") as handle:
        return read_po(handle)


@pytest.fixture(scope="module")
def extracted(tmp_path_factory):
    """Extract afresh from the templates and code, as ./run i18n-extract does."""
    pot = tmp_path_factory.mktemp("pot") / "messages.pot"
    subprocess.run([sys.executable, "-m", "babel.messages.frontend", "-q", "extract", "-F", "babel.cfg", "-o", str(pot), "."],
                   cwd=ROOT, check=True)
    return {message.id for message in read(pot) if message.id}


def test_template_is_up_to_date(extracted):
    committed = {message.id for message in read(CATALOGS / "messages.pot") if message.id}
    assert committed == extracted, "run ./run i18n-update and translate the new strings"


@pytest.mark.parametrize("lang", LANGS)
def test_catalog_is_complete_and_current(extracted, lang):
    catalog = read(CATALOGS / lang / "LC_MESSAGES" / "messages.po")
    ids = {message.id for message in catalog if message.id}
    assert ids == extracted, f"{lang}: run ./run i18n-update (missing: {extracted - ids}, stale: {ids - extracted})"
    for message in catalog:
        if not message.id:
            continue
        assert message.string, f"{lang}: {message.id!r} is not translated"
        assert not message.fuzzy, f"{lang}: {message.id!r} is marked fuzzy; check it and remove the flag"
        assert sorted(PLACEHOLDER.findall(message.id)) == sorted(PLACEHOLDER.findall(message.string)), (
            f"{lang}: {message.id!r} and its translation name different placeholders"
        )


def test_japanese_pages_show_no_english_theme_text(page):
    """A spot check that the ja catalog is in use: the frame is in Japanese."""
    text = page("faq", "ja").text
    for english in ("Skip to main content", "Leave this site now", "Consultation lines", "Who runs Safeline"):
        assert english not in text
