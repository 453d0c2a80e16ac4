"""Turn a report into the e-mail that carries it, already encrypted: PGP/MIME (RFC 3156).

The outer message says nothing about the report: From, To, Date, Message-ID, MIME-Version and
a generic Subject with only the reference, then the two parts of ``multipart/encrypted``.

Everything else is inside the ciphertext, one MIME entity encrypted to every staff key at once:
``multipart/mixed; protected-headers="v1"`` with the real Subject (and From, To, Date,
Message-ID) as protected headers, a readable Japanese ``text/plain`` report and the same
fields as a JSON attachment (``"format": 1``).

Both messages are written as bytes from fixed templates, not built with ``email.message``:
their shape never changes, every header value is ours (addresses checked at start-up, the
reference and Message-ID made by the relay), and the ``email`` package spent 3 of the
relay's 7 ms per report parsing and folding headers (BENCHMARKS.md).  The tests parse what
this writes with the ``email`` package and decrypt it with Sequoia and GnuPG.

Padding: before encryption the inner entity is padded with spaces (in lines) after its closing
boundary, i.e. in the MIME epilogue, which RFC 2046 tells readers to ignore, up to the next
bucket: 4 KiB, then powers of two (8, 16, 32 ... KiB).  Sequoia does not compress, so the
ciphertext length then tells only the bucket and the number of recipients, not the length of
the description or how many URLs there are.

Nothing here logs, and the clear text never leaves this module.
"""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

from safeline.record import FORMAT

from . import openpgp
from .keys import StaffKeys
from .report import Addition, Report

MIN_BUCKET = 4 * 1024
# Japan has no daylight saving time, so a fixed offset is exact and needs no tz database.
JAPAN = timezone(timedelta(hours=9), "JST")
ROLES = {"self": "本人", "guardian": "保護者"}
LANGUAGES = {"ja": "日本語", "en": "英語"}
CRLF = "\r\n"
_PAD_LINE = b" " * 76 + b"\r\n"
# RFC 5322 asks for lines of at most 78 characters.
LINE = 78
# RFC 2047 wants lines that hold encoded words to be at most 76 characters: 39 bytes of UTF-8
# are 52 of base64, so "Subject: =?utf-8?b?" + 52 + "?=" is 73.
WORD_BYTES = 39
PREAMBLE = "This is an OpenPGP/MIME encrypted message (RFC 4880 and 3156)"


def seal(report: Report | Addition, *, reference: str, message_id: str, received_at: datetime, keys: StaffKeys,
         mail_from: str, mail_to: Sequence[str], replies_to: str | None = None, now: datetime | None = None) -> bytes:
    """The complete encrypted e-mail for ``report``, ready for SMTP.

    An ``Addition`` to the report ``reference`` names that report's Message-ID in
    ``replies_to``: In-Reply-To and References (outer and protected) thread it under the
    report in staff's mail client, and say nothing a Subject with the reference does not.

    Re-checks ``keys`` at ``now`` (default: the current time) first and raises
    ``StaffKeyError`` rather than encrypt to an expired or revoked key;
    ``openpgp.OpenPGPError`` if encryption fails.
    """
    if received_at.tzinfo is None or received_at.utcoffset() is None:
        raise ValueError("received_at must be an aware datetime")
    if isinstance(mail_to, str) or not mail_to:
        raise ValueError("mail_to must be a non-empty list of addresses")
    keys.ensure_usable(now)
    headers = {
        "From": mail_from,
        "To": ", ".join(mail_to),
        "Date": format_datetime(received_at),
        "Message-ID": message_id,
    }
    subject = f"Safeline report {reference}"
    if isinstance(report, Addition):
        if not replies_to:
            raise ValueError("an addition replies to its report's Message-ID")
        headers.update({"In-Reply-To": replies_to, "References": replies_to})
        subject = f"Re: {subject}"
    inner = _inner(report, reference=reference, received_at=received_at, headers=headers)
    ciphertext = openpgp.encrypt(pad(inner), keys.certs)
    return _outer(ciphertext, subject=subject, headers=headers)


def bucket_size(length: int) -> int:
    """The padded size for ``length`` bytes of clear text."""
    size = MIN_BUCKET
    while size < length:
        size *= 2
    return size


def pad(entity: bytes) -> bytes:
    """``entity`` (ending after its closing boundary) padded in its epilogue to its bucket."""
    missing = bucket_size(len(entity)) - len(entity)
    return entity + _PAD_LINE * (missing // len(_PAD_LINE)) + b" " * (missing % len(_PAD_LINE))


def report_record(report: Report | Addition, *, reference: str, received_at: datetime) -> dict:
    """The JSON attachment's content: format version, kind ("report", or "addition" to the
    report ``reference``), reference, time, then the form fields."""
    return {
        "format": FORMAT,
        "kind": "addition" if isinstance(report, Addition) else "report",
        "reference": reference,
        "received_at": received_at.astimezone(JAPAN).isoformat(timespec="seconds"),
        **report.fields(),
    }


def _inner(report: Report, *, reference: str, received_at: datetime, headers: dict) -> bytes:
    """The clear-text MIME entity (CRLF line ends, 7-bit), not yet padded."""
    record = report_record(report, reference=reference, received_at=received_at)
    boundary = _boundary()
    if record["kind"] == "addition":
        urls = f"URL {len(record['urls'])}件" if record["urls"] else "URLなし"
        subject = f"セーフライン通報 {reference} への追加（{urls}）"
        staff_text = _addition_text(record)
    else:
        role = ROLES.get(record["role"], record["role"])
        urls = f"URL {len(record['urls'])}件" if record["urls"] else "URLなし"
        subject = f"セーフライン通報 {reference}（{role} / {urls}）"
        staff_text = _staff_text(record)
    # Line ends in CRLF before base64, as RFC 2046 wants of text: the staff's text then
    # decodes byte-exact in every client, whatever lines the description holds.
    text = b"\r\n".join(staff_text.encode("utf-8").splitlines()) + b"\r\n"
    data = json.dumps(record, ensure_ascii=False, indent=2).encode("utf-8") + b"\n"
    return "".join([
        f"Subject: {_encoded_words(subject)}{CRLF}",
        *(_header(name, value) for name, value in headers.items()),
        f'Content-Type: multipart/mixed; protected-headers="v1";{CRLF} boundary="{boundary}"{CRLF}',
        CRLF,
        f"--{boundary}{CRLF}",
        f'Content-Type: text/plain; charset="utf-8"{CRLF}',
        f"Content-Transfer-Encoding: base64{CRLF}",
        CRLF,
        _base64(text),
        f"--{boundary}{CRLF}",
        f"Content-Type: application/json{CRLF}",
        f"Content-Transfer-Encoding: base64{CRLF}",
        f'Content-Disposition: attachment; filename="{record["kind"]}-{reference}.json"{CRLF}',
        CRLF,
        _base64(data),
        f"--{boundary}--{CRLF}",
    ]).encode("ascii")


def _staff_text(record: dict) -> str:
    lines = [
        "セーフライン通報",
        "",
        *_received(record),
        f"通報者: {ROLES.get(record['role'], record['role'])}",
        f"メールアドレス: {record['email']}",
        f"連絡してよい方法・時間: {record['contact_safety'] or '（記入なし）'}",
        f"警察の相談窓口の紹介: {'希望する' if record['police_referral'] else '希望なし'}",
        "",
        *_urls(record),
        *_where(record),
        "内容:",
        record["description"] if record["description"] else "（記入なし）",
        "",
        f"同意: {'はい' if record['consent'] else 'いいえ'}",
        "",
    ]
    return "\n".join(lines)


def _addition_text(record: dict) -> str:
    lines = [
        "セーフライン通報への追加",
        "",
        *_received(record),
        "通報者が、受付番号と追加用コードを入力して送りました。",
        "",
        *_urls(record),
        *_where(record),
        "追加の説明:",
        record["description"] if record["description"] else "（記入なし）",
        "",
    ]
    return "\n".join(lines)


def _received(record: dict) -> list[str]:
    received = datetime.fromisoformat(record["received_at"]).strftime("%Y-%m-%d %H:%M:%S")
    language = record["language"]
    return [
        f"受付番号: {record['reference']}",
        f"受付日時: {received}（日本時間）",
        f"フォームの言語: {LANGUAGES.get(language, language)}（{language}）",
    ]


def _where(record: dict) -> list[str]:
    if not record["where"]:
        return []
    return ["URLのない場所（サービス名・アカウント名など）:", record["where"], ""]


def _urls(record: dict) -> list[str]:
    if not record["urls"]:
        # Said plainly: staff must not look for an address that was never given.
        return ["URL: なし（通報者はURLを書いていません。下の「URLのない場所」を見てください）", ""]
    return [
        f"URL（{len(record['urls'])}件）:",
        *(f"  {number}. {url}" for number, url in enumerate(record["urls"], start=1)),
        "",
    ]


def _outer(ciphertext: bytes, *, subject: str, headers: dict) -> bytes:
    """The message as sent: the headers, then RFC 3156's two parts around the ciphertext."""
    boundary = _boundary()
    armored = ciphertext.decode("ascii").replace("\r\n", "\n").replace("\n", CRLF)
    if not armored.endswith(CRLF):
        armored += CRLF
    return "".join([
        *(_header(name, value) for name, value in headers.items()),
        _header("Subject", subject),
        f"MIME-Version: 1.0{CRLF}",
        f'Content-Type: multipart/encrypted; protocol="application/pgp-encrypted";{CRLF} boundary="{boundary}"{CRLF}',
        CRLF,
        f"{PREAMBLE}{CRLF}",
        f"--{boundary}{CRLF}",
        f"Content-Type: application/pgp-encrypted{CRLF}",
        f"Content-Description: PGP/MIME version identification{CRLF}",
        CRLF,
        f"Version: 1{CRLF}",
        CRLF,
        f"--{boundary}{CRLF}",
        f'Content-Type: application/octet-stream; name="encrypted.asc"{CRLF}',
        f"Content-Description: OpenPGP encrypted message{CRLF}",
        f'Content-Disposition: inline; filename="encrypted.asc"{CRLF}',
        CRLF,
        armored,
        f"--{boundary}--{CRLF}",
    ]).encode("ascii")


def _boundary() -> str:
    # "=_" cannot start a line of base64 or of ASCII armor, so no body line can close a part.
    return f"=_safeline_{secrets.token_hex(16)}"


def _header(name: str, value: str) -> str:
    """``Name: value`` and CRLF; a long list of addresses folded after its commas."""
    if "\r" in value or "\n" in value or not value.isascii():
        raise ValueError(f"{name}: a header value must be one line of ASCII")
    line = f"{name}: {value}"
    if len(line) <= LINE or ", " not in value:
        return line + CRLF
    items = value.split(", ")
    lines, current = [], f"{name}:"
    for number, item in enumerate(items, start=1):
        piece = f" {item}," if number < len(items) else f" {item}"
        if len(current) + len(piece) > LINE and current != f"{name}:":
            lines.append(current)
            current = ""
        current += piece
    lines.append(current)
    return CRLF.join(lines) + CRLF


def _encoded_words(text: str) -> str:
    """``text`` as RFC 2047 encoded words (UTF-8, base64), one per folded line."""
    if text.isascii():
        return text
    words, chunk, size = [], [], 0
    for char in text:
        length = len(char.encode("utf-8"))
        if size + length > WORD_BYTES:
            words.append("".join(chunk))
            chunk, size = [], 0
        chunk.append(char)
        size += length
    words.append("".join(chunk))
    return f"{CRLF} ".join(f"=?utf-8?b?{base64.b64encode(word.encode('utf-8')).decode('ascii')}?=" for word in words)


def _base64(data: bytes) -> str:
    """``data`` in base64 lines of 76 characters, each ending in CRLF."""
    return base64.encodebytes(data).decode("ascii").replace("\n", CRLF)
