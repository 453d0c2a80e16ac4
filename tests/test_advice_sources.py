"""Advice is sourced like a phone number (issue 20, point 1): on the pages that advise, every
section says where its claims come from.

The Markdown marks each ``##`` section of these pages (README.md, 「根拠のある助言を書く」):
``{: .sourced }`` when it says something beyond the hotline's own earlier page (the seed), which
then needs a link to the official page that says it, in the section itself; ``{: .seed }`` when
all it says stands on the seed (or on this site's own form).  The tests read the built site, so
they see what a reader sees: each marked section's outbound links.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest

from tests.support.site import LANGS, ROOT, catalog

ADVICE_PAGES = ("threatened", "under-18", "evidence", "police")
MARKS = ("sourced", "seed")

# "Official": a page of the government, a prefecture or its police, or, for what a named
# service says of itself, that service's own site.
OFFICIAL_SUFFIXES = (".go.jp", ".lg.jp")
PREFECTURE = re.compile(r"^(www\.)?(police\.)?pref\.[a-z]+\.jp$")  # pref.oita.jp, www.police.pref.nagasaki.jp
SERVICES = {"stopncii.org", "swgfl.org.uk", "takeitdown.ncmec.org"}  # swgfl.org.uk: the charity that runs StopNCII.org


def is_official(url: str) -> bool:
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if parts.scheme != "https" or not host:
        return False
    return host.endswith(OFFICIAL_SUFFIXES) or bool(PREFECTURE.match(host)) or host in SERVICES


@pytest.mark.parametrize(("url", "official"), [
    ("https://www.npa.go.jp/safetylife/", True),
    ("https://www.police.pref.osaka.lg.jp/seikatsu/", True),
    ("https://pref.oita.jp/site/keisatu/cyber-05.html", True),
    ("https://www.pref.fukui.jp/kenkei/", True),
    ("https://www.police.pref.nagasaki.jp/police/", True),
    ("https://stopncii.org/faq/", True),
    ("https://takeitdown.ncmec.org/faq/", True),
    ("http://www.npa.go.jp/safetylife/", False),  # not over https
    ("https://www.go.jp.example.com/", False),
    ("https://itbengo-pro.com/columns/34/", False),  # a law firm's article
    ("https://www.safe-line.jp/", False),  # our own earlier page is the seed, not an official source
])
def test_what_counts_as_official(url, official):
    assert is_official(url) is official


class Sections(HTMLParser):
    """The ``<h2>`` sections of ``<main>``: (heading, class, [outbound hrefs]); links before
    the first heading are kept under the heading ``None``."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.sections: list[list] = [[None, None, []]]
        self._in_main = False
        self._in_h2 = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "main":
            self._in_main = True
        if not self._in_main:
            return
        if tag == "h2":
            self._in_h2 = True
            self.sections.append(["", attrs.get("class"), []])
        elif tag == "a" and re.match(r"https?://", attrs.get("href") or ""):
            self.sections[-1][2].append(attrs["href"])

    def handle_endtag(self, tag):
        if tag == "main":
            self._in_main = False
        elif tag == "h2":
            self._in_h2 = False

    def handle_data(self, data):
        if self._in_h2:
            self.sections[-1][0] += data


def sections(html: str) -> list[tuple[str | None, str | None, list[str]]]:
    parser = Sections()
    parser.feed(html)
    return [tuple(section) for section in parser.sections]


CASES = [(slug, lang) for slug in ADVICE_PAGES for lang in LANGS]


@pytest.mark.parametrize(("slug", "lang"), CASES)
def test_every_section_of_an_advice_page_is_marked(page, slug, lang):
    """An editor decides for each section: sourced (with its link) or standing on the seed."""
    found = [(heading, mark) for heading, mark, _ in sections(page(slug, lang).html) if heading is not None]
    assert found, "no sections"
    unmarked = [heading for heading, mark in found if mark not in MARKS]
    assert not unmarked, f"{slug} ({lang}): mark these sections {{: .sourced }} or {{: .seed }}: {unmarked}"
    assert any(mark == "sourced" for _, mark in found)


@pytest.mark.parametrize(("slug", "lang"), CASES)
def test_every_sourced_section_links_an_official_page(page, slug, lang):
    listed = []
    for heading, mark, links in sections(page(slug, lang).html):
        listed.append(f"{heading}: {links}")
        if mark == "sourced":
            assert any(is_official(link) for link in links), (
                f"{slug} ({lang}), section {heading!r} is marked sourced but links no official page: {links}")
    print("\n".join(listed))  # the outbound links per section, shown with -s or on failure


@pytest.mark.parametrize(("slug", "lang"), CASES)
def test_advice_pages_link_no_unofficial_page(page, slug, lang):
    """Whatever a section is marked, an outbound link on these pages is an official one."""
    for heading, _, links in sections(page(slug, lang).html):
        assert all(is_official(link) for link in links), (heading, [link for link in links if not is_official(link)])


def test_the_check_fails_a_sourced_section_without_a_link():
    """The rule itself, on a page made to break it."""
    html = ('<main><h2 class="sourced">A</h2><p>advice <a href="https://example.com/">blog</a></p>'
            '<h2 class="seed">B</h2><p>the seed</p></main>')
    (_, _, before), (heading, mark, links), _ = sections(html)
    assert (heading, mark, links, before) == ("A", "sourced", ["https://example.com/"], [])
    assert not any(is_official(link) for link in links)


# -- what the pages say --------------------------------------------------------------------------

def main_text(page, slug, lang) -> str:
    html = page(slug, lang).html.split('<main id="main"', 1)[1].split("</main>", 1)[0]
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


MARKER = {
    "under-18": "[lines: mext-children-sos moj-children]",
    "police": "[lines: police-110 police-9110 police-8103]",
}


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("slug", sorted(MARKER))
def test_the_lines_are_on_the_page_itself(slug, lang):
    """The lines' cards come from data/hotlines.yaml through the marker paragraph, in the first
    section of the page (the police page: near the top)."""
    text = (ROOT / "content" / "pages" / f"{slug}.{lang}.md").read_text(encoding="utf-8")
    paragraphs = [block.strip() for block in text.split("\n\n")]
    assert MARKER[slug] in paragraphs
    first_section = text.split("\n## ", 2)[1]
    if slug == "police":
        assert MARKER[slug] in first_section


@pytest.mark.parametrize("lang", LANGS)
def test_evidence_says_record_first_then_removal_at_once(page, lang):
    text = main_text(page, "evidence", lang)
    gone = {"ja": "削除をお願いする前に警察に相談", "en": "talk to the police before you ask for removal"}[lang]
    assert gone not in text
    said = {"ja": ["まず記録を残し、それからすぐに削除をお願いして", "削除のお願いと同じときに"],
            "en": ["Make your record first; then you can ask for removal at once", "at the same time as you ask for removal"]}
    assert all(words in text for words in said[lang]), said[lang]
    first = sections(page("evidence", lang).html)[1]
    assert first[1] == "sourced" and any("police.pref.osaka.lg.jp" in link for link in first[2])


@pytest.mark.parametrize("lang", LANGS)
def test_under_18_says_first_that_the_young_person_did_nothing_wrong(page, lang):
    html = page("under-18", lang).html.split('<main id="main"', 1)[1]
    first_paragraph = re.search(r"<p>(.*?)</p>", html, re.S).group(1)
    assert {"ja": "何も悪いことをしていません", "en": "You have done nothing wrong"}[lang] in first_paragraph


@pytest.mark.parametrize("lang", LANGS)
def test_under_18_lets_the_young_person_report_themself(page, lang):
    text = main_text(page, "under-18", lang)
    assert {"ja": "18歳未満のあなたが、自分で通報することもできます", "en": "If you are under 18, you can report yourself"}[lang] in text
    only_guardian = {"ja": "保護者の方から", "en": "A parent or guardian reports"}[lang]
    headings = [heading for heading, _, _ in sections(page("under-18", lang).html) if heading]
    assert not any(heading.strip().endswith(only_guardian) for heading in headings), headings


@pytest.mark.parametrize("lang", LANGS)
def test_under_18_warns_against_new_copies_not_against_the_reader(page, lang):
    text = main_text(page, "under-18", lang)
    assert {"ja": "新しいコピーを作らない", "en": "make no new copy"}[lang] in text
    # The law is named as being about saving and sending on, never as "having" them: a young
    # person who has their own picture must not read it as an accusation.
    assert {"ja": "持つことも", "en": "illegal to have"}[lang] not in text


@pytest.mark.parametrize("lang", LANGS)
def test_police_page_says_what_the_forms_police_box_does(page, lang):
    text = main_text(page, "police", lang)
    box = catalog(lang).gettext("I would like to be introduced to the police consultation desk")
    assert box in text  # the words of the form's own checkbox
    assert {"ja": "スタッフが、紹介のために", "en": "staff will then write to the e-mail address"}[lang] in text
    assert "削除のお願いを通報する" not in text
