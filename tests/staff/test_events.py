"""Events: their canonical bytes, their strict reading, their order, canonical URLs."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from staff.events import EVENT_TYPES, METHODS, TARGETS, URL_STATES, BadEvent, Event, canonical_url, new_event
from staff.problems import StaffError

JAPAN = timezone(timedelta(hours=9))
AUTHOR = "A" * 36 + "1234"
OTHER = "B" * 40
T0 = datetime(2026, 12, 1, 10, 0, 0, 123456, tzinfo=JAPAN)
REF = "SL-ABCD-2345"

PHONE_FIELDS = {"role": "self", "email": "", "contact_safety": "", "urls": ["https://a.example/1"], "where": "",
                "description": "電話で", "police_referral": False, "language": "ja"}
DATA = {
    "phone_case": {"fields": PHONE_FIELDS},
    "status": {"status": "in_progress"},
    "assign": {"to": OTHER},
    "note": {"text": "メモ\n二行目"},
    "request": {"url": "https://a.example/1", "target": "host", "target_name": "Example Hosting",
                "method": "form", "sent_on": "2026-12-01", "ticket": "T-1", "next_on": "2026-12-08"},
    "url_state": {"url": "https://a.example/1", "state": "refused", "on": "2026-12-02", "reason": "no",
                  "next_on": None},
    "url_next": {"url": "https://a.example/1", "next_on": "2026-12-09"},
    "url_host": {"url": "https://a.example/1", "host": {"addresses": ["192.0.2.1"], "overseas": True,
                                                          "country": "US", "looked_up_at": "2026-12-01T10:00:00+09:00"}},
    "delete": {},
    "retire": {},
}


def test_every_type_has_an_example():
    assert set(DATA) == set(EVENT_TYPES)
    assert TARGETS == ("site", "host", "registrar", "search", "platform", "police")
    assert METHODS == ("form", "email", "post")
    assert URL_STATES == ("not_asked", "asked", "removed", "refused", "no_answer")


@pytest.mark.parametrize("type", EVENT_TYPES)
def test_each_type_goes_to_bytes_and_back(type):
    event = new_event(REF, type, DATA[type], author=AUTHOR, at=T0)
    raw = event.to_bytes()
    value = json.loads(raw)
    assert list(value) == sorted(value)
    assert value["format"] == 1 and value["at"] == "2026-12-01T10:00:00.123456+09:00"
    assert b" " not in raw.replace(b"Example Hosting", b"") or type == "note"
    back = Event.from_bytes(raw)
    assert back == event and back.to_bytes() == raw


def test_new_event_fills_id_and_time_and_makes_urls_canonical():
    one = new_event(REF, "url_next", {"url": "  HTTPS://Example.COM/a/../b  ", "next_on": date(2026, 12, 9)},
                    author=AUTHOR)
    two = new_event(REF, "note", {"text": "x"}, author=AUTHOR)
    assert one.id != two.id and len(one.id) == 32
    assert one.data == {"url": "https://example.com/b", "next_on": "2026-12-09"}
    assert one.at.utcoffset() == timedelta(hours=9)
    assert abs(datetime.now(timezone.utc) - one.at) < timedelta(minutes=1)


def test_canonical_url():
    assert canonical_url("https://EXAMPLE.com:443/x/./y?q#f") == "https://example.com/x/y?q#f"
    assert canonical_url("https://例え.jp/パス") == "https://xn--r8jz45g.jp/%E3%83%91%E3%82%B9"
    assert canonical_url("  example.com/x ") == "example.com/x"  # not a URL: as typed, stripped
    assert canonical_url("\ud800") == "\ufffd"


def test_order_is_time_in_utc_then_author_then_id():
    early = new_event(REF, "note", {"text": "a"}, author=OTHER, at=T0.astimezone(timezone.utc))
    late_same_moment = new_event(REF, "note", {"text": "b"}, author=AUTHOR, at=T0 + timedelta(microseconds=1))
    tie_a = new_event(REF, "note", {"text": "c"}, author=AUTHOR, at=T0)
    tie_b = new_event(REF, "note", {"text": "d"}, author=OTHER, at=T0.astimezone(timezone(timedelta(hours=-5))))
    assert sorted([late_same_moment, tie_b, early, tie_a], key=Event.order)[-1] is late_same_moment
    assert tie_a.order() < tie_b.order()  # same moment: the author's fingerprint decides
    assert tie_b.order()[0] == early.order()[0]
    assert sorted(e.sort_key for e in (late_same_moment, tie_b, tie_a)) == [
        e.sort_key for e in sorted((late_same_moment, tie_b, tie_a), key=Event.order)]


def test_phone_references_old_and_new_are_cases():
    for ref in ("TEL-20261201-001", "TEL-20261201-002-1234", "SL-ABCD-2345"):
        assert new_event(ref, "status", {"status": "closed"}, author=AUTHOR).case == ref
    for ref in ("TEL-20261301-001", "TEL-20261201-1", "TEL-20261201-001-abcd", "SL-ABCD-2341", "sl-abcd-2345"):
        with pytest.raises(BadEvent, match="case"):
            new_event(ref, "status", {"status": "closed"}, author=AUTHOR)


def _raw(**changes) -> bytes:
    value = new_event(REF, "request", DATA["request"], author=AUTHOR, at=T0).to_json()
    for name, item in changes.items():
        if name.startswith("data_"):
            value["data"][name[5:]] = item
        elif item is ...:
            del value[name]
        else:
            value[name] = item
    return json.dumps(value).encode()


@pytest.mark.parametrize("raw, field", [
    (b"\xff", "UTF-8"),
    (b"[1]", "object"),
    (b"{", "JSON"),
    (_raw(format=2), "format"),
    (_raw(format=True), "format"),
    (_raw(format=...), "format"),
    (_raw(id="A" * 32), "id"),
    (_raw(id="a" * 31), "id"),
    (_raw(at="2026-12-01T10:00:00+09:00"), "at"),
    (_raw(at="2026-02-30T10:00:00.000000+09:00"), "at"),
    (_raw(at="2026-12-01T10:00:00.000000"), "at"),
    (_raw(author="a" * 40), "author"),
    (_raw(author=...), "author"),
    (_raw(case="SL-0000-0000"), "case"),
    (_raw(type="rename"), "type"),
    (_raw(type=None), "type"),
    (_raw(data=[]), "data"),
    (_raw(extra=1), "does not know"),
    (_raw(data_target="mayor"), "data.target"),
    (_raw(data_method="fax"), "data.method"),
    (_raw(data_sent_on="2026-13-01"), "data.sent_on"),
    (_raw(data_sent_on="20261201"), "data.sent_on"),
    (_raw(data_next_on=None), "data.next_on"),
    (_raw(data_ticket=5), "data.ticket"),
    (_raw(data_ticket="x" * 301), "data.ticket"),
    (_raw(data_url=""), "data.url"),
    (_raw(data_url="x" * 9000), "data.url"),
    (_raw(data_more="x"), "does not know"),
    (_raw(data_url="\ud800"), "data.url"),
    (b'{"format":1,"format":1}', "twice"),
    (b'{"format":NaN}', "number"),
    (b" " * 300_000, "larger"),
])
def test_from_bytes_refuses_what_is_not_an_event_naming_the_field_never_the_value(raw, field):
    with pytest.raises(BadEvent, match=field) as caught:
        Event.from_bytes(raw)
    assert isinstance(caught.value, StaffError)
    for value in ("mayor", "fax", "xxxx", "Example Hosting", "rename"):
        assert value not in str(caught.value)


@pytest.mark.parametrize("type, data, field", [
    ("status", {"status": "done"}, "data.status"),
    ("status", {}, "lacks"),
    ("assign", {"to": "abc"}, "data.to"),
    ("note", {"text": "  "}, "data.text"),
    ("note", {"text": "x" * 20_001}, "data.text"),
    ("url_state", {**DATA["url_state"], "state": "gone"}, "data.state"),
    ("url_state", {**DATA["url_state"], "on": None}, "data.on"),
    ("url_host", {"url": "https://a/", "host": {"overseas": "yes"}}, "overseas"),
    ("url_host", {"url": "https://a/", "host": {"x": {"nested": 1}}}, "data.host"),
    ("url_host", {"url": "https://a/", "host": {f"k{i}": 1 for i in range(41)}}, "data.host"),
    ("url_host", {"url": "https://a/", "host": {"big": 2**60}}, "range"),
    ("phone_case", {"fields": {**PHONE_FIELDS, "role": "friend"}}, "data.fields.role"),
    ("phone_case", {"fields": {**PHONE_FIELDS, "police_referral": 1}}, "data.fields.police_referral"),
    ("phone_case", {"fields": {**PHONE_FIELDS, "urls": [1]}}, "data.fields.urls"),
    ("phone_case", {"fields": {k: v for k, v in PHONE_FIELDS.items() if k != "where"}}, "lacks"),
    ("delete", {"why": "x"}, "does not know"),
])
def test_new_event_checks_as_reading_does(type, data, field):
    with pytest.raises(BadEvent, match=field):
        new_event(REF, type, data, author=AUTHOR, at=T0)
    value = {"format": 1, "id": "0" * 32, "at": T0.isoformat(timespec="microseconds"), "author": AUTHOR,
             "case": REF, "type": type, "data": data}
    with pytest.raises(BadEvent, match=field):
        Event.from_bytes(json.dumps(value).encode())


def test_new_event_refuses_a_time_without_offset_or_an_odd_offset():
    with pytest.raises(BadEvent, match="at"):
        new_event(REF, "note", {"text": "x"}, author=AUTHOR, at=datetime(2026, 12, 1))
    with pytest.raises(BadEvent, match="at"):
        new_event(REF, "note", {"text": "x"}, author=AUTHOR,
                  at=datetime(2026, 12, 1, tzinfo=timezone(timedelta(hours=9, seconds=30))))


@settings(max_examples=200, deadline=None)
@given(text=st.text(min_size=1, max_size=200).filter(str.strip),
       at=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1),
                       timezones=st.sampled_from([JAPAN, timezone.utc, timezone(timedelta(hours=-7, minutes=-30))])))
def test_any_note_goes_to_bytes_and_back(text, at):
    event = new_event(REF, "note", {"text": text}, author=AUTHOR, at=at)
    back = Event.from_bytes(event.to_bytes())
    assert back == event and back.order() == event.order() and back.sort_key == event.sort_key


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_random_bytes_are_an_event_or_bad_never_anything_else(raw):
    try:
        Event.from_bytes(raw)
    except BadEvent:
        pass
