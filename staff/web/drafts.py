"""A removal request's draft for addresses of a case, and "I sent it".

The page asks to whom (``staff.drafts.DEFAULT_TARGETS``), in which language and about which
addresses (by default every address not yet removed; the language by default English when every
chosen address's confirmed host is overseas), then shows the subject and the body in read-only
fields to copy into a site's form, and the ``mailto:`` link ``staff.drafts`` makes (without the
body when the whole would be too long for mail clients: the page then says to paste it). The
kit sends nothing: "I sent it" records one request per address (``store.add_request``, due
again after ``recheck_days``), with the recipient's name, how it went, and their ticket.
"""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request

from staff import drafts
from staff.events import METHODS
from staff.problems import StaffError

from .access import config, home, store
from .cases import case_or_404
from .i18n import _, link
from .work import MAX_NAME, MAX_TICKET, host_words, read_date, today

bp = Blueprint("drafts", __name__)

FIELDS = ("draft-target", "draft-lang", "draft-urls", "draft-to", "sent-name", "sent-method", "sent-on", "sent-ticket")
MAX_TO = 254


def _folder():
    folder = home()
    return drafts.folder_of(folder) if folder is not None else None


def _suggested_to(states, target: str) -> str:
    """The abuse address a confirmed host gives for ``target`` (the first address's), or ""."""
    for state in states:
        words = host_words(state.host_info)
        found = words.get("network_abuse") if target == "host" else \
            words.get("registrar_abuse") if target == "registrar" else None
        if found:
            return found
    return ""


def _choices(case, args):
    """What the form asked for, and its errors: target, language, addresses, recipient."""
    states = store().urls_of(case.reference)
    by_url = {state.url: state for state in states}
    errors: dict[str, list[str]] = {}
    target = args.get("target", "")
    if target not in drafts.DEFAULT_TARGETS:
        errors["draft-target"] = [_("Choose to whom the request goes.")]
    lang = args.get("lang", "")
    if lang and lang not in drafts.LANGUAGES:
        errors["draft-lang"] = [_("Choose Japanese or English.")]
    urls = args.getlist("url")
    if not urls and "choose" not in args:  # a link to the page with a target: the default addresses
        urls = [state.url for state in states if state.state != "removed"] or [state.url for state in states]
    if any(url not in by_url for url in urls):
        errors["draft-urls"] = [_("Choose among the case's addresses.")]
    elif not urls:
        errors["draft-urls"] = [_("Choose at least one address.")]
    to = args.get("to", "").strip()
    if to and (len(to) > MAX_TO or to.count("@") != 1 or any(char.isspace() for char in to)
               or to.startswith("@") or to.endswith("@")):
        errors["draft-to"] = [_("Give an e-mail address like abuse@example.jp, or leave it empty.")]
    return states, by_url, target, lang, urls, to, errors


def _render(case, *, states, target="", lang="", urls=None, to="", draft=None, errors=None, values=None,
            problem=None, status=200):
    if urls is None:
        urls = [state.url for state in states if state.state != "removed"]
    return render_template("draft.html", case=case, states=states, target=target, draft_lang=lang, chosen=set(urls),
                           to=to, draft=draft, errors=errors or {}, values=values or {}, fields=FIELDS,
                           targets=drafts.DEFAULT_TARGETS, limit=drafts.MAILTO_LIMIT, problem=problem,
                           today=today(), recheck_days=config().recheck_days), status


@bp.get("/case/<reference>/draft")
def draft_page(reference):
    case = case_or_404(reference)
    if "target" not in request.args:
        return _render(case, states=store().urls_of(case.reference))
    states, by_url, target, lang, urls, to, errors = _choices(case, request.args)
    if errors:
        return _render(case, states=states, target=target, lang=lang, urls=urls, to=to, errors=errors, status=422)
    to = to or _suggested_to([by_url[url] for url in urls], target)
    try:
        draft = drafts.case_draft(store(), case.reference, target=target, language=lang or None, urls=urls, to=to,
                                  folder=_folder(), today=today(), recheck_days=config().recheck_days)
    except StaffError as error:  # a template staff broke: its file, its line, what to fix
        return _render(case, states=states, target=target, lang=lang, urls=urls, to=to, problem=str(error),
                       status=409)
    return _render(case, states=states, target=target, lang=draft.language, urls=urls, to=to, draft=draft)


@bp.post("/case/<reference>/draft/sent")
def record_sent(reference):
    case = case_or_404(reference)
    states, by_url, target, lang, urls, to, errors = _choices(case, request.form)
    if errors:  # the hidden fields: only a page of ours sends them, and only right
        return _render(case, states=states, target=target, lang=lang, urls=urls, to=to, errors=errors, status=422)
    name = " ".join(request.form.get("target_name", "").split())
    if not name:
        errors["sent-name"] = [_("Write to whom it went: the site's or the company's name.")]
    elif len(name) > MAX_NAME:
        errors["sent-name"] = [_("This is too long: use at most %(count)s characters.") % {"count": MAX_NAME}]
    method = request.form.get("method", "")
    if method not in METHODS:
        errors["sent-method"] = [_("Choose how it was sent.")]
    sent_on = read_date(request.form.get("sent_on"))
    if sent_on is None:
        errors["sent-on"] = [_("Give the day it was sent as a date, for example 2026-12-01.")]
    elif sent_on > today():
        errors["sent-on"] = [_("The day it was sent cannot be after today.")]
    ticket = " ".join(request.form.get("ticket", "").split())
    if len(ticket) > MAX_TICKET:
        errors["sent-ticket"] = [_("This is too long: use at most %(count)s characters.") % {"count": MAX_TICKET}]
    if errors:
        draft = None
        try:
            draft = drafts.case_draft(store(), case.reference, target=target, language=lang or None, urls=urls,
                                      to=to, folder=_folder(), today=today(), recheck_days=config().recheck_days)
        except StaffError:
            pass
        return _render(case, states=states, target=target, lang=lang, urls=urls, to=to, draft=draft, errors=errors,
                       values=dict(request.form.items()), status=422)
    recheck = config().recheck_days
    for url in urls:
        store().add_request(case.reference, url, target=target, target_name=name, method=method, sent_on=sent_on,
                            ticket=ticket, recheck_days=recheck)
    return redirect(link("cases.case_page", reference=case.reference) + "#removal", 303)
