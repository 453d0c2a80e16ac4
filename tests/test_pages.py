"""Every page is built in both languages, with its title and the facts people rely on."""

import pytest

from tests.support.site import LANGS, SLUGS, TITLES, output_file

# Facts from the hotline's own page that each page must keep saying (in any wording around them).
FACTS = {
    ("home", "ja"): ["費用はかかりません", "海外のサイト", "くり返し", "できるだけ早く", "110"],
    ("home", "en"): ["free", "other countries", "ask again", "sooner you tell us", "110"],
    ("before-you-report", "ja"): ["ご本人", "保護者", "18歳未満", "友だちが、ご本人に代わって通報することはできません",
                                  "メールアドレス", "URL", "説明", "送らないでください"],
    ("before-you-report", "en"): ["guardian", "under 18", "friend", "e-mail address", "URL", "Describe", "do not send the images"],
    ("privacy", "ja"): ["厳重に管理", "事実を確かめることにだけ使います", "本人であることを確かめる", "あらためて"],
    ("privacy", "en"): ["strictly", "only", "identity", "come back to you first"],
    ("faq", "ja"): ["海外", "約束することはできません", "何回もくり返します", "個別にお知らせすることはしていません",
                    "保護者", "インターネット企業の有志", "一般社団法人", "秘密"],
    ("faq", "en"): ["another country", "cannot promise", "more than once", "individual updates", "guardian", "internet companies",
                    "incorporated association", "confidential"],
    ("police", "ja"): ["110", "警察署", "都道府県警察の相談窓口", "紹介"],
    ("police", "en"): ["110", "police station", "prefectural police", "consultation desk"],
    ("about", "ja"): ["一般社団法人セーファーインターネット協会", "インターネット企業の有志"],
    ("about", "en"): ["Safer Internet Association", "internet companies"],
    ("support", "ja"): ["ひとりで", "セーファーインターネット協会から紹介された"],
    ("support", "en"): ["alone", "Safer Internet Association"],
    ("report-unavailable", "ja"): ["もう一度", "受付番号", "110", "03-5467-2455", "0570-003-110"],
    ("report-unavailable", "en"): ["try again", "reference number", "110", "03-5467-2455", "0570-003-110"],
}


@pytest.mark.parametrize("lang", LANGS)
def test_static_pages_lead_to_the_form(page, lang):
    """The form is served by the relay; the static pages link to it, and say what to do without it."""
    form = "/report/" if lang == "ja" else "/en/report/"
    for slug in ("home", "before-you-report", "report-unavailable"):
        assert form in page(slug, lang).hrefs(), slug


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("slug", SLUGS)
def test_page_exists_with_title(site, page, slug, lang):
    assert (site / output_file(slug, lang)).is_file()
    built = page(slug, lang)
    assert built.lang == lang
    assert built.h1 == TITLES[slug, lang]
    assert built.title.startswith(TITLES[slug, lang])
    assert built.title.endswith("セーフライン" if lang == "ja" else "Safeline")


@pytest.mark.parametrize(("slug", "lang"), sorted(FACTS))
def test_page_states_key_facts(page, slug, lang):
    assert page(slug, lang).missing(FACTS[slug, lang]) == [], f"{output_file(slug, lang)} no longer says them"


@pytest.mark.parametrize("lang", LANGS)
def test_home_offers_the_three_next_steps(page, lang):
    prefix = "/" if lang == "ja" else "/en/"
    hrefs = page("home", lang).hrefs()
    for slug in ("before-you-report", "support", "police"):
        assert f"{prefix}{slug}/" in hrefs


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("slug", SLUGS)
def test_every_page_has_the_same_frame(page, slug, lang):
    """Skip link, quick exit, help box and footer on every page, in the page's language."""
    built = page(slug, lang)
    assert 'class="skip-link" href="#main"' in built.html
    assert 'id="main"' in built.html
    assert 'class="quick-exit"' in built.html and 'rel="noreferrer nofollow"' in built.html
    assert 'class="help"' in built.html and 'href="tel:110"' in built.html
    prefix = "/" if lang == "ja" else "/en/"
    assert f"{prefix}support/" in built.hrefs() and f"{prefix}about/" in built.hrefs()
    help_title = "いま、だれかに話したいときは" if lang == "ja" else "Need to talk to someone now?"
    assert help_title in built.text


def test_faq_has_all_six_questions(page):
    for lang in LANGS:
        main = page("faq", lang).html.split("<main", 1)[1].split("</main>", 1)[0]
        assert main.count("<h2") == 6


def test_no_page_asks_for_images(site):
    """The site never offers a way to upload the images themselves."""
    for file in site.rglob("*.html"):
        html = file.read_text(encoding="utf-8")
        assert 'type="file"' not in html and "multipart/form-data" not in html
