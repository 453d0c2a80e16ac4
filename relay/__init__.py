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

from flask import Flask, redirect, request
from flask_limiter import Limiter
from flask_limiter.errors import RateLimitExceeded
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

from . import headers, views
from .abuse import client_key
from .config import ConfigError, Settings
from .intake import Intake
from .keys import StaffKeyError, is_development_key, load_staff_keys
from .outbox import Outbox, OutboxUnwritableError
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


def create_app(environ=None) -> Flask:
    """Build the relay from ``environ`` (default: the process environment); fail closed."""
    settings = Settings.from_env(environ)
    _configure_logging()
    log = logging.getLogger("relay")

    keys = load_staff_keys(settings.staff_keys)
    if settings.production:
        development = [key.label for key in keys if is_development_key(key)]
        if development:
            raise StaffKeyError([f"RELAY_STAFF_KEYS: {label} is a development key; production needs the staff's real keys" for label in development])

    outbox = Outbox(settings.outbox)
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
    if settings.proxies:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=settings.proxies, x_proto=settings.proxies, x_host=0)

    app.extensions["frame"] = Frame(quick_exit_url=settings.quick_exit_url)
    app.extensions["tokens"] = FormTokens(
        settings.secret_key,
        min_fill_seconds=settings.min_fill_seconds,
        spent=SpentTokens.from_uri(settings.ratelimit_storage),
    )
    app.extensions["intake"] = Intake(keys=keys, outbox=outbox, mail_from=settings.mail_from, mail_to=settings.mail_to, seal=seal_report)
    app.extensions["staff_keys"] = keys
    app.extensions["outbox"] = outbox

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
    views.register_submit(app, limiter, per_report=settings.ratelimit, per_post=settings.ratelimit_posts)

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

    from .cli import register as register_cli

    register_cli(app)
    log.info("relay ready (%s): %d staff key(s), outbox %s", settings.env, len(keys), settings.outbox)
    return app


def _error_page(lang: str, status: int, title: str, message: str):
    from flask import current_app

    frame = current_app.extensions["frame"]
    gettext = frame.gettext(lang)
    page = views.page_for(lang, "report/", title)
    form_path = "/report/" if lang == "ja" else "/en/report/"
    return frame.render("error.html", page=page, message=gettext(message), form_path=form_path), status


def _configure_logging() -> None:
    """One line per event on stderr: time, level, logger, message; nothing about the reporter."""
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("relay").setLevel(logging.INFO)
    # Werkzeug's request lines start with the client's address: never log them.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    limiter_log = logging.getLogger("flask-limiter")
    if not any(isinstance(found, LimiterLogFilter) for found in limiter_log.filters):
        limiter_log.addFilter(LimiterLogFilter())


class LimiterLogFilter(logging.Filter):
    """Flask-Limiter's lines made like ours: one line, no traceback, no client key.

    With ``swallow_errors`` it logs each failure of the store with a full traceback, on every
    request while Redis is away (and a traceback names the store's address); the limits then
    fail open, and this says so in one line.  Its "exceeded" line carries the client's key,
    which stays the same for a whole day: the relay logs "refused: rate limit" instead.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info:
            error = record.exc_info[1]
            counted = str(record.msg).startswith("Failed to deduct")
            record.msg = "rate limit store failed (%s): %s, failing open"
            record.args = (type(error).__name__, "report not counted" if counted else "limits not checked")
            record.exc_info = record.exc_text = None
            return True
        return not str(record.msg).startswith("ratelimit ")
