"""The Babel catalogs cover every string of the theme and code, in both languages."""

from __future__ import annotations


from tests.support.project import copy_project
from tests.support.site import LANGS, ROOT
from pelican.plugins.i18n.catalogs import problems

CATALOGS = ROOT / "theme" / "translations"


def test_catalogs_are_complete_and_current():
    assert problems(ROOT, CATALOGS, LANGS) == []


def copy_code(tmp_path):
    """What Babel extracts strings from: its settings, the theme and the code."""
    return copy_project(tmp_path, ("babel.cfg", "theme", "plugins", "relay", "safeline"))


def test_a_new_template_string_is_reported_until_translated(tmp_path):
    root = copy_code(tmp_path)
    base = root / "theme" / "templates" / "base.html"
    base.write_text(base.read_text(encoding="utf-8").replace("</footer>", '<p>{{ _("A brand new sentence") }}</p></footer>'), encoding="utf-8")
    found = problems(root, root / "theme" / "translations", LANGS)
    assert "theme/translations/messages.pot: out of date; run ./run i18n-update" in found
    for lang in LANGS:
        assert f"theme/translations/{lang}/LC_MESSAGES/messages.po: 'A brand new sentence' is missing; run ./run i18n-update" in found


def test_fuzzy_and_empty_translations_are_reported(tmp_path):
    root = copy_code(tmp_path)
    po = root / "theme" / "translations" / "ja" / "LC_MESSAGES" / "messages.po"
    text = po.read_text(encoding="utf-8")
    text = text.replace('msgid "Hours"\nmsgstr "受付時間"', '#, fuzzy\nmsgid "Hours"\nmsgstr "受付時間"')
    text = text.replace('msgid "Call 110"\nmsgstr "110番に電話する"', 'msgid "Call 110"\nmsgstr ""')
    text = text.replace('msgstr "{days} {start}〜{end}"', 'msgstr "{days} {start}〜{finish}"')
    po.write_text(text, encoding="utf-8")
    found = " | ".join(problems(root, root / "theme" / "translations", LANGS))
    assert "'Hours' is marked fuzzy" in found
    assert "'Call 110' is not translated" in found
    assert "the translation names other placeholders" in found


def test_japanese_pages_show_no_english_theme_text(page):
    """The ja catalog is in use: the frame of a Japanese page is in Japanese."""
    text = page("faq", "ja").text
    for english in ("Skip to main content", "Leave this site now", "Consultation lines", "Who runs Safeline"):
        assert english not in text
