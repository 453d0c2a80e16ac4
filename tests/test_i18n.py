"""Two complete trees, ja at / and en at /en/, linked to each other page by page."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from babel.dates import format_interval, format_time

from tests.support.site import LANGS, ROOT, SLUGS, BuiltPage, build_site, output_file

ALTERNATE = re.compile(r'<link rel="alternate" hreflang="([^"]+)" href="([^"]+)">')
SWITCH = re.compile(r'<a class="language" href="([^"]+)" lang="([^"]+)" hreflang="([^"]+)">')


def tree_lang(site: Path, file: Path) -> str:
    return "en" if file.relative_to(site).parts[0] == "en" else "ja"


def resolve(site: Path, href: str) -> Path:
    """The built file a link leads to; an absolute one (the alternates) by its path."""
    href = urlsplit(href).path
    return site / (href.lstrip("/") + "index.html" if href.endswith("/") else href.lstrip("/"))


def test_both_trees_have_the_same_pages(site):
    ja = {p.relative_to(site).as_posix() for p in site.rglob("*.html") if tree_lang(site, p) == "ja"}
    en = {p.relative_to(site / "en").as_posix() for p in (site / "en").rglob("*.html")}
    assert ja == en
    assert ja == {output_file(slug, "ja") for slug in SLUGS}


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("slug", SLUGS)
def test_switch_leads_to_the_twin_and_back(site, slug, lang):
    here = site / output_file(slug, lang)
    [(href, switch_lang, hreflang)] = SWITCH.findall(here.read_text(encoding="utf-8"))
    other = "en" if lang == "ja" else "ja"
    assert switch_lang == hreflang == other
    twin = resolve(site, href)
    assert twin == site / output_file(slug, other)
    [(back, _, _)] = SWITCH.findall(twin.read_text(encoding="utf-8"))
    assert resolve(site, back) == here


def test_html_lang_matches_the_tree(site):
    for file in site.rglob("*.html"):
        assert BuiltPage(file).lang == tree_lang(site, file), file


@pytest.mark.parametrize("slug", SLUGS)
def test_hreflang_pairs_agree(site, slug):
    sets = []
    for lang in LANGS:
        html = (site / output_file(slug, lang)).read_text(encoding="utf-8")
        alternates = dict(ALTERNATE.findall(html))
        assert set(alternates) == {"ja", "en", "x-default"}
        assert alternates["x-default"] == alternates["ja"]
        for hreflang in LANGS:
            assert resolve(site, alternates[hreflang]) == site / output_file(slug, hreflang)
        sets.append(alternates)
    assert sets[0] == sets[1]


def test_production_alternates_are_absolute(tmp_path):
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "pelican", str(ROOT / "content"), "-s", str(ROOT / "publishconf.py"), "-o", str(tmp_path), "-e", "STRICT=true"],
        cwd=ROOT, capture_output=True, text=True, env={**__import__("os").environ, "SITE_ORIGIN": "https://safeline.test",
                                         "SAFELINE_CONTACT_ADDRESS": "contact@safeline.example"},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    alternates = dict(ALTERNATE.findall((tmp_path / "en" / "faq" / "index.html").read_text(encoding="utf-8")))
    assert alternates == {"en": "https://safeline.test/en/faq/", "ja": "https://safeline.test/faq/", "x-default": "https://safeline.test/faq/"}


@pytest.mark.parametrize("lang", LANGS)
def test_hours_are_formatted_by_babel_for_the_locale(page, lang):
    """Times and dates on the page are exactly Babel's for the locale, with the catalog's words around them."""
    import datetime

    from pelican.plugins import i18n
    from safeline.hotlines.hours import typeset
    from safeline.hotlines.model import load

    import pelicanconf

    i18n._catalog_dir = Path(pelicanconf.I18N_CATALOGS)
    gettext = i18n.translations(lang).gettext
    html = page("support", lang).html
    directory = load(ROOT / "data" / "hotlines.yaml")
    for line in directory.lines:
        for block in line.hours:
            if block.all_day:
                continue  # "毎日 24時間": spelled out in test_hotlines_page
            if set(block.days) == {"mon", "tue", "wed", "thu", "fri", "sat", "sun"}:
                days = gettext("Every day")
            elif block.days == ["mon", "tue", "wed", "thu", "fri"]:
                days = gettext("Weekdays")
            else:
                continue  # other day sets are spelled out in test_hotlines_page
            expected = gettext("{days}, {start}–{end}").format(
                days=days, start=format_time(block.open, "H:mm", locale=lang), end=format_time(block.close, "H:mm", locale=lang)
            )
            assert f'<span class="hours">{expected}</span>' in html
        for period in directory.closures(line):
            dates = format_interval(datetime.date(2024, *period.from_), datetime.date(2025, *period.to), "MMMd", locale=lang)
            dates = typeset(dates, lang)  # the site's Japanese marks: 〜 and （ ）
            # dates the sources do not give (assumed) stay off the page: the name alone, as the sources say it
            assert (dates in html) is (period.assumed is None)


def test_missing_translation_of_a_page_fails_the_build(tmp_path):
    """A page in one language only would leave a switch link with nowhere to go."""
    import shutil

    content = tmp_path / "content"
    shutil.copytree(ROOT / "content", content)
    (content / "pages" / "police.en.md").unlink()
    result = build_site(tmp_path / "out", ("PATH", str(content)))
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "WARNING: pages/police.ja.md has no en version: add police.en.md with 'Slug: police'" in output
    assert "the build is not clean:" in output
    assert "Traceback" not in output
