"""The static site and the relay meet only in the theme, the catalogs and the site's rules: do they agree?"""

from __future__ import annotations

import re

from flask import Flask
from flask_limiter import Limiter

import pelicanconf
from relay import frame
from relay.config import Settings
from relay.views import make_blueprint
from safeline.site import LANGUAGES, page_path


def test_relay_draws_the_same_menu_as_the_site(page):
    """The relay reads content/pages metadata itself (it never imports Pelican)."""
    menus = frame.menus(frame.read_pages())
    for lang in LANGUAGES:
        built = re.search(r'<nav class="site-nav".*?</nav>', page("faq", lang).html, re.S).group(0)
        expected = [(f"/{item.url}", item.nav_title or item.title) for item in menus[lang]]
        assert re.findall(r'<a href="([^"]+)"[^>]*>([^<]+)</a>', built) == expected


def test_relay_page_urls_follow_pelicanconf():
    for (slug, lang), info in frame.read_pages().items():
        if slug in ("home", "not-found"):
            continue  # their URL is set in their metadata
        pattern = pelicanconf.PAGE_URL if lang == pelicanconf.DEFAULT_LANG else pelicanconf.PAGE_LANG_URL
        assert info.url == pattern.format(slug=slug, lang=lang) == page_path(slug, lang)


def test_relay_serves_exactly_the_paths_the_site_routes_to_it():
    """Every route of the report flow, POSTs included, is under a path that the web server
    sends to the relay, and each language has the form, its POST and the confirmation."""
    app = Flask("probe")
    app.register_blueprint(make_blueprint(Settings.from_env({}), Limiter(key_func=lambda: "probe", app=app, storage_uri="memory://")))
    routes = {(rule.rule, method) for rule in app.url_map.iter_rules() if rule.endpoint.startswith("report.")
              for method in rule.methods - {"HEAD", "OPTIONS"}}
    assert routes and all(path.startswith(tuple(pelicanconf.RELAY_PATHS)) for path, _ in routes)
    for lang in LANGUAGES:
        form = "/" + page_path("report", lang)
        assert {(form, "GET"), (form, "POST"), (form + "sent/", "GET")} <= routes
