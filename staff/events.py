"""Events: every change staff make to a case, as the team shares it.

The store applies events; a kit's state is a pure function of the mail records it imported and
the set of events it holds, whatever the order they came in (``staff.store`` says how they
merge). An event travels signed and encrypted (``staff.sync``); here is only what it is and its
bytes.

An event's bytes are canonical JSON in UTF-8 (keys sorted, no spaces), one object::

    {"format": 1, "id": HEX32, "at": ISO, "author": FINGERPRINT, "case": REFERENCE,
     "type": TYPE, "data": {...}}

- ``id``: 32 lower-case hex digits (``uuid4().hex``), unique;
- ``at``: when the author made the change, by their clock: ISO 8601 with its offset and
  microseconds (``2026-12-01T10:00:00.000000+09:00``);
- ``author``: the author's primary key fingerprint, upper-case hex (40 or 64 digits);
- ``case``: ``SL-XXXX-XXXX``, or a phone case's ``TEL-YYYYMMDD-NNN-FFFF`` (part 1's
  ``TEL-YYYYMMDD-NNN`` stays valid); a ``phone_case`` event's is ``TEL-YYYYMMDD-NNN-FFFF``
  with FFFF the last four digits of its author's fingerprint;
- ``type``: one of ``EVENT_TYPES``; ``data``: that type's fields (``_DATA`` below), every one
  present, none other.

Reading is strict (``Event.from_bytes``): an unknown format or type, a field missing, unknown,
of the wrong type or too long, a date or time that is not one: ``BadEvent``, whose message
names the field, never a value. A later change of fields means a new format number, which a
kit that cannot read it refuses rather than half-applies. The merge order of events is
``Event.order()``: (time in UTC, author, id).
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any

from safeline.record import LANGUAGES, REFERENCE, ROLES

from .cases import STATUSES
from .problems import StaffError

__all__ = ["EVENT_FORMAT", "EVENT_TYPES", "TARGETS", "METHODS", "URL_STATES", "Event", "BadEvent", "new_event",
           "canonical_url", "MAX_EVENT_BYTES", "PHONE_REFERENCE", "FINGERPRINT"]

EVENT_FORMAT = 1
EVENT_TYPES = ("phone_case", "status", "assign", "note", "request", "url_state", "url_next",
               "url_host", "delete", "retire")
TARGETS = ("site", "host", "registrar", "search", "platform", "police")  # to whom a request goes
METHODS = ("form", "email", "post")  # how
URL_STATES = ("not_asked", "asked", "removed", "refused", "no_answer")

JAPAN = timezone(timedelta(hours=9), "JST")
MAX_EVENT_BYTES = 256 * 1024
# Text limits, in characters: generous for what staff type, bounded for what a forged or broken
# event could carry.
MAX_NOTE = 20_000
MAX_URL = 8_192
MAX_NAME = 300  # a target's name, a ticket number
MAX_REASON = 2_000
MAX_PHONE = {"description": 20_000, "where": 2_000, "email": 320, "contact_safety": 2_000}
MAX_PHONE_URLS = 200
MAX_HOST_KEYS = 40
MAX_HOST_TEXT = 2_000
MAX_HOST_LIST = 100
MAX_HOST_DEPTH = 4
MAX_HOST_BYTES = 32 * 1024

EVENT_ID = re.compile(r"[0-9a-f]{32}")
FINGERPRINT = re.compile(r"[0-9A-F]{40}|[0-9A-F]{64}")
# A phone case: TEL, its Japan date, the kit's number for that day, the last 4 hex digits of the
# author's fingerprint (absent in part 1's references).
PHONE_REFERENCE = re.compile(r"TEL-(\d{8})-(\d{3,4})(-[0-9A-F]{4})?")
_AT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}[+-]\d{2}:\d{2}")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_SURROGATE = re.compile("[\ud800-\udfff]")


class BadEvent(StaffError):
    """An event's bytes or fields are not an event this kit takes; the message names what."""


# -- canonical URLs ----------------------------------------------------------------------------

def canonical_url(text: str) -> str:
    """``text`` as browsers parse it (WHATWG, ada-url's ``href``: scheme and host in lower case,
    ``..`` resolved, non-ASCII percent-encoded); text that does not parse as an absolute URL
    stays as it was typed, stripped."""
    from ada_url import URL

    text = _SURROGATE.sub("\ufffd", str(text)).strip()
    try:
        return URL(text).href
    except ValueError:
        return text


# -- fields ------------------------------------------------------------------------------------

def _text(value, name: str, limit: int, *, empty: bool = True) -> str:
    if not isinstance(value, str):
        raise BadEvent(f"event field {name} is not text")
    if len(value) > limit:
        raise BadEvent(f"event field {name} is longer than {limit} characters")
    if _SURROGATE.search(value):
        raise BadEvent(f"event field {name} holds a lone surrogate")
    if not empty and not value.strip():
        raise BadEvent(f"event field {name} is empty")
    return value


def _choice(value, name: str, choices: tuple) -> str:
    if not isinstance(value, str) or value not in choices:
        raise BadEvent(f"event field {name} is not one of {', '.join(choices)}")
    return value


def _day(value, name: str, *, null: bool = False) -> str | None:
    if value is None and null:
        return None
    if not isinstance(value, str) or not _DATE.fullmatch(value):
        raise BadEvent(f"event field {name} is not a date YYYY-MM-DD")
    try:
        date.fromisoformat(value)
    except ValueError:
        raise BadEvent(f"event field {name} is not a valid date") from None
    return value


def _bool(value, name: str) -> bool:
    if not isinstance(value, bool):
        raise BadEvent(f"event field {name} is not true or false")
    return value


def _url(value, name: str = "data.url") -> str:
    return _text(value, name, MAX_URL, empty=False)


def _phone_fields(value) -> dict:
    if not isinstance(value, dict):
        raise BadEvent("event field data.fields is not an object")
    expected = {"role", "email", "contact_safety", "urls", "where", "description", "police_referral", "language"}
    _keys(value, expected, "data.fields")
    _choice(value["role"], "data.fields.role", ROLES)
    _choice(value["language"], "data.fields.language", LANGUAGES)
    _bool(value["police_referral"], "data.fields.police_referral")
    for name, limit in MAX_PHONE.items():
        _text(value[name], f"data.fields.{name}", limit)
    urls = value["urls"]
    if not isinstance(urls, list) or len(urls) > MAX_PHONE_URLS:
        raise BadEvent(f"event field data.fields.urls is not a list of at most {MAX_PHONE_URLS} addresses")
    for url in urls:
        _url(url, "data.fields.urls")
    return value


def _host(value) -> dict:
    """What a staff member confirmed from a host lookup (``staff.hosting`` defines its fields):
    here only bounded: an object (fields nested at most MAX_HOST_DEPTH deep) of at most
    MAX_HOST_KEYS fields each, whose values are text, numbers, true, false, null, lists or
    objects; ``overseas`` true, false or null; MAX_HOST_BYTES in all."""
    if not isinstance(value, dict):
        raise BadEvent("event field data.host is not an object")

    def check(item, depth: int) -> None:
        if isinstance(item, str):
            _text(item, "data.host (a text)", MAX_HOST_TEXT)
        elif isinstance(item, bool) or item is None:
            pass
        elif isinstance(item, int):
            if abs(item) > 2**53:
                raise BadEvent("event field data.host (a number) is out of range")
        elif isinstance(item, float):
            if item != item or item in (float("inf"), float("-inf")):
                raise BadEvent("event field data.host (a number) is out of range")
        elif depth >= MAX_HOST_DEPTH:
            raise BadEvent(f"event field data.host is nested more than {MAX_HOST_DEPTH} deep")
        elif isinstance(item, list):
            if len(item) > MAX_HOST_LIST:
                raise BadEvent(f"event field data.host has a list of more than {MAX_HOST_LIST} items")
            for part in item:
                check(part, depth + 1)
        elif isinstance(item, dict):
            if len(item) > MAX_HOST_KEYS:
                raise BadEvent(f"event field data.host has an object of more than {MAX_HOST_KEYS} fields")
            for key, part in item.items():
                _text(key, "data.host (a field name)", 64, empty=False)
                check(part, depth + 1)
        else:
            raise BadEvent("event field data.host holds something JSON does not")

    check(value, 0)
    if "overseas" in value and value["overseas"] is not None and not isinstance(value["overseas"], bool):
        raise BadEvent("event field data.host.overseas is not true, false or null")
    if len(json.dumps(value, ensure_ascii=False).encode("utf-8")) > MAX_HOST_BYTES:
        raise BadEvent(f"event field data.host is larger than {MAX_HOST_BYTES} bytes")
    return value


def _keys(value: dict, expected: set, name: str) -> None:
    missing, unknown = expected - value.keys(), value.keys() - expected
    if missing:
        raise BadEvent(f"event field {name} lacks {', '.join(sorted(missing))}")
    if unknown:
        raise BadEvent(f"event field {name} has fields this kit does not know")


# Each type's data: field name → checker (value → value, or BadEvent).
_DATA = {
    "phone_case": {"fields": lambda v: _phone_fields(v)},
    "status": {"status": lambda v: _choice(v, "data.status", STATUSES)},
    "assign": {"to": lambda v: v if v is None else _fingerprint(v, "data.to")},
    "note": {"text": lambda v: _text(v, "data.text", MAX_NOTE, empty=False)},
    "request": {"url": _url, "target": lambda v: _choice(v, "data.target", TARGETS),
                "target_name": lambda v: _text(v, "data.target_name", MAX_NAME),
                "method": lambda v: _choice(v, "data.method", METHODS),
                "sent_on": lambda v: _day(v, "data.sent_on"),
                "ticket": lambda v: _text(v, "data.ticket", MAX_NAME),
                "next_on": lambda v: _day(v, "data.next_on")},
    "url_state": {"url": _url, "state": lambda v: _choice(v, "data.state", URL_STATES),
                  "on": lambda v: _day(v, "data.on"), "reason": lambda v: _text(v, "data.reason", MAX_REASON),
                  "next_on": lambda v: _day(v, "data.next_on", null=True)},
    "url_next": {"url": _url, "next_on": lambda v: _day(v, "data.next_on", null=True)},
    "url_host": {"url": _url, "host": _host},
    "delete": {},
    "retire": {},
}


def _fingerprint(value, name: str) -> str:
    if not isinstance(value, str) or not FINGERPRINT.fullmatch(value):
        raise BadEvent(f"event field {name} is not a key fingerprint (40 or 64 upper-case hex digits)")
    return value


def _reference(value) -> str:
    if not isinstance(value, str):
        raise BadEvent("event field case is not a case reference")
    if REFERENCE.fullmatch(value):
        return value
    phone = PHONE_REFERENCE.fullmatch(value)
    if phone is None:
        raise BadEvent("event field case is not a case reference")
    try:
        datetime.strptime(phone.group(1), "%Y%m%d")
    except ValueError:
        raise BadEvent("event field case is not a case reference (its date)") from None
    return value


def _at(value) -> datetime:
    if not isinstance(value, str) or not _AT.fullmatch(value):
        raise BadEvent("event field at is not a time YYYY-MM-DDTHH:MM:SS.ffffff+HH:MM")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise BadEvent("event field at is not a valid time") from None
    if abs(moment.utcoffset()) >= timedelta(hours=24):
        raise BadEvent("event field at has an offset out of range")
    if moment.isoformat(timespec="microseconds") != value:
        # Python reads +09:60 as +10:00 and -00:00 as +00:00: the event would then be written
        # back (and sorted) other than as its author signed it.
        raise BadEvent("event field at is not a valid time (its offset)")
    return moment


def _check(id: str, at: datetime, author: str, case: str, type: str, data) -> None:
    if not isinstance(id, str) or not EVENT_ID.fullmatch(id):
        raise BadEvent("event field id is not 32 lower-case hex digits")
    if not isinstance(at, datetime) or at.utcoffset() is None:
        raise BadEvent("event field at is not a time with an offset")
    _at(at.isoformat(timespec="microseconds"))  # an offset of whole minutes, under a day
    _fingerprint(author, "author")
    _reference(case)
    if not isinstance(type, str) or type not in _DATA:
        raise BadEvent("event field type is not a type this kit knows")
    if type == "phone_case":
        # A phone case's reference is its author's: TEL-YYYYMMDD-NNN-FFFF, FFFF their fingerprint's end.
        phone = PHONE_REFERENCE.fullmatch(case)
        if phone is None or phone.group(3) != "-" + author[-4:]:
            raise BadEvent("event field case is not a phone reference of the event's author")
    if not isinstance(data, dict):
        raise BadEvent("event field data is not an object")
    _keys(data, set(_DATA[type]), "data")
    for name, check in _DATA[type].items():
        check(data[name])


# -- the event ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Event:
    id: str  # 32 lower-case hex (uuid4().hex), unique
    at: datetime  # aware, microseconds: when the author made the change (their clock)
    author: str  # the author's primary key fingerprint, upper-case hex
    case: str  # the case's reference
    type: str  # one of EVENT_TYPES
    data: dict  # per type (see _DATA)

    __hash__ = None  # data is a dict: events are told apart by id

    def order(self) -> tuple:
        """The merge's total order: (time in UTC, author, id)."""
        return (self.at.astimezone(timezone.utc), self.author, self.id)

    @property
    def sort_key(self) -> str:
        """``order()`` as one sortable text (what the store keeps to compare in SQL)."""
        return f"{self.at.astimezone(timezone.utc).strftime('%Y-%m-%dT%H:%M:%S.%f')} {self.author} {self.id}"

    def to_json(self) -> dict[str, Any]:
        return {"format": EVENT_FORMAT, "id": self.id, "at": self.at.isoformat(timespec="microseconds"),
                "author": self.author, "case": self.case, "type": self.type, "data": self.data}

    def to_bytes(self) -> bytes:
        """Canonical JSON, UTF-8: keys sorted, no spaces."""
        return json.dumps(self.to_json(), ensure_ascii=False, sort_keys=True, separators=(",", ":"),
                          allow_nan=False).encode("utf-8")

    @classmethod
    def from_bytes(cls, raw: bytes) -> Event:
        """The event in ``raw``, checked field by field; ``BadEvent`` naming what is wrong."""
        if not isinstance(raw, (bytes, bytearray)):
            raise BadEvent("an event is bytes")
        if len(raw) > MAX_EVENT_BYTES:
            raise BadEvent(f"an event larger than {MAX_EVENT_BYTES} bytes")
        try:
            text = bytes(raw).decode("utf-8")
        except UnicodeDecodeError:
            raise BadEvent("an event that is not UTF-8") from None

        def pairs(items):
            keys = [key for key, _ in items]
            if len(set(keys)) != len(keys):
                raise BadEvent("an event with a field twice")
            return dict(items)

        def no_constant(name):
            raise BadEvent("an event with a number JSON does not have")

        try:
            value = json.loads(text, object_pairs_hook=pairs, parse_constant=no_constant)
        except (ValueError, RecursionError):
            raise BadEvent("an event that is not JSON") from None
        if not isinstance(value, dict):
            raise BadEvent("an event that is not a JSON object")
        if type(value.get("format")) is not int or value["format"] != EVENT_FORMAT:
            raise BadEvent(f"an event of a format this kit does not read (it reads format {EVENT_FORMAT})")
        _keys(value, {"format", "id", "at", "author", "case", "type", "data"}, "(the event)")
        event = cls(id=value["id"], at=_at(value["at"]), author=value["author"], case=value["case"],
                    type=value["type"], data=value["data"])
        _check(event.id, event.at, event.author, event.case, event.type, event.data)
        return event


def new_event(case: str, type: str, data: dict, *, author: str, at: datetime | None = None) -> Event:
    """A new event (fresh id), made by ``author`` at ``at`` (default: now, Japan time, with
    microseconds). ``data``'s ``url`` becomes canonical, dates (``datetime.date``) become
    ``YYYY-MM-DD``, lone surrogates in text become U+FFFD; then it is checked as
    ``from_bytes`` checks (``BadEvent``)."""
    if at is None:
        at = datetime.now(JAPAN)
    elif not isinstance(at, datetime) or at.utcoffset() is None:
        raise BadEvent("event field at is not a time with an offset")
    data = {name: _ready(value) for name, value in dict(data).items()}
    if type in ("request", "url_state", "url_next", "url_host") and isinstance(data.get("url"), str):
        data["url"] = canonical_url(data["url"])
    event = Event(id=uuid.uuid4().hex, at=at, author=author, case=case, type=type, data=data)
    _check(event.id, event.at, event.author, event.case, event.type, event.data)
    return event


def _ready(value):
    if isinstance(value, date) and not isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    if isinstance(value, dict):
        return {key: _ready(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_ready(item) for item in value]
    return value
