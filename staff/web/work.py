"""Removal work as pages show it: labels of the fixed values, dates read from forms, the
"who did what, when" of a case, the people a case can be given to, a confirmed host in words.

Nothing here answers a request; ``removal`` (the forms) and ``cases`` (the case's page) use it.
"""

from __future__ import annotations

import re
from datetime import date, datetime

from staff.events import METHODS, TARGETS, URL_STATES
from staff.store import JAPAN
from staff.translations import N_

from .access import member_name, short_fingerprint, team, who  # noqa: F401 (used by the views)

TARGET_LABELS = {"site": N_("The site's operator"), "host": N_("The hosting provider"),
                 "registrar": N_("The domain's registrar"), "search": N_("A search engine"),
                 "platform": N_("A platform's report form"), "police": N_("The police")}
METHOD_LABELS = {"form": N_("Web form"), "email": N_("E-mail"), "post": N_("Post")}
URL_STATE_LABELS = {"not_asked": N_("Not asked yet"), "asked": N_("Request sent"), "removed": N_("Removed"),
                    "refused": N_("Refused"), "no_answer": N_("No answer")}
WHERE_LABELS = {True: N_("Overseas"), False: N_("In Japan"), None: N_("Where: unknown")}
assert set(TARGET_LABELS) == set(TARGETS) and set(METHOD_LABELS) == set(METHODS)
assert set(URL_STATE_LABELS) == set(URL_STATES)

# Dates a form may carry: a request sent in 1970 or a check in 3000 is a typing mistake, and a
# year past 9999 would overflow when the recheck days are added.
FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2099, 12, 31)
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
MAX_NAME = 200
MAX_TICKET = 200
MAX_REASON = 2000


def today() -> date:
    return datetime.now(JAPAN).date()


def read_date(text: str | None) -> date | None:
    """A ``YYYY-MM-DD`` date between 2000 and 2099, or None when it is not one."""
    text = (text or "").strip()
    if not _DATE.fullmatch(text):
        return None
    try:
        day = date.fromisoformat(text)
    except ValueError:
        return None
    return day if FIRST_DAY <= day <= LAST_DAY else None


def people(store) -> list[tuple[str, str]]:
    """Whom a case can be given to: (fingerprint, name), the kit's owner first, then each
    current member of the team (when ``staff_keys`` is set and readable)."""
    known = team()
    found: list[tuple[str, str]] = []
    if store.author:
        found.append((store.author, who(store.author, known)))
    for member in known or ():
        if member.fingerprint != store.author and member.current():
            found.append((member.fingerprint, member_name(member)))
    return found


def host_words(host) -> dict:
    """A confirmed host (``UrlState.host_info``, from any kit: read defensively) as the parts a
    page shows: holder, country, registrar, domain, overseas, abuse addresses, when."""
    if not isinstance(host, dict):
        return {}
    network = host.get("network") if isinstance(host.get("network"), dict) else {}
    registrar = host.get("registrar") if isinstance(host.get("registrar"), dict) else {}

    def text(value):
        return value if isinstance(value, str) and value else None

    addresses = host.get("addresses") if isinstance(host.get("addresses"), list) else []
    return {
        "holder": text(network.get("holder")), "country": text(network.get("country")),
        "network_name": text(network.get("name")), "network_abuse": text(network.get("abuse_email")),
        "registrar": text(registrar.get("name")), "registrar_abuse": text(registrar.get("abuse_email")),
        "domain": text(host.get("domain")),
        "addresses": [address for address in addresses if isinstance(address, str)][:16],
        "overseas": host.get("overseas") if host.get("overseas") in (True, False) else None,
        "looked_up_at": text(host.get("looked_up_at")),
    }


def author_name(store, fingerprint: str) -> str:
    return who(fingerprint) if fingerprint else ""


__all__ = ["FIRST_DAY", "team", "who", "LAST_DAY", "MAX_NAME", "MAX_REASON", "MAX_TICKET", "METHOD_LABELS", "TARGET_LABELS",
           "URL_STATE_LABELS", "WHERE_LABELS", "author_name", "host_words", "people", "read_date",
           "short_fingerprint", "today"]
