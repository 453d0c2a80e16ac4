"""Japanese typography (issue 15, point 3): full-width punctuation beside Japanese text, one wave
dash, and line breaking that never starts a line with ー or a small kana.

The rule of the check is safeline/typography.py's, the same that ``./run check`` applies.
"""

from __future__ import annotations

import pytest

from devtools.relay_pages import relay_pages
from safeline import typography
from tests.support.site import LANGS, ROOT, SLUGS, output_file

WAVE_DASH, FULLWIDTH_TILDE = "\u301c", "\uff5e"  # 〜 (the site's) and Babel's ～


# -- the rule ---------------------------------------------------------------------------------

@pytest.mark.parametrize("text", [
    "対応してもらえますか?", "アドレス(URL)を書いてください", "エラー: 入力してください", "受付中(21:00まで)",
    "年末年始（12月29日〜1月3日)", "ありがとう!",
])
def test_a_half_width_mark_beside_japanese_is_found(text):
    assert len(typography.findings_in_text(text)) >= 1


@pytest.mark.parametrize("text", [
    "受付 9:00〜21:00", "受付番号 SL-7K3F-Q9XD", "英語では (URL) と書きます", "URL: https://example.jp/a?b=c",
    "サイトhttps://example.jp/(a)です", "Line 3: this is not an address", "受付中（21:00まで）", "例：SL-7K3F-Q9XD",
])
def test_ascii_runs_times_and_addresses_are_left_alone(text):
    assert typography.findings_in_text(text) == []


def test_a_finding_names_the_page_the_mark_and_the_text_around_it():
    html = '<html lang="ja"><body><p>海外のサイトでも、対応してもらえますか?</p></body></html>'
    [finding] = typography.findings(html, "faq/index.html")
    assert finding.startswith('faq/index.html: half-width "?" beside Japanese (write "？")')
    assert "対応してもらえますか?" in finding


def test_only_visible_japanese_text_is_looked_at():
    html = ('<html lang="ja"><head><title>よくある質問</title><meta name="description" content="質問(6つ)">'
            '<script>var a = "あ(い)";</script><style>p::before { content: "あ:"; }</style></head><body>'
            '<p title="説明(長い)"><a href="/faq/?q=質問">質問</a></p><code>設定:値</code>'
            '<textarea>入力された文字(そのまま)</textarea><p lang="en">English (英語)</p></body></html>')
    assert typography.findings(html, "page") == []


def test_inline_elements_do_not_separate_text_but_blocks_do():
    assert len(typography.findings('<html lang="ja"><p><strong>受付中</strong>(21:00まで)</p></html>', "p")) == 2
    assert typography.findings('<html lang="ja"><p>受付中</p><p>(21:00 until)</p></html>', "p") == []


def test_pages_in_other_languages_are_not_looked_at():
    assert typography.findings('<html lang="en"><p>Open now (受付中)?</p></html>', "en") == []


# -- the site and the relay -------------------------------------------------------------------

def japanese_pages(site):
    for path in sorted(site.rglob("*.html")):
        html = path.read_text(encoding="utf-8")
        if '<html lang="ja"' in html:
            yield path.relative_to(site).as_posix(), html


def test_built_japanese_pages_use_full_width_punctuation(site):
    pages = list(japanese_pages(site))
    assert len(pages) >= 15
    found = [finding for name, html in pages for finding in typography.findings(html, name)]
    assert found == [], "\n".join(found)


def test_relay_japanese_pages_use_full_width_punctuation(client):
    pages = list(relay_pages(client))
    assert len(pages) == 8 and all('<html lang="ja"' in html for _, html in pages)
    found = [finding for name, html in pages for finding in typography.findings(html, name)]
    assert found == [], "\n".join(found)


def test_one_wave_dash_in_japanese_text(site, client):
    pages = list(japanese_pages(site)) + list(relay_pages(client))
    assert [name for name, html in pages if FULLWIDTH_TILDE in html] == []
    support = dict(pages)["support/index.html"]
    assert f"9:00{WAVE_DASH}21:00" in support


def test_a_closed_period_with_its_dates_gets_the_wave_dash():
    """The New Year closure shows its name alone (its dates are assumed); a period whose
    dates are known shows them, with the site's wave dash."""
    from safeline.hotlines import hours
    from safeline.hotlines.model import load
    from tests.support.site import catalog

    directory = load(ROOT / "data" / "hotlines.yaml")
    known = {key: period.model_copy(update={"assumed": None}) for key, period in directory.closed_periods.items()}
    dated = directory.model_copy(update={"closed_periods": known})
    line = next(line for line in directory.lines if line.id == "tokyo-womens-plaza-women")
    assert hours.closures_text(dated, line, catalog("ja").gettext, "ja") == f"年末年始（12月29日{WAVE_DASH}1月3日）"
    assert hours.closures_text(directory, line, catalog("ja").gettext, "ja") == "年末年始"


def test_hours_in_japanese_get_the_site_marks():
    from safeline.hotlines.hours import date_text, typeset

    assert typeset("12月29日～1月3日", "ja") == "12月29日〜1月3日"
    assert date_text(__import__("datetime").date(2027, 5, 6), "ja") == "2027年5月6日（木）"
    assert typeset("Dec 29 – Jan 3 (x)", "en") == "Dec 29 – Jan 3 (x)"


def test_no_wave_dash_but_one_in_the_sources():
    """Markdown, data and catalogs (what editors type): 〜 only."""
    sources = [*(ROOT / "content" / "pages").glob("*.ja.md"), ROOT / "data" / "hotlines.yaml",
               ROOT / "theme" / "translations" / "ja" / "LC_MESSAGES" / "messages.po"]
    assert [path.name for path in sources if FULLWIDTH_TILDE in path.read_text(encoding="utf-8")] == []


# -- line breaking ----------------------------------------------------------------------------

def test_the_style_sheet_breaks_japanese_lines_strictly():
    css = (ROOT / "theme" / "static" / "css" / "site.css").read_text(encoding="utf-8")
    assert ":lang(ja) { line-break: strict; }" in css


# Each character that starts a new line inside a block, where it is ー or a small kana.
BAD_LINE_STARTS = """() => {
  const starters = /[ーぁぃぅぇぉっゃゅょゎゕゖァィゥェォッャュョヮヵヶㇰ-ㇿ]/;
  const found = [];
  const range = document.createRange();
  for (const block of document.querySelectorAll('main p, main li, main h1, main h2, main h3, main dd, main dt, main label, main legend')) {
    let top = null;
    const walker = document.createTreeWalker(block, NodeFilter.SHOW_TEXT);
    for (let node; (node = walker.nextNode());) {
      for (let i = 0; i < node.data.length; i++) {
        range.setStart(node, i); range.setEnd(node, i + 1);
        const rect = range.getClientRects()[0];
        if (!rect || rect.width === 0) continue;
        if (top !== null && rect.top > top + 2 && starters.test(node.data[i])) {
          found.push(node.data.slice(Math.max(0, i - 8), i) + '/' + node.data.slice(i, i + 8));
        }
        top = rect.top;
      }
    }
  }
  return {found, lineBreak: getComputedStyle(document.querySelector('main p')).lineBreak};
}"""


@pytest.mark.parametrize("path", ["", "before-you-report/", "faq/", "support/", "safety/", "under-18/", "threatened/",
                                  "evidence/", "privacy/"])
def test_no_line_starts_with_a_long_vowel_mark_or_small_kana_on_a_phone(browser, served_site, path):
    context = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=1)
    try:
        page = context.new_page()
        page.goto(served_site + path)
        result = page.evaluate(BAD_LINE_STARTS)
        assert result["lineBreak"] == "strict"
        assert result["found"] == []
    finally:
        context.close()


# -- phrase breaking (issue 20, point 4): no last line of one character, no katakana word split --

def test_the_style_sheet_breaks_japanese_by_phrases_and_wraps_prettily():
    css = (ROOT / "theme" / "static" / "css" / "site.css").read_text(encoding="utf-8")
    assert ":lang(ja) { word-break: auto-phrase; }" in css
    assert "text-wrap: pretty" in css


# For each block of text (one whose own text it is: a <p> inside an <li> is its own block), the
# characters of its last line when that line holds one alone (punctuation aside: 「い。」 is one),
# and each katakana word that runs over two lines (セーファ／ーインターネット).  Positions come from
# Range.getClientRects on each character of the text nodes, as the browser laid them out.
LINE_BREAK_FAULTS = """() => {
  const BLOCKS = 'p, li, h1, h2, h3, dd, dt, label, legend';
  const KATAKANA = /[\\u30a1-\\u30fa\\u30fc-\\u30ff\\u31f0-\\u31ff\\uff66-\\uff9f]/;  // ・ (u30fb) may end a line
  const SILENT = /[\\s\\p{P}\\p{S}]/u;  // punctuation and symbols keep company, they are no character alone
  const lone = [], split = [];
  const range = document.createRange();
  for (const block of document.querySelectorAll(BLOCKS)) {
    const chars = [];
    const walker = document.createTreeWalker(block, NodeFilter.SHOW_TEXT);
    for (let node; (node = walker.nextNode());) {
      if (node.parentElement.closest(BLOCKS) !== block) continue;
      for (let i = 0; i < node.data.length; i++) {
        range.setStart(node, i); range.setEnd(node, i + 1);
        const rect = range.getClientRects()[0];
        if (!rect || rect.width === 0 || rect.height === 0) continue;
        chars.push({ch: node.data[i], top: rect.top, bottom: rect.bottom, mid: (rect.top + rect.bottom) / 2});
      }
    }
    if (!chars.length) continue;
    const text = chars.map((c) => c.ch).join('');
    const last = chars.reduce((a, b) => (b.bottom > a.bottom ? b : a));
    const onLast = chars.filter((c) => c.mid >= last.top && c.mid <= last.bottom);
    const counted = onLast.filter((c) => !SILENT.test(c.ch));
    if (onLast.length < chars.length && counted.length === 1) {
      lone.push(text.slice(-12).trim());
    }
    for (let i = 1; i < chars.length; i++) {
      const [a, b] = [chars[i - 1], chars[i]];
      if (KATAKANA.test(a.ch) && KATAKANA.test(b.ch) && b.mid > a.bottom) {
        split.push(text.slice(Math.max(0, i - 8), i) + '/' + text.slice(i, i + 8));
      }
    }
  }
  return {lone, split};
}"""
PHRASE_WIDTHS = (320, 360, 390)


@pytest.mark.parametrize(("slug", "lang"), [(slug, lang) for lang in LANGS for slug in SLUGS])
def test_no_lone_last_character_and_no_split_katakana_word(browser, served_site, slug, lang):
    """At 320, 360 and 390 px, in every built page, the frame (help box, menu) included."""
    context = browser.new_context(viewport={"width": PHRASE_WIDTHS[0], "height": 800}, device_scale_factor=1)
    try:
        page = context.new_page()
        page.goto(served_site + output_file(slug, lang).removesuffix("index.html"))
        found = {}
        for width in PHRASE_WIDTHS:
            page.set_viewport_size({"width": width, "height": 800})
            page.wait_for_function(f"window.innerWidth === {width}")
            faults = page.evaluate(LINE_BREAK_FAULTS)
            found.update({f"{width} px, last line alone": faults["lone"], f"{width} px, katakana split": faults["split"]})
        assert {name: faults for name, faults in found.items() if faults} == {}
    finally:
        context.close()
