"""The report form: GET shows it, POST checks it and hands it on; then a confirmation.

Paths: the page ``report`` of each language (``/report/``, ``/en/report/``: the site's URL
rule, ``safeline.site.page_path``), and ``…/sent/`` below it for the confirmation.  Whatever
happens, the reporter gets the same form back with everything they typed, and a message in
their language that says what to do; never a traceback.  The reference number reaches the
confirmation page signed and short-lived; nothing that the reporter typed ever goes into a URL.

``make_blueprint(settings, limiter)`` makes the whole of it, as SecureDrop's source_app
does: the routes, the limit on POSTs, the checks before a POST is read, the security headers
and the error pages of every response.
"""

from __future__ import annotations

import logging
import time

from flask import Blueprint, current_app, redirect, request
from flask_limiter import Limiter
from flask_limiter.errors import RateLimitExceeded
from itsdangerous import BadSignature, URLSafeTimedSerializer
from werkzeug.exceptions import HTTPException

from safeline.site import LANGUAGES, N_, lang_of_path, page_path

from . import abuse, headers
from .config import Settings
from .frame import Page
from .quota import Refused
from .report import FIELDS, MAX_DESCRIPTION, MAX_URLS, ROLES, validate
from .token import PENDING, TokenProblem

log = logging.getLogger("relay.report")

FORM = "report"  # the form's page, in the site's URL rule; the confirmation is at sent/ below it
HONEYPOT = "website"
NOTICES = {
    "invalid": N_("This form could not be checked. Please send it again: what you typed is still here."),
    "too_fast": N_("The form was sent very quickly after it opened. Please check what you typed and send it again."),
    "expired": N_("For your safety this form expires after two hours. What you typed is still here: please send it again."),
    "pending": N_("This report is already being sent. If you do not see a reference number in a moment, send it again."),
    "honeypot": N_("The form could not be sent. Please check what you typed and send it again."),
    "unavailable": N_("Your report could not be received just now, and nothing was sent. What you typed is still here: please try again in a few minutes."),
    "busy": N_("We cannot take reports just now, and nothing was sent. What you typed is still here: please try again in an hour."),
    "ratelimited": N_("Many reports have been sent from this connection. Please wait an hour and send again: what you typed is still here."),
    "already_sent": N_("This form was already sent, and that report arrived. To send another report, fill in the form again."),
}
# Notices that mean the report cannot be taken now: the page offers the phone instead.
CALL_INSTEAD = ("unavailable", "busy")
PAGE_BUDGET = 100_000  # bytes: the largest form page the relay sends back
ECHOED = ("email", "urls", "description")  # the fields whose text comes back in the page
NOT_SHOWN = N_("What was entered here was far longer than the form allows, so it is not shown again. Please enter it again, shorter.")
# Where the error summary leads for each field: its control, or a group's first choice.
ANCHORS = {name: f"{name}-{ROLES[0]}" if name == "role" else name for name in FIELDS}
ERRORS = {
    400: (N_("The request could not be understood"), N_("Please go back to the form and send it again.")),
    403: (N_("The form must be sent from this site"), N_("Please open the form on this site and send it from there.")),
    404: (N_("Page not found"), N_("The page you asked for does not exist.")),
    405: (N_("This page cannot do that"), N_("Please go back to the form and send it again.")),
    413: (N_("The form is too large"), N_("What was sent is larger than the form allows. Please shorten the description or send fewer addresses at once.")),
    429: (N_("Please wait"), N_("Please wait an hour and try again.")),
    500: (N_("Something went wrong on our side"), N_("Please try again in a few minutes.")),
}


def make_blueprint(settings: Settings, limiter: Limiter) -> Blueprint:
    """The report flow, with the limit on POSTs of ``settings``.

    The limit is applied twice, under the client's pseudonym for today and for tomorrow, in
    one scope: at midnight tomorrow's already holds the last hours' posts (relay.abuse).
    Accepted reports are counted by ``relay.quota`` inside ``submit``.
    """
    bp = Blueprint("report", __name__)
    posted = limiter.limit(settings.ratelimit_posts, key_func=abuse.client_key, scope="posts")(submit)
    posted = limiter.limit(settings.ratelimit_posts, key_func=abuse.client_key_tomorrow, scope="posts")(posted)
    for lang in LANGUAGES:
        form = "/" + page_path(FORM, lang)
        bp.add_url_rule(form, "show_form", show_form, methods=["GET"])
        bp.add_url_rule(form, "submit", posted, methods=["POST"])
        bp.add_url_rule(form + "sent/", "sent", sent, methods=["GET"])
    bp.before_app_request(guard_posts)
    bp.after_app_request(lambda response: headers.add(response, production=settings.production))
    bp.app_errorhandler(RateLimitExceeded)(too_many)
    bp.app_errorhandler(HTTPException)(http_error)
    bp.app_errorhandler(Exception)(unexpected)
    return bp


# -- the pages -----------------------------------------------------------------------------------

def page_for(lang: str, slug: str, title: str) -> Page:
    """A page of the relay as the shared templates read one, with its twin in each language."""
    gettext = current_app.extensions["frame"].gettext
    versions = [Page(lang=each, title=gettext(each)(title), url=page_path(slug, each), slug=slug)
                for each in LANGUAGES]
    page = next(version for version in versions if version.lang == lang)
    page.translations = [version for version in versions if version is not page]
    return page


def render_form(lang: str, *, values=None, errors=None, notice=None, token=None, status=200):
    frame = current_app.extensions["frame"]
    gettext = frame.gettext(lang)
    values = dict(values or {})
    rendered = {field: [problem.render(gettext) for problem in problems] for field, problems in (errors or {}).items()}
    context = dict(
        page=page_for(lang, FORM, N_("Report form")),
        fields=FIELDS,
        anchors=ANCHORS,
        max_urls=MAX_URLS,
        max_description=f"{MAX_DESCRIPTION:,}",
        values=values,
        errors=rendered,
        notice=gettext(NOTICES[notice]) if notice else None,
        call_instead=notice in CALL_INSTEAD,
        token=token or current_app.extensions["tokens"].issue(),
    )
    html = frame.render("report.html", **context)
    # What was typed comes back escaped, and escaping can make a character five bytes: a
    # pasted flood of '&' or '"' would make a page of several hundred KB.  Only such floods
    # pass the budget, so the largest field is then left empty, with a word why, until the
    # page fits; anything a person typed within the form's limits always comes back.
    while len(html.encode("utf-8")) > PAGE_BUDGET:
        field = max(ECHOED, key=lambda name: len(values.get(name, "")))
        if not values.get(field):
            break
        values[field] = ""
        rendered.setdefault(field, []).append(gettext(NOT_SHOWN))
        html = frame.render("report.html", **context)
    return html, status


def error_page(lang: str, status: int):
    frame = current_app.extensions["frame"]
    title, message = ERRORS.get(status, ERRORS[400])
    page = page_for(lang, FORM, title)
    return frame.render("error.html", page=page, message=frame.gettext(lang)(message),
                        form_path="/" + page_path(FORM, lang)), status


def form_values() -> dict[str, str]:
    """The first value of each field we know; anything else in the body is ignored."""
    return {name: request.form.get(name, "") for name in (*FIELDS, "token", HONEYPOT)}


def show_form():
    return render_form(lang_of_path(request.path))


def show_other(lang: str):
    frame = current_app.extensions["frame"]
    return frame.render("report-other.html", page=page_for(lang, FORM, N_("Reporting for someone else"))), 200


# -- sending -------------------------------------------------------------------------------------

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
    if errors:
        if already_accepted(values["token"]):
            # An earlier, mistaken version of a form that was later sent: the browser's Back
            # button re-posting it.  Show nothing of what was typed then: the device may be
            # someone else's to look at now.
            log.info("refused: form already sent")
            return render_form(lang, notice="already_sent", status=409)
        log.info("invalid: fields %s", ",".join(sorted(errors)))
        return render_form(lang, values=values, errors=errors, token=values["token"], status=422)

    held = tokens.spent.claim(ticket.nonce)
    if held == PENDING:
        return render_form(lang, values=values, notice="pending", status=409)
    if held:
        return redirect(sent_url(lang, held), code=303)  # the same form sent twice: one report
    # From here until the report is stored, both the token and the report's place in the
    # limits are held; whatever ends the request without a stored report gives both back,
    # even an exception outside Exception (gunicorn ending a worker that timed out), so the
    # same form can be sent again.
    reference = reservation = None
    try:
        names = abuse.names()
        try:
            reservation = current_app.extensions["quota"].reserve(names.client, names.network)
        except Refused as refused:
            return refuse(lang, values, refused)
        try:
            reference, size = current_app.extensions["intake"].accept(report)
        except Exception as error:  # noqa: BLE001 - whatever failed, the reporter must know nothing was sent
            log.error("unavailable: %s after %d ms", type(error).__name__, (time.perf_counter() - started) * 1000)
            return render_form(lang, values=values, notice="unavailable", token=values["token"], status=503)
    finally:
        if reference is None:
            if reservation is not None:
                reservation.release()
            tokens.spent.release(ticket.nonce)
    tokens.spent.settle(ticket.nonce, reference)
    log.info("accepted %s: %d bytes sealed in %d ms", reference, size, (time.perf_counter() - started) * 1000)
    return redirect(sent_url(lang, reference), code=303)


def refuse(lang: str, values: dict[str, str], refused: Refused):
    """A limit on accepted reports is reached: the form back, with what to do instead."""
    if refused.counter.name == "site":
        if refused.first_of_window:  # one line per window, across workers: for monitoring
            log.error("refused: site-wide ceiling of accepted reports reached (RELAY_RATELIMIT_SITE)")
        html, status = render_form(lang, values=values, notice="busy", token=values["token"], status=503)
        return html, status, {"Retry-After": str(refused.counter.keep)}
    log.info("refused: rate limit (%s)", refused.counter.name)
    return render_form(lang, values=values, notice="ratelimited", token=values["token"], status=429)


def already_accepted(token: str) -> str | None:
    """The reference of the report this form token already sent, if any: the one check for
    a form sent again (a double click, Back and resend), wherever it arrives."""
    tokens = current_app.extensions["tokens"]
    try:
        ticket = tokens.check(token)
    except TokenProblem:
        return None
    held = tokens.spent.lookup(ticket.nonce)
    return held if held and held != PENDING else None


def _sent_signer() -> URLSafeTimedSerializer:
    signer = current_app.extensions.get("sent_signer")
    if signer is None:  # one per app: it derives its key once, not on every redirect
        signer = current_app.extensions["sent_signer"] = URLSafeTimedSerializer(
            current_app.config["SECRET_KEY"], salt="relay.sent")
    return signer


def sent_url(lang: str, reference: str) -> str:
    return f"/{page_path(FORM, lang)}sent/?r={_sent_signer().dumps(reference)}"


def sent():
    lang = lang_of_path(request.path)
    try:
        reference = _sent_signer().loads(request.args.get("r", ""), max_age=3600)
    except BadSignature:
        reference = None  # an old or copied link: say the general things, without a number
    frame = current_app.extensions["frame"]
    page = page_for(lang, f"{FORM}/sent", N_("Report received"))
    return frame.render("report-sent.html", page=page, reference=reference)


# -- before and after every request ----------------------------------------------------------

def guard_posts():
    """Before the body is read: only our own form, from our own pages."""
    if request.method == "POST":
        abuse.refuse_unexpected_body()
        abuse.refuse_cross_site(current_app.config["SITE_ORIGIN"])


def too_many(error: RateLimitExceeded):
    """Flask-Limiter's refusal of a POST: the form back, or, if that form already sent its
    report (a double click that reached the limit), its confirmation."""
    lang = lang_of_path(request.path)
    log.info("refused: rate limit")
    if request.method != "POST":
        return error_page(lang, 429)
    try:
        values = form_values()
    except HTTPException as refused:  # e.g. a body over MAX_BODY: that page, never a 500
        return http_error(refused)
    accepted = already_accepted(values.get("token", ""))
    if accepted:
        return redirect(sent_url(lang, accepted), code=303)
    return render_form(lang, values=values, notice="ratelimited", status=429)


def http_error(error: HTTPException):
    log.info("refused: %d", error.code)
    return error_page(lang_of_path(request.path), error.code)


def unexpected(error: Exception):
    # Never a traceback for the reporter, and none in the log either: a traceback's local
    # variables could hold what they typed.
    log.error("unexpected %s", type(error).__name__)
    return error_page(lang_of_path(request.path), 500)
