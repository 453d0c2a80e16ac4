"""Who will write to the reporter: one name for staff, the address their mail comes from (on
the form and on the privacy page), and, on pages in another language, the language they write in."""

from __future__ import annotations

import os
import subprocess
import sys
from html import unescape

import pytest

import pelicanconf
from tests.support.relay_app import RELAY_CONTACT_ADDRESS
from tests.support.reports import FORM_PATHS, MORE_PATHS, OTHER_PATHS, parse, sent_codes, submit, submit_more
from tests.support.site import ROOT

IN_JAPANESE = "Staff will write to you in Japanese."
IN_ENGLISH = "スタッフからのメールは英語で届きます。"
CONTACT_SENTENCE = {"ja": "セーフラインのスタッフからのメールは、次のアドレスから届きます：",
                    "en": "Mail from Safeline's staff comes from this address: "}


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_the_form_names_the_address_staff_write_from(client, lang):
    hint = " ".join(parse(client.get(FORM_PATHS[lang])).by_id("email-hint").text.split())
    assert RELAY_CONTACT_ADDRESS in hint
    assert ("セーフラインのスタッフ" if lang == "ja" else "Safeline's staff") in hint
    confirmation = parse(client.get(submit(client, lang=lang).headers["Location"]))
    assert RELAY_CONTACT_ADDRESS in confirmation.text


def test_english_pages_say_staff_write_in_japanese(client):
    assert IN_JAPANESE in parse(client.get(FORM_PATHS["en"])).by_id("email-hint").text
    assert IN_JAPANESE in parse(client.get(submit(client, lang="en").headers["Location"])).text
    page = parse(client.get(FORM_PATHS["ja"]))
    assert IN_JAPANESE not in page.text and "日本語で届きます" not in page.text


def test_the_staff_language_is_a_setting(app):
    client = app(RELAY_STAFF_LANGUAGE="en").test_client()
    assert IN_ENGLISH in parse(client.get(FORM_PATHS["ja"])).by_id("email-hint").text
    assert "Staff will write to you in" not in parse(client.get(FORM_PATHS["en"])).text


def test_every_relay_page_calls_staff_by_one_name(client):
    """スタッフ (セーフラインのスタッフ at first), never 事務局 or 担当者; staff in English."""
    reference, code = sent_codes(client, submit(client))
    pages = []
    for lang in ("ja", "en"):
        pages += [client.get(FORM_PATHS[lang]), client.get(MORE_PATHS[lang]), client.get(OTHER_PATHS[lang]),
                  client.get(submit(client, lang=lang, police="yes").headers["Location"]),
                  client.get(submit_more(client, lang=lang, reference=reference, code=code).headers["Location"]),
                  submit(client, lang=lang, email="x"), submit(client, lang=lang, role="other")]
    for response in pages:
        text = parse(response).text
        for other_name in ("事務局", "担当者", "hotline's staff", "Staff of the Safer Internet Association"):
            assert other_name not in text, (response.request.path, other_name)


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_the_privacy_page_names_the_address(site, lang):
    html = unescape((site / ("privacy" if lang == "ja" else "en/privacy") / "index.html").read_text(encoding="utf-8"))
    assert "[contact-address]" not in html
    assert f'{CONTACT_SENTENCE[lang]}<strong class="contact-address">{pelicanconf.CONTACT_ADDRESS}</strong>' in html


def test_a_public_build_needs_the_contact_address():
    """publishconf.py refuses to load without SAFELINE_CONTACT_ADDRESS, or with the development value."""
    load = [sys.executable, "-c", "import runpy; runpy.run_path('publishconf.py')"]
    env = {name: value for name, value in os.environ.items() if name != "SAFELINE_CONTACT_ADDRESS"}
    for value in (None, "", pelicanconf.CONTACT_ADDRESS):
        run_env = env if value is None else {**env, "SAFELINE_CONTACT_ADDRESS": value}
        result = subprocess.run(load, cwd=ROOT, env=run_env, capture_output=True, text=True)
        assert result.returncode == 1 and "SAFELINE_CONTACT_ADDRESS" in result.stderr, result.stderr
    result = subprocess.run(load, cwd=ROOT, env={**env, "SAFELINE_CONTACT_ADDRESS": "soudan@safe-line.jp"},
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
