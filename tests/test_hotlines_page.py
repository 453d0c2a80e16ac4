"""The consultation page shows every line of data/hotlines.yaml, and nothing else decides it."""

import datetime
import re

import pytest
from babel.dates import format_time

from conftest import LANGS, ROOT
from pelican.plugins.hotlines.model import load

DIRECTORY = load(ROOT / "data" / "hotlines.yaml")
LINES = [(org, line) for org in DIRECTORY.organisations for line in org.lines]


def line_block(page, line_id: str) -> str:
    match = re.search(rf'<article class="line" id="{line_id}".*?</article>', page.html, re.S)
    assert match, f"line {line_id} is not on the page"
    return match.group(0)


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize(("org", "line"), LINES, ids=[line.id for _, line in LINES])
def test_every_line_is_listed_with_a_working_number(page, org, line, lang):
    block = line_block(page("support", lang), line.id)
    assert line.name[lang] in block
    # A tel: link a phone can dial: the number's digits, as dialled inside Japan.
    digits = line.phone.replace("-", "")
    assert re.fullmatch(r"0\d{9,10}", digits)
    assert f'<a href="tel:{digits}">{line.phone}</a>' in block
    assert line.eligibility[lang] in block
    if line.note:
        assert line.note[lang] in block


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize(("org", "line"), LINES, ids=[line.id for _, line in LINES])
def test_hours_and_closures_are_in_words(page, org, line, lang):
    block = line_block(page("support", lang), line.id)
    for opening in line.hours:
        # Times as Babel writes them for the locale (9:00, not 09:00 or 9時).
        for time in (opening.open, opening.close):
            assert format_time(time, "H:mm", locale=lang) in block
    closures = re.search(r'<dd class="closures">(.*?)</dd>', block, re.S)
    if line.closed_on_holidays or line.closed_periods:
        assert closures, "the closures are missing"
        if line.closed_on_holidays:
            assert ("祝日" if lang == "ja" else "national holidays") in closures.group(1)
        for period in DIRECTORY.closures(line):
            assert period.name[lang] in closures.group(1)
    else:
        assert closures is None


# What a reader sees for the lines of the seed page, spelled out once by hand.
EXPECTED_TEXT = {
    ("tokyo-womens-plaza-women", "ja"): ["毎日 9:00〜21:00", "年末年始(12月29日～1月3日)"],
    ("tokyo-womens-plaza-women", "en"): ["Every day, 9:00–21:00", "the New Year holidays (Dec 29\u2009–\u2009Jan 3)"],
    ("tokyo-womens-plaza-men", "ja"): ["月曜日、水曜日 17:00〜20:00", "祝日、年末年始(12月29日～1月3日)"],
    ("tokyo-womens-plaza-men", "en"): ["Monday and Wednesday, 17:00–20:00", "national holidays and the New Year holidays"],
    ("moj-minna-no-jinken", "ja"): ["平日 8:30〜17:15"],
    ("moj-minna-no-jinken", "en"): ["Weekdays, 8:30–17:15"],
    ("moj-women", "ja"): ["平日 8:30〜17:15"],
    ("moj-women", "en"): ["Weekdays, 8:30–17:15"],
}


@pytest.mark.parametrize(("line_id", "lang"), sorted(EXPECTED_TEXT))
def test_hours_read_naturally(page, line_id, lang):
    block = line_block(page("support", lang), line_id)
    for text in EXPECTED_TEXT[line_id, lang]:
        assert text in block


@pytest.mark.parametrize("lang", LANGS)
def test_referral_phrase_and_web_alternatives(page, lang):
    built = page("support", lang)
    for org in DIRECTORY.organisations:
        section = re.search(rf'<section class="org" aria-labelledby="{org.id}">.*?</section>', built.html, re.S).group(0)
        assert org.name[lang] in section
        if org.referral:
            assert f'<q class="phrase">{org.referral[lang]}</q>' in section
        for link in org.web:
            assert f'<a href="{link.url}">{link.label[lang]}</a>' in section


def test_audiences_are_named(page):
    text = page("support", "ja").text
    assert "女性向け" in text and "男性向け" in text and "どなたでも" in text


def test_page_text_comes_from_the_data_only(tmp_path):
    """Change a number in a copy of the data: the page follows, the old number is gone."""
    from conftest import build_site

    data = (ROOT / "data" / "hotlines.yaml").read_text(encoding="utf-8")
    changed = tmp_path / "hotlines.yaml"
    changed.write_text(data.replace('"03-3400-5313"', '"03-1234-5678"').replace('close: "21:00"', 'close: "20:30"'), encoding="utf-8")
    result = build_site(tmp_path / "out", ("HOTLINES_DATA", str(changed)))
    assert result.returncode == 0, result.stderr
    html = (tmp_path / "out" / "support" / "index.html").read_text(encoding="utf-8")
    assert 'href="tel:0312345678"' in html and "03-3400-5313" not in html
    assert "毎日 9:00〜20:30" in html


def test_every_time_in_the_data_is_a_time():
    for _, line in LINES:
        for opening in line.hours:
            assert isinstance(opening.open, datetime.time) and isinstance(opening.close, datetime.time)
