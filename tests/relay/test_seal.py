"""Sealing a report: real keys, real encryption, and the result decrypted and parsed again."""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
from datetime import datetime, timedelta, timezone, tzinfo
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import parsedate_to_datetime

import pytest

from relay import openpgp
from relay.keys import StaffKeyError, StaffKeys, load_staff_keys
from relay.report import Addition, Report
from relay.seal import MIN_BUCKET, bucket_size, pad, seal
from tests.support.keys import FIXTURES, GPG_PUBLIC, GPG_SECRET
from tests.support.reports import OUTER_HEADERS, OUTER_REPLY_HEADERS

MARKER = "MARKER-7b1d9e"
REFERENCE = "SL-7K3F-Q9XD"
MESSAGE_ID = "<5f0c3a9e8d7b4c2a.SL-7K3F-Q9XD@relay.example.org>"
RECEIVED_AT = datetime(2026, 11, 28, 14, 5, 9, tzinfo=timezone.utc)  # 23:05:09 in Japan
# What seal() is given here, apart from any relay's settings: a sender with a display name
# and two mailboxes.
SEAL_FROM = "Safeline relay <relay@example.org>"
SEAL_TO = ["staff@example.org", "second@example.org"]

REPORT = Report(
    role="self",
    email="victim.7b1d9e@example.net",
    urls=("https://images.example.com/p/7b1d9e-one", "https://video.example.jp/v/7b1d9e-two?x=1&y=2",
          "https://例え.jp/7b1d9e-三"),
    description=f"知らないうちに写真が投稿されました。\n削除してください。\n{MARKER}",
    lang="ja",
)


@pytest.fixture(scope="module")
def sequoia_key() -> openpgp.KeyPair:
    """A second staff member whose key pysequoia made (RFC 9580, v6)."""
    return openpgp.generate_key("Safeline Second Staff <second@example.org>", v6=True)


@pytest.fixture(scope="module")
def keys(tmp_path_factory, sequoia_key) -> StaffKeys:
    folder = tmp_path_factory.mktemp("staff-keys")
    shutil.copyfile(GPG_PUBLIC, folder / "a-gnupg.asc")
    (folder / "b-sequoia.asc").write_bytes(sequoia_key.public)
    return load_staff_keys(folder)


@pytest.fixture(scope="module")
def sealed(keys) -> bytes:
    return seal_report(REPORT, keys)


def seal_report(report: Report, keys: StaffKeys, **changes) -> bytes:
    arguments = dict(reference=REFERENCE, message_id=MESSAGE_ID, received_at=RECEIVED_AT, keys=keys,
                     mail_from=SEAL_FROM, mail_to=SEAL_TO)
    return seal(report, **{**arguments, **changes})


def parse(data: bytes) -> EmailMessage:
    return message_from_bytes(data, policy=policy.default)


def ciphertext(sealed: bytes) -> bytes:
    return parse(sealed).get_payload()[1].get_payload().encode("ascii")


def inner(sealed: bytes, secret_key: bytes) -> tuple[bytes, EmailMessage]:
    plaintext = openpgp.decrypt(ciphertext(sealed), secret_key)
    return plaintext, parse(plaintext)


def parts(message: EmailMessage) -> tuple[str, dict, EmailMessage]:
    text_part, json_part = message.get_payload()
    return text_part.get_content().replace("\r\n", "\n"), json.loads(json_part.get_content()), json_part


def test_the_outer_message_is_pgp_mime(sealed):
    message = parse(sealed)
    assert message.get_content_type() == "multipart/encrypted"
    assert message.get_param("protocol") == "application/pgp-encrypted"
    control, body = message.get_payload()
    assert control.get_content_type() == "application/pgp-encrypted"
    assert control.get_payload().strip() == "Version: 1"
    assert body.get_content_type() == "application/octet-stream"
    assert body.get_param("name") == "encrypted.asc"
    assert body.get_content_disposition() == "inline"
    assert body.get_filename() == "encrypted.asc"
    armored = body.get_payload().strip()
    assert armored.startswith("-----BEGIN PGP MESSAGE-----") and armored.endswith("-----END PGP MESSAGE-----")


def test_the_outer_headers_say_nothing_about_the_report(sealed):
    message = parse(sealed)
    assert {name.lower() for name in message.keys()} == {name.lower() for name in OUTER_HEADERS}
    assert len(message.keys()) == len(OUTER_HEADERS)
    assert message["Subject"] == f"Safeline report {REFERENCE}"
    assert message["Message-ID"] == MESSAGE_ID
    assert f"\r\nMessage-ID: {MESSAGE_ID}\r\n".encode() in sealed
    assert parsedate_to_datetime(message["Date"]) == RECEIVED_AT
    assert message["From"] == SEAL_FROM
    assert [address.addr_spec for address in message["To"].addresses] == SEAL_TO
    assert message["MIME-Version"] == "1.0"


def test_no_report_data_anywhere_in_the_sealed_bytes(sealed):
    assert max(sealed) < 128  # 7-bit clean
    # A line of nothing but base64 is ciphertext: random letters, in which a short word such as
    # "self" turns up by chance (in about one mail of 150).  Every other line is checked.
    lines = sealed.decode("ascii").split("\r\n")
    text = "\n".join(line for line in lines if not re.fullmatch(r"[A-Za-z0-9+/=]+", line)).lower()
    assert "-----begin pgp message-----" in text and "content-type: multipart/encrypted" in text
    for secret in (MARKER, REPORT.email, "7b1d9e", "images.example.com", "本人", "self", "guardian"):
        assert secret.lower() not in text
    assert b"\r\n" in sealed and b"\n" not in sealed.replace(b"\r\n", b"")  # CRLF throughout


# What staff read for REPORT, line by line (the staff text of a report in full).
REPORT_TEXT = [
    "セーフライン通報",
    "",
    f"受付番号: {REFERENCE}",
    "受付日時: 2026-11-28 23:05:09（日本時間）",
    "フォームの言語: 日本語（ja）",
    "通報者: 本人",
    f"メールアドレス: {REPORT.email}",
    "連絡してよい方法・時間: （記入なし）",
    "警察の相談窓口の紹介: 希望なし",
    "",
    "URL（3件）:",
    *(f"  {number}. {url}" for number, url in enumerate(REPORT.urls, start=1)),
    "",
    "内容:",
    *REPORT.description.splitlines(),
    "",
    "同意: はい",
]

@pytest.mark.parametrize("who", ["gnupg-v4", "sequoia-v6"])
def test_every_recipient_decrypts_every_field(sealed, sequoia_key, who):
    secret = GPG_SECRET if who == "gnupg-v4" else sequoia_key.secret
    _, message = inner(sealed, secret)
    assert message.get_content_type() == "multipart/mixed"
    assert message.get_param("protected-headers") == "v1"
    assert message["Subject"] == f"セーフライン通報 {REFERENCE}（本人 / URL 3件）"
    outer = parse(sealed)
    for name in ("From", "To", "Date", "Message-ID"):
        assert message[name] == outer[name]

    text, record, json_part = parts(message)
    assert text == "\n".join(REPORT_TEXT) + "\n"

    assert json_part.get_content_type() == "application/json"
    assert json_part.get_content_disposition() == "attachment"
    assert json_part.get_filename() == f"report-{REFERENCE}.json"
    assert record == {"format": 1, "kind": "report", "reference": REFERENCE,
                      "received_at": "2026-11-28T23:05:09+09:00", **REPORT.fields()}
    assert datetime.fromisoformat(record["received_at"]) == RECEIVED_AT
    assert list(record)[:4] == ["format", "kind", "reference", "received_at"]


def test_a_guardian_report_in_english(keys):
    report = Report(role="guardian", email="parent@example.net", urls=("https://example.com/only",),
                    description="Please remove it.", lang="en")
    _, message = inner(seal_report(report, keys, reference="SL-2345-6789"), GPG_SECRET)
    assert message["Subject"] == "セーフライン通報 SL-2345-6789（保護者 / URL 1件）"
    text, record, _ = parts(message)
    assert "フォームの言語: 英語（en）\n通報者: 保護者\n" in text
    assert "URL（1件）:\n  1. https://example.com/only\n" in text
    assert (record["role"], record["language"], record["urls"]) == ("guardian", "en", ["https://example.com/only"])


def test_gnupg_22_decrypts_what_the_relay_sends(sealed, tmp_path, gnupg_home):
    gpg = shutil.which("gpg")
    if gpg is None:
        pytest.skip("GnuPG (gpg) is not installed: cannot check that classic clients read our mail")
    gnupg_home.mkdir(mode=0o700)
    base = [gpg, "--homedir", str(gnupg_home), "--batch", "--no-tty", "--pinentry-mode", "loopback", "--passphrase", ""]
    subprocess.run([*base, "--import", str(FIXTURES / "staff-gpg-v4.sec.asc")], check=True,
                   capture_output=True, timeout=60)
    (tmp_path / "message.asc").write_bytes(ciphertext(sealed))
    result = subprocess.run([*base, "--decrypt", str(tmp_path / "message.asc")], capture_output=True, timeout=60)
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    plaintext, _ = inner(sealed, GPG_SECRET)
    assert result.stdout == plaintext
    assert parse(result.stdout)["Subject"] == f"セーフライン通報 {REFERENCE}（本人 / URL 3件）"


def test_reports_of_different_small_lengths_fill_the_same_bucket(keys):
    short = Report(role="self", email="a@example.net", urls=("https://example.com/a",), description="短い", lang="ja")
    longer = Report(role="guardian", email="longer.address@example.net",
                    urls=tuple(f"https://example.com/{n}/{'x' * 40}" for n in range(5)),
                    description="もう少し長い説明です。" * 8, lang="en")
    sealed_short, sealed_longer = seal_report(short, keys), seal_report(longer, keys)
    assert len(ciphertext(sealed_short)) == len(ciphertext(sealed_longer))
    assert len(inner(sealed_short, GPG_SECRET)[0]) == len(inner(sealed_longer, GPG_SECRET)[0]) == MIN_BUCKET


def test_a_large_report_fills_a_larger_bucket(keys, sealed):
    large = Report(role="self", email="a@example.net", urls=("https://example.com/a",),
                   description="長い説明。" * 3000, lang="ja")
    sealed_large = seal_report(large, keys)
    plaintext, message = inner(sealed_large, GPG_SECRET)
    assert len(plaintext) == 128 * 1024  # 15,000 characters: ~60 KiB twice over, in base64
    assert len(ciphertext(sealed_large)) > len(ciphertext(sealed))
    assert parts(message)[1]["description"] == large.description


def test_padding_sits_in_the_epilogue_and_changes_nothing_shown(sealed):
    plaintext, message = inner(sealed, GPG_SECRET)
    unpadded = plaintext.rstrip(b" \r\n") + b"\r\n"
    assert unpadded.endswith(b"--\r\n") and len(unpadded) < len(plaintext)
    assert message.epilogue.strip() == ""
    assert parts(parse(unpadded))[:2] == parts(message)[:2]
    assert parse(unpadded)["Subject"] == message["Subject"]


@pytest.mark.parametrize("length, bucket", [(0, 4096), (4096, 4096), (4097, 8192), (8192, 8192),
                                            (200_000, 256 * 1024), (300_000, 512 * 1024)])
def test_buckets(length, bucket):
    assert bucket_size(length) == bucket
    assert len(pad(b"x" * length)) == bucket


def test_seal_refuses_a_key_that_expired_since_loading(tmp_path):
    soon = openpgp.generate_key("Safeline Soon <soon@example.org>", validity_seconds=10 * 86400)
    shutil.copyfile(GPG_PUBLIC, tmp_path / "a.asc")
    (tmp_path / "b.asc").write_bytes(soon.public)
    keys = load_staff_keys(tmp_path)
    later = datetime.now(timezone.utc) + timedelta(days=11)
    with pytest.raises(StaffKeyError) as caught:
        seal_report(REPORT, keys, now=later)
    [line] = caught.value.lines
    assert f"key {soon.fingerprint} (Safeline Soon <soon@example.org>) expired on " in line
    assert MARKER not in str(caught.value)
    assert seal_report(REPORT, keys)  # today it still seals


def test_seal_wants_an_aware_time(keys):
    with pytest.raises(ValueError, match="aware"):
        seal_report(REPORT, keys, received_at=datetime(2026, 11, 28, 14, 5, 9))


def test_every_line_is_short_and_many_recipients_fold(keys):
    many = [f"staff-member-{number}@safeline-staff.example.org" for number in range(12)]
    sealed = seal_report(REPORT, keys, mail_to=many)
    plaintext, message = inner(sealed, GPG_SECRET)
    for data in (sealed, plaintext.rstrip(b" \r\n")):
        assert max(len(line) for line in data.split(b"\r\n")) <= 78
    for parsed in (parse(sealed), message):
        assert [address.addr_spec for address in parsed["To"].addresses] == many
    assert message["Subject"] == f"セーフライン通報 {REFERENCE}（本人 / URL 3件）"


def test_the_staff_text_keeps_every_line_of_the_description(keys):
    description = "一行目\r\n二行目\rthird\u2028same line\n\n最後"
    report = Report(role="self", email="a@example.net", urls=("https://example.com/a",),
                    description=description, lang="ja")
    text, record, _ = parts(inner(seal_report(report, keys), GPG_SECRET)[1])
    assert record["description"] == description  # the JSON keeps it exactly
    assert "\n内容:\n一行目\n二行目\nthird\u2028same line\n\n最後\n\n同意: はい\n" in text


@pytest.mark.parametrize("change", [
    {"message_id": "<a@example.org>\r\nBcc: someone@example.net"},
    {"mail_from": "relay@example.org\nX-Injected: yes"},
    {"mail_to": ["staff@example.org\r\n"]},
    {"reference": "SL-7K3F\r\nX: y"},
])
def test_a_header_value_that_is_not_one_line_is_refused(keys, change):
    with pytest.raises(ValueError, match="one line of ASCII"):
        seal_report(REPORT, keys, **change)


# -- the headers, byte for byte ------------------------------------------------------------------

def header_lines(data: bytes, name: str) -> list[str]:
    """The lines of the header field ``name`` in the head of ``data``, as written (folded)."""
    head = data.split(b"\r\n\r\n", 1)[0].decode("ascii").split("\r\n")
    start = next(number for number, line in enumerate(head) if line.startswith(f"{name}:"))
    end = start + 1
    while end < len(head) and head[end].startswith(" "):
        end += 1
    return head[start:end]


def address_of(length: int, letter: str) -> str:
    """An address of exactly ``length`` characters."""
    return f"{letter * (length - len('@example.org'))}@example.org"


@pytest.mark.parametrize("length", [78, 79])
def test_a_header_line_of_78_characters_stays_whole_and_one_more_folds(keys, length):
    # RFC 5322 (2.1.1): lines of at most 78 characters.
    first = address_of(36, "a")
    second = address_of(length - len(f"To: {first}, "), "b")
    assert len(f"To: {first}, {second}") == length
    expected = [f"To: {first}, {second}"] if length == 78 else [f"To: {first},", f" {second}"]
    assert header_lines(seal_report(REPORT, keys, mail_to=[first, second]), "To") == expected


def test_a_long_list_folds_after_the_last_address_that_fits(keys):
    a, b, c, d, e, f = (address_of(36, "a"), address_of(35, "b"), address_of(27, "c"), address_of(26, "d"),
                        address_of(20, "e"), address_of(20, "f"))
    sealed = seal_report(REPORT, keys, mail_to=[a, b, c, d, e, f])
    expected = [
        f"To: {a}, {b},",  # exactly 78 characters
        f" {c}, {d},",  # 57: with " {e}," it would be 79
        f" {e}, {f}",  # the last address has no comma
    ]
    assert [len(line) for line in expected] == [78, 57, 43]
    assert header_lines(sealed, "To") == expected
    assert header_lines(inner(sealed, GPG_SECRET)[0], "To") == expected  # the protected header too


def test_an_address_too_long_for_a_line_stays_beside_the_header_name(keys):
    # A line cannot fold inside an address: it runs over 78 rather than leave "To:" alone.
    long, short = address_of(80, "a"), address_of(20, "b")
    assert header_lines(seal_report(REPORT, keys, mail_to=[long, short]), "To") == [f"To: {long},", f" {short}"]


def test_a_list_of_any_length_folds_only_after_its_commas(keys):
    # Over 256 addresses: Python shares the objects of smaller numbers, so a count compared with
    # `is` would pass below that.
    many = [f"staff-{number}@example.org" for number in range(300)]
    sealed = seal_report(REPORT, keys, mail_to=many)
    folded = header_lines(sealed, "To")
    assert max(len(line) for line in folded) <= 78
    assert all(line.endswith(",") for line in folded[:-1])
    assert folded[-1].endswith(f" {many[-1]}")
    assert [address.addr_spec for address in parse(sealed)["To"].addresses] == many


@pytest.mark.parametrize("length", range(12, 46))
def test_the_protected_subject_is_encoded_words_as_full_as_rfc_2047_allows(keys, length):
    # "セーフライン通報 " is 25 bytes of UTF-8, so references of 12 to 45 characters put the end
    # of the first and of the second encoded word at every byte around the limit of 39.
    reference = "SL-" + "7" * (length - 3)
    subject = f"セーフライン通報 {reference}（本人 / URL 3件）"
    plaintext, message = inner(seal_report(REPORT, keys, reference=reference), GPG_SECRET)
    words = []
    for line in header_lines(plaintext, "Subject"):
        assert len(line) <= 76  # RFC 2047 (2): lines that hold encoded words
        word = re.fullmatch(r"(?:Subject:)? =\?utf-8\?b\?([A-Za-z0-9+/=]+)\?=", line)
        assert word, line
        words.append(base64.b64decode(word[1]))
    assert max(len(word) for word in words) <= 39  # 52 characters of base64
    texts = [word.decode("utf-8") for word in words]  # strict: no character split between words
    assert "".join(texts) == subject == message["Subject"]
    for text, following in zip(texts, texts[1:]):  # each word as full as it can be
        assert len((text + following[0]).encode("utf-8")) > 39, texts


# -- what staff read -----------------------------------------------------------------------------

NO_URL_REPORT = Report(role="guardian", email="parent.7b1d9e@example.net", urls=(), description="", lang="ja",
                       police_referral=True, contact_safety="平日の夜だけメールで",
                       where="Xのアカウント @example_7b1d9e")


@pytest.mark.parametrize("report, subject, text", [
    (REPORT, f"セーフライン通報 {REFERENCE}（本人 / URL 3件）", REPORT_TEXT),
    (NO_URL_REPORT, f"セーフライン通報 {REFERENCE}（保護者 / URLなし）", [
        "セーフライン通報",
        "",
        f"受付番号: {REFERENCE}",
        "受付日時: 2026-11-28 23:05:09（日本時間）",
        "フォームの言語: 日本語（ja）",
        "通報者: 保護者",
        f"メールアドレス: {NO_URL_REPORT.email}",
        "連絡してよい方法・時間: 平日の夜だけメールで",
        "警察の相談窓口の紹介: 希望する",
        "",
        "URL: なし（通報者はURLを書いていません。下の「URLのない場所」を見てください）",
        "",
        "URLのない場所（サービス名・アカウント名など）:",
        "Xのアカウント @example_7b1d9e",
        "",
        "内容:",
        "（記入なし）",
        "",
        "同意: はい",
    ]),
], ids=["urls", "where"])
def test_the_staff_text_of_a_report_in_full(keys, report, subject, text):
    _, message = inner(seal_report(report, keys), GPG_SECRET)
    assert message["Subject"] == subject
    assert parts(message)[0] == "\n".join(text) + "\n"


REPLIES_TO = "<9a8b7c6d5e4f3a2b.SL-7K3F-Q9XD@relay.example.org>"
ADDITION_ID = "<1f2e3d4c5b6a7980.more.SL-7K3F-Q9XD@relay.example.org>"


@pytest.mark.parametrize("addition, subject, text", [
    (Addition(reference=REFERENCE, urls=("https://images.example.com/p/7b1d9e-more", "https://example.jp/x"),
              description="別のサイトにもありました。", lang="ja"),
     f"セーフライン通報 {REFERENCE} への追加（URL 2件）", [
         "セーフライン通報への追加",
         "",
         f"受付番号: {REFERENCE}",
         "受付日時: 2026-11-28 23:05:09（日本時間）",
         "フォームの言語: 日本語（ja）",
         "通報者が、受付番号と追加用コードを入力して送りました。",
         "",
         "URL（2件）:",
         "  1. https://images.example.com/p/7b1d9e-more",
         "  2. https://example.jp/x",
         "",
         "追加の説明:",
         "別のサイトにもありました。",
     ]),
    (Addition(reference=REFERENCE, urls=(), description="", lang="en", where="a chat group, 7b1d9e"),
     f"セーフライン通報 {REFERENCE} への追加（URLなし）", [
         "セーフライン通報への追加",
         "",
         f"受付番号: {REFERENCE}",
         "受付日時: 2026-11-28 23:05:09（日本時間）",
         "フォームの言語: 英語（en）",
         "通報者が、受付番号と追加用コードを入力して送りました。",
         "",
         "URL: なし（通報者はURLを書いていません。下の「URLのない場所」を見てください）",
         "",
         "URLのない場所（サービス名・アカウント名など）:",
         "a chat group, 7b1d9e",
         "",
         "追加の説明:",
         "（記入なし）",
     ]),
], ids=["urls", "where"])
def test_an_addition_replies_to_its_report(keys, addition, subject, text):
    sealed = seal_report(addition, keys, message_id=ADDITION_ID, replies_to=REPLIES_TO)
    outer = parse(sealed)
    assert sorted(name.lower() for name in outer.keys()) == sorted(name.lower() for name in OUTER_REPLY_HEADERS)
    assert outer["Subject"] == f"Re: Safeline report {REFERENCE}"
    _, message = inner(sealed, GPG_SECRET)
    for headers in (outer, message):
        assert (headers["Message-ID"], headers["In-Reply-To"], headers["References"]) == (
            ADDITION_ID, REPLIES_TO, REPLIES_TO)
    assert message["Subject"] == subject
    staff_text, record, json_part = parts(message)
    assert staff_text == "\n".join(text) + "\n"
    assert record == {"format": 1, "kind": "addition", "reference": REFERENCE,
                      "received_at": "2026-11-28T23:05:09+09:00", **addition.fields()}
    assert json_part.get_filename() == f"addition-{REFERENCE}.json"


@pytest.mark.parametrize("replies_to", [None, ""])
def test_an_addition_without_its_report_s_message_id_is_refused(keys, replies_to):
    addition = Addition(reference=REFERENCE, urls=("https://example.jp/x",), description="", lang="ja")
    with pytest.raises(ValueError, match="replies to its report"):
        seal_report(addition, keys, replies_to=replies_to)


class NoOffset(tzinfo):
    """A time zone that knows no offset: Python calls such a time naive (datetime's docs)."""

    def utcoffset(self, moment):
        return None

    def dst(self, moment):
        return None

    def tzname(self, moment):
        return None


def test_a_time_whose_zone_gives_no_offset_is_refused(keys):
    received_at = datetime(2026, 11, 28, 14, 5, 9, tzinfo=NoOffset())
    assert received_at.tzinfo is not None and received_at.utcoffset() is None
    with pytest.raises(ValueError, match="aware"):
        seal_report(REPORT, keys, received_at=received_at)


@pytest.mark.parametrize("mail_to", ["staff@example.org", [], ()])
def test_mail_to_must_be_a_non_empty_list(keys, mail_to):
    with pytest.raises(ValueError, match="non-empty list"):
        seal_report(REPORT, keys, mail_to=mail_to)


def test_the_armour_ends_its_part_without_a_blank_line(sealed):
    # The line break before a boundary belongs to the boundary (RFC 2046, 5.1.1): the part holds
    # the armour and nothing after it.
    boundary = parse(sealed).get_boundary()
    assert sealed.endswith(f"\r\n-----END PGP MESSAGE-----\r\n--{boundary}--\r\n".encode("ascii"))
