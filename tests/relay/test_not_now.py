"""When a report cannot be taken now (429, 503): the page says what happened and which lines
are open at that moment, worked out by the relay from data/hotlines.yaml (relay.open_now)."""

from __future__ import annotations

import datetime
import shutil

import pytest

import relay
from tests.support.relay_app import Clock
from tests.support.reports import (
    ALWAYS_OPEN, NOT_NOW, PLEASE_WAIT, FORM_PATHS, RelayPage, parse, sent_codes, submit, submit_more,
)
from tests.support.site import ROOT

JST = datetime.timezone(datetime.timedelta(hours=9))
TUESDAY_NIGHT = datetime.datetime(2026, 12, 8, 23, 0, tzinfo=JST)
TUESDAY_MORNING = datetime.datetime(2026, 12, 8, 10, 0, tzinfo=JST)
WEEKDAYS_ONLY = "tel:0570003110"  # みんなの人権110番: weekdays 8:30–17:15
ALL_DAY = {"ja": "24時間", "en": "24 hours"}
LOST_CODE = {"ja": "説明の欄に前回の受付番号を書いてください", "en": "give the earlier reference number in its description"}


def block_items(page: RelayPage) -> list:
    """The <li> of the block of lines open now."""
    block = page.find("section", class_="lines-now")
    return [item for item in page.find_all("li") if block in list(item.ancestors())]


def open_lines(page: RelayPage) -> list[tuple[str, str]]:
    """(tel: link, words) of each line for talking to someone, in order."""
    found = []
    for item in block_items(page):
        link = next(a for a in page.find_all("a") if item in list(a.ancestors()))
        found.append((link.get("href"), " ".join(item.text.split())))
    return found


def relay_at(relay_env, when: datetime.datetime, hotlines=relay.HOTLINES, **env):
    return relay.create_app({**relay_env, **env}, clock=Clock(when), hotlines=hotlines)


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_at_night_the_429_page_says_wait_and_lists_the_lines_open_now(relay_env, catalogs, lang):
    client = relay_at(relay_env, TUESDAY_NIGHT, RELAY_RATELIMIT="1 per hour").test_client()
    assert submit(client, lang=lang).status_code == 303
    response = submit(client, lang=lang, description="二度目の通報です。")
    assert response.status_code == 429
    page = parse(response)
    assert page.summary_heading() == PLEASE_WAIT[lang]
    assert page.value("description") == "二度目の通報です。"  # the form is kept
    calls = page.lines_open_now()
    assert calls[0] == "tel:110" and set(ALWAYS_OPEN) <= set(calls)
    assert WEEKDAYS_ONLY not in calls
    # 110 apart, as the line for danger now; the others each with whom they are for and the hours.
    block = page.find("section", class_="lines-now")
    assert calls.count("tel:110") == 1
    lines = open_lines(page)
    assert "tel:110" not in [tel for tel, _ in lines]
    assert "tel:%238103" in [tel for tel, _ in lines] and ALL_DAY[lang] in dict(lines)["tel:%238103"]
    # Listed to be seen: the block's markup can also list a line hidden (the static page's, until its script runs).
    assert [item.get("data-line") for item in block_items(page) if "hidden" in item.attrs] == []
    all_day = [ALL_DAY[lang] in words for _, words in lines]
    assert all_day == sorted(all_day, reverse=True), lines  # every 24-hour line before the others
    assert block.get("aria-labelledby") == "now-title"
    danger = page.find("p", class_="danger")  # 110 apart, not among the lines for advice
    assert block in list(danger.ancestors()) and "tel:110" in [a.get("href") for a in page.find_all("a")
                                                            if danger in list(a.ancestors())]


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_in_the_morning_the_24_hour_lines_come_first(relay_env, catalogs, lang):
    client = relay_at(relay_env, TUESDAY_MORNING, RELAY_RATELIMIT_SITE="1 per hour").test_client()
    assert submit(client, lang=lang).status_code == 303
    response = submit(client, lang=lang)
    assert response.status_code == 503
    page = parse(response)
    assert page.summary_heading() == NOT_NOW[lang]
    lines = open_lines(page)
    tels = [tel for tel, _ in lines]
    assert WEEKDAYS_ONLY in tels and "tel:%238103" in tels
    all_day = [ALL_DAY[lang] in words for _, words in lines]
    assert all_day == sorted(all_day, reverse=True), lines  # every 24-hour line before the others
    until = {"ja": "17:15まで", "en": "until 17:15"}[lang]
    assert until in dict(lines)[WEEKDAYS_ONLY]


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_the_addition_forms_429_and_503_say_what_to_do_if_the_code_is_lost(relay_env, catalogs, lang):
    client = relay_at(relay_env, TUESDAY_NIGHT, RELAY_RATELIMIT="1 per hour").test_client()
    reference, code = sent_codes(client, submit(client, lang=lang))
    page = parse(submit_more(client, lang=lang, reference=reference, code=code))
    assert page.status == 429 and page.summary_heading() == PLEASE_WAIT[lang]
    summary = page.find(class_="error-summary")
    assert LOST_CODE[lang] in " ".join(summary.text.split())
    assert FORM_PATHS[lang] in [href for href, _ in page.summary_links()]
    assert page.lines_open_now()[0] == "tel:110"

    client = relay_at(relay_env, TUESDAY_NIGHT, RELAY_RATELIMIT_SITE="1 per hour").test_client()
    reference, code = sent_codes(client, submit(client, lang=lang))
    page = parse(submit_more(client, lang=lang, reference=reference, code=code))
    assert page.status == 503 and page.summary_heading() == NOT_NOW[lang]
    assert LOST_CODE[lang] in page.text
    # The report form's own pages do not speak of a code.
    page = parse(submit(client, lang=lang))
    assert page.status == 503 and LOST_CODE[lang] not in page.text


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_a_24_hour_line_that_closes_within_eight_days_says_until_when(relay_env, catalogs, tmp_path, lang):
    """An opening is followed eight days ahead (relay.open_now.SEARCH_DAYS): a line open around
    the clock that closes within them says until when; one still open after them, "24 hours".
    No line of data/hotlines.yaml closes so today (both 24-hour lines never close): here #8103
    is given the New Year closure (from December 29, 0:00)."""
    edited = tmp_path / "hotlines.yaml"
    text = (ROOT / "data" / "hotlines.yaml").read_text(encoding="utf-8")
    line = text.index('phone: "#8103"')
    assert text.count("closed_on_holidays: false\n", line, text.index("- id:", line)) == 1
    closing = text.index("closed_on_holidays: false\n", line) + len("closed_on_holidays: false\n")
    edited.write_text(text[:closing] + "        closed_periods: [new-year]\n" + text[closing:], encoding="utf-8")
    until = {"ja": "0:00まで", "en": "until 0:00"}[lang]
    for day, expected in [(21, until), (20, ALL_DAY[lang])]:  # December 29 is 8 days after the 21st, 9 after the 20th
        when = datetime.datetime(2026, 12, day, 10, 0, tzinfo=JST)
        client = relay_at(relay_env, when, hotlines=edited, RELAY_RATELIMIT_SITE="1 per hour").test_client()
        assert submit(client, lang=lang).status_code == 303
        lines = dict(open_lines(parse(submit(client, lang=lang))))
        assert expected in lines["tel:%238103"], (when, lines["tel:%238103"])


def test_a_form_with_a_mistake_keeps_its_usual_heading(client):
    page = parse(submit(client, email="x"))
    assert page.summary_heading() == "入力内容をご確認ください"
    assert not page.find_all("section", class_="lines-now")


def test_a_bad_hotlines_file_stops_the_relay_with_one_line_per_problem(relay_env, catalogs, tmp_path):
    bad = tmp_path / "hotlines.yaml"
    shutil.copy(ROOT / "data" / "hotlines.yaml", bad)
    text = bad.read_text(encoding="utf-8")
    bad.write_text(text.replace('phone: "110"', "phone: 110", 1).replace('open: "08:30"', "open: 8:30", 1),
                   encoding="utf-8")
    with pytest.raises(SystemExit) as caught:
        relay.create_app(relay_env, hotlines=bad)
    lines = str(caught.value.code).splitlines()
    assert lines[0] == "relay: refusing to start:"
    assert len(lines) == 3 and all(line.startswith(f"{bad}:") for line in lines[1:]), lines
    assert "double quotes" in lines[1] and "double quotes" in lines[2]


def test_the_new_japanese_states_use_full_width_punctuation(relay_env, catalogs):
    """The states devtools.relay_pages does not visit: 429 and 503 of both forms (with
    the lines open now), and the confirmations of a report with the police box or without an address."""
    from safeline import typography

    waiting = relay_at(relay_env, TUESDAY_MORNING, RELAY_RATELIMIT="3 per hour").test_client()
    reference, code = sent_codes(waiting, submit(waiting, police="yes"))
    pages = {"confirmation without an address": waiting.get(submit(waiting, urls="", where="アプリの中").headers["Location"])}
    pages["report 429"] = submit(waiting)
    pages["addition 429"] = submit_more(waiting, reference=reference, code=code)
    busy = relay_at(relay_env, TUESDAY_MORNING, RELAY_RATELIMIT_SITE="1 per hour").test_client()
    first = submit(busy, police="yes")
    pages["confirmation with the police box"] = busy.get(first.headers["Location"])
    pages["report 503"] = submit(busy)
    pages["addition 503"] = submit_more(busy, reference=reference, code=code)
    found = [finding for name, response in pages.items()
             for finding in typography.findings(response.get_data(as_text=True), name)]
    assert found == []
