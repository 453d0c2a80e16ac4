"""Reply drafts: in the reporter's language, as a mailto: link (RFC 6068) that round-trips,
and nothing about the images, no address, no description in any template."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

import pytest
from babel.messages.pofile import read_po

from staff import reply
from staff.translations import LANGUAGES, po_file


@dataclass
class FakeCase:  # the fields of staff.cases.Case a draft reads
    reference: str
    email: str
    language: str


def parse_mailto(link: str) -> tuple[str, dict[str, str]]:
    """Read a mailto: link as a mail client does (RFC 6068: split, then percent-decode UTF-8)."""
    assert link.startswith("mailto:")
    parts = urlsplit(link)
    fields = {}
    for pair in parts.query.split("&"):
        name, _, value = pair.partition("=")
        fields[name] = unquote(value, encoding="utf-8", errors="strict")
    return unquote(parts.path), fields


@pytest.mark.parametrize("text", [
    "セーフラインです。\n通報（受付番号 SL-2345-6789）を受け取りました。",
    "a & b = c ? d # e % f + g / h ; i , j",
    "line one\nline two\r\nline three\n\nend",
    "emoji 🙂 and ｆｕｌｌ-width and \u202e override",
])
def test_mailto_round_trips_subject_and_body(text):
    link = reply.mailto("hanako+x@example.jp", "件名: " + text.splitlines()[0], text)
    assert " " not in link and "\n" not in link and "#" not in link.split(":", 1)[1]
    assert re.fullmatch(r"mailto:[A-Za-z0-9@%._~-]+\?subject=[A-Za-z0-9%._~-]*&body=[A-Za-z0-9%._~-]*", link)
    to, fields = parse_mailto(link)
    assert to == "hanako+x@example.jp"
    assert fields["subject"] == "件名: " + text.splitlines()[0]
    # RFC 6068: line breaks in the body are CRLF, encoded %0D%0A.
    assert fields["body"] == "\r\n".join(text.splitlines())
    assert "%0D%0A" in link or len(text.splitlines()) == 1


def test_japanese_is_percent_encoded_utf8():
    link = reply.mailto("a@example.jp", "通報", "受付")
    assert "subject=%E9%80%9A%E5%A0%B1" in link and "body=%E5%8F%97%E4%BB%98" in link


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("kind", reply.KINDS)
def test_a_draft_is_in_the_reporters_language_and_names_the_reference(language, kind):
    case = FakeCase(reference="SL-2345-6789", email="hanako@example.jp", language=language)
    draft = reply.draft(case, kind)
    assert draft.language == language and draft.to == "hanako@example.jp"
    assert "SL-2345-6789" in draft.subject and "SL-2345-6789" in draft.body
    japanese = re.search(r"[\u3040-\u30ff\u4e00-\u9fff]", draft.body + draft.subject)
    assert bool(japanese) == (language == "ja")
    to, fields = parse_mailto(draft.mailto)
    assert (to, fields["subject"], fields["body"]) == (draft.to, draft.subject, "\r\n".join(draft.body.splitlines()))


def test_an_unknown_language_gets_japanese():
    draft = reply.draft(FakeCase(reference="TEL-20261201-001", email="a@example.jp", language=None), "received")
    assert draft.language == "ja"


# Words no reply may carry: the images, what they show, an address.
FORBIDDEN = re.compile(r"image|photo|picture|video|pic|画像|写真|動画|映像|http|www\.|://|\.com|\.jp|url", re.I)


def template_texts():
    """Every template's subject and body: the English msgids and each catalog's translation."""
    ids = [text for pair in reply.TEMPLATES.values() for text in pair]
    texts = list(ids)
    for lang in LANGUAGES:
        with po_file(lang).open("rb") as handle:
            catalog = read_po(handle)
        for message_id in ids:
            message = catalog.get(message_id)
            assert message is not None and message.string, f"{lang}: {message_id!r} is not translated"
            texts.append(message.string)
    return texts


def test_no_template_says_anything_about_the_images_or_holds_an_address():
    for text in template_texts():
        assert not FORBIDDEN.search(text), text
        assert "%(reference)s" in text or "Safeline" in text or "セーフライン" in text


def test_drafts_carry_nothing_of_the_report():
    case = FakeCase(reference="SL-2345-6789", email="x@example.jp", language="ja")
    for draft in reply.drafts(case):
        assert "example" not in draft.body and "example" not in draft.subject


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("kind", reply.KINDS)
def test_a_subject_names_neither_the_hotline_nor_a_report(language, kind):
    # The subject shows in mailbox lists and on a locked phone's notifications, to whoever
    # looks: only "your inquiry" and the reference.
    draft = reply.draft(FakeCase(reference="SL-2345-6789", email="hanako@example.jp", language=language), kind)
    for word in ("Safeline", "セーフライン", "report", "通報", "画像", "image", "削除", "remov"):
        assert word.lower() not in draft.subject.lower(), (word, draft.subject)
