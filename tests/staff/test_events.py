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
                                                          "network": {"holder": "Example", "country": "US"},
                                                          "registrar": None, "asn": 64500, "score": 0.5,
                                                          "looked_up_at": "2026-12-01T10:00:00+09:00"}},
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
    ref = "TEL-20261201-001-1234" if type == "phone_case" else REF
    event = new_event(ref, type, DATA[type], author=AUTHOR, at=T0)
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


def test_a_phone_case_is_made_under_its_author_s_reference():
    fields = {"fields": PHONE_FIELDS}
    assert new_event("TEL-20261201-001-1234", "phone_case", fields, author=AUTHOR).case == "TEL-20261201-001-1234"
    for ref in ("TEL-20261201-001-BBBB", "TEL-20261201-001", REF):
        with pytest.raises(BadEvent, match="phone reference"):
            new_event(ref, "phone_case", fields, author=AUTHOR)
    value = new_event("TEL-20261201-001-1234", "phone_case", fields, author=AUTHOR, at=T0).to_json()
    for ref in ("TEL-20261201-001-BBBB", "TEL-20261201-001", REF):  # read, as well as made
        with pytest.raises(BadEvent, match="phone reference"):
            Event.from_bytes(json.dumps({**value, "case": ref}).encode())


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
    (_raw(format=0), "format"),
    (_raw(format=True), "format"),
    (_raw(format=1.0), "format"),
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
    ("url_host", {"url": "https://a/", "host": {"x": {"a": {"b": {"c": {"d": 1}}}}}}, "deep"),
    ("url_host", {"url": "https://a/", "host": {"x": [1] * 101}}, "list"),
    ("url_host", {"url": "https://a/", "host": {"x": "y" * 2001}}, "longer"),
    ("url_host", {"url": "https://a/", "host": {"x": ["y" * 1000] * 40}}, "larger"),
    ("url_host", {"url": "https://a/", "host": []}, "data.host"),
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
        new_event("TEL-20261201-001-1234" if type == "phone_case" else REF, type, data, author=AUTHOR, at=T0)
    value = {"format": 1, "id": "0" * 32, "at": T0.isoformat(timespec="microseconds"), "author": AUTHOR,
             "case": "TEL-20261201-001-1234" if type == "phone_case" else REF, "type": type, "data": data}
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


JSON_VALUES = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                                        max_size=3), max_leaves=8)


@settings(max_examples=300, deadline=None)
@given(type=st.sampled_from(EVENT_TYPES), where=st.sampled_from(("top", "data")), name=st.text(max_size=12),
       value=JSON_VALUES, pick=st.integers(0, 10))
def test_any_field_changed_to_anything_is_read_or_refused_as_bad(type, where, name, value, pick):
    ref = "TEL-20261201-001-1234" if type == "phone_case" else REF
    event = new_event(ref, type, DATA[type], author=AUTHOR, at=T0).to_json()
    target = event if where == "top" or not event["data"] else event["data"]
    names = sorted(target)
    target[names[pick % len(names)] if pick < 8 else name] = value
    try:
        Event.from_bytes(json.dumps(event).encode())
    except BadEvent:
        pass


# -- every limit at its edge: the last value taken, one more refused ----------------------------

def _host_of_size(size: int) -> dict:
    """A host object whose JSON (as the check measures it: UTF-8, json.dumps' spaces) is ``size`` bytes."""
    host = {"texts": ["y" * 1000] * 32 + [""]}
    host["texts"][-1] = "y" * (size - len(json.dumps(host, ensure_ascii=False).encode()))
    assert len(json.dumps(host, ensure_ascii=False).encode()) == size
    return host


def _taken(type: str, data: dict, ref: str = REF) -> Event:
    """``data`` made into an event and read back from its bytes: taken both ways."""
    event = new_event(ref, type, data, author=AUTHOR, at=T0)
    assert Event.from_bytes(event.to_bytes()) == event
    return event


def _refused(type: str, data: dict, field: str, ref: str = REF) -> None:
    with pytest.raises(BadEvent, match=field):
        new_event(ref, type, data, author=AUTHOR, at=T0)


@pytest.mark.parametrize("type, name, limit", [
    ("note", "text", 20_000), ("request", "url", 8_192), ("request", "target_name", 300),
    ("request", "ticket", 300), ("url_state", "reason", 2_000),
])
def test_each_text_field_takes_its_limit_and_refuses_one_character_more(type, name, limit):
    prefix = "https://a.example/" if name == "url" else ""
    at_limit = prefix + "x" * (limit - len(prefix))
    assert _taken(type, {**DATA[type], name: at_limit}).data[name] == at_limit
    _refused(type, {**DATA[type], name: at_limit + "x"}, f"data.{name} is longer than {limit}")


@pytest.mark.parametrize("name, limit", [("description", 20_000), ("where", 2_000), ("email", 320),
                                         ("contact_safety", 2_000)])
def test_each_phone_field_takes_its_limit_and_refuses_one_character_more(name, limit):
    ref = "TEL-20261201-001-1234"
    _taken("phone_case", {"fields": {**PHONE_FIELDS, name: "あ" * limit}}, ref)
    _refused("phone_case", {"fields": {**PHONE_FIELDS, name: "あ" * (limit + 1)}}, f"data.fields.{name}", ref)


def test_a_phone_case_takes_200_addresses_and_refuses_201():
    ref = "TEL-20261201-001-1234"
    urls = [f"https://a.example/{n}" for n in range(201)]
    _taken("phone_case", {"fields": {**PHONE_FIELDS, "urls": urls[:200]}}, ref)
    _refused("phone_case", {"fields": {**PHONE_FIELDS, "urls": urls}}, "at most 200", ref)
    _refused("phone_case", {"fields": {**PHONE_FIELDS, "urls": "https://a.example/"}}, "data.fields.urls", ref)


def test_a_host_at_each_limit_is_taken_and_one_more_is_refused():
    url = "https://a.example/1"
    edges = [  # (taken, refused, what the refusal names)
        ({f"k{i}": 1 for i in range(40)}, {f"k{i}": 1 for i in range(41)}, "more than 40 fields"),
        ({"x": {f"k{i}": 1 for i in range(40)}}, {"x": {f"k{i}": 1 for i in range(41)}}, "more than 40 fields"),
        ({"x": [1] * 100}, {"x": [1] * 101}, "more than 100 items"),
        # measured in UTF-8 (3 bytes a character here), not in JSON's \\u escapes (6)
        ({"texts": ["あ" * 2_000] * 5}, {"texts": ["あ" * 2_000] * 6}, "larger than 32768 bytes"),
        ({"x": "y" * 2_000}, {"x": "y" * 2_001}, "longer than 2000"),
        ({"k" * 64: 1}, {"k" * 65: 1}, "field name"),
        ({"x": {"a": {"b": {"c": 1}}}}, {"x": {"a": {"b": {"c": {}}}}}, "nested more than 4 deep"),
        ({"x": [[[1]]]}, {"x": [[[[]]]]}, "nested more than 4 deep"),
        ({"big": 2**53}, {"big": 2**53 + 1}, "out of range"),
        ({"big": -(2**53)}, {"big": -(2**53) - 1}, "out of range"),
        (_host_of_size(32 * 1024), _host_of_size(32 * 1024 + 1), "larger than 32768 bytes"),
    ]
    for taken, refused, words in edges:
        assert _taken("url_host", {"url": url, "host": taken}).data["host"] == taken
        _refused("url_host", {"url": url, "host": refused}, words)
    for odd in (float("nan"), float("inf"), float("-inf")):
        _refused("url_host", {"url": url, "host": {"score": odd}}, "out of range")
    _refused("url_host", {"url": url, "host": {"x": {1, 2}}}, "JSON does not")
    _refused("url_host", {"url": url, "host": {"": 1}}, "field name")
    for overseas in (True, False, None):
        _taken("url_host", {"url": url, "host": {"overseas": overseas}})


def test_an_event_of_256_kib_is_read_and_one_byte_more_is_refused():
    raw = new_event(REF, "note", {"text": "x"}, author=AUTHOR, at=T0).to_bytes()
    assert Event.from_bytes(raw.ljust(256 * 1024, b" ")).data == {"text": "x"}  # JSON allows the spaces
    assert Event.from_bytes(bytearray(raw)).data == {"text": "x"}
    with pytest.raises(BadEvent, match="larger than 262144 bytes"):
        Event.from_bytes(raw.ljust(256 * 1024 + 1, b" "))
    with pytest.raises(BadEvent, match="bytes"):
        Event.from_bytes(raw.decode())
    with pytest.raises(BadEvent, match="not JSON"):  # nested too deep for Python's parser
        Event.from_bytes(b"[" * 200_000)


def test_the_bytes_are_utf_8_not_escapes():
    raw = new_event(REF, "note", {"text": "メモ"}, author=AUTHOR, at=T0).to_bytes()
    assert '"text":"メモ"'.encode() in raw and b"\\u" not in raw


def test_what_is_not_text_or_a_time_is_refused_as_bad_never_converted():
    for type in ("request", "url_state", "url_next", "url_host"):
        with pytest.raises(BadEvent, match="data.url is not text"):
            new_event(REF, type, {**DATA[type], "url": 5}, author=AUTHOR, at=T0)
    for at in ("2026-12-01T10:00:00.000000+09:00", T0.date(), 1764550800):
        with pytest.raises(BadEvent, match="at is not a time with an offset"):
            new_event(REF, "note", {"text": "x"}, author=AUTHOR, at=at)


def test_any_offset_of_whole_minutes_under_a_day_is_a_time():
    for offset in (timedelta(hours=23, minutes=59), -timedelta(hours=23, minutes=59), timedelta(minutes=-1)):
        at = datetime(2026, 12, 1, 10, 0, tzinfo=timezone(offset))
        raw = new_event(REF, "note", {"text": "x"}, author=AUTHOR, at=at).to_bytes()
        assert Event.from_bytes(raw).at.utcoffset() == offset
    with pytest.raises(BadEvent, match="at is not a valid time"):
        Event.from_bytes(_raw(at="2026-12-01T10:00:00.000000+24:00"))
    # An offset Python would read as another one: the event would not be written back as signed.
    for odd in ("+09:60", "+08:99", "-00:00"):
        with pytest.raises(BadEvent, match=r"at is not a valid time \(its offset\)"):
            Event.from_bytes(_raw(at=f"2026-12-01T10:00:00.000000{odd}"))
    assert Event.from_bytes(_raw(at="2026-12-01T10:00:00.000000+00:00")).at.utcoffset() == timedelta(0)


def test_an_object_of_many_distinct_fields_has_no_field_twice():
    value = json.loads(_raw())
    value["data"].update({f"field{n}": n for n in range(300)})
    with pytest.raises(BadEvent, match="data has fields this kit does not know"):
        Event.from_bytes(json.dumps(value).encode())


def test_a_next_date_may_be_none_where_there_is_no_next_step():
    assert _taken("url_next", {"url": "https://a.example/1", "next_on": None}).data["next_on"] is None
    assert _taken("url_state", {**DATA["url_state"], "next_on": None}).data["next_on"] is None
    _refused("request", {**DATA["request"], "next_on": None}, "data.next_on")
    _refused("request", {**DATA["request"], "sent_on": None}, "data.sent_on")
