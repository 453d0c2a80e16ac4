"""Every line says where its number and hours come from, and when that was last compared.

The national lines of issue 14 are on the consultation page in both languages with a
dialable ``tel:`` link; each line shows its source page and the day it was checked; a
``checked`` date more than a year old is a warning of ./run check (never a failure); and
the engine treats a 24-hour line as open around the clock.
"""

from __future__ import annotations

import datetime
import html
import re
import subprocess
import sys
from urllib.parse import urlsplit

import pytest

import tasks
from safeline.hotlines import hours, schedule
from safeline.hotlines.model import load, stale_checks
from tests.support.site import LANGS, ROOT, catalog

DIRECTORY = load(ROOT / "data" / "hotlines.yaml")
LINES = {line.id: line for line in DIRECTORY.lines}

# The national lines: id, the tel: link, the host of the official page they were read from.
NATIONAL = [
    ("one-stop-8891", "tel:%238891", "www.gender.go.jp"),
    ("police-9110", "tel:%239110", "www.gov-online.go.jp"),
    ("police-8103", "tel:%238103", "www.npa.go.jp"),  # the National Police Agency, which runs it
    ("moj-children", "tel:0120007110", "www.moj.go.jp"),  # the Ministry of Justice's national page
    ("mext-children-sos", "tel:0120078310", "www.mext.go.jp"),
]
# Lines of the seed page with no official page at hand yet: the seed's own page stands in.
SEED_ONLY = {"tokyo-womens-plaza-women", "tokyo-womens-plaza-men"}


def line_block(html: str, line_id: str) -> str:
    match = re.search(rf'<article class="line" id="{line_id}".*?</article>', html, re.S)
    assert match, f"line {line_id} is not on the page"
    return match.group(0)


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize(("line_id", "tel", "host"), NATIONAL, ids=[n[0] for n in NATIONAL])
def test_each_national_line_is_on_the_page_with_a_dialable_link(page, lang, line_id, tel, host):
    line = LINES[line_id]
    block = line_block(page("support", lang).html, line_id)
    assert f'<a href="{tel}">{line.phone}</a>' in block
    assert line.name[lang] in html.unescape(re.sub(r"<[^>]+>", "", block))  # Japanese in English names is in <span lang="ja">
    assert urlsplit(line.source).hostname == host and host.endswith(".go.jp")


@pytest.mark.parametrize("lang", LANGS)
def test_every_line_links_its_source_and_says_when_it_was_checked(page, lang):
    html = page("support", lang).html
    label = {"ja": "<dt>情報元</dt>", "en": "<dt>Source</dt>"}[lang]
    for line in DIRECTORY.lines:
        block = line_block(html, line.id)
        assert label in block
        when = hours.checked_text(line.checked, lang)
        assert f'<time datetime="{line.checked.isoformat()}">{when}</time>' in block
        assert f'<a href="{line.source}">{urlsplit(line.source).hostname}</a>' in block
    # the words around the date, as a reader sees them
    text = re.sub(r"<[^>]+>", "", line_block(html, "police-8103"))
    assert {"ja": "www.npa.go.jp （2026年12月6日に確認）", "en": "www.npa.go.jp (checked on Dec 6, 2026)"}[lang] in text


def test_sources_are_official_pages_or_the_seed_page():
    for line in DIRECTORY.lines:
        host = urlsplit(line.source).hostname
        assert line.source.startswith("https://")
        if line.id in SEED_ONLY:
            assert host == "www.safe-line.jp", line.id
            assert line.seed_only and line.source_note is not None, line.id  # says so in the data
        else:
            assert host.endswith(".go.jp"), (line.id, host)
            assert not line.seed_only and line.source_note is None, line.id


def test_the_readme_lists_the_lines_to_confirm_by_phone():
    """Each line with only the seed as source is in the editor's guide, under 電話で確かめること."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n### 電話で確かめること", 1)[1].split("\n###", 1)[0]
    for line in DIRECTORY.lines:
        if line.seed_only:
            assert line.phone in section and line.name.ja in section, line.id


def test_the_new_year_dates_are_an_assumption_listed_by_run_check():
    """The sources say only 年末年始: the data says which dates it assumes, ./run check lists
    that (a plain line, not a failure), the page says 年末年始 alone, and the badge still
    knows the closed days."""
    period = DIRECTORY.closed_periods["new-year"]
    assert period.assumed is not None
    listed = tasks.hotline_assumptions()
    assert any(re.match(r"ASSUMED: data/hotlines\.yaml:\d+:\d+ closed_periods\.new-year\.assumed: "
                        r"the dates of the New Year holidays \(12-29 to 01-03\) are assumed", row) for row in listed), listed
    seeds = [row for row in listed if row.startswith("TO CONFIRM BY PHONE: ")]
    assert len(seeds) == len(SEED_ONLY) and all(".source_note: " in row for row in seeds)
    line = LINES["tokyo-womens-plaza-women"]
    for lang in LANGS:
        assert hours.closures_text(DIRECTORY, line, catalog(lang).gettext, lang) == period.name[lang]
    new_years_day = datetime.datetime(2027, 1, 1, 12, 0, tzinfo=schedule.TOKYO)
    assert not schedule.status(DIRECTORY, line, new_years_day).is_open


@pytest.mark.parametrize("lang", LANGS)
def test_lines_whose_hours_vary_show_words_and_no_badge(page, lang):
    html = page("support", lang).html
    for line_id in ("one-stop-8891", "police-9110"):
        line = LINES[line_id]
        assert not line.regular
        block = line_block(html, line_id)
        assert f'<dd class="hours-note">{line.hours_note[lang]}</dd>' in block
        assert 'class="now"' not in block and "hoursAvailable" not in block


# -- 24 hours: the engine ----------------------------------------------------------------


@pytest.mark.parametrize("line_id", ["police-8103", "mext-children-sos"])
@pytest.mark.parametrize("at", ["2027-01-01 00:00", "2027-05-04 03:17", "2027-12-31 23:59"])
def test_a_24_hour_line_is_open_around_the_clock(line_id, at):
    instant = datetime.datetime.fromisoformat(at).replace(tzinfo=schedule.TOKYO)
    status = schedule.status(DIRECTORY, LINES[line_id], instant)
    assert status.is_open and status.until is None
    for lang, words in (("ja", "受付中（24時間）"), ("en", "Open now (24 hours)")):
        texts = hours.badge_texts(catalog(lang).gettext, lang)
        assert hours.status_text(status, instant, texts) == words


OVERNIGHT = '''
organisations:
  - id: night
    name: {ja: 夜, en: Night}
    lines:
      - id: night-line
        name: {ja: 夜の窓口, en: Night line}
        audience: anyone
        phone: "03-1234-5678"
        hours:
          - days: [mon]
            open: "17:00"
            close: "24:00"
          - days: [tue]
            open: "00:00"
            close: "09:00"
        closed_on_holidays: false
        eligibility: {ja: どなたでも, en: Anyone}
        source: "https://www.example.go.jp/night.html"
        checked: "2026-11-01"
'''


def test_an_opening_past_midnight_is_one_opening(tmp_path):
    data = tmp_path / "hotlines.yaml"
    data.write_text(OVERNIGHT, encoding="utf-8")
    directory = load(data)
    line = directory.lines[0]
    monday_night = datetime.datetime(2026, 11, 30, 23, 0, tzinfo=schedule.TOKYO)  # a Monday
    status = schedule.status(directory, line, monday_night)
    assert status.is_open and status.until == datetime.datetime(2026, 12, 1, 9, 0, tzinfo=schedule.TOKYO)
    texts = hours.badge_texts(catalog("en").gettext, "en")
    assert hours.status_text(status, monday_night, texts) == "Open now (until 9:00)"
    assert hours.hours_text(line, catalog("en").gettext, "en") == ["Monday, 17:00–24:00", "Tuesday, 0:00–9:00"]
    within = schedule.horizon(datetime.date(2026, 11, 30))
    assert schedule.embedded(directory, line, within)["week"] == "0:1700-2400 1:0000-0900"


# -- the stale warning of ./run check ------------------------------------------------------


def with_checked(tmp_path, day: str):
    text = (ROOT / "data" / "hotlines.yaml").read_text(encoding="utf-8")
    text = text.replace('checked: "2026-12-02"', f'checked: "{day}"', 1)  # the first line only
    path = tmp_path / "hotlines.yaml"
    path.write_text(text, encoding="utf-8")
    return path, text


def test_a_check_more_than_a_year_old_is_a_warning_naming_file_and_line(tmp_path):
    path, text = with_checked(tmp_path, "2025-11-30")
    warnings = tasks.stale_hotlines(path, today=datetime.date(2026, 12, 2))
    number = next(n for n, row in enumerate(text.splitlines(), 1) if 'checked: "2025-11-30"' in row)
    assert len(warnings) == 1
    assert re.match(rf"WARNING: {re.escape(str(path))}:{number}:\d+ organisations\.0\.lines\.0\.checked: "
                    r"moj-minna-no-jinken was last compared with its source on 2025-11-30, 367 days ago", warnings[0])
    assert "https://www.moj.go.jp/JINKEN/jinken20.html" in warnings[0]


def test_a_check_within_a_year_is_no_warning(tmp_path):
    path, _ = with_checked(tmp_path, "2025-12-02")
    assert tasks.stale_hotlines(path, today=datetime.date(2026, 12, 2)) == []
    assert stale_checks(ROOT / "data" / "hotlines.yaml") == []  # the real data, today


def test_run_check_warns_but_passes(tmp_path):
    """./run check on a copy of the project whose data has a stale line: a warning, exit 0."""
    from tests.support.project import copy_project

    copy_project(tmp_path)
    data = tmp_path / "data" / "hotlines.yaml"
    data.write_text(data.read_text(encoding="utf-8").replace('checked: "2026-12-02"', 'checked: "2024-06-01"', 1),
                    encoding="utf-8")
    result = subprocess.run([sys.executable, "-m", "invoke", "check"], cwd=tmp_path, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"^WARNING: data/hotlines\.yaml:\d+:\d+ organisations\.0\.lines\.0\.checked: .*2024-06-01",
                     result.stderr, re.M), result.stderr
    assert "check passed" in result.stdout
