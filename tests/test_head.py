"""What every page says of itself in its <head>, built or served by the relay (issue 15, point 1).

Lighthouse's SEO and best-practices audits ask for these, and bench/lighthouse.py measures
them in a browser; this is their deterministic part, fast: absolute hreflang alternates for
each language and x-default (development builds too, with their own origin), a meta
description, the site's icon, and the icon itself (small, neutral, at /favicon.ico where
browsers ask for it by themselves, in development as in production).
"""

from __future__ import annotations

import gzip
import re
from html import unescape
from urllib.parse import urlsplit

import pytest

import pelicanconf
from safeline.site import DEFAULT_LANG, LANGUAGES, page_path
from tests.support.relay_app import SITE_ORIGIN as RELAY_ORIGIN
from tests.support.reports import MORE_PATHS, OTHER_PATHS, sent_codes, submit, submit_more

ALTERNATE = re.compile(r'<link rel="alternate" hreflang="([^"]+)" href="([^"]+)">')
DESCRIPTION = re.compile(r'<meta name="description" content="([^"]*)">')
ICONS = ('<link rel="icon" href="/favicon.ico" sizes="32x32">',
         '<link rel="icon" href="/theme/icon.svg" type="image/svg+xml">')


def head(html: str) -> str:
    return html.split("</head>", 1)[0]


def check_head(html: str, origin: str, where: str) -> None:
    """The head of one page: absolute alternates under ``origin``, a description, the icon."""
    top = head(html)
    alternates = dict(ALTERNATE.findall(top))
    assert set(alternates) == {*LANGUAGES, "x-default"}, f"{where}: alternates {sorted(alternates)}"
    for lang, href in alternates.items():
        parts = urlsplit(href)
        assert parts.scheme in ("http", "https") and parts.netloc, f"{where}: hreflang {lang} is not absolute: {href}"
        assert href.startswith(origin + "/"), f"{where}: hreflang {lang} leaves the site's origin {origin}: {href}"
    assert alternates["x-default"] == alternates[DEFAULT_LANG], where
    descriptions = DESCRIPTION.findall(top)
    assert len(descriptions) == 1 and unescape(descriptions[0]).strip(), f"{where}: no meta description"
    for icon in ICONS:
        assert icon in top, f"{where}: no {icon}"


# -- the built site --------------------------------------------------------------------------

def test_every_built_page_has_absolute_alternates_a_description_and_the_icon(site):
    pages = sorted(site.rglob("*.html"))
    assert len(pages) >= 30
    for file in pages:
        check_head(file.read_text(encoding="utf-8"), pelicanconf.SITE_ORIGIN, file.relative_to(site).as_posix())


def test_development_builds_use_their_own_origin(site):
    """./run build's pages name http://127.0.0.1:8000, the address ./run serve serves by
    default (serve passes its own port); production says its own (publishconf.py)."""
    for path in ("faq/index.html", "en/faq/index.html"):
        alternates = dict(ALTERNATE.findall(head((site / path).read_text(encoding="utf-8"))))
        assert alternates == {"ja": "http://127.0.0.1:8000/faq/", "en": "http://127.0.0.1:8000/en/faq/",
                              "x-default": "http://127.0.0.1:8000/faq/"}, path


def test_the_icon_is_at_the_root_and_small(site):
    ico = (site / "favicon.ico").read_bytes()
    assert ico[:4] == b"\x00\x00\x01\x00", "not an ICO file"
    count = int.from_bytes(ico[4:6], "little")
    sizes = sorted(ico[6 + 16 * i] for i in range(count))
    assert sizes == [16, 32], sizes
    assert len(ico) <= 2048, f"favicon.ico is {len(ico)} bytes"
    svg = (site / "theme" / "icon.svg").read_text(encoding="utf-8")
    assert len(gzip.compress(svg.encode(), compresslevel=6)) <= 512
    # Neutral: shapes only, no words (it shows in tabs, bookmarks and history), nothing fetched.
    assert not re.search(r"<(text|image|use|foreignObject|script|style)\b", svg), svg
    assert "http" not in svg.replace('xmlns="http://www.w3.org/2000/svg"', "")


def test_serve_answers_the_icon_at_the_root(site):
    """./run serve's one origin (tasks._site_and_relay) gives /favicon.ico from the build."""
    from werkzeug.test import Client
    from werkzeug.wrappers import Response

    import tasks

    def relay_app(environ, start_response):  # not reached: /favicon.ico is no relay path
        return Response("relay", status=500)(environ, start_response)

    client = Client(tasks._site_and_relay(site, relay_app, pelicanconf.RELAY_PATHS))
    for path, kind in (("/favicon.ico", "image/"), ("/theme/icon.svg", "image/svg+xml")):
        response = client.get(path)
        assert response.status_code == 200, path
        assert response.headers["Content-Type"].startswith(kind), response.headers["Content-Type"]
        assert response.get_data() == (site / path.lstrip("/")).read_bytes()


# -- the relay's pages -----------------------------------------------------------------------

@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_relay_page_has_absolute_alternates_a_description_and_the_icon(client, lang):
    form = "/" + page_path("report", lang)
    reference, code = sent_codes(client, submit(client, lang=lang))
    states = {
        "form": client.get(form),
        "form with errors": submit(client, lang=lang, role=None, email="x", consent=None),
        "confirmation": client.get(submit(client, lang=lang).headers["Location"]),
        "confirmation, old link": client.get(form + "sent/?r=old"),
        "someone else, posted": submit(client, lang=lang, role="other"),
        "what a friend can do": client.get(OTHER_PATHS[lang]),
        "addition form": client.get(MORE_PATHS[lang]),
        "addition errors": submit_more(client, lang=lang, reference="x", code="y"),
        "addition sent": client.get(submit_more(client, lang=lang, reference=reference, code=code).headers["Location"]),
        "not found": client.get(form + "no-such-page/"),
        "method not allowed": client.put(form),
        "too large": client.post(form, data={"description": "x" * 70_000}),
    }
    for state, response in states.items():
        assert response.status_code in (200, 404, 405, 413, 422), f"{state}: {response.status_code}"
        check_head(response.get_data(as_text=True), RELAY_ORIGIN, f"{lang} {state}")


def test_relay_descriptions_are_translated(client):
    """Each language's page describes itself in its own language (ja differs from en)."""
    for path in ("/report/", "/report/more/", "/report/other/"):
        ja = DESCRIPTION.findall(head(client.get(path).get_data(as_text=True)))[0]
        en = DESCRIPTION.findall(head(client.get("/en" + path).get_data(as_text=True)))[0]
        assert ja != en and re.search(r"[\u3040-\u30ff]", ja), path
