"""What every response of the relay gets, whichever blueprint answers it: the check before a
POST is read, the security headers, and the error pages (never a traceback).

``install(app, production=…)`` is called by ``create_app`` once the app's parts are there, so
a second blueprint gets the same, without depending on the report flow's.
"""

from __future__ import annotations

import logging

from flask import Flask, redirect, request
from flask_limiter.errors import RateLimitExceeded
from werkzeug.exceptions import HTTPException

from safeline.site import lang_of_path

from . import abuse, headers
from .confirmation import receipt_of, sent_url
from .forms import form_at, form_values
from .pages import error_page, render_form
from .services import services
from .submit import already_accepted

log = logging.getLogger("relay.report")


def install(app: Flask, *, production: bool) -> None:
    app.before_request(guard_posts)
    app.after_request(lambda response: headers.add(response, production=production))
    app.register_error_handler(RateLimitExceeded, too_many)
    app.register_error_handler(HTTPException, http_error)
    app.register_error_handler(Exception, unexpected)


def guard_posts():
    """Before the body is read: only our own form, from our own pages."""
    if request.method == "POST":
        abuse.refuse_unexpected_body()
        abuse.refuse_cross_site(services().settings.site_origin)


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
