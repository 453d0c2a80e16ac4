"""The case list, a case's page, and what staff do to a case: notes, status, deletion.

Report text is shown as text only: autoescaped, each value in an isolating element (so a
right-to-left override in one field cannot reorder the page around it), and URLs are NOT
made into links. Showing is safer than linking: a click on a staff computer would visit a
site that hosts the images (and tell it someone looked), so staff copy an address on purpose.
"""

from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template, request

from staff.problems import StaffError
from staff.store import STATUSES

from .access import config, store
from .errors import BadInput
from .i18n import _, link
from .text import REFERENCE

bp = Blueprint("cases", __name__)

PER_PAGE = 100
MAX_SEARCH = 200
MAX_NOTE = 20_000


def case_or_404(reference: str):
    if not REFERENCE.fullmatch(reference):
        abort(404)
    case = store().case(reference)
    if case is None:
        abort(404)
    return case


def _page_number() -> int:
    value = request.args.get("page", "1")
    if not (value.isascii() and value.isdigit()) or len(value) > 9 or int(value) < 1:
        raise BadInput(_("The page number must be a whole number from 1."))
    return int(value)


@bp.get("/")
def case_list():
    status = request.args.get("status", "")
    if status and status not in STATUSES:
        raise BadInput(_("There is no such status."))
    search = request.args.get("q", "").strip()
    if len(search) > MAX_SEARCH:
        raise BadInput(_("The search is too long: use at most %(count)s characters.") % {"count": MAX_SEARCH})
    page = _page_number()
    cases = store()
    # Every case has one of the statuses: the counts by status give the total too.
    counts = {name: cases.count(status=name, search=search or None) for name in STATUSES}
    counts_all = sum(counts.values())
    total = counts[status] if status else counts_all
    pages = max(1, -(-total // PER_PAGE))
    if page > pages:
        abort(404)
    found = cases.cases(status=status or None, search=search or None, limit=PER_PAGE, offset=(page - 1) * PER_PAGE)
    return render_template("list.html", cases=found, total=total, counts=counts, counts_all=counts_all,
                           status=status, search=search, page=page, pages=pages,
                           first=(page - 1) * PER_PAGE + 1, last=(page - 1) * PER_PAGE + len(found),
                           statuses=STATUSES)


def page_url(**changes) -> str:
    """The list with the current filters and ``changes`` (``page=2``, ``status="new"``)."""
    values = {"status": request.args.get("status", ""), "q": request.args.get("q", "").strip(),
              "page": request.args.get("page", "")}
    values.update({name: str(value) for name, value in changes.items()})
    return link("cases.case_list", **{name: value for name, value in values.items() if value and value != "1"})


@bp.app_context_processor
def helpers():
    return {"page_url": page_url}


# The case page's forms, in the page's order: the error summary lists problems in this order,
# each linking to its field's id.
CASE_FIELDS = ("assign-to", "lookup-url", "request-url", "request-target", "request-name", "request-method",
               "request-sent", "request-ticket", "state-url", "state-state", "state-on", "state-reason", "state-next",
               "next-url", "next-date", "note")


def render_case(case, *, errors=None, values=None, status=200):
    """The case's page; ``errors`` (field id → messages) and ``values`` (what a form sent back,
    ``form-name`` → value) when a form had problems."""
    from . import work

    cases = store()
    hosts = {entry.url: entry.host for entry in case.urls}
    known = work.team()
    return render_template("case.html", case=case, hosts=hosts, statuses=STATUSES, errors=errors or {},
                           values=values or {}, fields=CASE_FIELDS, states=cases.urls_of(case.reference),
                           events=cases.events(case.reference), people=work.people(cases),
                           who=lambda fingerprint: work.who(fingerprint, known), me=cases.author,
                           host_words=work.host_words, today=work.today(),
                           recheck_days=config().recheck_days), status


@bp.get("/case/<reference>")
def case_page(reference):
    return render_case(case_or_404(reference))


@bp.post("/case/<reference>/note")
def add_note(reference):
    case = case_or_404(reference)
    note = request.form.get("note", "").strip()
    if not note:
        return render_case(case, errors={"note": [_("Write the note before adding it.")]}, status=422)
    if len(note) > MAX_NOTE:
        return render_case(case, values={"note": note}, status=422, errors={
            "note": [_("The note is too long: use at most %(count)s characters.") % {"count": MAX_NOTE}]})
    store().add_note(case.reference, note)
    return redirect(link("cases.case_page", reference=case.reference) + "#notes", 303)


@bp.post("/case/<reference>/status")
def set_status(reference):
    case = case_or_404(reference)
    status = request.form.get("status", "")
    if status not in STATUSES:
        raise BadInput(_("There is no such status."))
    store().set_status(case.reference, status)
    return redirect(link("cases.case_page", reference=case.reference), 303)


@bp.get("/case/<reference>/delete")
def confirm_delete(reference):
    from . import mails

    return render_template("delete.html", case=case_or_404(reference), offer=mails.offer(config()))


def _later(config_now) -> dict:
    """What the page needs to say the command that cleans the mails later: how many cases
    ``safeline-staff retention`` would first offer for retiring, after how many days."""
    from . import work

    try:
        due = len(store().retirable(work.today(), config_now.retention_days))
    except StaffError:
        due = 0
    return {"due": due, "days": config_now.retention_days}


@bp.post("/case/<reference>/delete")
def delete(reference):
    """Delete the case (for good, first); then, when asked, look for its mails (staff.web.mails)."""
    from . import mails

    case = case_or_404(reference)
    leaving = store().leaving(case.reference, retire=False)
    store().delete(case.reference)
    found = None
    settings = config()
    if request.form.get("mails") == "look" and leaving is not None:
        found = mails.look(store(), settings, known=(*leaving.mails, *leaving.event_mails),
                           unknown_events=leaving.events_unknown)
    return render_template("deleted.html", reference=case.reference, found=found, offer=mails.offer(settings),
                           later=_later(settings))


@bp.post("/case/<reference>/mails")
def case_mails(reference):
    """A deleted case's mails: look for them again (``step=look``), or delete them
    (``step=delete``, the second confirmation). Its Message-IDs are known only by their HMACs
    now, with those of cases deleted or retired before: these are found (and deleted) with them."""
    from . import mails

    if not REFERENCE.fullmatch(reference):
        abort(404)
    if store().case(reference) is not None:
        # Not deleted (yet): its mails are not the clean-up's to find.
        return redirect(link("cases.confirm_delete", reference=reference), 303)
    step = request.form.get("step", "")
    if step not in ("look", "delete"):
        raise BadInput(_("There is no such step."))
    settings = config()
    found = mails.look(store(), settings, delete=step == "delete")
    template = "mails-deleted.html" if step == "delete" else "deleted.html"
    return render_template(template, reference=reference, found=found, offer=mails.offer(settings),
                           later=_later(settings))
