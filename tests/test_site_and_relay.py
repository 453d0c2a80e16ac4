"""The static site and the relay meet only in the theme, the catalogs and the site's rules: do they agree?"""

from __future__ import annotations

import re
from pathlib import Path

from flask import Flask
from flask_limiter import Limiter

import pelicanconf
from relay import frame
from relay.config import Settings
from relay.views import make_blueprint
from safeline.site import LANGUAGES, page_path

ROOT = Path(__file__).resolve().parents[1]


def test_relay_draws_the_same_menu_as_the_site(page):
    """The relay reads content/pages metadata itself (it never imports Pelican)."""
    menus = frame.menus(frame.read_pages())
    for lang in LANGUAGES:
        built = re.search(r'<nav class="site-nav".*?</nav>', page("faq", lang).html, re.S).group(0)
        expected = [(f"/{item.url}", item.nav_title or item.title) for item in menus[lang]]
        assert re.findall(r'<a href="([^"]+)"[^>]*>([^<]+)</a>', built) == expected


NGINX_SITE = ROOT / "deploy" / "nginx" / "safeline-site.conf"


def nginx_locations() -> list[tuple[str, str, str]]:
    """(modifier, path, block) of every location of the shipped site configuration, nested ones too."""
    text = re.sub(r"#[^\n]*", "", NGINX_SITE.read_text(encoding="utf-8"))
    found = []
    for match in re.finditer(r"\blocation\s+(\^~|=|~\*?)?\s*(\S+)\s*\{", text):
        depth, end = 1, match.end()
        while depth:
            depth += {"{": 1, "}": -1}.get(text[end], 0)
            end += 1
        found.append((match.group(1) or "", match.group(2), text[match.end():end - 1]))
    return found


def nginx_relay_prefixes() -> set[str]:
    """The paths nginx hands to the relay: its locations that end in the relay's named locations."""
    return {path for _, path, block in nginx_locations() if re.search(r"try_files\s[^;]*\$safeline_relay;", block)}


def nginx_english() -> re.Pattern:
    """The rule by which nginx picks the language of its error pages: English where the address matches."""
    return re.compile(re.search(r'if \(\$uri ~ (\S+)\) \{\s*set \$safeline_lang /en;', NGINX_SITE.read_text())[1])


def relay_routes() -> set[tuple[str, str]]:
    app = Flask("probe")
    app.register_blueprint(make_blueprint(Settings.from_env({}), Limiter(key_func=lambda: "probe", app=app, storage_uri="memory://")))
    return {(rule.rule, method) for rule in app.url_map.iter_rules() if rule.endpoint.startswith("report.")
            for method in rule.methods - {"HEAD", "OPTIONS"}}


def built_file(site: Path, url: str) -> Path:
    return site / (url if url.endswith(".html") else url + "index.html")


def test_every_page_the_relay_links_to_is_built_or_is_the_relays_own(site):
    """The relay draws its menu and links from content/pages itself: each of those addresses is
    either a file of the built site, in the language nginx reads from the address, or a page of
    the relay, under a path nginx hands to it."""
    prefixes, routes, english = tuple(nginx_relay_prefixes()), relay_routes(), nginx_english()
    built = {path.relative_to(site).as_posix() for path in site.rglob("*.html")}
    expected = set()
    for (slug, lang), info in frame.read_pages().items():
        url = "/" + info.url
        assert bool(english.match(url)) == (lang == "en"), f"nginx reads {url} as not {lang}"
        if url.startswith(prefixes):
            assert (url, "GET") in routes, f"{slug} ({lang}): nginx sends {url} to the relay, which has no such page"
        else:
            expected.add(built_file(site, info.url).relative_to(site).as_posix())
    assert built == expected


def test_the_site_links_into_the_relay_only_to_its_pages(site):
    """A link of a built page under a path nginx hands to the relay must be one of its routes."""
    prefixes, routes = tuple(nginx_relay_prefixes()), relay_routes()
    linked = set()
    for file in site.rglob("*.html"):
        for href in re.findall(r'<a [^>]*href="(/[^"#?]*)', file.read_text(encoding="utf-8")):
            if href.startswith(prefixes):
                linked.add(href)
                assert (href, "GET") in routes, f"{file.relative_to(site)} links to {href}"
    assert {"/" + page_path("report", lang) for lang in LANGUAGES} <= linked


def test_nginx_hands_the_relay_exactly_its_routes():
    """Every route of the report flow, POSTs included, is under a path that the shipped nginx
    configuration sends to the relay; each such path is a form (GET and POST) with its
    confirmation; its address without the slash is redirected there; and the build's audit
    leaves exactly those paths to the relay."""
    prefixes, routes = nginx_relay_prefixes(), relay_routes()
    assert len(prefixes) == len(LANGUAGES)
    assert all(path.startswith(tuple(prefixes)) for path, _ in routes), sorted(routes)
    for prefix in prefixes:
        assert {(prefix, "GET"), (prefix, "POST"), (prefix + "sent/", "GET")} <= routes, prefix
    redirects = {path: re.search(r"return 301 (\S+);", block)[1] for modifier, path, block in nginx_locations()
                 if modifier == "=" and "return 301" in block}
    assert redirects == {prefix.rstrip("/"): prefix for prefix in prefixes}
    assert sorted(pelicanconf.RELAY_PATHS) == sorted(prefixes)
