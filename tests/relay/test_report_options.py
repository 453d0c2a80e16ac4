"""What the report form offers beyond the required fields, through the real relay and keys.

The police referral and how it is safe to get in touch reach staff in both the text and the
JSON; a report without any web address is taken when it says where the images are, and
staff see plainly that no address was given; someone who may not report learns it on the
form before typing anything else, and on a page of its own; the three points a reporter must
know stand on the form by the consent box.
"""

from __future__ import annotations

import pytest

from tests.support.keys import GPG_SECRET
from tests.support.relay_app import outbox_files, stored_record
from tests.support.reports import FORM_PATHS, OTHER_PATHS, decrypt_mail, parse, submit

SAFE = "平日の昼間だけにしてください。家族がパソコンを見ることがあります。"
WHERE = "LINEの「高校同期」グループ(招待制)。投稿したアカウント名: taro_x"


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_police_referral_and_safe_contact_reach_staff(client, outbox_dir, staff_keys, lang):
    response = submit(client, lang=lang, police="yes", contact_safety=SAFE)
    assert response.status_code == 303
    record = stored_record(outbox_dir, staff_keys)
    assert record["police_referral"] is True and record["contact_safety"] == SAFE
    _, text, _ = decrypt_mail(outbox_files(outbox_dir)[0].read_bytes(), GPG_SECRET)
    assert "警察の相談窓口の紹介: 希望する" in text
    assert f"連絡してよい方法・時間: {SAFE}" in text


def test_without_the_box_the_referral_is_false(client, outbox_dir, staff_keys):
    assert submit(client, police=None).status_code == 303
    record = stored_record(outbox_dir, staff_keys)
    assert record["police_referral"] is False and record["contact_safety"] == ""


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_a_report_without_an_address_says_where_and_staff_see_none_was_given(client, outbox_dir, staff_keys, lang):
    response = submit(client, lang=lang, urls="", where=WHERE)
    assert response.status_code == 303
    subject, text, record = decrypt_mail(outbox_files(outbox_dir)[0].read_bytes(), GPG_SECRET)
    text = text.replace("\r\n", "\n")
    assert record["urls"] == [] and record["where"] == WHERE
    assert subject.endswith("URLなし）")
    assert "URL: なし（通報者はURLを書いていません" in text
    assert f"URLのない場所（サービス名・アカウント名など）:\n{WHERE}\n" in text


@pytest.mark.parametrize("lang, message", [
    ("ja", "アドレスがない場合は、代わりに次の欄に場所を書いてください"),
    ("en", "say where they are in the next box instead"),
])
def test_neither_an_address_nor_a_place_is_explained(client, outbox_dir, lang, message):
    response = submit(client, lang=lang, urls="\n  \n", where="  ")
    assert response.status_code == 422
    page = parse(response)
    assert message in page.by_id("urls-error").text
    assert outbox_files(outbox_dir) == []


def test_a_place_and_addresses_together_both_reach_staff(client, outbox_dir, staff_keys):
    assert submit(client, where=WHERE).status_code == 303
    record = stored_record(outbox_dir, staff_keys)
    assert record["urls"] == ["https://images.example.com/p/1"] and record["where"] == WHERE


@pytest.mark.parametrize("field, limit, message", [
    ("contact_safety", 500, "Shorten how to contact you to 500 characters or fewer (it has 501)."),
    ("where", 1000, "Shorten where the images are to 1,000 characters or fewer (it has 1,001)."),
])
def test_the_optional_texts_have_limits_that_are_explained(client, outbox_dir, field, limit, message):
    typed = "あ" * (limit + 1)
    response = submit(client, lang="en", **{field: typed})
    assert response.status_code == 422
    page = parse(response)
    assert message in page.by_id(f"{field}-error").text
    assert page.value(field) == typed  # kept
    assert submit(client, lang="en", **{field: "あ" * limit}).status_code == 303


@pytest.mark.parametrize("lang, words", [("ja", "ご自身だけが読めるメールアドレス"), ("en", "Use an address that only you can read.")])
def test_the_email_hint_asks_for_an_address_only_the_reporter_reads(client, lang, words):
    assert words in parse(client.get(FORM_PATHS[lang])).by_id("email-hint").text


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_the_three_points_stand_by_the_consent_box(client, lang):
    page = parse(client.get(FORM_PATHS[lang]))
    points = page.by_id("before-send")
    text = points.text
    for words in {"ja": ("すべての画像が消えるとはお約束できません", "結果はお知らせしていません", "スタッフから連絡することがあります"),
                  "en": ("cannot promise that every image will be removed", "do not tell you the result",
                         "may write to the e-mail address")}[lang]:
        assert words in text, words
    order = [e for e in page.elements if e.get("id") in ("before-send", "consent", "police")]
    assert [e.get("id") for e in order] == ["police", "before-send", "consent"]
    assert page.find("form") in points.ancestors()


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_someone_else_learns_it_before_typing_anything_else(client, lang):
    page = parse(client.get(FORM_PATHS[lang]))
    ids = [e.get("id") for e in page.elements if e.get("id")]
    # The note and its link come right after the choices, before the first text field.
    assert ids.index("role-other") < ids.index("role-other-note") < ids.index("email")
    note = page.by_id("role-other-note")
    assert [a.get("href") for a in page.find_all("a") if note in a.ancestors()] == [OTHER_PATHS[lang]]


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_what_a_friend_can_do_has_a_page_of_its_own(client, outbox_dir, lang):
    response = client.get(OTHER_PATHS[lang])
    assert response.status_code == 200
    page = parse(response)
    assert page.lang == lang and page.find_all("form") == []
    assert {"ja": "通報は送られていません", "en": "Nothing has been sent."}[lang] not in page.text  # nothing was
    for slug in ("support", "police"):
        assert page.find("a", href=("/" if lang == "ja" else "/en/") + slug + "/")
    assert {"ja": "18歳未満の人が写っているときは、警察に", "en": "If the images show someone under 18, tell the police"}[lang] in page.text
    assert page.find("a", href=FORM_PATHS[lang])
    assert outbox_files(outbox_dir) == []
