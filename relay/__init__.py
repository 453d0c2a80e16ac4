"""The report relay: a small Flask app that takes the report form, seals it, and keeps it.

    relay.create_app()          the application (gunicorn: "relay:create_app()")
    flask --app relay run       development server
    flask --app relay keys      the staff keys: fingerprints, user IDs, expiry
    flask --app relay deliver   the delivery worker

Data flow: form → validate (report) → seal (OpenPGP, in memory) → outbox (fsync) → SMTP.
It starts only when its configuration, staff keys, outbox and catalogs are all sound.
"""

from __future__ import annotations

import logging
import time

from flask import Flask, redirect, request
from flask_limiter import Limiter
from flask_limiter.errors import RateLimitExceeded
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

from . import headers, logs, views
from .abuse import ChunkedBodyLimit, Pseudonyms, client_key
from .config import ConfigError, Settings
from .intake import Intake
from .keys import StaffKeyError, is_development_key, load_staff_keys
from .outbox import Outbox, OutboxUnwritableError
from .problems import Problems
from .quota import Quota, Store
from .report import N_
from .seal import seal as seal_report
from .site import Frame
from .token import FormTokens, SpentTokens

MAX_BODY = 64 * 1024

ERROR_TITLES = {
    400: (N_("The request could not be understood"), N_("Please go back to the form and send it again.")),
    403: (N_("The form must be sent from this site"), N_("Please open the form on this site and send it from there.")),
    404: (N_("Page not found"), N_("The page you asked for does not exist.")),
    405: (N_("This page cannot do that"), N_("Please go back to the form and send it again.")),
    413: (N_("The form is too large"), N_("What was sent is larger than the form allows. Please shorten the description or send fewer addresses at once.")),
    500: (N_("Something went wrong on our side"), N_("Please try again in a few minutes.")),
}


def create_app(environ=None, *, clock=time.time) -> Flask:
    """Build the relay from ``environ`` (default: the process environment); fail closed.

    Called where a process starts (gunicorn, ``flask --app relay …``): a problem with the
    settings, the staff keys, the outbox or the catalogs ends it with one line per problem.
    ``clock`` (wall-clock seconds) is what form tokens and limits read the time from.
    """
    try:
        return _assemble(Settings.from_env(environ), clock)
    except Problems as problems:
        raise problems.exit() from None


def _assemble(settings: Settings, clock) -> Flask:
    logs.configure()
    log = logging.getLogger("relay")

    keys = load_staff_keys(settings.staff_keys)
    if settings.production:
        development = [key.label for key in keys if is_development_key(key)]
        if development:
            raise StaffKeyError([f"RELAY_STAFF_KEYS: {label} is a development key; production needs the staff's real keys" for label in development])

    outbox = Outbox(settings.outbox, max_bytes=settings.outbox_max_bytes)
    try:
        outbox.check_writable()
    except OutboxUnwritableError as error:  # refuse like any other setting: one line, no traceback
        raise ConfigError([f"RELAY_OUTBOX: {error}"]) from None

    app = Flask(__name__, static_folder=None)
    app.config.update(
        SECRET_KEY=settings.secret_key,
        SITE_ORIGIN=settings.site_origin,
        MAX_CONTENT_LENGTH=MAX_BODY,
        MAX_FORM_MEMORY_SIZE=MAX_BODY,
        MAX_FORM_PARTS=50,
        RELAY_SETTINGS=settings,
    )
    app.wsgi_app = ChunkedBodyLimit(app.wsgi_app, MAX_BODY)
    if settings.proxies:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=settings.proxies, x_proto=settings.proxies, x_host=0)

    app.extensions["frame"] = Frame(quick_exit_url=settings.quick_exit_url)
    app.extensions["tokens"] = FormTokens(
        settings.secret_key,
        min_fill_seconds=settings.min_fill_seconds,
        spent=SpentTokens.from_uri(settings.ratelimit_storage),
        clock=clock,
    )
    app.extensions["intake"] = Intake(keys=keys, outbox=outbox, mail_from=settings.mail_from, mail_to=settings.mail_to, seal=seal_report)
    app.extensions["staff_keys"] = keys
    app.extensions["outbox"] = outbox
    app.extensions["pseudonyms"] = Pseudonyms(settings.secret_key, clock)
    app.extensions["quota"] = Quota(Store.from_uri(settings.ratelimit_storage), client=settings.ratelimit,
                                    network=settings.ratelimit_network, site=settings.ratelimit_site, clock=clock)

    limiter = Limiter(
        key_func=client_key,
        app=app,
        storage_uri=settings.ratelimit_storage,
        storage_options={"socket_timeout": 0.5, "socket_connect_timeout": 0.5} if settings.ratelimit_storage.startswith("redis") else {},
        strategy="moving-window",
        headers_enabled=False,
        swallow_errors=True,  # an unreachable store must never cost a report: limits fail open
    )
    app.extensions["relay_limiter"] = limiter
    app.register_blueprint(views.bp)
    views.register_submit(app, limiter, per_post=settings.ratelimit_posts)

    @app.after_request
    def secure(response):
        return headers.add(response, production=settings.production)

    @app.errorhandler(RateLimitExceeded)
    def too_many(error):
        lang = views.lang_of_path(request.path)
        log.info("refused: rate limit")
        if request.method == "POST":
            try:
                values = views.form_values()
            except HTTPException as refused:  # e.g. a body over MAX_BODY: that page, never a 500
                return http_error(refused)
            accepted = views.already_accepted(values.get("token", ""))
            if accepted:  # a double click on the report that reached the limit: it did arrive
                return redirect(views.sent_url(lang, accepted), code=303)
            return views.render_form(lang, values=values, notice="ratelimited", status=429)
        return _error_page(lang, 429, N_("Please wait"), N_("Please wait an hour and try again."))

    @app.errorhandler(HTTPException)
    def http_error(error):
        lang = views.lang_of_path(request.path)
        title, message = ERROR_TITLES.get(error.code, ERROR_TITLES[400])
        log.info("refused: %d", error.code)
        return _error_page(lang, error.code, title, message)

    @app.errorhandler(Exception)
    def unexpected(error):
        # Never a traceback for the reporter, and none in the log either: a traceback's
        # local variables could hold what they typed.
        log.error("unexpected %s", type(error).__name__)
        lang = views.lang_of_path(request.path)
        return _error_page(lang, 500, *ERROR_TITLES[500])

    log.info("relay ready (%s): %d staff key(s), outbox %s", settings.env, len(keys), settings.outbox)
    return app


def _error_page(lang: str, status: int, title: str, message: str):
    from flask import current_app

    frame = current_app.extensions["frame"]
    gettext = frame.gettext(lang)
    page = views.page_for(lang, "report/", title)
    form_path = "/report/" if lang == "ja" else "/en/report/"
    return frame.render("error.html", page=page, message=gettext(message), form_path=form_path), status
