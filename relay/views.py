"""The report form: GET shows it, POST checks it and hands it on; then a confirmation.

Paths: ``/report/`` (Japanese) and ``/en/report/`` (English), ``…/sent/`` for the
confirmation.  Whatever happens, the reporter gets the same form back with everything they
typed, and a message in their language that says what to do; never a traceback.  The
reference number reaches the confirmation page signed and short-lived; nothing that the
reporter typed ever goes into a URL.
"""

from __future__ import annotations

import logging
import time

from flask import Blueprint, current_app, g, redirect, request
from itsdangerous import BadSignature, URLSafeTimedSerializer

from .report import FIELDS, N_, validate
from .site import Page
from .token import PENDING, TokenProblem

log = logging.getLogger("relay.report")
bp = Blueprint("report", __name__)

LANGS = ("ja", "en")
HONEYPOT = "website"
NOTICES = {
    "invalid": N_("This form could not be checked. Please send it again: what you typed is still here."),
    "too_fast": N_("The form was sent very quickly after it opened. Please check what you typed and send it again."),
    "expired": N_("For your safety this form expires after two hours. What you typed is still here: please send it again."),
    "pending": N_("This report is already being sent. If you do not see a reference number in a moment, send it again."),
    "honeypot": N_("The form could not be sent. Please check what you typed and send it again."),
    "unavailable": N_("Your report could not be received just now, and nothing was sent. What you typed is still here: please try again in a few minutes."),
    "ratelimited": N_("Many reports have been sent from this connection. Please wait an hour and send again: what you typed is still here."),
    "already_sent": N_("This form was already sent, and that report arrived. To send another report, fill in the form again."),
}
ANCHORS = {"role": "role-self", "email": "email", "urls": "urls", "description": "description", "consent": "consent"}


def _prefix(lang: str) -> str:
    return "" if lang == "ja" else f"{lang}/"


def lang_of_path(path: str) -> str:
    return "en" if path.startswith("/en/") else "ja"


def page_for(lang: str, slug: str, title: str) -> Page:
    gettext = current_app.extensions["frame"].gettext
    other = "en" if lang == "ja" else "ja"
    page = Page(lang=lang, title=gettext(lang)(title), url=f"{_prefix(lang)}{slug}", slug=slug)
    page.translations = [Page(lang=other, title=gettext(other)(title), url=f"{_prefix(other)}{slug}", slug=slug)]
    return page


def render_form(lang: str, *, values=None, errors=None, notice=None, token=None, status=200):
    frame = current_app.extensions["frame"]
    gettext = frame.gettext(lang)
    rendered = {field: [problem.render(gettext) for problem in problems] for field, problems in (errors or {}).items()}
    html = frame.render(
        "report.html",
        page=page_for(lang, "report/", N_("Report form")),
        values=values or {},
        errors=rendered,
        anchors=ANCHORS,
        notice=gettext(NOTICES[notice]) if notice else None,
        token=token or current_app.extensions["tokens"].issue(),
    )
    return html, status


def form_values() -> dict[str, str]:
    """The first value of each field we know; anything else in the body is ignored."""
    return {name: request.form.get(name, "") for name in (*FIELDS, "token", HONEYPOT)}


@bp.get("/report/")
@bp.get("/en/report/")
def show_form():
    return render_form(lang_of_path(request.path))


def submit():
    started = time.perf_counter()
    lang = lang_of_path(request.path)
    values = form_values()
    tokens = current_app.extensions["tokens"]
    if values[HONEYPOT]:
        log.info("refused: honeypot")
        return render_form(lang, values=values, notice="honeypot", status=422)
    try:
        ticket = tokens.check(values["token"])
    except TokenProblem as problem:
        log.info("refused: token %s", problem.kind)
        return render_form(lang, values=values, notice=problem.kind, status=400)
    if values["role"] == "other":
        return show_other(lang)

    report, errors = validate(values, lang)
    if errors and already_accepted(values["token"]):
        # An earlier, mistaken version of a form that was later sent: the browser's Back
        # button re-posting it.  Show nothing of what was typed then: the device may be
        # someone else's to look at now.
        log.info("refused: form already sent")
        return render_form(lang, notice="already_sent", status=409)
    if errors:
        log.info("invalid: fields %s", ",".join(sorted(errors)))
        return render_form(lang, values=values, errors=errors, token=values["token"], status=422)

    held = tokens.spent.claim(ticket.nonce)
    if held == PENDING:
        return render_form(lang, values=values, notice="pending", status=409)
    if held:
        return redirect(sent_url(lang, held), code=303)  # the same form sent twice: one report
    try:
        reference, size = current_app.extensions["intake"].accept(report)
    except Exception as error:  # noqa: BLE001 - whatever failed, the reporter must know nothing was sent
        tokens.spent.release(ticket.nonce)
        log.error("unavailable: %s after %d ms", type(error).__name__, (time.perf_counter() - started) * 1000)
        return render_form(lang, values=values, notice="unavailable", token=values["token"], status=503)
    tokens.spent.settle(ticket.nonce, reference)
    g.report_accepted = True  # counted by the per-report limit (a replay's 303 is not a new report)
    log.info("accepted %s: %d bytes sealed in %d ms", reference, size, (time.perf_counter() - started) * 1000)
    return redirect(sent_url(lang, reference), code=303)


def already_accepted(token: str) -> str | None:
    """The reference of the report this form token already sent, if any."""
    tokens = current_app.extensions["tokens"]
    try:
        ticket = tokens.check(token)
    except TokenProblem:
        return None
    held = tokens.spent.lookup(ticket.nonce)
    return held if held and held != PENDING else None


def show_other(lang: str):
    frame = current_app.extensions["frame"]
    return frame.render("report-other.html", page=page_for(lang, "report/", N_("Reporting for someone else"))), 200


def _sent_signer() -> URLSafeTimedSerializer:
    signer = current_app.extensions.get("sent_signer")
    if signer is None:  # one per app: it derives its key once, not on every redirect
        signer = current_app.extensions["sent_signer"] = URLSafeTimedSerializer(
            current_app.config["SECRET_KEY"], salt="relay.sent")
    return signer


def sent_url(lang: str, reference: str) -> str:
    return f"/{_prefix(lang)}report/sent/?r={_sent_signer().dumps(reference)}"


@bp.get("/report/sent/")
@bp.get("/en/report/sent/")
def sent():
    lang = lang_of_path(request.path)
    try:
        reference = _sent_signer().loads(request.args.get("r", ""), max_age=3600)
    except BadSignature:
        reference = None  # an old or copied link: say the general things, without a number
    frame = current_app.extensions["frame"]
    return frame.render("report-sent.html", page=page_for(lang, "report/sent/", N_("Report received")), reference=reference)


@bp.before_app_request
def guard_posts():
    """Before the body is read: only our own form, from our own pages."""
    if request.method == "POST":
        from .abuse import refuse_cross_site, refuse_unexpected_body

        refuse_unexpected_body()
        refuse_cross_site(current_app.config["SITE_ORIGIN"])


def register_submit(app, limiter, *, per_report: str, per_post: str) -> None:
    """The POST routes, with their rate limits: reports accepted, and any POST at all.

    Added per app (not on the shared blueprint) because the limits come from its settings.
    """
    # Its own scope: set to the same value as ``per_post``, it would otherwise share its count.
    view = limiter.limit(per_report, scope="accepted",
                         deduct_when=lambda response: g.get("report_accepted", False))(submit)
    view = limiter.limit(per_post)(view)
    for path in ("/report/", "/en/report/"):
        app.add_url_rule(path, endpoint="report.submit", view_func=view, methods=["POST"])
