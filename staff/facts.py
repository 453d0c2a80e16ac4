"""What the statistics are made from: dates, kinds and counts, never text.

The store gives them out (``Store.facts()``), for live cases and for cases deleted by the
retention rule alike (which keep exactly these facts and nothing else); ``staff.stats`` counts
them. Nothing here names a person, an address or a host: an address is only "one address",
with when it was first reported, whether its host is abroad, when requests went out and
it came down, and how many cases hold it (and which of ``Facts.cases`` they are, by position:
a number that means nothing outside this ``Facts``). The statistics need that last link to
tell a group of 300 addresses from 300 reports from a group of 300 addresses from one
reporter (``staff.stats``: "Small numbers are not shown").

Dates are Japan dates (the hotline's working days), as ``datetime.date``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date


@dataclass(frozen=True)
class CaseFacts:
    """One case (a report from the web form or a phone call)."""

    received_on: date  # when its report (or, while that is missing, its first mail) came
    origin: str  # "web" or "phone"
    role: str | None  # "self" or "guardian"; None while the report is missing
    police_referral: bool | None  # the reporter asked to be introduced to the police
    urls: int  # how many distinct addresses the case holds


@dataclass(frozen=True)
class UrlFacts:
    """One distinct address, however many cases reported it."""

    reported_on: date  # the earliest receipt of it in any case
    overseas: bool | None  # its confirmed host is abroad (True), in Japan (False), or unknown
    requests_on: tuple[date, ...]  # the day each removal request was sent, oldest first
    # (requests to the police are not removal requests and are not among them)
    removed_on: date | None  # the day it was found removed, when that is its state
    cases: int = 1  # how many cases hold it (a case retired with it: 1, that case)
    # Which cases hold it: their positions in ``Facts.cases`` (``cases`` of them), or () when not
    # known (facts made by hand): then the statistics take it as a case of its own. A case
    # retired while another case still held the address is no longer linked to it (retention
    # keeps no link): ``cases`` and ``held_by`` count the cases that hold it now.
    held_by: tuple[int, ...] = field(default=())


@dataclass(frozen=True)
class Facts:
    cases: tuple[CaseFacts, ...]
    urls: tuple[UrlFacts, ...]
