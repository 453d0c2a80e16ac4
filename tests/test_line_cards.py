"""Issue 20, point 2: the lines one can call now come first, lines for all of Japan before lines
for Tokyo only, and pages show line cards from data/hotlines.yaml where their Markdown asks.

On the real build (the ``site`` fixture) and on builds of changed copies of the data or content.
What a browser shows at a given hour is in tests/browser/test_lines_now.py.
"""

from __future__ import annotations

import re
import shutil
from html.parser import HTMLParser

import pytest

from safeline.hotlines.model import DataError, load
from safeline.typography import JAPANESE
from tests.support.hotlines import DIRECTORY, LINES, card_ids, now_block, open_around_the_clock, text, tokyo_only
from tests.support.site import LANGS, ROOT, SLUGS, BuiltPage, build_site, output_file

TOKYO_ONLY = {"ja": "東京都の方のみ", "en": "Tokyo only"}


def main_of(html: str) -> str:
    return html.split('<main id="main"', 1)[1].split("</main>", 1)[0]


# -- the order of the cards -------------------------------------------------------------------

def test_the_data_has_lines_for_everyone_and_lines_for_tokyo_only():
    """What the order tests rest on: both kinds exist, and 'Tokyo only' comes from the data."""
    assert [line.id for line in DIRECTORY.lines if tokyo_only(line)] == ["tokyo-womens-plaza-women", "tokyo-womens-plaza-men"]
    assert any(line.area is None for line in DIRECTORY.lines)


def assert_everyone_first(ids: list[str]) -> None:
    kinds = [tokyo_only(LINES[ident]) for ident in ids]
    assert kinds == sorted(kinds), [(ident, "Tokyo only" if kind else "everyone") for ident, kind in zip(ids, kinds)]


@pytest.mark.parametrize("lang", LANGS)
def test_cards_list_lines_for_everyone_before_lines_for_tokyo_only(page, lang):
    ids = card_ids(page("support", lang).html)
    assert sorted(ids) == sorted(LINES)  # every line, once
    assert_everyone_first(ids)
    assert_everyone_first([item.id for item in now_block(page("support", lang).html).items])


def test_the_order_holds_whatever_the_order_of_the_file(tmp_path):
    """An editor who adds Tokyo's organisation first still gets it listed last."""
    data = (ROOT / "data" / "hotlines.yaml").read_text(encoding="utf-8")
    head, tokyo = data.split("  - id: tokyo-womens-plaza\n", 1)
    before, organisations = head.split("organisations:\n", 1)
    changed = tmp_path / "hotlines.yaml"
    changed.write_text(before + "organisations:\n  - id: tokyo-womens-plaza\n" + tokyo.rstrip("\n") + "\n\n" + organisations,
                       encoding="utf-8")
    assert load(changed).organisations[0].id == "tokyo-womens-plaza"
    result = build_site(tmp_path / "out", ("HOTLINES_DATA", str(changed)))
    assert result.returncode == 0, result.stdout + result.stderr
    for lang in LANGS:
        html = (tmp_path / "out" / output_file("support", lang)).read_text(encoding="utf-8")
        assert_everyone_first(card_ids(html))
        assert_everyone_first([item.id for item in now_block(html).items])


# -- the lines one can call now ------------------------------------------------------------------

@pytest.mark.parametrize("lang", LANGS)
def test_the_lines_to_call_now_come_right_after_the_title(page, lang):
    main = main_of(page("support", lang).html)
    after_title = main.split("</h1>", 1)[1].lstrip()
    assert after_title.startswith('<section id="now" class="lines-now" aria-labelledby="now-title">')
    title = re.search(r'<h2 id="now-title">(.*?)</h2>', after_title).group(1)
    assert title == {"ja": "いまかけられる窓口", "en": "Lines you can call now"}[lang]


@pytest.mark.parametrize("lang", LANGS)
def test_without_javascript_the_block_shows_the_24_hour_lines(page, lang):
    """The others wait hidden for hours.js, which shows them while they are open."""
    block = now_block(page("support", lang).html)
    shown = [item.id for item in block.items if not item.hidden]
    assert shown == [line.id for line in DIRECTORY.lines if open_around_the_clock(line) and not line.emergency]
    assert shown == ["police-8103", "mext-children-sos"]  # as the data stands: spelled out once
    waiting = [item.id for item in block.items if item.hidden]
    assert sorted(waiting) == sorted(line.id for line in DIRECTORY.lines
                                     if line.regular and not line.emergency and not open_around_the_clock(line))
    assert [item.id for item in block.items] == shown + waiting  # 24-hour lines first
    for item in block.items:
        line = LINES[item.id]
        assert item.tel == line.tel and line.name[lang] in item.text
        # whom it is for; a line for Tokyo only says so
        assert (TOKYO_ONLY[lang] in item.text) == tokyo_only(line), item


@pytest.mark.parametrize("lang", LANGS)
def test_110_stands_apart_as_the_number_for_danger(page, lang):
    block = now_block(page("support", lang).html)
    assert block.emergency == ["tel:110"]
    assert "police-110" not in [item.id for item in block.items]
    danger = re.search(r'<p class="danger">(.*?)</p>', block.html, re.S).group(1)
    assert text(danger) == {"ja": "いま身の危険があるとき： 110", "en": "In danger right now: 110"}[lang]


@pytest.mark.parametrize("lang", LANGS)
def test_the_block_leads_to_every_line(page, lang):
    block = now_block(page("support", lang).html)
    target = re.search(r'<p><a href="#([^"]+)">', block.html).group(1)
    assert f'<h2 id="{target}"' in page("support", lang).html
    assert target == DIRECTORY.organisations[0].id


# -- the help box on every page -----------------------------------------------------------------

@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("slug", SLUGS)
def test_the_help_box_leads_to_the_lines_to_call_now_and_110_is_a_link(page, slug, lang):
    html = page(slug, lang).html
    aside = re.search(r'<aside class="help".*?</aside>', html, re.S).group(0)
    support = "/support/#now" if lang == "ja" else f"/{lang}/support/#now"
    assert f'<a href="{support}">' in aside
    assert 'href="tel:110"' in aside
    assert "110" not in re.sub(r'<a href="tel:110">.*?</a>', "", aside)  # 110 only as a number to tap


def test_the_relay_pages_lead_there_too(client):
    for path, support in (("/report/", "/support/#now"), ("/en/report/", "/en/support/#now")):
        html = client.get(path).get_data(as_text=True)
        aside = re.search(r'<aside class="help".*?</aside>', html, re.S).group(0)
        assert f'<a href="{support}">' in aside and 'href="tel:110"' in aside


# -- line cards in a page's Markdown --------------------------------------------------------------

def card(html: str, line_id: str) -> str:
    match = re.search(rf'<article class="line" id="{line_id}".*?</article>', html, re.S)
    assert match, f"no card for {line_id}"
    return match.group(0)


def same_card(on_page: str, on_support: str) -> tuple[str, str]:
    """The card as the support page has it, but a page's own heading level and no Organization."""
    return re.sub(r"<(/?)h\d", r"<\1h", on_page), re.sub(r"<(/?)h\d", r"<\1h", on_support.replace(' itemprop="contactPoint"', ""))


@pytest.mark.parametrize("lang", LANGS)
def test_the_police_page_shows_110_9110_and_8103_from_the_data(page, lang):
    police = page("police", lang)
    main = main_of(police.html)
    assert "[lines:" not in main
    assert card_ids(main) == ["police-110", "police-9110", "police-8103"]
    for line_id in card_ids(main):
        line = LINES[line_id]
        block = card(main, line_id)
        assert f'<a href="{line.tel}">{line.phone}</a>' in block
        on_page, on_support = same_card(block, card(page("support", lang).html, line_id))
        assert on_page == on_support
    # #9110 with its hours and what happens outside them, as the data says
    assert LINES["police-9110"].hours_note[lang] in text(card(main, "police-9110"))
    assert 'class="now" hidden data-week=' in card(main, "police-8103")  # the live badge
    assert 'src="/theme/js/hours.js" defer data-text-open=' in police.html


@pytest.mark.parametrize("lang", LANGS)
def test_the_under_18_page_shows_the_childrens_lines(page, lang):
    main = main_of(page("under-18", lang).html)
    assert card_ids(main) == ["mext-children-sos", "moj-children"]
    assert "hours.js" in page("under-18", lang).html


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("slug", ["police", "under-18"])
def test_card_headings_sit_below_the_heading_before_them(page, slug, lang):
    """No level skipped: each card's heading is one below the heading before the marker."""
    main = main_of(page(slug, lang).html)
    levels = [int(level) for level in re.findall(r"<h(\d)[^>]*>", main)]
    assert levels[0] == 1
    assert all(later <= earlier + 1 for earlier, later in zip(levels, levels[1:])), levels
    for line_id in card_ids(main):
        before = main.split(f'<article class="line" id="{line_id}"', 1)[0]
        above = [level for level in re.findall(r"<h(\d)", before.split('<article class="line"', 1)[0])][-1]
        assert f'<h{int(above) + 1} id="{line_id}-name"' in main, (line_id, above)


def build_with_page(tmp_path, slug: str, lang: str, edit) -> tuple[object, str]:
    content = tmp_path / "content"
    shutil.copytree(ROOT / "content", content)
    source = content / "pages" / f"{slug}.{lang}.md"
    source.write_text(edit(source.read_text(encoding="utf-8")), encoding="utf-8")
    result = build_site(tmp_path / "out", ("PATH", str(content)))
    return result, result.stdout + result.stderr


@pytest.mark.parametrize(("marker", "words"), [
    ("[lines: police-110 police-8130]", '[lines: …] names "police-8130", which is no line id in data/hotlines.yaml'),
    ("[lines: police-110 police-110]", '[lines: …] names "police-110" twice'),
    ("[lines: ]", "[lines: ] names no line"),
])
def test_a_wrong_marker_stops_the_build_with_one_line(tmp_path, marker, words):
    result, output = build_with_page(tmp_path, "evidence", "en", lambda text: text + f"\n\n{marker}\n")
    assert result.returncode != 0
    assert "Traceback" not in output
    [line] = [line for line in output.splitlines() if words in line]
    assert re.fullmatch(r".*content/pages/evidence\.en\.md: " + re.escape(words) + ".*", line), line
    assert not (tmp_path / "out" / "en" / "evidence" / "index.html").exists()


def test_a_marker_inside_a_sentence_is_left_alone(tmp_path):
    """Only a paragraph that is exactly the marker becomes cards."""
    result, output = build_with_page(tmp_path, "faq", "en", lambda text: text + "\n\nWrite [lines: police-110] to show it.\n")
    assert result.returncode == 0, output
    built = BuiltPage(tmp_path / "out" / "en" / "faq" / "index.html")
    assert card_ids(built.html) == [] and "hours.js" not in built.html


# -- data: area ------------------------------------------------------------------------------------

@pytest.mark.parametrize(("area", "words"), [
    ("        area: tokyo\n", "write the area where callers must live, study or work in both languages"),
    ("        area:\n          ja: 東京都\n", "organisations.4.lines.1.area.en: this field is required but missing"),
])
def test_a_wrong_area_is_one_clear_line(tmp_path, area, words):
    data = (ROOT / "data" / "hotlines.yaml").read_text(encoding="utf-8")
    men = "        area:             # 東京都の方だけがかけられる窓口\n          ja: 東京都\n          en: Tokyo\n        phone: \"03-3400"
    assert men in data
    path = tmp_path / "hotlines.yaml"
    path.write_text(data.replace(men, area + '        phone: "03-3400'), encoding="utf-8")
    with pytest.raises(DataError) as caught:
        load(path, shown_as="data/hotlines.yaml")
    [line] = caught.value.lines
    assert line.startswith("data/hotlines.yaml:") and words in line


# -- Japanese inside English pages --------------------------------------------------------------------

class _Unmarked(HTMLParser):
    """Japanese text in the body of a page that no element marks lang="ja"."""

    VOID = {"meta", "link", "br", "img", "input", "hr", "wbr", "source"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.langs: list[tuple[str, str | None]] = []
        self.in_body = False
        self.found: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag == "body":
            self.in_body = True
        if tag not in self.VOID:
            self.langs.append((tag, dict(attrs).get("lang")))

    def handle_endtag(self, tag):
        while self.langs and self.langs.pop()[0] != tag:
            pass

    def handle_data(self, data):
        lang = next((lang for _, lang in reversed(self.langs) if lang), None)
        if self.in_body and lang != "ja" and JAPANESE.search(data) and self.langs[-1][0] not in ("script", "style"):
            self.found.append(data.strip())


@pytest.mark.parametrize("slug", SLUGS)
def test_japanese_in_english_pages_is_marked_as_japanese(page, slug):
    """So that the browser breaks it by phrases, and a screen reader reads it as Japanese."""
    parser = _Unmarked()
    parser.feed(page(slug, "en").html)
    assert parser.found == []


def test_names_on_the_english_support_page_are_marked(page):
    html = page("support", "en").html
    assert 'Human Rights Hotline for Everyone (<span lang="ja">みんなの人権110番</span>)' in html
    assert '(<span lang="ja">セーファーインターネット協会から紹介された</span>)' in html
    assert '<span lang="ja">24時間子供SOSダイヤル</span>' in html
    # and nothing on the Japanese page, which is Japanese already
    assert '<span lang="ja">' not in page("support", "ja").html
