"""Cases as the store gives them out: ``CaseSummary`` (a line of the case list) and ``Case``
(everything about one case), with their JSON forms.

A case is one report and all its additions (the mails that name its reference), or a case a
member of staff made from a phone call. The JSON forms below are what ``safeline-staff cases
--json`` and ``safeline-staff show REFERENCE --json`` print: an interface for scripts. Field
names are stable; fields are only ever added, never renamed, retyped or removed. A script
should ignore a field it does not know.

Times are ISO 8601 strings with their offset (Japan time, ``+09:00``, for what the relay and
the kit write), to the second or finer.

``cases --json`` prints one JSON object: ``{"cases": [CaseSummary…], "count": N}``, where
``count`` is the number of cases that match the filters (the list may show fewer: one page).

CaseSummary (one line of the case list):

- ``reference``: ``SL-XXXX-XXXX`` for a case from the web form (the relay's reference), or
  ``TEL-YYYYMMDD-NNN`` for a case made from a phone call (Japan date, numbered per day).
- ``origin``: ``"web"`` or ``"phone"``.
- ``received_at``: when the report was received (for a case whose report has not come yet,
  when its first addition was received; for a phone case, when it was made).
- ``role``: ``"self"`` (the person in the images) or ``"guardian"`` (of a child in them);
  ``null`` while the case's report is missing (an addition arrived first).
- ``urls_open``: how many of the case's addresses are still to be removed. In part 1 of the
  kit every address is open (``urls_open == urls_all``); removal per address comes later.
- ``urls_all``: how many distinct addresses the case holds (report and additions).
- ``police_referral``: whether the reporter asked to be introduced to the police consultation
  desk of their prefecture (the form's "police" box; bool); ``null`` while the report is missing.
- ``status``: one of ``STATUSES``: ``"new"``, ``"in_progress"``, ``"waiting"``, ``"closed"``.
- ``last_activity``: the latest of its records' times, its notes' and its status changes'.

Case (``show --json``): every field of CaseSummary, and

- ``email``: the reporter's e-mail address (``""`` when none or while the report is missing).
  Read ``contact_safety`` and ``police_referral`` before using it.
- ``contact_safety``: how and when it is safe to contact the reporter, as they wrote it
  (``""`` when nothing was written).
- ``language``: the language of the reporter's form, ``"ja"`` or ``"en"`` (a reply should be
  in it).
- ``records``: the report and its additions, in the order they were received; each
  ``{"kind", "received_at", "message_id", "fields"}``: ``kind`` is ``"report"`` or
  ``"addition"``, ``message_id`` the mail's Message-ID (``null`` for a phone case's record),
  ``fields`` the record's fields exactly as in the mail's JSON part (``safeline.record``:
  ``role``, ``email``, ``contact_safety``, ``urls``, ``where``, ``description``,
  ``police_referral``, ``consent``, ``language`` for a report; ``urls``, ``where``,
  ``description``, ``language`` for an addition). A phone case has one record of kind
  ``"report"`` with the fields staff typed (no ``consent``).
- ``urls``: the case's distinct addresses, in the order they were first received; each
  ``{"url", "host", "first_received_at"}``; ``host`` is the address's host name in lower
  case (``""`` when the address has none).
- ``notes``: staff's notes, oldest first; each ``{"at", "text"}``.
- ``history``: the case's statuses, oldest first, starting with ``"new"`` when the case was
  made; each ``{"at", "status"}``.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

STATUSES = ("new", "in_progress", "waiting", "closed")
# How each status reads in English (the web interface translates them with its catalogs).
STATUS_LABELS = {"new": "new", "in_progress": "in progress", "waiting": "waiting", "closed": "closed"}
ORIGINS = ("web", "phone")


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


@dataclass(frozen=True)
class CaseSummary:
    """One line of the case list (its JSON form: this module's docstring)."""

    reference: str
    origin: str
    received_at: datetime
    role: str | None
    urls_open: int
    urls_all: int
    police_referral: bool | None
    status: str
    last_activity: datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "reference": self.reference,
            "origin": self.origin,
            "received_at": _iso(self.received_at),
            "role": self.role,
            "urls_open": self.urls_open,
            "urls_all": self.urls_all,
            "police_referral": self.police_referral,
            "status": self.status,
            "last_activity": _iso(self.last_activity),
        }


@dataclass(frozen=True)
class CaseRecord:
    """A report or an addition as the mail brought it (or a phone case's record)."""

    kind: str
    received_at: datetime
    message_id: str | None
    fields: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "received_at": _iso(self.received_at), "message_id": self.message_id,
                "fields": self.fields}


@dataclass(frozen=True)
class CaseUrl:
    url: str
    host: str
    first_received_at: datetime

    def to_json(self) -> dict[str, Any]:
        return {"url": self.url, "host": self.host, "first_received_at": _iso(self.first_received_at)}


@dataclass(frozen=True)
class Note:
    at: datetime
    text: str

    def to_json(self) -> dict[str, Any]:
        return {"at": _iso(self.at), "text": self.text}


@dataclass(frozen=True)
class StatusChange:
    at: datetime
    status: str

    def to_json(self) -> dict[str, Any]:
        return {"at": _iso(self.at), "status": self.status}


@dataclass(frozen=True)
class Case(CaseSummary):
    """Everything about one case (its JSON form: this module's docstring)."""

    email: str = ""
    contact_safety: str = ""
    language: str = "ja"
    records: tuple[CaseRecord, ...] = ()
    urls: tuple[CaseUrl, ...] = ()
    notes: tuple[Note, ...] = ()
    history: tuple[StatusChange, ...] = ()

    @property
    def summary(self) -> CaseSummary:
        return CaseSummary(**{item.name: getattr(self, item.name) for item in fields(CaseSummary)})

    def to_json(self) -> dict[str, Any]:
        return {
            **super().to_json(),
            "email": self.email,
            "contact_safety": self.contact_safety,
            "language": self.language,
            "records": [record.to_json() for record in self.records],
            "urls": [url.to_json() for url in self.urls],
            "notes": [note.to_json() for note in self.notes],
            "history": [change.to_json() for change in self.history],
        }
