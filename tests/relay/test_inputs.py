"""What the report form does with odd, huge or tricky input (issue 11, point 8).

- The e-mail address: full-width letters, as a Japanese input method types them, are read
  as the address they stand for (NFKC), and that address is what staff get.
- URLs are read as browsers read them (the WHATWG URL standard): staff get the host a click
  on the address would open, not another one hidden behind a backslash.

Every request goes through the real relay (tests/relay/conftest.py); accepted reports are
decrypted from the real outbox.
"""

from __future__ import annotations

import pytest

from relay.report import validate
from tests.relay.relaykit import VALID, decrypt_mail, outbox_files, parse, submit

NOT_WEB = {"en": "Line {n}: this does not look like a web address. Copy it again from the address bar.",
           "ja": "{n}行目:ウェブのアドレスではないようです。アドレス欄からもう一度コピーしてください。"}

def stored(outbox_dir, staff_keys) -> dict:
    """The JSON fields of the one report in the outbox."""
    files = outbox_files(outbox_dir)
    assert len(files) == 1, files
    return decrypt_mail(files[0].read_bytes(), staff_keys.secrets["gnupg-v4"])[2]


def url_messages(response) -> list[str]:
    """The messages the error summary lists for the URL field, in order."""
    return [text for href, text in parse(response).summary_links() if href == "#urls"]


# -- (b) e-mail addresses typed in full width ------------------------------------------------

@pytest.mark.parametrize("typed, expected", [
    ("ｈａｎａｋｏ@example.jp", "hanako@example.jp"),
    ("ｈａｎａｋｏ＠ｅｘａｍｐｌｅ．ｊｐ", "hanako@example.jp"),  # all of it full width: ＠ too
    ("\u3000Ｈａｎａｋｏ.Ｙａｍａｄａ＋ｓａｆｅｌｉｎｅ＠Ｅｘａｍｐｌｅ．ＪＰ\u3000", "Hanako.Yamada+safeline@example.jp"),
    ("hanako﹫example.jp", "hanako@example.jp"),  # the small commercial at
    ("ﾊﾅｺ@例え.jp", "ハナコ@例え.jp"),  # half-width katakana
    ("山田@例え.jp", "山田@例え.jp"),
])
def test_a_full_width_address_is_stored_as_the_address_it_stands_for(client, outbox_dir, staff_keys, typed, expected):
    response = submit(client, email=typed)
    assert response.status_code == 303
    assert stored(outbox_dir, staff_keys)["email"] == expected


@pytest.mark.parametrize("typed", ["ｈａｎａｋｏ", "ｈａｎａｋｏ＠＠example.jp", "ｈａｎａｋｏ\u3000ｙ＠example.jp", "hanako@example.jp㈱"])
def test_a_full_width_address_that_is_still_wrong_is_refused_kindly(client, outbox_dir, typed):
    response = submit(client, lang="en", email=typed)
    assert response.status_code == 422
    page = parse(response)
    assert "Enter an e-mail address in the form name@example.jp." in page.by_id("email-error").text
    assert page.value("email") == typed  # shown as they typed it, to correct it
    assert outbox_files(outbox_dir) == []


def test_an_address_is_too_long_by_what_it_becomes():
    # "㍿" is four characters once normalised: the limit applies to what staff would get.
    _, errors = validate({**VALID, "email": "a@" + "㍿" * 70 + ".jp"}, "en")
    assert [p.message for p in errors["email"]] == ["This e-mail address is too long. Check it and enter it again."]


# -- (c) URLs as a browser reads them ---------------------------------------------------------

@pytest.mark.parametrize("typed, expected", [
    # urllib reads the first as host good.example; a browser opens evil.example.
    ("https://evil.example\\@good.example/x", "https://evil.example/@good.example/x"),
    ("https:\\\\evil.example\\x", "https://evil.example/x"),
    ("https://good.example@evil.example/x", "https://evil.example/x"),  # userinfo dropped, host kept
    ("https://u:p@evil.example:8443/x", "https://evil.example:8443/x"),
    ("https://evil.example%2f@good.example/", "https://good.example/"),
    ("https://evil.example?@good.example/", "https://evil.example/?@good.example/"),
    ("https://ｅｘａｍｐｌｅ．ｃｏｍ/写真", "https://example.com/%E5%86%99%E7%9C%9F"),
    ("https://例え。jp/", "https://xn--r8jz45g.jp/"),
    ("https://xn--r8jz45g.jp/", "https://xn--r8jz45g.jp/"),
    ("https://%65xample.com/", "https://example.com/"),
    ("https:example.com/x", "https://example.com/x"),
    ("https://[2001:4860:4860::8888]:443/x", "https://[2001:4860:4860::8888]/x"),
    ("https://example.com/x?#frag", "https://example.com/x"),
])
def test_an_address_is_stored_as_a_browser_reads_it(client, outbox_dir, staff_keys, typed, expected):
    response = submit(client, urls=typed)
    assert response.status_code == 303
    assert stored(outbox_dir, staff_keys)["urls"] == [expected]


@pytest.mark.parametrize("typed", [
    "https://0x7f.1/",            # 127.0.0.1 to a browser
    "https://2130706433/",        # and this too
    "https://[::ffff:127.0.0.1]/",
    "https://[::1]/",
    "https://1.2.3.4.5/",
    "https://good.example＠evil.example/",  # a full-width @ inside a host
    "https://⑴.com/",             # "(1).com"
    "https://a\u200db.com/",
    "https://example.com:99999/",
])
def test_an_address_no_browser_could_open_on_the_internet_is_refused(client, outbox_dir, typed):
    response = submit(client, lang="en", urls=typed)
    assert url_messages(response) == [NOT_WEB["en"].format(n=1)]
    assert outbox_files(outbox_dir) == []


def test_a_search_page_is_recognised_by_the_host_a_browser_opens():
    _, errors = validate({**VALID, "urls": "https://ｗｗｗ．ｇｏｏｇｌｅ．ｃｏｍ/search?q=hanako"}, "en")
    assert "search results" in errors["urls"][0].message
