"""The pages of the local web interface, through Flask's test client over a real store.

The list (filters, search, paging, counts), a case (records in time order, URLs with their
host, the contact-safety notes and the police-referral request before the e-mail address,
hostile text escaped and isolated, no links), notes, status, phone cases, deletion with its
confirmation, 4xx for bad input (never 500), and both languages complete.
"""

from __future__ import annotations

import html
import io
import re
import subprocess
import sys
import tempfile
from datetime import timedelta
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from markupsafe import escape

from staff.store import STATUSES
from staff.translations import LANGUAGES, po_file
from staff.web import text
from tests.support.staff_records import T0, message_id, report
from tests.support.staff_web import (HOSTILE, HOSTILE_URLS, ORIGIN, RLO, client_for, csrf, filled_store,
                                     make_app)
from tests.support.staff_records import new_store

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def filled(tmp_path):
    store, cases = filled_store(tmp_path)
    yield store, cases
    store.close()


@pytest.fixture
def store(filled):
    return filled[0]


@pytest.fixture
def cases(filled):
    return filled[1]


@pytest.fixture
def client(store):
    return client_for(make_app(store))


def get(client, path, status=200):
    response = client.get(ORIGIN + path)
    assert response.status_code == status, (path, response.status_code)
    return response.get_data(as_text=True)


def post(client, path, data, status=303):
    response = client.post(ORIGIN + path, data={**data, "csrf": csrf()})
    assert response.status_code == status, (path, response.status_code)
    return response


def references(page: str) -> list[str]:
    return re.findall(r'<h2><a href="[^"]+" class="reference">([^<]+)</a></h2>', page)


def visible(page: str) -> str:
    """The page's text, tags removed."""
    return html.unescape(re.sub(r"<[^>]+>", " ", page))


# -- the list ------------------------------------------------------------------------------

def test_the_list_shows_every_case_newest_activity_first_with_counts(client, cases):
    page = get(client, "/")
    assert references(page) == [cases.phone, cases.orphan, cases.english, cases.hostile, cases.plain]
    assert "5件のうち 1～5件目" in page
    assert 'すべて <span class="count">（5）</span>' in page
    assert '新規 <span class="count">（5）</span>' in page


def test_the_status_filter_and_its_counts(client, store, cases):
    post(client, f"/case/{cases.english}/status", {"status": "waiting"})
    page = get(client, "/en/?status=waiting")
    assert references(page) == [cases.english]
    assert 'Waiting <span class="count">(1)</span>' in page and 'New <span class="count">(4)</span>' in page
    assert '<a href="/en/?status=waiting" aria-current="page">' in page
    assert references(get(client, "/en/?status=closed")) == []
    assert "No case matches" not in get(client, "/en/?status=closed")


@pytest.mark.parametrize(("query", "expected"), [
    ("phone.example.jp", "phone"), ("bad.example", "hostile"), ("夫が見る", "plain"), ("Photos of me", "english"),
])
def test_search(client, cases, query, expected):
    page = get(client, "/?q=" + query)
    assert references(page) == [getattr(cases, expected)]


def test_search_by_reference_and_its_words_are_kept_in_the_form(client, cases):
    page = get(client, f"/en/?q={cases.plain.lower()}")
    assert references(page) == [cases.plain]
    assert f'value="{cases.plain.lower()}"' in page
    assert "No case matches the search." in get(client, "/en/?q=nothing-like-this")


def test_paging_100_a_page(tmp_path):
    store, _ = new_store(tmp_path)
    for index in range(205):
        store.add(report(received_at=T0 + timedelta(minutes=index)), message_id=message_id())
    client = client_for(make_app(store))
    first = get(client, "/en/")
    assert len(references(first)) == 100 and "Cases 1–100 of 205" in first
    assert 'href="/en/?page=2" rel="next"' in first and 'rel="prev"' not in first
    third = get(client, "/en/?page=3")
    assert len(references(third)) == 5 and "Cases 201–205 of 205" in third and "Page 3 of 3" in third
    assert 'rel="next"' not in third
    assert set(references(first)).isdisjoint(references(get(client, "/en/?page=2")))
    get(client, "/en/?page=4", 404)
    store.close()


@pytest.mark.parametrize("query", ["?status=bogus", "?page=0", "?page=-1", "?page=x", "?page=99999999999",
                                   "?q=" + "x" * 201])
def test_bad_list_queries_are_400_pages_with_a_message(client, query):
    page = get(client, "/en/" + query, 400)
    assert '<p class="error-text">' in page and "Back to the case list" in page


def test_an_empty_store_says_how_to_fill_it(tmp_path):
    store, _ = new_store(tmp_path)
    page = get(client_for(make_app(store)), "/en/")
    assert "safeline-staff import" in page
    store.close()


# -- a case --------------------------------------------------------------------------------

def test_a_case_shows_its_records_in_time_order_and_each_url_with_its_host(client, cases):
    page = get(client, f"/en/case/{cases.plain}")
    # The additions were stored out of order: shown as received.
    assert page.index("知らないうちに") < page.index("一つ目の追加です。") < page.index("二つ目を見つけました。")
    assert page.count('class="record"') == 3
    for host, url in (("images.example.com", "https://images.example.com/p/1"),
                      ("more.example.net", "https://more.example.net/q/1")):
        assert re.search(rf'<dd class="host"><bdi>{re.escape(host)}</bdi></dd></div>\s*<div><dt>Address</dt>'
                         rf'<dd class="url"><bdi>{re.escape(url)}</bdi>', page)


def test_contact_safety_and_police_referral_come_before_the_email_and_stand_out(client, cases):
    for path in (f"/case/{cases.plain}", f"/en/case/{cases.plain}"):
        page = get(client, path)
        safety = page.index("平日の夜だけメールしてください。")
        police = page.index('id="police-referral"')
        email = page.index("hanako@example.jp")
        reply = page.index("/reply")
        assert safety < police < email < reply
        box = page[page.index('<div class="caution" id="contact-safety">'):page.index("</div>", safety)]
        assert "平日の夜だけ" in box and "police-referral" in box
    page = get(client, f"/case/{cases.plain}/reply")
    assert page.index("平日の夜だけ") < page.index("mailto:")


def test_hostile_text_is_shown_as_text_isolated_and_never_as_a_link(client, cases):
    for path in (f"/case/{cases.hostile}", f"/en/case/{cases.hostile}", f"/case/{cases.hostile}/reply"):
        page = get(client, path)
        assert "<script" not in page and "<img" not in page and "evil.example/\">" not in page
        assert str(escape(HOSTILE)) in page
        assert 'href="https://evil.example/' not in page
        # The right-to-left override sits inside an isolating element.
        for found in re.finditer(RLO[0], page):
            before = page[:found.start()]
            opened = max(before.rfind('<p class="user-text" dir="auto"'), before.rfind("<bdi>"))
            assert opened > max(before.rfind("</p>"), before.rfind("</bdi>"))
    page = get(client, f"/en/case/{cases.hostile}")
    assert page.count('<dd class="url">') == 30
    for url in HOSTILE_URLS:
        assert str(escape(url)) in page
        assert f'href="{url}' not in page
    # No URL of a report is a link anywhere: the only links are the interface's own.
    assert all(href.startswith(("/", "#")) for href in re.findall(r'href="([^"]*)"', page))


def test_a_case_whose_report_has_not_come_says_so(client, cases):
    page = get(client, f"/en/case/{cases.orphan}")
    assert "Report not yet received" in page and "Not known yet: the report itself has not arrived." in page
    assert "No e-mail address was given." in page


def test_unknown_or_malformed_references_are_404_pages(client):
    for path in ("/case/SL-2345-6789", "/case/sl-2345-6789", "/case/<script>", "/case/TEL-1", "/en/case/x/reply",
                 "/case/SL-2345-6789/delete"):
        page = get(client, path, 404)
        assert "<h1>" in page


# -- notes, status, deletion -------------------------------------------------------------------

def test_a_note_is_added_and_shown_as_text(client, store, cases):
    response = post(client, f"/en/case/{cases.plain}/note", {"note": "Called back. <b>not bold</b>"})
    assert response.headers["Location"] == f"/en/case/{cases.plain}#notes"
    page = get(client, f"/en/case/{cases.plain}")
    assert "Called back. &lt;b&gt;not bold&lt;/b&gt;" in page
    assert store.case(cases.plain).notes[-1].text == "Called back. <b>not bold</b>"


@pytest.mark.parametrize(("note", "message"), [("", "Write the note before adding it."),
                                               ("   \n ", "Write the note before adding it."),
                                               ("x" * 20_001, "The note is too long")])
def test_a_bad_note_is_a_422_with_an_error_summary_tied_to_the_field(client, store, cases, note, message):
    response = post(client, f"/en/case/{cases.plain}/note", {"note": note}, status=422)
    page = response.get_data(as_text=True)
    assert '<div class="error-summary" role="alert"' in page and '<a href="#note">' in page
    assert 'aria-describedby="note-hint note-error"' in page and 'aria-invalid="true"' in page
    assert message in page
    assert store.case(cases.plain).notes == ()


def test_the_status_changes_and_is_kept_in_the_history(client, store, cases):
    post(client, f"/case/{cases.plain}/status", {"status": "in_progress"})
    assert store.case(cases.plain).status == "in_progress"
    page = get(client, f"/case/{cases.plain}")
    assert '<option value="in_progress" selected>対応中</option>' in page
    assert [change.status for change in store.case(cases.plain).history] == ["new", "in_progress"]


@pytest.mark.parametrize("status", ["", "done", "NEW", "new "])
def test_an_unknown_status_is_a_400(client, store, cases, status):
    post(client, f"/case/{cases.plain}/status", {"status": status}, status=400)
    assert store.case(cases.plain).status == "new"


def test_deletion_asks_first_then_deletes_and_says_the_mails_stay(client, store, cases):
    page = get(client, f"/en/case/{cases.plain}/delete")
    assert "stay in the mailbox until they are deleted there" in page
    assert store.case(cases.plain) is not None  # asking deletes nothing
    response = post(client, f"/en/case/{cases.plain}/delete", {}, status=200)
    assert "stay in the mailbox until they are deleted there" in response.get_data(as_text=True)
    assert store.case(cases.plain) is None
    get(client, f"/en/case/{cases.plain}", 404)
    post(client, f"/en/case/{cases.plain}/delete", {}, status=404)


# -- phone cases --------------------------------------------------------------------------------

def test_a_phone_case_is_created_and_shown(client, store):
    response = post(client, "/phone", {"role": "guardian", "language": "en", "description": "A call <i>today</i>",
                                       "where": "an app", "urls": "https://a.example/1\n\n  https://b.example/2 \n",
                                       "email": "caller@example.org", "contact_safety": "Mornings only",
                                       "police_referral": "yes"})
    reference = response.headers["Location"].rsplit("/", 1)[1]
    assert re.fullmatch(r"TEL-\d{8}-\d{3}-[0-9A-F]{4}", reference)
    case = store.case(reference)
    assert (case.role, case.language, case.email, case.contact_safety, case.police_referral) == (
        "guardian", "en", "caller@example.org", "Mornings only", True)
    assert [entry.url for entry in case.urls] == ["https://a.example/1", "https://b.example/2"]
    page = get(client, f"/case/{reference}")
    assert "A call &lt;i&gt;today&lt;/i&gt;" in page and "電話" in page


def test_a_phone_form_with_problems_is_a_422_listing_each_in_order(client, store):
    before = store.count()
    response = post(client, "/en/phone", {"role": "cousin", "language": "fr", "description": " ",
                                          "urls": "https://a.example/ x", "email": "not an address"}, status=422)
    page = response.get_data(as_text=True)
    start = page.index('<div class="error-summary"')
    summary = page[start:page.index("</div>", start)]
    anchors = re.findall(r'<a href="#([^"]+)">', summary)
    assert anchors == ["role-self", "language-ja", "description", "urls", "email"]
    for name in ("description", "urls", "email"):
        assert f'id="{name}-error"' in page and f'aria-describedby="{name}-hint {name}-error"' in page
    assert 'aria-describedby="role-error"' in page
    assert 'value="not an address"' in page  # what was typed stays
    assert store.count() == before


def test_every_phone_form_control_has_a_label_and_required_is_said_in_words(client):
    page = get(client, "/en/phone")
    assert "novalidate" in page
    ids = re.findall(r'<(?:input|textarea|select)(?![^>]*type="hidden")[^>]*\bid="([^"]+)"', page)
    assert ids and all(f'<label for="{control}"' in page for control in ids)
    assert page.count('<span class="required">Required</span>') == 3
    assert " required" not in page.replace('class="required"', "")  # no browser validation


# -- languages ----------------------------------------------------------------------------------

def test_japanese_first_english_at_en_and_a_switch_to_the_same_page(client, cases):
    ja = get(client, f"/case/{cases.plain}?x=1")
    assert '<html lang="ja">' in ja and f'href="/en/case/{cases.plain}?x=1" lang="en" hreflang="en">English<' in ja
    en = get(client, f"/en/case/{cases.plain}")
    assert '<html lang="en">' in en and f'href="/case/{cases.plain}" lang="ja" hreflang="ja">日本語<' in en
    assert 'href="/en/phone"' in en and 'action="/en/case/' in en


def extracted() -> set[str]:
    with tempfile.TemporaryDirectory() as scratch:
        pot = Path(scratch) / "staff.pot"
        subprocess.run([sys.executable, "-m", "babel.messages.frontend", "-q", "extract", "-F", "staff/babel.cfg",
                        "-o", str(pot), "."], cwd=ROOT, check=True)
        with pot.open("rb") as handle:
            return {message.id for message in read_po(handle) if message.id}


def test_both_catalogs_are_complete_and_current():
    wanted = extracted()
    assert wanted
    for lang in LANGUAGES:
        with po_file(lang).open("rb") as handle:
            catalog = read_po(handle)
        ids = {message.id for message in catalog if message.id}
        assert wanted - ids == set(), f"{lang}: missing; run ./run i18n-update"
        assert ids - wanted == set(), f"{lang}: no longer used; run ./run i18n-update"
        for message in catalog:
            if not message.id:
                continue
            assert message.string and not message.fuzzy, (lang, message.id)
            if message.pluralizable:
                # Every form has its text; the last (the plural, Japanese's only one) all the
                # plural's values; a singular may say "this mail" without its number.
                names = set(re.findall(r"%\(\w+\)s", message.id[-1]))
                assert all(message.string), (lang, message.id)
                assert all(set(re.findall(r"%\(\w+\)s", form)) <= names for form in message.string), message.id
                assert set(re.findall(r"%\(\w+\)s", message.string[-1])) == names, (lang, message.id)
            else:
                assert sorted(re.findall(r"%\(\w+\)s", message.id)) == sorted(re.findall(r"%\(\w+\)s", message.string))


# English words that would show an untranslated frame on a Japanese page.
ENGLISH_FRAME = re.compile(r"\b(Cases|Status|Received|Required|Optional|Notes|Report|Search|Page|Delete|Back|"
                           r"Reply|Address|Host|Draft|None|Not|New|Open|the|and|of)\b")


def test_japanese_pages_show_no_untranslated_words(client, cases):
    client.post(f"{ORIGIN}/case/{cases.english}/note", data={"note": "メモ", "csrf": csrf()})
    pages = ["/", "/?status=new", f"/case/{cases.plain}", f"/case/{cases.english}", f"/case/{cases.orphan}",
             f"/case/{cases.phone}", "/phone", f"/case/{cases.plain}/reply", f"/case/{cases.orphan}/reply",
             f"/case/{cases.plain}/delete", "/nothing", "/?status=x"]
    for path in pages:
        response = client.get(ORIGIN + path)
        assert response.status_code < 500
        page = response.get_data(as_text=True)
        # Report text and the English reply draft are the reporter's, not the interface's.
        frame = re.sub(r'<(p|pre|dd|bdi)[^>]*(?:class="user-text"|lang="en")[^>]*>.*?</\1>', " ", page, flags=re.S)
        frame = re.sub(r'<(p|dd|span)[^>]*class="(?:email|url|host)"[^>]*>.*?</\1>', " ", frame, flags=re.S)
        words = visible(frame.split("<main", 1)[1].split("</main>")[0] if "<main" in frame else frame)
        words = words.replace("English", "").replace("safeline-staff", "").replace("Ctrl+C", "")
        assert not ENGLISH_FRAME.search(words), (path, ENGLISH_FRAME.search(words).group(0))
        phone = client.post(ORIGIN + "/phone", data={"csrf": csrf()}).get_data(as_text=True)
        assert not ENGLISH_FRAME.search(visible(phone.split("<main", 1)[1]))


def test_the_status_labels_cover_the_stores_statuses():
    assert tuple(text.STATUS_LABELS) == STATUSES
    assert set(text.ROLE_LABELS) == {"self", "guardian"}


def test_bytes_that_are_not_utf8_in_a_search_find_nothing(client):
    assert "検索に合う案件はありません。" in get(client, "/?q=%FF%FE")


@pytest.mark.parametrize("path", ["/case/%FF", "/?page=%C2%B2", "/?page=%EF%BC%91x", "/case/" + "A" * 5000,
                                  "/en/case/SL-2345-6789/note", "/static/../app.py", "/%00", "/?status=%00"])
def test_odd_requests_are_4xx_pages_never_500(client, path):
    response = client.get(ORIGIN + path)
    assert 400 <= response.status_code < 500, (path, response.status_code)


def test_odd_text_in_forms_is_kept_or_refused_never_a_500(client, store, cases):
    for note in ("a\x00b", "\ufeff\u202e\u2066note", "😀" * 1000):
        response = client.post(f"{ORIGIN}/case/{cases.english}/note", data={"note": note, "csrf": csrf()})
        assert response.status_code in (303, 422), repr(note)
    response = client.post(ORIGIN + "/phone", data={"csrf": csrf(), "role": "self", "language": "ja",
                                                     "description": "\x00", "email": "a@b\x00"})
    assert response.status_code in (303, 422)
    response = client.post(ORIGIN + "/phone", data={"csrf": csrf(), "role": ["self", "guardian"], "language": "ja",
                                                    "description": "二つの役割"})
    assert response.status_code in (303, 422)
    upload = (io.BytesIO(b"x"), "a.jpg")
    response = client.post(ORIGIN + "/phone", data={"csrf": csrf(), "role": "self", "language": "ja",
                                                    "description": "ファイル", "file": upload},
                           content_type="multipart/form-data")
    assert response.status_code in (303, 422)


def test_invisible_characters_in_an_address_are_shown_as_marks(client, store):
    spoof = report(urls=("https://evil.example/\u202emoc.elgoog", "https://zero\u200bwidth.example/"))
    store.add(spoof, message_id=message_id())
    page = get(client, f"/case/{spoof.reference}")
    assert "\u202e" not in page and "\u200b" not in page
    assert 'https://evil.example/<span class="control">U+202E</span>moc.elgoog' in page
    assert '<span class="control">U+200B</span>' in page


def test_every_case_imported_from_the_relays_own_mail_is_shown(staff_home, relay_corpus):
    """The real chain: the relay's mails (hostile text and odd Unicode among them), imported with
    the staff member's GnuPG key, then every case's pages in both languages."""
    from staff.importer import import_mail
    from staff.mailbox import MaildirSource
    from staff.openpgp import identity_of
    from staff.setup import open_store
    from tests.support.staffkit import HOSTILE as CORPUS_HOSTILE

    identity = identity_of(staff_home)
    store = open_store(staff_home, identity=identity)
    try:
        import_mail(MaildirSource(relay_corpus.maildir), store, identity, progress=False)
        client = client_for(make_app(store))
        listed = references(get(client, "/?q="))
        assert sorted(listed) == sorted(set(relay_corpus.references))
        for reference in listed:
            for path in (f"/case/{reference}", f"/en/case/{reference}", f"/case/{reference}/reply",
                         f"/en/case/{reference}/delete"):
                page = get(client, path)
                assert CORPUS_HOSTILE not in page and "<script" not in page
                assert all(href.startswith(("/", "#", "mailto:")) for href in re.findall(r'href="([^"]*)"', page))
    finally:
        store.close()


def test_japanese_pages_use_full_width_marks_beside_japanese(client, cases):
    """The site's rule (safeline/typography.py): no half-width ( ) ? : ! beside Japanese text."""
    from safeline import typography

    found = []
    for path in ("/", "/?status=waiting", f"/case/{cases.plain}", f"/case/{cases.orphan}", f"/case/{cases.phone}",
                 f"/case/{cases.plain}/reply", f"/case/{cases.orphan}/reply", f"/case/{cases.plain}/delete", "/phone",
                 "/nothing", "/?page=0"):
        found += typography.findings(client.get(ORIGIN + path).get_data(as_text=True), path)
    found += typography.findings(client.post(ORIGIN + "/phone", data={"csrf": csrf()}).get_data(as_text=True),
                                 "phone with errors")
    assert found == []


DATE_HINT_ENDS = {"/en": "Where the field offers no calendar, type it as YYYY-MM-DD.",
                  "": "カレンダーが出ない欄では、YYYY-MM-DD の形で入力してください。"}


def test_a_date_fields_hint_names_no_format_the_browser_does_not_show(client, cases):
    """A browser shows a date field in its own language's order, whatever the page's: Chromium
    12/01/2026 (mm/dd/yyyy) in en-US, 01/12/2026 in en-GB, 2026/12/01 in Japanese. So a hint
    does not say "YYYY-MM-DD" as if it were the field's; only where a field has no calendar
    (a plain text field) is the date typed so."""
    for prefix, ending in DATE_HINT_ENDS.items():
        seen = 0
        for path in (f"/case/{cases.plain}", f"/case/{cases.plain}/draft?target=site", "/stats"):
            page = get(client, prefix + path)
            for field_id, described in re.findall(r'<input type="date" id="([^"]+)"[^>]*aria-describedby="([^"]+)"',
                                                  page):
                assert f"{field_id}-hint" in described.split()
                hint = re.search(rf'<p class="hint" id="{field_id}-hint">([^<]*)</p>', page).group(1)
                assert hint.endswith(ending) and not hint.startswith("YYYY"), (path, hint)
                seen += 1
        assert seen == 7, seen  # request, state (on, next), next date; the draft's sent on; stats from, to
