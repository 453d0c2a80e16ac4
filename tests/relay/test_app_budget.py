"""The relay's pages fit the first round trip too: page + its CSS + JS ≤ 14 KB gzip."""

from __future__ import annotations

import gzip
import re

import pytest

from tests.support.reports import MORE_PATHS, OTHER_PATHS, sent_codes, submit, submit_more
from tests.support.site import ROOT

BUDGET = 14 * 1024


def loaded_files(html: str) -> list[bytes]:
    """The site's own CSS and JavaScript a page loads (served from output/ in production)."""
    files = []
    for path in re.findall(r'<(?:link rel="stylesheet" href|script src)="/theme/([^"]+)"', html):
        files.append((ROOT / "theme" / "static" / path).read_bytes())
    return files


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_every_relay_state_fits_the_budget(client, lang):
    long_text = "写真の説明。" * 600  # a long description kept in the form after an error
    states = {
        "empty form": client.get("/report/" if lang == "ja" else "/en/report/"),
        "every error": submit(client, lang=lang, role=None, email="x", urls="ftp://a\n" * 30, description=long_text, consent=None),
        "confirmation": client.get(submit(client, lang=lang).headers["Location"]),
        "someone else": submit(client, lang=lang, role="other"),
        "what a friend can do": client.get(OTHER_PATHS[lang]),
        "addition form": client.get(MORE_PATHS[lang]),
        "addition errors": submit_more(client, lang=lang, reference="x", code="y", urls="ftp://a\n" * 30,
                                       description=long_text),
    }
    reference, code = sent_codes(client, submit(client, lang=lang))
    states["addition sent"] = client.get(submit_more(client, lang=lang, reference=reference, code=code).headers["Location"])
    for state, response in states.items():
        html = response.get_data(as_text=True)
        parts = [html.encode("utf-8"), *loaded_files(html)]
        assert len(parts) >= 2, f"{state}: no style sheet"
        size = sum(len(gzip.compress(part, compresslevel=6)) for part in parts)
        assert size <= BUDGET, f"{lang} {state}: {size} bytes gzip"


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_the_pages_that_say_not_now_fit_the_budget(app, lang):
    """429 and 503 of both forms, with the lines open now and a long description kept."""
    long_text = "写真の説明。" * 600
    waiting = app(RELAY_RATELIMIT="1 per hour").test_client()
    reference, code = sent_codes(waiting, submit(waiting, lang=lang))
    busy = app(RELAY_RATELIMIT_SITE="1 per hour").test_client()
    submit(busy, lang=lang)
    states = {
        "report 429": submit(waiting, lang=lang, description=long_text),
        "addition 429": submit_more(waiting, lang=lang, reference=reference, code=code, description=long_text),
        "report 503": submit(busy, lang=lang, description=long_text),
        "addition 503": submit_more(busy, lang=lang, reference=reference, code=code, description=long_text),
    }
    for state, response in states.items():
        assert response.status_code == int(state[-3:]), state
        html = response.get_data(as_text=True)
        assert 'class="lines-now"' in html, state
        size = sum(len(gzip.compress(part, compresslevel=6)) for part in [html.encode("utf-8"), *loaded_files(html)])
        assert size <= BUDGET, f"{lang} {state}: {size} bytes gzip"
