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
  ``TEL-YYYYMMDD-NNN-FFFF`` for a case made from a phone call (Japan date, numbered per day by
  the kit that made it, and the last four hex digits of its owner's key fingerprint; a case
  made before the team shared its history may still answer to ``TEL-YYYYMMDD-NNN``).
- ``origin``: ``"web"`` or ``"phone"``.
- ``received_at``: when the report was received (for a case whose report has not come yet,
  when its first addition was received; for a phone case, when it was made).
- ``role``: ``"self"`` (the person in the images) or ``"guardian"`` (of a child in them);
  ``null`` while the case's report is missing (an addition arrived first).
- ``urls_open``: how many of the case's addresses are not (yet) removed: whose ``state`` is
  not ``"removed"``.
- ``urls_all``: how many distinct addresses the case holds (report and additions).
- ``police_referral``: whether the reporter asked to be introduced to the police consultation
  desk of their prefecture (the form's "police" box; bool); ``null`` while the report is missing.
- ``status``: one of ``STATUSES``: ``"new"``, ``"in_progress"``, ``"waiting"``, ``"closed"``.
- ``last_activity``: the latest of its records' times and its events' (notes, status changes,
  requests, any change staff made, here or in a teammate's kit).

Case (``show --json``): every field of CaseSummary, and

- ``email``: the reporter's e-mail address (``""`` when none or while the report is missing).
  Read ``contact_safety`` and ``police_referral`` before using it.
- ``contact_safety``: how and when it is safe to contact the reporter, as they wrote it
  (``""`` when nothing was written).
- ``language``: the language of the reporter's form, ``"ja"`` or ``"en"`` (a reply should be
  in it).
- ``assignee``: the key fingerprint (upper-case hex) of the staff member the case is given to,
  or ``null``.
- ``records``: the report and its additions, in the order they were received; each
  ``{"kind", "received_at", "message_id", "fields"}``: ``kind`` is ``"report"`` or
  ``"addition"``, ``message_id`` the mail's Message-ID (``null`` for a phone case's record),
  ``fields`` the record's fields exactly as in the mail's JSON part (``safeline.record``:
  ``role``, ``email``, ``contact_safety``, ``urls``, ``where``, ``description``,
  ``police_referral``, ``consent``, ``language`` for a report; ``urls``, ``where``,
  ``description``, ``language`` for an addition). A phone case has one record of kind
  ``"report"`` with the fields staff typed (no ``consent``).
- ``urls``: the case's distinct addresses, in the order they were first received; each
  ``{"url", "host", "first_received_at", "state", "next_on"}``; ``url`` is canonical (as
  browsers parse it: ``staff.events.canonical_url``), ``host`` is the address's host name in
  lower case (``""`` when the address has none), ``state`` and ``next_on`` as in UrlState.
- ``notes``: staff's notes, oldest first; each ``{"at", "text", "author"}`` (``author``: the
  key fingerprint of who wrote it, ``null`` for none).
- ``history``: the case's statuses, oldest first, starting with ``"new"`` when the case was
  received; each ``{"at", "status", "author"}`` (``author`` ``null`` for that first one).

UrlState (``urls REFERENCE --json``, ``due --json``): one address, however many cases hold it:

- ``url``, ``host``: as in a case's ``urls``.
- ``state``: ``"not_asked"``, ``"asked"`` (a request went out), ``"removed"``, ``"refused"``
  or ``"no_answer"``; ``state_on``: the date (``YYYY-MM-DD``, Japan) it became so (a request's
  day for ``"asked"``), ``null`` while not asked; ``reason``: why, as staff wrote it (a refusal's
  reason), ``""`` when none.
- ``next_on``: the date of the next request or check, or ``null``.
- ``host_info``: who hosts it, as a staff member confirmed from a lookup (``staff.hosting``
  states its fields, among them ``overseas``), or ``null``.
- ``requests``: the removal requests sent for it, in the order they were made; each
  ``{"id", "at", "author", "target", "target_name", "method", "sent_on", "ticket", "case"}``:
  the event's id, when and by whom (key fingerprint) it was recorded, to whom (``target``:
  ``"site"``, ``"host"``, ``"registrar"``, ``"search"``, ``"platform"``, ``"police"``, and its
  name), how (``"form"``, ``"email"``, ``"post"``), the day it was sent, the target's ticket
  number (``""`` when none), the case it was recorded in.
- ``cases``: the references of the cases that hold it.
- ``first_received_at``: when any case first received it (``null`` when no case holds it).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import date, datetime
from typing import Any

STATUSES = ("new", "in_progress", "waiting", "closed")
# How each status reads in English (the web interface translates them with its catalogs).
STATUS_LABELS = {"new": "new", "in_progress": "in progress", "waiting": "waiting", "closed": "closed"}
ORIGINS = ("web", "phone")


def _iso(moment: datetime | date | None) -> str | None:
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
    state: str = "not_asked"
    next_on: date | None = None

    def to_json(self) -> dict[str, Any]:
        return {"url": self.url, "host": self.host, "first_received_at": _iso(self.first_received_at),
                "state": self.state, "next_on": _iso(self.next_on)}


@dataclass(frozen=True)
class Note:
    at: datetime
    text: str
    author: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"at": _iso(self.at), "text": self.text, "author": self.author}


@dataclass(frozen=True)
class StatusChange:
    at: datetime
    status: str
    author: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"at": _iso(self.at), "status": self.status, "author": self.author}


@dataclass(frozen=True)
class UrlRequest:
    """One removal request sent for an address (an event ``request``)."""

    id: str
    at: datetime
    author: str
    target: str
    target_name: str
    method: str
    sent_on: date
    ticket: str
    case: str

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "at": _iso(self.at), "author": self.author, "target": self.target,
                "target_name": self.target_name, "method": self.method, "sent_on": _iso(self.sent_on),
                "ticket": self.ticket, "case": self.case}


@dataclass(frozen=True)
class UrlState:
    """One address, however many cases hold it (its JSON form: this module's docstring)."""

    url: str
    host: str
    state: str
    state_on: date | None
    reason: str
    next_on: date | None
    host_info: dict[str, Any] | None
    requests: tuple[UrlRequest, ...]
    cases: tuple[str, ...]
    first_received_at: datetime | None

    def to_json(self) -> dict[str, Any]:
        return {"url": self.url, "host": self.host, "state": self.state, "state_on": _iso(self.state_on),
                "reason": self.reason, "next_on": _iso(self.next_on), "host_info": self.host_info,
                "requests": [request.to_json() for request in self.requests], "cases": list(self.cases),
                "first_received_at": _iso(self.first_received_at)}


@dataclass(frozen=True)
class Case(CaseSummary):
    """Everything about one case (its JSON form: this module's docstring)."""

    email: str = ""
    contact_safety: str = ""
    language: str = "ja"
    assignee: str | None = None
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
            "assignee": self.assignee,
            "records": [record.to_json() for record in self.records],
            "urls": [url.to_json() for url in self.urls],
            "notes": [note.to_json() for note in self.notes],
            "history": [change.to_json() for change in self.history],
        }
