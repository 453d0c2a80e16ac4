"""The static site and the relay meet only in the theme and the catalogs: do they agree?"""

from __future__ import annotations

import re

import pelicanconf
from tests.sitekit import LANGS
from relay import site as relay_site


def test_relay_draws_the_same_menu_as_the_site(page):
    """The relay reads content/pages metadata itself (it never imports Pelican)."""
    menus = relay_site.menus(relay_site.read_pages())
    for lang in LANGS:
        built = re.search(r'<nav class="site-nav".*?</nav>', page("faq", lang).html, re.S).group(0)
        expected = [(f"/{item.url}", item.nav_title or item.title) for item in menus[lang]]
        assert re.findall(r'<a href="([^"]+)"[^>]*>([^<]+)</a>', built) == expected


def test_relay_page_urls_follow_pelicanconf():
    for (slug, lang), info in relay_site.read_pages().items():
        if slug in ("home", "not-found"):
            continue  # their URL is set in their metadata
        pattern = pelicanconf.PAGE_URL if lang == pelicanconf.DEFAULT_LANG else pelicanconf.PAGE_LANG_URL
        assert info.url == pattern.format(slug=slug, lang=lang)


def test_relay_serves_exactly_the_paths_the_site_routes_to_it():
    from relay.views import bp

    from flask import Flask

    app = Flask("probe")
    app.register_blueprint(bp)
    rules = {rule.rule for rule in app.url_map.iter_rules() if rule.endpoint.startswith("report.")}
    assert rules and all(rule.startswith(tuple(pelicanconf.RELAY_PATHS)) for rule in rules)
    assert {"/report/", "/en/report/"} <= rules
