"""What the report form does with odd, huge or tricky input (issue 11, point 8).

- The e-mail address: full-width letters, as a Japanese input method types them, are read
  as the address they stand for (NFKC), and that address is what staff get.

Every request goes through the real relay (tests/relay/conftest.py); accepted reports are
decrypted from the real outbox.
"""

from __future__ import annotations

import pytest

from relay.report import validate
from tests.relay.relaykit import VALID, decrypt_mail, outbox_files, parse, submit


def stored(outbox_dir, staff_keys) -> dict:
    """The JSON fields of the one report in the outbox."""
    files = outbox_files(outbox_dir)
    assert len(files) == 1, files
    return decrypt_mail(files[0].read_bytes(), staff_keys.secrets["gnupg-v4"])[2]


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
