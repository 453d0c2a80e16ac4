"""The relay's forms: GET shows one, POST checks it and hands it on; then a confirmation.

Two forms, each a ``Form`` below: the report (the page ``report`` of each language,
``/report/`` and ``/en/report/``: the site's URL rule, ``safeline.site.page_path``) and the
addition to a report already sent (``report/more``), each with ``…/sent/`` below it for its
confirmation; ``report/other`` tells someone who may not report what they can do.  Whatever
happens, the reporter gets the same form back with everything they typed, and a message in
their language that says what to do; never a traceback.  The reference number reaches the
confirmation page encrypted and short-lived (relay.receipt): nothing readable goes into a URL,
neither what the reporter typed nor the reference.  When a report cannot be taken now (429,
503), the page says so in its heading and lists the consultation lines open at that moment
(relay.open_now).

An addition is taken only with the follow-up code of its reference (relay.followup).  A wrong
pair is counted by the limits on accepted reports as if it were one, so that guessing a code
costs as much as sending reports: a client can try a few codes a day, out of 10**8.

``make_blueprint(settings, limiter)`` makes the whole of it, as SecureDrop's source_app
does: the routes, the limit on POSTs, the checks before a POST is read, the security headers
and the error pages of every response.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from flask import Blueprint, current_app, redirect, request
from flask_limiter import Limiter
from flask_limiter.errors import RateLimitExceeded
from werkzeug.exceptions import HTTPException

from safeline.site import LANGUAGES, N_, lang_of_path, page_path

from . import abuse, headers
from .config import Settings
from .frame import Page
from .quota import Refused
from .receipt import Receipt
from .report import (
    ADDITION_FIELDS, FIELDS, MAX_CONTACT_SAFETY, MAX_DESCRIPTION, MAX_URLS, MAX_WHERE, ROLES, Addition, Problem, Report,
    normal_code, validate, validate_addition,
)
from .token import PENDING, TokenProblem

log = logging.getLogger("relay.report")

HONEYPOT = "website"
WRONG_PAIR = N_("This reference number and follow-up code do not belong together, so nothing was sent. Check both against what you noted when you sent the report.")
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
# Notices that mean the report cannot be taken now: the summary's heading says what happened
# (not "there is a problem" with what was typed), and the page lists the lines open now.
NOT_NOW = {
    "ratelimited": N_("Please wait"),
    "busy": N_("We cannot take reports just now"),
    "unavailable": N_("We cannot take reports just now"),
}
# The language staff write in (RELAY_STAFF_LANGUAGE), said on the pages of the other languages.
STAFF_WRITE_IN = {
    "ja": N_("Staff will write to you in Japanese."),
    "en": N_("Staff will write to you in English."),
}
PAGE_BUDGET = 100_000  # bytes: the largest form page the relay sends back
NOT_SHOWN = N_("What was entered here was far longer than the form allows, so it is not shown again. Please enter it again, shorter.")


@dataclass(frozen=True)
class Form:
    """One form of the relay: its page, what it asks, how it is checked and accepted."""

    slug: str  # its page in the site's URL rule; the confirmation is at sent/ below it
    title: str
    template: str
    fields: tuple[str, ...]  # in the form's order
    echoed: tuple[str, ...]  # the fields whose text comes back in the page
    validate: Callable
    accept: str  # the method of relay.intake.Intake that stores what was checked
    sent_title: str
    sent_template: str
    summary: str = ""  # the pages' <meta name="description">, for the form and its confirmation
    sent_summary: str = ""

    @property
    def anchors(self) -> dict[str, str]:
        """Where the error summary leads for each field: its control, or a group's first choice."""
        return {name: f"{name}-{ROLES[0]}" if name == "role" else name for name in self.fields}

    def path(self, lang: str) -> str:
        return "/" + page_path(self.slug, lang)


REPORT = Form("report", N_("Report form"), "report.html", FIELDS,
              ("email", "contact_safety", "urls", "where", "description"), validate, "accept",
              N_("Report received"), "report-sent.html",
              summary=N_("Tell us where intimate images or videos shared without consent can be found. We will ask the websites to remove them, free of charge."),
              sent_summary=N_("Your report has reached us: what happens next, and how to add to it."))
MORE = Form("report/more", N_("Add to a report you sent"), "report-more.html", ADDITION_FIELDS,
            ("reference", "code", "urls", "where", "description"), validate_addition, "accept_addition",
            N_("Added to your report"), "report-more-sent.html",
            summary=N_("Add more addresses or details to a report you already sent, with its reference number and follow-up code."),
            sent_summary=N_("What you added has reached us and is handled with your earlier report."))
FORMS = {REPORT.path(lang): REPORT for lang in LANGUAGES} | {MORE.path(lang): MORE for lang in LANGUAGES}
OTHER = "report/other"  # for someone who is neither the person shown nor a guardian


def form_at(path: str) -> Form:
    """The form a request is about: the one whose page holds ``path`` (the report's otherwise)."""
    for prefix in sorted(FORMS, key=len, reverse=True):
        if path.startswith(prefix):
            return FORMS[prefix]
    return REPORT
ERRORS = {
    400: (N_("The request could not be understood"), N_("Please go back to the form and send it again.")),
    403: (N_("The form must be sent from this site"), N_("Please open the form on this site and send it from there.")),
    404: (N_("Page not found"), N_("The page you asked for does not exist.")),
    405: (N_("This page cannot do that"), N_("Please go back to the form and send it again.")),
    413: (N_("The form is too large"), N_("What was sent is larger than the form allows. Please shorten the description or send fewer addresses at once.")),
    429: (N_("Please wait"), N_("Please wait an hour and try again.")),
    500: (N_("Something went wrong on our side"), N_("Please try again in a few minutes.")),
    503: (N_("We cannot take reports just now"), N_("Please try again in an hour.")),
}
WAIT = (429, 503)  # the error pages that also list the lines open now


def make_blueprint(settings: Settings, limiter: Limiter) -> Blueprint:
    """The report flow, with the limit on POSTs of ``settings``.

    The limit is applied twice, under the client's pseudonym for today and for tomorrow, in
    one scope: at midnight tomorrow's already holds the last hours' posts (relay.abuse).
    Accepted reports are counted by ``relay.quota`` inside ``submit``.
    """
    bp = Blueprint("report", __name__)

    for form in (REPORT, MORE):
        show, post, done = _views(form)
        # One scope: the POSTs of both forms count together.  (Flask-Limiter files a view's
        # limits under its name, so each form's views have their own.)
        post = limiter.limit(settings.ratelimit_posts, key_func=abuse.client_key, scope="posts")(post)
        post = limiter.limit(settings.ratelimit_posts, key_func=abuse.client_key_tomorrow, scope="posts")(post)
        for lang in LANGUAGES:
            bp.add_url_rule(form.path(lang), show.__name__, show, methods=["GET"])
            bp.add_url_rule(form.path(lang), post.__name__, post, methods=["POST"])
            bp.add_url_rule(form.path(lang) + "sent/", done.__name__, done, methods=["GET"])
    for lang in LANGUAGES:
        bp.add_url_rule("/" + page_path(OTHER, lang), "other", show_other_page, methods=["GET"])
    bp.before_app_request(guard_posts)
    bp.after_app_request(lambda response: headers.add(response, production=settings.production))
    bp.app_errorhandler(RateLimitExceeded)(too_many)
    bp.app_errorhandler(HTTPException)(http_error)
    bp.app_errorhandler(Exception)(unexpected)
    return bp


def _views(form: Form):
    """The GET, POST and confirmation views of ``form``, named after it."""
    def show():
        return show_form(form)

    def post():
        return submit(form)

    def done():
        return sent(form)

    name = form.slug.replace("/", "_")
    for view, kind in ((show, "show"), (post, "submit"), (done, "sent")):
        view.__name__ = view.__qualname__ = f"{kind}_{name}"
    return show, post, done


# -- the pages -----------------------------------------------------------------------------------

def page_for(lang: str, slug: str, title: str, summary: str = "") -> Page:
    """A page of the relay as the shared templates read one, with its twin in each language."""
    gettext = current_app.extensions["frame"].gettext
    versions = [Page(lang=each, title=gettext(each)(title), url=page_path(slug, each), slug=slug,
                     summary=gettext(each)(summary) if summary else "")
                for each in LANGUAGES]
    page = next(version for version in versions if version.lang == lang)
    page.translations = [version for version in versions if version is not page]
    return page


def staff_language_note(lang: str) -> str | None:
    """On a page in another language than staff write in: which one they write in."""
    staff = current_app.config["RELAY_SETTINGS"].staff_language
    return current_app.extensions["frame"].gettext(lang)(STAFF_WRITE_IN[staff]) if staff != lang else None


def open_now(lang: str):
    return current_app.extensions["lines"].open_now(current_app.extensions["frame"].gettext(lang), lang)


def render_form(form: Form, lang: str, *, values=None, errors=None, notice=None, token=None, status=200):
    frame = current_app.extensions["frame"]
    gettext = frame.gettext(lang)
    values = dict(values or {})
    rendered = {field: [problem.render(gettext) for problem in problems] for field, problems in (errors or {}).items()}
    context = dict(
        page=page_for(lang, form.slug, form.title, form.summary),
        fields=form.fields,
        anchors=form.anchors,
        max_urls=MAX_URLS,
        max_description=f"{MAX_DESCRIPTION:,}",
        max_contact_safety=f"{MAX_CONTACT_SAFETY:,}",
        max_where=f"{MAX_WHERE:,}",
        report_path=REPORT.path(lang),
        other_path="/" + page_path(OTHER, lang),
        values=values,
        errors=rendered,
        notice=gettext(NOTICES[notice]) if notice else None,
        heading=gettext(NOT_NOW[notice]) if notice in NOT_NOW else None,
        open_now=open_now(lang) if notice in NOT_NOW else None,
        lost_code=form is MORE and notice in NOT_NOW,  # waiting may not help one who lost the code
        staff_language=staff_language_note(lang),
        token=token or current_app.extensions["tokens"].issue(),
    )
    html = frame.render(form.template, **context)
    # What was typed comes back escaped, and escaping can make a character five bytes: a
    # pasted flood of '&' or '"' would make a page of several hundred KB.  Only such floods
    # pass the budget, so the largest field is then left empty, with a word why, until the
    # page fits; anything a person typed within the form's limits always comes back.
    while len(html.encode("utf-8")) > PAGE_BUDGET:
        field = max(form.echoed, key=lambda name: len(values.get(name, "")))
        if not values.get(field):
            break
        values[field] = ""
        rendered.setdefault(field, []).append(gettext(NOT_SHOWN))
        html = frame.render(form.template, **context)
    return html, status


def error_page(lang: str, status: int):
    frame = current_app.extensions["frame"]
    title, message = ERRORS.get(status, ERRORS[400])
    form = form_at(request.path)
    page = page_for(lang, form.slug, title, message)
    return frame.render("error.html", page=page, message=frame.gettext(lang)(message), form_path=form.path(lang),
                        open_now=open_now(lang) if status in WAIT else None,
                        lost_code=form is MORE and status in WAIT, report_path=REPORT.path(lang)), status


def form_values(form: Form) -> dict[str, str]:
    """The first value of each field we know; anything else in the body is ignored."""
    return {name: request.form.get(name, "") for name in (*form.fields, "token", HONEYPOT)}


def show_form(form: Form):
    return render_form(form, lang_of_path(request.path))


def show_other_page():
    return show_other(lang_of_path(request.path))


def show_other(lang: str):
    frame = current_app.extensions["frame"]
    page = page_for(lang, OTHER, N_("Reporting for someone else"),
                    N_("If the images are of someone else, such as a friend, here is what you can do to help."))
    return frame.render("report-other.html", page=page, report_path=REPORT.path(lang),
                        posted=request.method == "POST"), 200


# -- sending -------------------------------------------------------------------------------------

def submit(form: Form):
    started = time.perf_counter()
    lang = lang_of_path(request.path)
    values = form_values(form)
    tokens = current_app.extensions["tokens"]
    if values[HONEYPOT]:
        log.info("refused: honeypot")
        return render_form(form, lang, values=values, notice="honeypot", status=422)
    try:
        ticket = tokens.check(values["token"])
    except TokenProblem as problem:
        log.info("refused: token %s", problem.kind)
        return render_form(form, lang, values=values, notice=problem.kind, status=400)
    if values.get("role") == "other":
        return show_other(lang)

    item, errors = form.validate(values, lang)
    if errors:
        if already_accepted(values["token"]):
            # An earlier, mistaken version of a form that was later sent: the browser's Back
            # button re-posting it.  Show nothing of what was typed then: the device may be
            # someone else's to look at now.
            log.info("refused: form already sent")
            return render_form(form, lang, notice="already_sent", status=409)
        log.info("invalid: fields %s", ",".join(sorted(errors)))
        return render_form(form, lang, values=values, errors=errors, token=values["token"], status=422)

    held = tokens.spent.claim(ticket.nonce)
    if held == PENDING:
        return render_form(form, lang, values=values, notice="pending", status=409)
    if held:  # the same form sent twice: one report
        return redirect(sent_url(form, lang, receipt_of(held, item)), code=303)
    # From here until the report is stored, both the token and the report's place in the
    # limits are held; whatever ends the request without a stored report gives both back,
    # even an exception outside Exception (gunicorn ending a worker that timed out), so the
    # same form can be sent again.  A wrong follow-up code keeps its place in the limits.
    reference = reservation = None
    try:
        names = abuse.names()
        try:
            reservation = current_app.extensions["quota"].reserve(names.client, names.network)
        except Refused as refused:
            return refuse(form, lang, values, refused)
        if form is MORE and not current_app.extensions["followups"].matches(item.reference, normal_code(values["code"])):
            reservation = None  # counted, as an accepted report would be: codes are not guessed
            log.info("refused: follow-up code does not match")
            errors = {"code": [Problem(WRONG_PAIR)]}
            return render_form(form, lang, values=values, errors=errors, token=values["token"], status=422)
        try:
            reference, size = getattr(current_app.extensions["intake"], form.accept)(item)
        except Exception as error:  # noqa: BLE001 - whatever failed, the reporter must know nothing was sent
            log.error("unavailable: %s after %d ms", type(error).__name__, (time.perf_counter() - started) * 1000)
            return render_form(form, lang, values=values, notice="unavailable", token=values["token"], status=503)
    finally:
        if reference is None:
            if reservation is not None:
                reservation.release()
            tokens.spent.release(ticket.nonce)
    tokens.spent.settle(ticket.nonce, reference)
    log.info("accepted %s%s: %d bytes sealed in %d ms", "addition to " if form is MORE else "", reference, size,
             (time.perf_counter() - started) * 1000)
    return redirect(sent_url(form, lang, receipt_of(reference, item)), code=303)


def refuse(form: Form, lang: str, values: dict[str, str], refused: Refused):
    """A limit on accepted reports is reached: the form back, with what to do instead."""
    if refused.counter.name == "site":
        if refused.first_of_window:  # one line per window, across workers: for monitoring
            log.error("refused: site-wide ceiling of accepted reports reached (RELAY_RATELIMIT_SITE)")
        html, status = render_form(form, lang, values=values, notice="busy", token=values["token"], status=503)
        return html, status, {"Retry-After": str(refused.counter.keep)}
    log.info("refused: rate limit (%s)", refused.counter.name)
    return render_form(form, lang, values=values, notice="ratelimited", token=values["token"], status=429)


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


def receipt_of(reference: str, item: Report | Addition | None) -> Receipt:
    """What the confirmation says of ``item``, accepted under ``reference``."""
    if item is None:
        return Receipt(reference)
    return Receipt(reference, police=getattr(item, "police_referral", False), no_address=not item.urls)


def sent_url(form: Form, lang: str, receipt: Receipt) -> str:
    return f"{form.path(lang)}sent/?r={current_app.extensions['receipts'].seal(form.slug, receipt)}"


def sent(form: Form):
    """The confirmation.  The link works for an hour: the device may be someone else's to look
    at later, and its history then shows the page without the numbers; the link itself holds
    nothing readable (relay.receipt)."""
    lang = lang_of_path(request.path)
    # An old, changed or copied link: say the general things, without a number.
    receipt = current_app.extensions["receipts"].open(form.slug, request.args.get("r", ""))
    frame = current_app.extensions["frame"]
    page = page_for(lang, f"{form.slug}/sent", form.sent_title, form.sent_summary)
    reference = receipt.reference if receipt else None
    code = current_app.extensions["followups"].code(reference) if reference and form is REPORT else None
    return frame.render(form.sent_template, page=page, reference=reference, code=code,
                        police=bool(receipt and receipt.police), no_address=bool(receipt and receipt.no_address),
                        more_path=MORE.path(lang), report_path=REPORT.path(lang),
                        staff_language=staff_language_note(lang))


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
    form = form_at(request.path)
    log.info("refused: rate limit")
    if request.method != "POST":
        return error_page(lang, 429)
    try:
        values = form_values(form)
    except HTTPException as refused:  # e.g. a body over MAX_BODY: that page, never a 500
        return http_error(refused)
    accepted = already_accepted(values.get("token", ""))
    if accepted:
        item, _ = form.validate(values, lang)  # the same form again: what its confirmation says
        return redirect(sent_url(form, lang, receipt_of(accepted, item)), code=303)
    return render_form(form, lang, values=values, notice="ratelimited", status=429)


def http_error(error: HTTPException):
    log.info("refused: %d", error.code)
    return error_page(lang_of_path(request.path), error.code)


def unexpected(error: Exception):
    # Never a traceback for the reporter, and none in the log either: a traceback's local
    # variables could hold what they typed.
    log.error("unexpected %s", type(error).__name__)
    return error_page(lang_of_path(request.path), 500)
