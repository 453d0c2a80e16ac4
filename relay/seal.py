"""Turn a report into the e-mail that carries it, already encrypted: PGP/MIME (RFC 3156).

The outer message says nothing about the report: From, To, Date, Message-ID, MIME-Version and
a generic Subject with only the reference, then the two parts of ``multipart/encrypted``.

Everything else is inside the ciphertext, one MIME entity encrypted to every staff key at once:
``multipart/mixed; protected-headers="v1"`` with the real Subject (and From, To, Date,
Message-ID) as protected headers, a readable Japanese ``text/plain`` report and the same
fields as a JSON attachment (``"format": 1``).

Padding: before encryption the inner entity is padded with spaces (in lines) after its closing
boundary, i.e. in the MIME epilogue, which RFC 2046 tells readers to ignore, up to the next
bucket: 4 KiB, then powers of two (8, 16, 32 ... KiB).  Sequoia does not compress, so the
ciphertext length then tells only the bucket and the number of recipients, not the length of
the description or how many URLs there are.

Nothing here logs, and the clear text never leaves this module.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from email import policy as email_policy
from email.message import EmailMessage, MIMEPart
from email.utils import format_datetime

from . import openpgp
from .keys import StaffKeys
from .report import Report

# CRLF line ends, and non-ASCII headers as RFC 2047 encoded words: 7-bit clean throughout.
POLICY = email_policy.SMTP
FORMAT = 1
MIN_BUCKET = 4 * 1024
# Japan has no daylight saving time, so a fixed offset is exact and needs no tz database.
JAPAN = timezone(timedelta(hours=9), "JST")
ROLES = {"self": "本人", "guardian": "保護者"}
LANGUAGES = {"ja": "日本語", "en": "英語"}
_PAD_LINE = b" " * 76 + b"\r\n"


def seal(report: Report, *, reference: str, message_id: str, received_at: datetime, keys: StaffKeys,
         mail_from: str, mail_to: Sequence[str], now: datetime | None = None) -> bytes:
    """The complete encrypted e-mail for ``report``, ready for SMTP.

    Re-checks ``keys`` at ``now`` (default: the current time) first and raises
    ``StaffKeyError`` rather than encrypt to an expired or revoked key;
    ``openpgp.OpenPGPError`` if encryption fails.
    """
    if received_at.tzinfo is None or received_at.utcoffset() is None:
        raise ValueError("received_at must be an aware datetime")
    if isinstance(mail_to, str) or not mail_to:
        raise ValueError("mail_to must be a non-empty list of addresses")
    keys.check_usable(now)
    headers = {
        "From": mail_from,
        "To": ", ".join(mail_to),
        "Date": format_datetime(received_at),
        "Message-ID": message_id,
    }
    inner = _inner(report, reference=reference, received_at=received_at, headers=headers)
    ciphertext = openpgp.encrypt(pad(inner.as_bytes(policy=POLICY)), keys.certs)
    return _outer(ciphertext, subject=f"Safeline report {reference}", headers=headers)


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


def report_record(report: Report, *, reference: str, received_at: datetime) -> dict:
    """The JSON attachment's content: format version, reference, time, then the form fields."""
    return {
        "format": FORMAT,
        "reference": reference,
        "received_at": received_at.astimezone(JAPAN).isoformat(timespec="seconds"),
        **report.fields(),
    }


def _inner(report: Report, *, reference: str, received_at: datetime, headers: dict) -> MIMEPart:
    record = report_record(report, reference=reference, received_at=received_at)
    role = ROLES.get(record["role"], record["role"])
    entity = MIMEPart(policy=POLICY)
    entity["Subject"] = f"セーフライン通報 {reference} ({role} / URL {len(record['urls'])}件)"
    for name, value in headers.items():
        entity[name] = value
    entity.add_header("Content-Type", "multipart/mixed", protected_headers="v1")

    text = MIMEPart(policy=POLICY)
    # base64 keeps the staff's text byte-exact, whatever lines the description holds.
    text.set_content(_staff_text(record), subtype="plain", charset="utf-8", cte="base64")
    entity.attach(text)

    attachment = MIMEPart(policy=POLICY)
    data = json.dumps(record, ensure_ascii=False, indent=2).encode("utf-8") + b"\n"
    attachment.set_content(data, maintype="application", subtype="json", cte="base64",
                           disposition="attachment", filename=f"report-{reference}.json")
    entity.attach(attachment)
    return entity


def _staff_text(record: dict) -> str:
    received = datetime.fromisoformat(record["received_at"]).strftime("%Y-%m-%d %H:%M:%S")
    language = record["language"]
    lines = [
        "セーフライン通報",
        "",
        f"受付番号: {record['reference']}",
        f"受付日時: {received} (日本時間)",
        f"フォームの言語: {LANGUAGES.get(language, language)} ({language})",
        f"通報者: {ROLES.get(record['role'], record['role'])}",
        f"メールアドレス: {record['email']}",
        f"URL ({len(record['urls'])}件):",
        *(f"  {number}. {url}" for number, url in enumerate(record["urls"], start=1)),
        "",
        "内容:",
        record["description"] if record["description"] else "(記入なし)",
        "",
        f"同意: {'はい' if record['consent'] else 'いいえ'}",
        "",
    ]
    return "\n".join(lines)


def _outer(ciphertext: bytes, *, subject: str, headers: dict) -> bytes:
    message = EmailMessage(policy=POLICY)
    for name, value in headers.items():
        message[name] = value
    message["Subject"] = subject
    message["MIME-Version"] = "1.0"
    message.add_header("Content-Type", "multipart/encrypted", protocol="application/pgp-encrypted")
    message.preamble = "This is an OpenPGP/MIME encrypted message (RFC 4880 and 3156)"

    # Both parts are 7-bit text already; built by hand to read like RFC 3156's own example.
    control = MIMEPart(policy=POLICY)
    control["Content-Type"] = "application/pgp-encrypted"
    control["Content-Description"] = "PGP/MIME version identification"
    control.set_payload("Version: 1\n")
    message.attach(control)

    body = MIMEPart(policy=POLICY)
    body["Content-Type"] = 'application/octet-stream; name="encrypted.asc"'
    body["Content-Description"] = "OpenPGP encrypted message"
    body["Content-Disposition"] = 'inline; filename="encrypted.asc"'
    body.set_payload(ciphertext.decode("ascii"))
    message.attach(body)
    return message.as_bytes(policy=POLICY)
