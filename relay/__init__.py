"""The report relay: a small Flask app that takes the report form, seals it, and keeps it.

    relay.create_app()          the application (gunicorn: "relay:create_app()")
    flask --app relay run       development server
    flask --app relay keys      the staff keys: fingerprints, user IDs, expiry
    flask --app relay deliver   the delivery worker

Data flow: form → validate (report) → seal (OpenPGP, in memory) → outbox (fsync) → SMTP.
It starts only when its configuration, staff keys, outbox, catalogs and consultation lines
(data/hotlines.yaml, for the pages that list the lines open now) are all sound.
"""

from __future__ import annotations

import logging
import time

from flask import Flask
from flask_limiter import Limiter
from werkzeug.middleware.proxy_fix import ProxyFix

from . import logs, responses, shared_store, views
from .abuse import Pseudonyms, client_key
from .chunked_body import ChunkedBodyLimit
from .config import Settings, writable_outbox
from .followup import FollowUps
from .frame import Frame
from .intake import Intake
from .keys import StaffKeyError, is_development_key, load_staff_keys
from .open_now import HOTLINES, Lines
from .problems import Problems
from .quota import Quota, Store
from .receipt import Receipts
from .services import Services
from .token import FormTokens, SpentTokens

MAX_BODY = 64 * 1024


def create_app(environ=None, *, clock=time.time, hotlines=HOTLINES) -> Flask:
    """Build the relay from ``environ`` (default: the process environment); fail closed.

    Called where a process starts (gunicorn, ``flask --app relay …``): a problem with the
    settings, the staff keys, the outbox, the catalogs or the consultation lines
    (``hotlines``, data/hotlines.yaml) ends it with one line per problem.  ``clock``
    (wall-clock seconds) is what form tokens, limits, the confirmation's address and the
    lines open now read the time from.
    """
    try:
        settings = Settings.from_env(environ)
        logs.configure()
        keys = _staff_keys(settings)
        outbox = writable_outbox(settings.outbox, max_bytes=settings.outbox_max_bytes)
        app = Flask(__name__, static_folder=None)
        app.config.update(SECRET_KEY=settings.secret_key, MAX_CONTENT_LENGTH=MAX_BODY, MAX_FORM_MEMORY_SIZE=MAX_BODY,
                          MAX_FORM_PARTS=50)
        app.wsgi_app = ChunkedBodyLimit(app.wsgi_app, MAX_BODY)
        if settings.proxies:
            app.wsgi_app = ProxyFix(app.wsgi_app, x_for=settings.proxies, x_proto=settings.proxies, x_host=0)
        store = settings.ratelimit_storage
        followups = FollowUps(settings.secret_key, settings.mail_domain)
        Services(
            settings=settings,
            frame=Frame(quick_exit_url=settings.quick_exit_url, site_origin=settings.site_origin,
                        contact_address=settings.contact_address, staff_language=settings.staff_language),
            lines=Lines(hotlines, clock=clock),
            receipts=Receipts(settings.secret_key, clock=clock),
            tokens=FormTokens(settings.secret_key, min_fill_seconds=settings.min_fill_seconds,
                              spent=SpentTokens.from_uri(store), clock=clock),
            followups=followups,
            intake=Intake(keys=keys, outbox=outbox, mail_from=settings.mail_from, mail_to=settings.mail_to,
                          followups=followups),
            staff_keys=keys,
            outbox=outbox,
            pseudonyms=Pseudonyms(settings.secret_key, clock),
            quota=Quota(Store.from_uri(store), client=settings.ratelimit, network=settings.ratelimit_network,
                        site=settings.ratelimit_site, clock=clock),
        ).install(app)
        limiter = Limiter(
            key_func=client_key, app=app, storage_uri=store, strategy="moving-window", headers_enabled=False,
            storage_options=shared_store.options() if store.startswith("redis") else {},
            swallow_errors=True,  # an unreachable store must never cost a report: limits fail open
        )
        app.register_blueprint(views.make_blueprint(settings, limiter))
        # After Flask-Limiter's own check, before any view: what every response gets.
        responses.install(app, production=settings.production)
    except Problems as problems:
        raise problems.exit() from None
    logging.getLogger("relay").info("relay ready (%s): %d staff key(s), outbox %s", settings.env, len(keys),
                                    settings.outbox)
    return app


def _staff_keys(settings: Settings):
    keys = load_staff_keys(settings.staff_keys)
    if settings.production:
        development = [key.label for key in keys if is_development_key(key)]
        if development:
            raise StaffKeyError([f"RELAY_STAFF_KEYS: {label} is a development key; production needs the staff's "
                                 "real keys" for label in development])
    return keys
