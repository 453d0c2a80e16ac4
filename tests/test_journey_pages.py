"""The first step of the victim's journey (issue 14, points 1 and 2), on the real build.

The home page leads to the report form before anything else and routes each situation to its
page; the menu of every page, the relay's too, has the report form; the pages for someone who
is threatened, someone under 18 and someone who wants to keep evidence exist in both languages,
say what they must, and back every number that is not in the hotline's own page with a link to
the official page that states it.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

import pelicanconf
from tests.support.site import LANGS, ROOT, TITLES, output_file

JOURNEY = ("threatened", "under-18", "evidence")
# What each page must go on saying (any wording around it).
FACTS = {
    ("threatened", "ja"): ["新しい画像や動画は送らない", "消さずに残して", "110", "#9110", "通報フォーム", "StopNCII", "ハッシュ",
                           "機器から外に出ません", "18歳以上"],
    ("threatened", "en"): ["do not send new images", "Do not delete", "110", "#9110", "report form", "StopNCII", "hash",
                           "never leave your device", "18 or over"],
    ("under-18", "ja"): ["保護者の方", "自分で通報", "法律", "スクリーンショットを撮らない", "ダウンロードしない", "だれにも送らない",
                         "アドレス（URL）", "Take It Down", "18歳になる前に撮られた"],
    ("under-18", "en"): ["parent or guardian", "report yourself", "against Japan's law", "do not take screenshots",
                         "do not download", "do not send them to anyone", "address (URL)", "Take It Down",
                         "taken before you were 18"],
    ("evidence", "ja"): ["アドレス（URL）", "日付と時刻", "スクリーンショット", "セーフラインには送らないでください",
                         "18歳未満", "まず記録を残し", "すぐに削除をお願いして"],
    ("evidence", "en"): ["address (URL)", "date and time", "screenshots", "Never send them to us", "under 18",
                         "Make your record first", "ask for removal at once"],
}

def source_of(phone: str) -> str:
    """The official page that data/hotlines.yaml gives for a line: the pages cite the same one.
    #9110 in the text is cited to 110's source, the government page that tells the two apart."""
    from safeline.hotlines.model import load

    return next(line.source for line in load(ROOT / "data" / "hotlines.yaml").lines if line.phone == phone)


def source_of_line(line_id: str) -> str:
    from safeline.hotlines.model import load

    return next(line.source for line in load(ROOT / "data" / "hotlines.yaml").lines if line.id == line_id)


# Official pages that state what the journey pages say beyond the hotline's own page.
SOURCES = {
    "#9110": source_of("110"),
    "StopNCII": "https://stopncii.org/how-it-works/",
    "Take It Down": "https://takeitdown.ncmec.org/faq/",
    "law": "https://www.npa.go.jp/safetylife/syonen/no_cp/measures/child_pornography.html",  # saving them
    "law, passing on": "https://www.pref.kagawa.lg.jp/police/jinsyo/kurashianzen/kodomojosei/save_no.html",
}


def prefix(lang: str) -> str:
    return "/" if lang == "ja" else f"/{lang}/"


def form(lang: str) -> str:
    return prefix(lang) + "report/"


def main_of(html: str) -> str:
    return html.split('<main id="main"', 1)[1].split("</main>", 1)[0]


def without_line_cards(html: str) -> str:
    """The page's own text: the cards of the lines (from data/hotlines.yaml) cite their sources themselves."""
    return re.sub(r'<article class="line".*?</article>', "", html, flags=re.S)


class Blocks(HTMLParser):
    """The links of each paragraph and list item: (text of the block, [hrefs])."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.blocks: list[tuple[str, list[str]]] = []
        self._stack: list[tuple[list[str], list[str]]] = []

    def handle_starttag(self, tag, attrs):
        if tag in ("p", "li"):
            self._stack.append(([], []))
        elif tag == "a" and self._stack:
            self._stack[-1][1].append(dict(attrs).get("href", ""))

    def handle_endtag(self, tag):
        if tag in ("p", "li") and self._stack:
            text, hrefs = self._stack.pop()
            self.blocks.append(("".join(text), hrefs))

    def handle_data(self, data):
        if self._stack:
            self._stack[-1][0].append(data)


def blocks(html: str) -> list[tuple[str, list[str]]]:
    parser = Blocks()
    parser.feed(without_line_cards(main_of(html)))
    return parser.blocks


# -- the home page ------------------------------------------------------------------------------

@pytest.mark.parametrize("lang", LANGS)
def test_home_leads_to_the_form_with_a_button_before_the_first_heading(page, lang):
    before_h2 = main_of(page("home", lang).html).split("<h2", 1)[0]
    assert re.search(rf'<a class="button" href="{form(lang)}">[^<]+</a>', before_h2), before_h2
    not_your_fault = "あなたは悪くありません" if lang == "ja" else "not your fault"
    assert not_your_fault in before_h2


@pytest.mark.parametrize("lang", LANGS)
def test_home_routes_each_situation(page, lang):
    """Images online → before you report and the form; threatened; under 18; a friend's images;
    someone to talk to; evidence: each in the list after the first heading, in that order."""
    after_h2 = main_of(page("home", lang).html).split("<h2", 1)[1]
    routes = after_h2.split('<div class="routes">', 1)[1].split("</div>", 1)[0]
    items = re.findall(r"<li>(.*?)</li>", routes, re.S)
    wanted = [
        [prefix(lang) + "before-you-report/", form(lang)],
        [prefix(lang) + "threatened/"],
        [prefix(lang) + "under-18/"],
        [form(lang) + "other/"],
        [prefix(lang) + "support/"],
        [prefix(lang) + "evidence/"],
    ]
    assert [re.findall(r'href="([^"]+)"', item) for item in items] == wanted
    # Each situation is named in words before its link.
    assert all(item.lstrip().startswith("<strong>") for item in items)


# -- the report form in every menu --------------------------------------------------------------

def menu_links(html: str) -> list[tuple[str, str]]:
    nav = re.search(r'<nav class="site-nav".*?</nav>', html, re.S)
    assert nav, "no menu"
    return re.findall(r'<a href="([^"]+)"[^>]*>([^<]+)</a>', nav.group(0))


def test_every_built_page_has_the_report_form_in_its_menu(site):
    pages = sorted(site.rglob("*.html"))
    assert len(pages) >= 30
    for file in pages:
        html = file.read_text(encoding="utf-8")
        lang = re.search(r'<html lang="([^"]+)"', html).group(1)
        assert (form(lang), "通報フォーム" if lang == "ja" else "Report form") in menu_links(html), file.relative_to(site)


def test_the_report_form_is_in_no_output_file(site):
    """The menu entry comes from content/pages/report.*.md, which only places it: the relay serves the form."""
    for lang in LANGS:
        assert not (site / form(lang).lstrip("/")).exists()


@pytest.mark.parametrize("lang", LANGS)
def test_the_relays_pages_have_the_report_form_in_their_menu(client, page, lang):
    response = client.get(form(lang))
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    links = menu_links(html)
    assert links == menu_links(page("faq", lang).html)  # the same menu as the static pages
    current = re.search(r'<nav class="site-nav".*?</nav>', html, re.S).group(0)
    assert re.search(rf'<a href="{form(lang)}" aria-current="page">', current)


# -- the new pages --------------------------------------------------------------------------------

@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("slug", JOURNEY)
def test_journey_page_exists_in_both_languages(site, page, slug, lang):
    assert output_file(slug, lang) == f"{prefix(lang).lstrip('/')}{slug}/index.html"
    built = page(slug, lang)
    assert built.lang == lang
    assert built.h1 == TITLES[slug, lang]
    assert built.title.startswith(TITLES[slug, lang])
    assert 'name="description"' in built.html


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("slug", JOURNEY)
def test_journey_page_links_to_its_language_twin(page, slug, lang):
    built = page(slug, lang)
    for other in LANGS:
        if other != lang:
            twin = f"{prefix(other)}{slug}/"
            assert re.search(rf'<a class="language" href="{twin}" lang="{other}" hreflang="{other}">', built.html)
            assert f'hreflang="{other}" href="{pelicanconf.SITE_ORIGIN}/{twin.lstrip("/")}"' in built.html


@pytest.mark.parametrize(("slug", "lang"), sorted(FACTS))
def test_journey_page_says_what_it_must(page, slug, lang):
    assert page(slug, lang).missing(FACTS[slug, lang]) == [], f"{output_file(slug, lang)} no longer says them"


@pytest.mark.parametrize("lang", LANGS)
def test_threatened_page_calls_9110_with_a_tel_link_and_leads_to_the_form(page, lang):
    hrefs = page("threatened", lang).hrefs()
    assert "tel:%239110" in hrefs and "tel:110" in hrefs
    assert form(lang) in hrefs
    assert SOURCES["StopNCII"] in hrefs and prefix(lang) + "under-18/" in hrefs


@pytest.mark.parametrize("lang", LANGS)
def test_under_18_page_cites_the_childrens_lines_and_take_it_down(page, lang):
    """The children's lines are on the page itself (the lines marker, tested in
    test_advice_sources.py), beside the ministries' own pages about them."""
    hrefs = page("under-18", lang).hrefs()
    for line_id in ("mext-children-sos", "moj-children"):
        assert source_of_line(line_id) in hrefs
    assert SOURCES["Take It Down"] in hrefs and SOURCES["law"] in hrefs and SOURCES["law, passing on"] in hrefs
    assert prefix(lang) + "evidence/" in hrefs


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("slug", JOURNEY)
def test_every_number_beyond_the_seed_has_its_official_source_beside_it(page, slug, lang):
    """A paragraph or list item that gives #9110 also links to the official page that states it,
    the one data/hotlines.yaml names as the line's source."""
    found = 0
    for text, hrefs in blocks(page(slug, lang).html):
        if "tel:%239110" in hrefs:
            found += 1
            assert SOURCES["#9110"] in hrefs, text
        # In the pages' own words, no other number: other lines appear only as cards, with their sources.
        assert all(href in ("tel:110", "tel:%239110") for href in hrefs if href.startswith("tel:")), hrefs
    assert found >= (1 if slug == "threatened" else 0)


@pytest.mark.parametrize("lang", LANGS)
def test_other_pages_lead_to_the_journey_pages(page, lang):
    assert prefix(lang) + "threatened/" in page("police", lang).hrefs()
    assert prefix(lang) + "evidence/" in page("police", lang).hrefs()
    assert prefix(lang) + "under-18/" in page("before-you-report", lang).hrefs()
