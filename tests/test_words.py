"""One word for one thing across the content pages (issue 20, points 3f and 4): ご覧 in kanji,
one name for the hotline's staff, one English name for the support page, 110 always a link to
dial it, and Japanese inside English pages marked as Japanese."""

from __future__ import annotations

import re

import pytest

from tests.support.site import LANGS, ROOT, SLUGS

CONTENT = sorted((ROOT / "content" / "pages").glob("*.md"))


def main_of(html: str) -> str:
    return html.split('<main id="main"', 1)[1].split("</main>", 1)[0]


def test_goran_is_written_in_kanji(site):
    for page in sorted(site.rglob("*.html")):
        assert "ごらん" not in page.read_text(encoding="utf-8"), page.relative_to(site)


@pytest.mark.parametrize("path", CONTENT, ids=[p.name for p in CONTENT])
def test_one_name_for_the_staff(path):
    text = path.read_text(encoding="utf-8")
    for other in ("事務局", "担当者", "SIA office", "the hotline's staff"):
        assert other not in text, f"{path.name}: {other!r}; write スタッフ / staff (README: 編集ガイド)"
    whose, word = {"ja": ("セーフラインの", "スタッフ"), "en": ("Safeline's ", "staff")}[path.suffixes[0].lstrip(".")]
    first = re.search(rf"\b{word}\b" if word == "staff" else word, text)
    if first:  # the first mention on a page says whose staff they are
        assert text[: first.start()].endswith(whose), f"{path.name}: first mention should be {whose}{word}"


def test_the_english_support_page_has_one_name(page):
    support = page("support", "en")
    assert support.h1 == "Consultation lines"
    for slug in SLUGS:  # every link to it, the menu's included, calls it by that name
        for href, text in page(slug, "en").links:
            if href == "/en/support/":
                assert text.lower() in ("consultation lines", "consultation line"), (slug, text)


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("slug", SLUGS)
def test_110_is_always_a_link_to_dial_it(page, slug, lang):
    html = main_of(page(slug, lang).html)
    # The cards of the lines from data/hotlines.yaml: each has its number as a tel: link, and
    # names that hold 110 (110番（緊急のとき）).
    html = re.sub(r'<article class="line".*?</article>', "", html, flags=re.S)
    html = re.sub(r'<a [^>]*href="tel:110"[^>]*>[^<]*</a>', "", html)
    text = re.sub(r"<[^>]+>", " ", html)
    # 110 alone, not inside another number (0570-003-110) or a line's name (子どもの人権110番)
    loose = re.findall(r"(?<![\d\-\u6a29])110(?!\d)", text)
    assert not loose, f"{slug} ({lang}): write [110](tel:110) or [110番](tel:110)"


@pytest.mark.parametrize("path", [p for p in CONTENT if p.name.endswith(".en.md")], ids=lambda p: p.name)
def test_japanese_in_english_pages_is_marked_as_japanese(path):
    """So that the browser breaks it between phrases (word-break: auto-phrase needs lang="ja")."""
    body = path.read_text(encoding="utf-8").split("\n\n", 1)[1]
    body = re.sub(r'<span lang="ja">[^<]*</span>', "", body)
    assert not re.findall(r"[\u3040-\u30ff\u3400-\u9fff]+", body), path.name
