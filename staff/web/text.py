"""How stored values are shown: times in Japan time, references, labels of fixed values.

Report text itself is never formatted here: templates show it as text (autoescaped, in an
isolating element), never as HTML and never as a link.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime, timedelta, timezone

from markupsafe import Markup, escape

from safeline import record
from staff.store import PHONE_PREFIX
from staff.translations import N_

# Japan keeps no daylight saving time: a fixed offset is exact, and needs no tz database.
JAPAN = timezone(timedelta(hours=9), "JST")
# A web report's reference (the relay's, safeline.record) or a phone case's (TEL-YYYYMMDD-NNN-FFFF,
# or TEL-YYYYMMDD-NNN from before the team shared its history).
REFERENCE = re.compile(rf"{record.REFERENCE.pattern}|{PHONE_PREFIX}-\d{{8}}-\d{{3,6}}(?:-[0-9A-F]{{4}})?")

STATUS_LABELS = {"new": N_("New"), "in_progress": N_("In progress"), "waiting": N_("Waiting"),
                 "closed": N_("Closed")}
ROLE_LABELS = {"self": N_("The person in the images"), "guardian": N_("A parent or guardian")}
ORIGIN_LABELS = {"web": N_("Report form"), "phone": N_("Phone call")}
KIND_LABELS = {"report": N_("Report"), "addition": N_("Addition")}
LANGUAGE_LABELS = {"ja": N_("Japanese"), "en": N_("English")}


def japan_time(value) -> str:
    """``2026-12-06 20:07`` in Japan time, from a datetime or an ISO 8601 string; "" for None."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return value
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(JAPAN).strftime("%Y-%m-%d %H:%M")


def iso(value) -> str:
    """The machine-readable form for ``<time datetime>``."""
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    return str(value or "")


def reveal(value) -> Markup:
    """An address (URL or host) as text, with every invisible format character (Unicode Cf:
    direction overrides and isolates, zero-width characters, BOM) shown as a visible
    ``U+XXXX`` mark instead. An address is read to be checked and copied: a right-to-left
    override could make ``…/‮moc.elgoog`` look like ``…/google.com``."""
    parts = []
    for char in str(value or ""):
        if unicodedata.category(char) == "Cf":
            parts.append(Markup(f'<span class="control">U+{ord(char):04X}</span>'))
        else:
            parts.append(escape(char))
    return Markup("").join(parts)
