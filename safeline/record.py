"""The contract between the relay and the staff kit: the JSON part of a report's mail.

The relay writes it (``relay/seal.py``) inside the encrypted PGP/MIME entity; the staff kit
(``staff/``) reads it after decrypting. The mail is the only interface between the two, so
this module is the only code they share about reports. It imports nothing outside the
standard library, so the staff kit installs without the relay's dependencies.

A record is a JSON object:

- ``format``: 1. Fields are only ever added within a format, never renamed or retyped; a
  reader ignores a field it does not know. A new format number means a reader must refuse
  what it cannot read rather than guess.
- ``kind``: ``"report"``, or ``"addition"`` (more addresses or words for the report named by
  ``reference``, sent with its follow-up code).
- ``reference``: ``SL-XXXX-XXXX`` (``REFERENCE``).
- ``received_at``: ISO 8601 with its offset (Japan time), to the second.
- a report's ``role`` (``"self"`` or ``"guardian"``), ``email``, ``contact_safety``,
  ``urls`` (list of strings), ``where``, ``description``, ``police_referral`` (bool),
  ``consent`` (bool), ``language`` (``"ja"`` or ``"en"``: the form's language);
- an addition's ``urls``, ``where`` (added after the others: may be missing), ``description``,
  ``language``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

FORMAT = 1
KINDS = ("report", "addition")
ROLES = ("self", "guardian")
LANGUAGES = ("ja", "en")
# A reference number: SL- and two groups of four characters from REFERENCE_ALPHABET, which is
# Crockford-like (no 0/O, 1/I/L or U), so a number read out on the phone is not misheard.
REFERENCE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"
REFERENCE_LENGTH = 8
REFERENCE = re.compile(rf"SL-[{REFERENCE_ALPHABET}]{{4}}-[{REFERENCE_ALPHABET}]{{4}}")

# Each kind's fields with their JSON types; a field missing from OPTIONAL is required.
_STR, _BOOL, _LIST = str, bool, list
FIELDS = {
    "report": {"role": _STR, "email": _STR, "contact_safety": _STR, "urls": _LIST, "where": _STR,
               "description": _STR, "police_referral": _BOOL, "consent": _BOOL, "language": _STR},
    "addition": {"urls": _LIST, "where": _STR, "description": _STR, "language": _STR},
}
OPTIONAL = {"addition": {"where": ""}}


class NotARecord(ValueError):
    """The data is not a relay record this reader can take; ``reason`` says which way:
    ``"not json"``, ``"unknown format"`` or ``"malformed"``. The message names a field, never
    a value from the data, so that it may be printed or logged."""

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


@dataclass(frozen=True)
class Record:
    """One report or addition as the relay sent it: ``fields`` holds the kind's fields (and
    any later ones this reader does not know, kept as they came)."""

    kind: str
    reference: str
    received_at: datetime
    fields: dict[str, Any] = field(default_factory=dict)

    @property
    def urls(self) -> list[str]:
        return list(self.fields.get("urls", []))


def parse(data: bytes | str) -> Record:
    """The record in ``data`` (the JSON part's bytes), or ``NotARecord``."""
    try:
        value = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        raise NotARecord("not json") from None
    if not isinstance(value, dict) or "format" not in value:
        raise NotARecord("malformed", "not a JSON object with a format")
    if type(value["format"]) is not int or value["format"] != FORMAT:
        raise NotARecord("unknown format", f"format is not {FORMAT}")
    kind = value.get("kind")
    if kind not in KINDS:
        raise NotARecord("malformed", "kind is not one of " + ", ".join(KINDS))
    reference = value.get("reference")
    if not isinstance(reference, str) or not REFERENCE.fullmatch(reference):
        raise NotARecord("malformed", "reference")
    try:
        received_at = datetime.fromisoformat(value.get("received_at"))
    except (TypeError, ValueError):
        raise NotARecord("malformed", "received_at") from None
    if received_at.utcoffset() is None:
        raise NotARecord("malformed", "received_at without an offset")
    fields = {name: item for name, item in value.items() if name not in ("format", "kind", "reference", "received_at")}
    for name, default in OPTIONAL.get(kind, {}).items():
        fields.setdefault(name, default)
    for name, kind_of in FIELDS[kind].items():
        # bool is a subclass of int, not of str or list, so isinstance is exact for these types.
        if not isinstance(fields.get(name), kind_of):
            raise NotARecord("malformed", f"{name} is not {kind_of.__name__}")
    if not all(isinstance(url, str) for url in fields["urls"]):
        raise NotARecord("malformed", "urls holds something other than text")
    if kind == "report" and fields["role"] not in ROLES:
        raise NotARecord("malformed", "role")
    return Record(kind=kind, reference=reference, received_at=received_at, fields=fields)
