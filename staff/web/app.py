"""``create_app``: the local web interface assembled from its parts, nothing more.

- ``guard``: Host check, launch secret, CSRF token, security headers (every request, first).
- ``i18n``: the page's language from its URL; the templates' words.
- ``cases``: the list, a case, its notes, status and deletion.
- ``phone``: a case from a phone call.
- ``reply``: a reply draft to the reporter, as a ``mailto:`` link.
- ``removal``: who has a case, requests, states, next dates, what is due, host lookups.
- ``drafts``: a removal request's draft, and "I sent it".
- ``stats``: the statistics of a period, its CSV, a page that prints.
- ``sync``: team sync in the background, on start and with "Sync now".
- ``errors``: 400, 403, 404, 405, 413, 422 and 500 pages in the same layout.
"""

from __future__ import annotations

from flask import Flask

from . import access, cases, drafts, errors, guard, i18n, phone, removal, reply, stats, sync, text, work

MAX_FORM_BYTES = 256 * 1024  # a note or a phone case: far more than any needs


def create_app(store, *, secret: str, lang_default: str = "ja", port: int | None = None, home=None,
               identity=None) -> Flask:
    """The interface over ``store``, opened with the launch ``secret``.

    ``home``: the kit's folder (``staff.home.Home``): its settings (recheck days, threshold,
    staff keys, events folder, RDAP), its request templates; without it, the defaults and no
    lookup. ``identity``: the kit owner's key, for team sync (``sync``); without it, no sync.

    ``port``: the port the server listens on, for the Host check and the cookie's name; when
    None, the server's own (``SERVER_PORT``). ``lang_default`` is the language at ``/``;
    only Japanese is supported there (English is at ``/en/``).
    """
    if lang_default != "ja":
        raise ValueError("Japanese is the language at /; English is at /en/")
    if not secret:
        raise ValueError("a launch secret is required")
    app = Flask(__name__, static_folder="static", template_folder="templates")
    app.config.update(STAFF_SECRET=secret, STAFF_PORT=port, MAX_CONTENT_LENGTH=MAX_FORM_BYTES,
                      SEND_FILE_MAX_AGE_DEFAULT=0, TEMPLATES_AUTO_RELOAD=False)
    app.extensions["staff_store"] = store
    app.extensions["staff_home"] = home
    app.extensions["staff_team_cache"] = access.TeamCache()
    removal.install(app)
    sync.install(app, store, home, identity)
    app.register_blueprint(guard.bp)  # its hooks run before every other
    i18n.install(app)
    app.jinja_env.filters.update(japan_time=text.japan_time, iso=text.iso, reveal=text.reveal)
    app.jinja_env.globals.update(STATUS_LABELS=text.STATUS_LABELS, ROLE_LABELS=text.ROLE_LABELS,
                                 ORIGIN_LABELS=text.ORIGIN_LABELS, KIND_LABELS=text.KIND_LABELS,
                                 LANGUAGE_LABELS=text.LANGUAGE_LABELS, TARGET_LABELS=work.TARGET_LABELS,
                                 METHOD_LABELS=work.METHOD_LABELS, URL_STATE_LABELS=work.URL_STATE_LABELS,
                                 WHERE_LABELS=work.WHERE_LABELS, host_words=work.host_words)
    for blueprint in (cases.bp, phone.bp, reply.bp, removal.bp, drafts.bp, stats.bp, sync.bp):
        i18n.register_twice(app, blueprint)
    errors.install(app)
    return app
