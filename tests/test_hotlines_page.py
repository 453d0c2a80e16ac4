"""The consultation page shows every line of data/hotlines.yaml, and nothing else decides it."""

import datetime
import re
from html import unescape
from html.parser import HTMLParser

import pytest
from babel.dates import format_time

from tests.support.hotlines import with_men_line
from tests.support.site import LANGS, ROOT, BuiltPage, build_site
from safeline.hotlines import schedule
from safeline.hotlines.model import load

DIRECTORY = load(ROOT / "data" / "hotlines.yaml")
LINES = [(org, line) for org in DIRECTORY.organisations for line in org.lines]


def words(html: str) -> str:
    """The text of some HTML, tags removed: Japanese inside English is wrapped in <span lang="ja">."""
    return unescape(re.sub(r"<[^>]+>", "", html))


def line_block(page, line_id: str) -> str:
    match = re.search(rf'<article class="line" id="{line_id}".*?</article>', page.html, re.S)
    assert match, f"line {line_id} is not on the page"
    return match.group(0)


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize(("org", "line"), LINES, ids=[line.id for _, line in LINES])
def test_every_line_is_listed_with_a_working_number(page, org, line, lang):
    block = line_block(page("support", lang), line.id)
    assert line.name[lang] in words(block)
    # A tel: link a phone can dial: the number's digits, as dialled inside Japan; a short
    # number such as #9110 with its # written %23 (a bare # would start a URL fragment);
    # the police's emergency number as it is.
    if line.phone.startswith("#"):
        digits = "%23" + line.phone[1:]
        assert re.fullmatch(r"%23\d{4}", digits)
    elif line.emergency:
        digits = line.phone
        assert digits == "110"
    else:
        digits = line.phone.replace("-", "")
        assert re.fullmatch(r"0\d{9,10}", digits)
    assert f'<a href="tel:{digits}">{line.phone}</a>' in block
    assert line.eligibility[lang] in words(block)
    if line.note:
        assert line.note[lang] in words(block)


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize(("org", "line"), LINES, ids=[line.id for _, line in LINES])
def test_hours_and_closures_are_in_words(page, org, line, lang):
    block = line_block(page("support", lang), line.id)
    for opening in line.hours:
        if opening.all_day:
            assert ("24時間" if lang == "ja" else "24 hours") in block
            continue
        # Times as Babel writes them for the locale (9:00, not 09:00 or 9時).
        for time in (opening.open, opening.close):
            assert format_time(time, "H:mm", locale=lang) in block
    if line.hours_note:
        note = re.search(r'<dd class="hours-note">(.*?)</dd>', block, re.S)
        assert note and words(note.group(1)) == line.hours_note[lang]
    elif not line.regular:  # 110: no source states its hours, so the card claims none
        assert line.emergency and "<dt>" + ("受付時間" if lang == "ja" else "Hours") not in block
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
    # 年末年始 alone, as the sources say it: its dates are the data's assumption (closed_periods.new-year.assumed)
    ("tokyo-womens-plaza-women", "ja"): ["毎日 9:00〜21:00", "年末年始"],
    ("tokyo-womens-plaza-women", "en"): ["Every day, 9:00–21:00", "the New Year holidays"],
    ("tokyo-womens-plaza-men", "ja"): ["月曜日、水曜日 17:00〜20:00", "祝日、年末年始"],
    ("tokyo-womens-plaza-men", "en"): ["Monday and Wednesday, 17:00–20:00", "national holidays and the New Year holidays"],
    ("moj-minna-no-jinken", "ja"): ["平日 8:30〜17:15"],
    ("moj-minna-no-jinken", "en"): ["Weekdays, 8:30–17:15"],
    ("moj-women", "ja"): ["平日 8:30〜17:15"],
    ("moj-women", "en"): ["Weekdays, 8:30–17:15"],
    ("moj-children", "ja"): ["平日 8:30〜17:15", "祝日、年末年始"],
    ("moj-children", "en"): ["Weekdays, 8:30–17:15", "national holidays and the New Year holidays"],
    ("police-8103", "ja"): ["毎日 24時間"],
    ("police-8103", "en"): ["Every day, 24 hours"],
    ("mext-children-sos", "ja"): ["毎日 24時間", "子ども向け"],
    ("mext-children-sos", "en"): ["Every day, 24 hours", "For children and young people"],
    # hours that differ from place to place: in words, from the data
    ("one-stop-8891", "ja"): ["受付時間はセンターごとに違います"],
    ("one-stop-8891", "en"): ["Each centre has its own hours"],
    ("police-9110", "ja"): ["平日 8:30〜17:15（都道府県の警察によって違います）"],
    ("police-9110", "en"): ["Weekdays, 8:30–17:15 (this differs between prefectures)"],
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
        section = re.search(rf'<section class="org" aria-labelledby="{org.id}"[^>]*>.*?</section>', built.html, re.S).group(0)
        assert org.name[lang] in words(section)
        if org.referral:
            phrase = re.search(r'<q class="phrase">(.*?)</q>', section, re.S)
            assert phrase and words(phrase.group(1)) == org.referral[lang]
        for link in org.web:
            assert f'<a href="{link.url}">{link.label[lang]}</a>' in section


def test_audiences_are_named(page):
    text = page("support", "ja").text
    assert "女性向け" in text and "男性向け" in text and "どなたでも" in text


@pytest.mark.parametrize(("lang", "anyone", "women"), [("ja", "どなたでも", "女性向け"), ("en", "For anyone", "For women")])
def test_the_womens_rights_line_takes_calls_from_anyone(page, lang, anyone, women):
    # It is about women's human rights, not a line only female callers may use.
    block = line_block(page("support", lang), "moj-women")
    assert anyone in block and women not in block


def test_page_text_comes_from_the_data_only(tmp_path):
    """Change a number in a copy of the data: the page follows, the old number is gone."""
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


# -- the live badge: its data, its words, its horizon ---------------------------------------

def badge_of(block: str) -> dict[str, str]:
    match = re.search(r'<p class="now" hidden([^>]*)></p>', block)
    assert match, "the badge is missing, or not hidden until the script shows it"
    return dict(re.findall(r' data-([a-z-]+)="([^"]*)"', match.group(1)))


@pytest.mark.parametrize("lang", LANGS)
def test_each_line_carries_the_engines_data_for_400_days(page, lang):
    built = page("support", lang)
    for _, line in LINES:
        block = line_block(built, line.id)
        if not line.regular:  # hours that differ from place to place: no badge, no guess
            assert 'class="now"' not in block
            continue
        data = badge_of(block)
        within = schedule.horizon(datetime.date.fromisoformat(data["from"]))
        assert within.days >= 400
        assert data == schedule.embedded(DIRECTORY, line, within)


@pytest.mark.parametrize("lang", LANGS)
def test_the_script_is_external_deferred_and_carries_the_words(page, lang):
    html = page("support", lang).html
    [script] = [tag for tag in re.findall(r"<script\b[^>]*>", html) if "hours.js" in tag]
    assert 'src="/theme/js/hours.js" defer' in script
    words = {"ja": ["受付中（{time}まで）", "受付時間外（次は {day} {time} から）", "今日", "明日", "月曜|火曜|水曜|木曜|金曜|土曜|日曜"],
             "en": ["Open now (until {time})", "Closed now (next: {day} {time})", "today", "tomorrow", "Monday|Tuesday|"]}
    for text in words[lang]:
        assert text in script


def test_only_pages_that_list_the_lines_load_the_script(site):
    """The consultation page (and 'if the form is not working', which lists the same lines)."""
    listing = set()
    for file in site.rglob("*.html"):
        html = file.read_text(encoding="utf-8")
        assert ("hours.js" in html) == ('<article class="line"' in html), file
        if "hours.js" in html:
            listing.add(file.relative_to(site).as_posix())
    assert {"support/index.html", "en/support/index.html"} <= listing


def test_the_build_warns_when_the_horizon_ends_within_60_days(tmp_path):
    """The holiday data reaches to 2099: a build 'on' 2099-12-01 can carry only 30 days."""
    result = build_site(tmp_path / "out", ("HOTLINES_TODAY", "2099-12-01"), fatal=False)
    assert result.returncode == 0, result.stderr
    assert re.search(r"^WARNING: the opening hours on the consultation page are known only until 2099-12-31 \(30 days",
                     result.stderr, re.M), result.stderr
    strict = build_site(tmp_path / "strict", ("HOTLINES_TODAY", "2099-12-01"))
    assert strict.returncode != 0 and "Traceback" not in strict.stdout + strict.stderr


def test_a_wrong_pinned_day_is_one_clear_line(tmp_path):
    result = build_site(tmp_path / "out", ("HOTLINES_TODAY", "2026-13-01"))
    assert result.returncode != 0
    assert 'HOTLINES_TODAY: write the date as "YYYY-MM-DD"' in result.stderr
    assert "Traceback" not in result.stdout + result.stderr


ONE_OFFS = with_men_line(
    '        closed_dates: ["2026-08-31", "2026-10-07"]\n'
    "        extra_openings:\n"
    '          - date: "2026-09-21"\n            open: "13:00"\n            close: "16:00"\n'
    '          - date: "2026-08-24"\n            open: "13:00"\n            close: "16:00"\n'
)


def test_one_off_closures_and_extra_openings_show_in_words_and_data(tmp_path):
    data = tmp_path / "hotlines.yaml"
    data.write_text(ONE_OFFS, encoding="utf-8")
    result = build_site(tmp_path / "out", ("HOTLINES_DATA", str(data)), ("HOTLINES_TODAY", "2026-09-01"))
    assert result.returncode == 0, result.stderr
    ja = BuiltPage(tmp_path / "out" / "support" / "index.html")
    en = BuiltPage(tmp_path / "out" / "en" / "support" / "index.html")
    men_ja, men_en = line_block(ja, "tokyo-womens-plaza-men"), line_block(en, "tokyo-womens-plaza-men")
    # in words: dates from the day of the build on (8/31 and 8/24 are past and left out)
    assert "祝日、年末年始、2026年10月7日（水）" in men_ja
    assert "臨時の受付日" in men_ja and "2026年9月21日（月） 13:00〜16:00" in men_ja
    assert "Extra opening days" in men_en and "Mon, Sep 21, 2026, 13:00–16:00" in men_en
    assert "8月31日" not in men_ja and "8月24日" not in men_ja
    # as data for the badge: day 20 (9/21) is an extra opening, day 36 (10/7) closed
    badge = badge_of(men_ja)
    assert badge["extra"] == "20:1300-1600" and "36" in badge["closed"].split()
    # and as microdata
    hours = [item for item in microdata(men_ja) if item["type"] == "https://schema.org/ContactPoint"][0]["props"]["hoursAvailable"]
    special = {(h["props"]["validFrom"][0], h["props"]["opens"][0], h["props"]["closes"][0]) for h in hours if "validFrom" in h["props"]}
    assert special == {("2026-09-21", "13:00:00", "16:00:00"), ("2026-10-07", "00:00:00", "00:00:00")}


# -- schema.org microdata -------------------------------------------------------------------


class _Microdata(HTMLParser):
    """Just enough of the microdata model: items, their types and their properties' values."""

    VOID = {"meta", "link", "br", "img", "input", "hr"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.top: list[dict] = []
        self.stack: list[tuple[str, dict | None, str | None]] = []  # (tag, item opened here, property whose text is collected)
        self.items: list[dict] = []
        self.text: dict[int, list[str]] = {}

    def _item(self):
        return next((item for _, item, _ in reversed(self.stack) if item is not None), None)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        parent, prop = self._item(), attrs.get("itemprop")
        item = None
        if "itemscope" in attrs:
            item = {"type": attrs.get("itemtype"), "props": {}}
            self.items.append(item)
            if prop and parent is not None:
                parent["props"].setdefault(prop, []).append(item)
            elif not prop:
                self.top.append(item)
        elif prop and parent is not None:
            if tag == "meta":
                parent["props"].setdefault(prop, []).append(attrs.get("content"))
            elif tag in ("a", "link"):
                parent["props"].setdefault(prop, []).append(attrs.get("href"))
        if tag not in self.VOID:
            self.stack.append((tag, item, prop if item is None and prop and tag not in ("a", "link") else None))
            if self.stack[-1][2]:
                self.text[len(self.stack) - 1] = []

    def handle_endtag(self, tag):
        while self.stack:
            open_tag, item, prop = self.stack.pop()
            if prop:
                parent = self._item()
                parent["props"].setdefault(prop, []).append("".join(self.text.pop(len(self.stack))).strip())
            if open_tag == tag:
                break

    def handle_data(self, data):
        for collecting in self.text.values():
            collecting.append(data)


def microdata(html: str) -> list[dict]:
    parser = _Microdata()
    parser.feed(html)
    parser.close()
    return parser.items


@pytest.mark.parametrize("lang", LANGS)
def test_each_line_is_a_schema_org_contact_point_with_its_hours(page, lang):
    items = microdata(page("support", lang).html)
    organisations = [item for item in items if item["type"] == "https://schema.org/Organization"]
    assert [org["props"]["name"] for org in organisations] == [[org.name[lang]] for org in DIRECTORY.organisations]
    schema_day = dict(zip(("mon", "tue", "wed", "thu", "fri", "sat", "sun"),
                          ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")))
    for org, item in zip(DIRECTORY.organisations, organisations):
        points = item["props"]["contactPoint"]
        assert len(points) == len(org.lines)
        for line, point in zip(org.lines, points):
            assert point["type"] == "https://schema.org/ContactPoint"
            assert point["props"]["name"] == [line.name[lang]]
            assert point["props"]["telephone"] == [line.phone if line.phone.startswith("#") or line.emergency else "+81-" + line.phone[1:]]
            specs = point["props"].get("hoursAvailable", [])
            assert [spec["type"] for spec in specs] == ["https://schema.org/OpeningHoursSpecification"] * len(line.hours)
            for block, spec in zip(line.hours, specs):
                assert spec["props"]["dayOfWeek"] == [f"https://schema.org/{schema_day[d]}" for d in block.days]
                assert spec["props"]["opens"] == [f"{block.open:%H:%M:%S}"]
                assert spec["props"]["closes"] == [f"{block.close:%H:%M:%S}"]
