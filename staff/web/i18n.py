"""Which language a page is in, and the words of its templates.

Japanese at ``/``, English at ``/en/…``: the language is in the URL, so a page can be linked,
reloaded and bookmarked in either, and no cookie or header decides it. Every view blueprint is
registered twice (``cases`` at ``/``, ``cases_en`` at ``/en``); ``link(endpoint, …)`` picks the
registration of the page's language, and ``other_language_url()`` gives the same page in the
other language, query included (the switch in the header).

The templates' ``_()`` looks up the request's language at call time (``g.lang``): the Jinja
environment is shared by the server's threads, so nothing per request is installed in it.
"""

from __future__ import annotations

from flask import Flask, g, request, url_for

from staff.translations import LANGUAGES, translations

EN_PREFIX = "/en"
LANGUAGE_NAMES = {"ja": "日本語", "en": "English"}  # each in its own language, for the switch


def lang_of(path: str) -> str:
    return "en" if path == EN_PREFIX or path.startswith(EN_PREFIX + "/") else "ja"


def current_lang() -> str:
    return getattr(g, "lang", None) or lang_of(request.path)


def _(message: str, **values) -> str:
    """``message`` in the page's language, with ``%(name)s`` values filled in."""
    text = translations(current_lang()).gettext(message)
    return text % values if values else text


def link(endpoint: str, **values) -> str:
    """``url_for`` in the page's language: ``cases.case`` → ``cases_en.case`` on English pages."""
    if "." in endpoint and current_lang() == "en":
        blueprint, name = endpoint.split(".", 1)
        endpoint = f"{blueprint}_en.{name}"
    return url_for(endpoint, **values)


def other_language_url() -> str:
    """This page in the other language, with its query."""
    path = request.path
    if current_lang() == "en":
        path = path[len(EN_PREFIX):] or "/"
    else:
        path = EN_PREFIX + path
    query = request.query_string.decode("latin-1")
    return path + (f"?{query}" if query else "")


def install(app: Flask) -> None:
    app.jinja_env.add_extension("jinja2.ext.i18n")

    # Jinja's newstyle gettext wraps these: it marks the translation safe and fills in the
    # %(name)s values itself, escaping them.
    def gettext(message: str) -> str:
        return translations(current_lang()).gettext(message)

    def ngettext(singular: str, plural: str, n: int) -> str:
        return translations(current_lang()).ngettext(singular, plural, n)

    app.jinja_env.install_gettext_callables(gettext, ngettext, newstyle=True)

    @app.before_request
    def set_lang():
        g.lang = lang_of(request.path)

    @app.context_processor
    def language():
        lang = current_lang()
        other = "en" if lang == "ja" else "ja"
        return {"lang": lang, "other_lang": other, "other_lang_name": LANGUAGE_NAMES[other],
                "other_lang_url": other_language_url(), "link": link, "languages": LANGUAGES}


def register_twice(app: Flask, blueprint) -> None:
    """``blueprint`` at ``/`` (Japanese) and at ``/en`` (English, named ``<name>_en``)."""
    app.register_blueprint(blueprint)
    app.register_blueprint(blueprint, url_prefix=EN_PREFIX, name=f"{blueprint.name}_en")

