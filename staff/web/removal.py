"""Removal work on a case's page: who has the case, a request sent for an address, what became
of it, when to look again; the addresses due today; who hosts an address (a lookup a staff
member asks for, which contacts the internet).

Every form names the address it is about by its canonical form (``UrlState.url``), one of the
case's: any other is a field error, as a date that is not one (``YYYY-MM-DD``, 2000–2099) or a
value no form offers. Each change is the store's (an event of the kit's owner, shared with the
team by the next sync). A form with errors shows the case again with the error summary at
the top and each message by its field (422).

The host lookup runs while the page waits (at most some tens of seconds: DNS and a few RDAP
queries, each with ``staff.rdap.TIMEOUT``); its result is a suggestion, kept in this process
only (``Suggestions``, a few at most) until the staff member saves it (``store.set_url_host``)
or discards it.
"""

from __future__ import annotations

import secrets
import threading
from collections import OrderedDict

from flask import Blueprint, current_app, redirect, render_template, request

from staff import hosting
from staff.events import METHODS, TARGETS, URL_STATES
from staff.problems import StaffError

from .access import config, home, store
from .cases import case_or_404, render_case
from .errors import error_page
from .i18n import _, link
from .work import MAX_NAME, MAX_REASON, MAX_TICKET, read_date, today

bp = Blueprint("removal", __name__)

KEPT_SUGGESTIONS = 20


def _case_url(case, field: str, errors: dict) -> str | None:
    """The address the form names, if it is one of the case's."""
    url = request.form.get("url", "")
    if url not in {state.url for state in store().urls_of(case.reference)}:
        errors[field] = [_("Choose one of the case's addresses.")]
        return None
    return url


def _back(case, anchor: str):
    return redirect(link("cases.case_page", reference=case.reference) + anchor, 303)


def _text(name: str, limit: int, field: str, errors: dict, *, required: bool = False, missing: str = "") -> str:
    value = " ".join(request.form.get(name, "").split())
    if required and not value:
        errors[field] = [missing]
    elif len(value) > limit:
        errors[field] = [_("This is too long: use at most %(count)s characters.") % {"count": limit}]
    return value


@bp.post("/case/<reference>/assign")
def assign(reference):
    case = case_or_404(reference)
    value = request.form.get("to", "")
    if value == "me":
        value = store().author or ""
    # The team's current members, or whoever has the case now (a former member keeps it
    # until someone else takes it: the form sends their fingerprint back unchanged).
    allowed = {fingerprint for fingerprint, _name in _people()} | {"", case.assignee or ""}
    if value not in allowed:
        return render_case(case, errors={"assign-to": [_("Choose a member of the team, or nobody.")]},
                           values={"assign-to": value}, status=422)
    store().assign(case.reference, value or None)
    return _back(case, "#assign")


def _people():
    from .work import people

    return people(store())


@bp.post("/case/<reference>/request")
def add_request(reference):
    case = case_or_404(reference)
    errors: dict[str, list[str]] = {}
    url = _case_url(case, "request-url", errors)
    target = request.form.get("target", "")
    if target not in TARGETS:
        errors["request-target"] = [_("Choose to whom the request went.")]
    name = _text("target_name", MAX_NAME, "request-name", errors, required=True,
                 missing=_("Write to whom it went: the site's or the company's name."))
    method = request.form.get("method", "")
    if method not in METHODS:
        errors["request-method"] = [_("Choose how it was sent.")]
    sent_on = read_date(request.form.get("sent_on"))
    if sent_on is None:
        errors["request-sent"] = [_("Give the day it was sent as a date, for example 2026-12-01.")]
    elif sent_on > today():
        errors["request-sent"] = [_("The day it was sent cannot be after today.")]
    ticket = _text("ticket", MAX_TICKET, "request-ticket", errors)
    if errors:
        return render_case(case, errors=errors, values={f"request-{key}": value for key, value in request.form.items()},
                           status=422)
    store().add_request(case.reference, url, target=target, target_name=name, method=method, sent_on=sent_on,
                        ticket=ticket, recheck_days=config().recheck_days)
    return _back(case, "#removal")


@bp.post("/case/<reference>/state")
def set_state(reference):
    case = case_or_404(reference)
    errors: dict[str, list[str]] = {}
    url = _case_url(case, "state-url", errors)
    state = request.form.get("state", "")
    if state not in URL_STATES:
        errors["state-state"] = [_("Choose what became of the address.")]
    on = read_date(request.form.get("on"))
    if on is None:
        errors["state-on"] = [_("Give the day as a date, for example 2026-12-01.")]
    reason = _text("reason", MAX_REASON, "state-reason", errors)
    next_text = request.form.get("next_on", "").strip()
    next_on = read_date(next_text) if next_text else None
    if next_text and next_on is None:
        errors["state-next"] = [_("Give the next date as a date, for example 2026-12-08, or leave it empty.")]
    if errors:
        return render_case(case, errors=errors, values={f"state-{key}": value for key, value in request.form.items()},
                           status=422)
    store().set_url_state(case.reference, url, state, on=on, reason=reason, next_on=next_on)
    return _back(case, "#removal")


@bp.post("/case/<reference>/next")
def set_next(reference):
    case = case_or_404(reference)
    errors: dict[str, list[str]] = {}
    url = _case_url(case, "next-url", errors)
    next_text = request.form.get("next_on", "").strip()
    next_on = read_date(next_text) if next_text else None
    if next_text and next_on is None:
        errors["next-date"] = [_("Give the next date as a date, for example 2026-12-08, or leave it empty "
                                 "for no date.")]
    if errors:
        return render_case(case, errors=errors, values={f"next-{key}": value for key, value in request.form.items()},
                           status=422)
    store().set_url_next(case.reference, url, next_on)
    return _back(case, "#removal")


# -- what is due ------------------------------------------------------------------------------

@bp.get("/due")
def due():
    on = today()
    states = store().due(on)
    cases = sorted({reference for state in states for reference in state.cases})
    return render_template("due.html", states=states, on=on, case_count=len(cases))


# -- who hosts an address ---------------------------------------------------------------------

class Suggestions:
    """Lookups not yet saved or discarded: a few, in this process only."""

    def __init__(self):
        self._lock = threading.Lock()
        self._kept: OrderedDict[str, tuple[str, str, hosting.Lookup]] = OrderedDict()

    def keep(self, reference: str, url: str, found) -> str:
        token = secrets.token_urlsafe(16)
        with self._lock:
            self._kept[token] = (reference, url, found)
            while len(self._kept) > KEPT_SUGGESTIONS:
                self._kept.popitem(last=False)
        return token

    def take(self, token: str, reference: str):
        with self._lock:
            kept = self._kept.get(token)
            if kept is None or kept[0] != reference:
                return None
            del self._kept[token]
            return kept


def suggestions() -> Suggestions:
    return current_app.extensions["staff_suggestions"]


@bp.post("/case/<reference>/lookup")
def lookup(reference):
    case = case_or_404(reference)
    errors: dict[str, list[str]] = {}
    url = _case_url(case, "lookup-url", errors)
    if errors:
        return render_case(case, errors=errors, status=422)
    folder = home()
    if folder is None:
        return error_page(409, _("The lookup needs the kit's folder: start the interface with safeline-staff serve."))
    try:
        found = hosting.lookup(url, folder)
    except StaffError as error:
        return render_template("lookup.html", case=case, url=url, found=None, problem=str(error)), 200
    token = suggestions().keep(case.reference, url, found)
    return render_template("lookup.html", case=case, url=url, found=found, token=token, problem=None)


def _taken(case):
    kept = suggestions().take(request.form.get("suggestion", ""), case.reference)
    if kept is None:
        return None, error_page(409, _("This suggestion is no longer kept (the interface keeps a few, until it "
                                       "stops): look the host up again."))
    return kept, None


@bp.post("/case/<reference>/lookup/save")
def save_lookup(reference):
    case = case_or_404(reference)
    kept, problem = _taken(case)
    if problem:
        return problem
    _reference, url, found = kept
    store().set_url_host(case.reference, url, found.host)
    return _back(case, "#removal")


@bp.post("/case/<reference>/lookup/discard")
def discard_lookup(reference):
    case = case_or_404(reference)
    suggestions().take(request.form.get("suggestion", ""), case.reference)
    return _back(case, "#removal")


def install(app) -> None:
    app.extensions["staff_suggestions"] = Suggestions()





@bp.app_context_processor
def due_today():
    """The menu's count of addresses due today (only on pages of a staff member who opened the
    link: never on the page that asks for it)."""
    from flask import g

    if not g.get("staff_in"):
        return {"due_count": None}
    try:
        return {"due_count": len(store().due(today()))}
    except Exception:  # noqa: BLE001 - the menu must not make an error page fail in its turn
        return {"due_count": None}
