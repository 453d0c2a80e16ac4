"""The record format, the contract between relay and staff kit (``safeline/record.py``).

What the relay writes (``relay.seal.report_record``, the JSON part's exact bytes) reads back
field for field; anything else is refused with the reason the importer counts it by.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from relay.report import Addition, Report
from relay.seal import report_record
import dataclasses

from safeline.record import FORMAT, REFERENCE, REFERENCE_ALPHABET, REFERENCE_LENGTH, NotARecord, Record, parse

JAPAN = timezone(timedelta(hours=9))
WHEN = datetime(2026, 12, 1, 10, 0, 0, tzinfo=JAPAN)


def as_mail_writes(record: dict) -> bytes:
    return json.dumps(record, ensure_ascii=False, indent=2).encode("utf-8") + b"\n"


def relay_report(**fields) -> dict:
    made = Report(**{"role": "guardian", "email": "hanako@example.jp", "urls": ("https://a.example/1",),
                     "description": "説明", "lang": "en", "police_referral": True,
                     "contact_safety": "夜だけ", "where": "", **fields})
    return report_record(made, reference="SL-7K3F-Q9XD", received_at=WHEN)


def test_a_relay_report_reads_back_field_for_field():
    written = relay_report()
    record = parse(as_mail_writes(written))
    assert record == Record(kind="report", reference="SL-7K3F-Q9XD", received_at=WHEN, fields={
        "role": "guardian", "email": "hanako@example.jp", "contact_safety": "夜だけ",
        "urls": ["https://a.example/1"], "where": "", "description": "説明", "police_referral": True,
        "consent": True, "language": "en"})
    assert record.urls == ["https://a.example/1"]
    assert record.received_at.utcoffset() == timedelta(hours=9)


def test_a_relay_addition_reads_back():
    made = Addition(reference="SL-7K3F-Q9XD", urls=(), description="", lang="ja", where="アプリのDM")
    record = parse(as_mail_writes(report_record(made, reference="SL-7K3F-Q9XD", received_at=WHEN)))
    assert (record.kind, record.reference) == ("addition", "SL-7K3F-Q9XD")
    assert record.fields == {"urls": [], "where": "アプリのDM", "description": "", "language": "ja"}


def test_an_addition_from_before_where_existed_reads_with_an_empty_where():
    old = {"format": 1, "kind": "addition", "reference": "SL-7K3F-Q9XD", "received_at": WHEN.isoformat(),
           "urls": ["https://a.example/1"], "description": "d", "language": "ja"}
    assert parse(json.dumps(old)).fields["where"] == ""


def test_a_field_added_later_is_kept_and_does_not_stop_the_reader():
    written = {**relay_report(), "a_later_field": {"x": 1}}
    assert parse(json.dumps(written)).fields["a_later_field"] == {"x": 1}


def test_the_relay_and_the_contract_share_the_format_and_the_reference():
    assert relay_report()["format"] == FORMAT == 1
    assert REFERENCE.fullmatch("SL-7K3F-Q9XD") and not REFERENCE.fullmatch("SL-7K3F-Q9X0")
    # The relay draws REFERENCE_LENGTH characters and reads typed references by it: the
    # pattern's two groups of four.
    chars = REFERENCE_ALPHABET[:REFERENCE_LENGTH]
    assert REFERENCE.fullmatch(f"SL-{chars[:4]}-{chars[4:]}") and len(chars) == REFERENCE_LENGTH == 8


def test_a_record_is_a_value():
    record = parse(as_mail_writes(relay_report()))
    with pytest.raises(dataclasses.FrozenInstanceError):
        record.reference = "SL-2222-2222"


def test_a_refusal_says_its_reason_and_the_field():
    assert str(NotARecord("malformed", "role")) == "malformed: role"
    assert str(NotARecord("not json")) == "not json"


def broken(change: dict, drop: tuple[str, ...] = ()) -> bytes:
    record = {**relay_report(), **change}
    for name in drop:
        record.pop(name)
    return json.dumps(record).encode()


@pytest.mark.parametrize(("data", "reason"), [
    pytest.param(b"", "not json", id="empty"),
    pytest.param(b"{", "not json", id="cut-short"),
    pytest.param(b"\xff\xfe{}", "not json", id="not-utf8"),
    pytest.param(b"[1, 2]", "malformed", id="a-list"),
    pytest.param(b'"report"', "malformed", id="a-string"),
    pytest.param(b'{"kind": "report"}', "malformed", id="no-format"),
    pytest.param(broken({"format": 2}), "unknown format", id="format-2"),
    pytest.param(broken({"format": 0}), "unknown format", id="format-0"),
    pytest.param(broken({"format": "1"}), "unknown format", id="format-as-text"),
    pytest.param(broken({"format": True}), "unknown format", id="format-true"),
    pytest.param(broken({"format": 1.0}), "unknown format", id="format-float"),
    pytest.param(broken({"kind": "event"}), "malformed", id="kind-unknown"),
    pytest.param(broken({}, drop=("kind",)), "malformed", id="kind-missing"),
    pytest.param(broken({"reference": "SL-7K3F-Q9X"}), "malformed", id="reference-short"),
    pytest.param(broken({"reference": "sl-7k3f-q9xd"}), "malformed", id="reference-lower"),
    pytest.param(broken({"reference": "SL-7K3F-Q9XD\n"}), "malformed", id="reference-newline"),
    pytest.param(broken({"reference": 7}), "malformed", id="reference-number"),
    pytest.param(broken({"received_at": "2026-12-01T10:00:00"}), "malformed", id="time-without-offset"),
    pytest.param(broken({"received_at": "yesterday"}), "malformed", id="time-not-iso"),
    pytest.param(broken({"received_at": None}), "malformed", id="time-null"),
    pytest.param(broken({"role": "other"}), "malformed", id="role-other"),
    pytest.param(broken({"urls": "https://a.example/1"}), "malformed", id="urls-text"),
    pytest.param(broken({"urls": [1]}), "malformed", id="urls-number"),
    pytest.param(broken({"police_referral": "yes"}), "malformed", id="police-text"),
    pytest.param(broken({"consent": 1}), "malformed", id="consent-number"),
    pytest.param(broken({"description": None}), "malformed", id="description-null"),
    pytest.param(broken({}, drop=("email",)), "malformed", id="email-missing"),
    pytest.param(broken({}, drop=("where",)), "malformed", id="report-where-missing"),
])
def test_what_is_not_a_record_says_why(data, reason):
    with pytest.raises(NotARecord) as refused:
        parse(data)
    assert refused.value.reason == reason


def test_the_reason_never_carries_what_was_sent():
    # A reason names a field, never its value: the importer may print it.
    secret = "hanako-secret@example.jp"
    for data in (broken({"role": secret}), broken({"kind": secret}), broken({"format": secret}),
                 broken({"reference": secret}), broken({"received_at": secret}),
                 b'{"x": "hanako-secret\xff', b'{"x": "hanako-secret'):
        with pytest.raises(NotARecord) as refused:
            parse(data)
        assert "hanako" not in str(refused.value)
