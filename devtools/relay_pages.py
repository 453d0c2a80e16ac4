"""The relay's pages as a reporter meets them, for checks that read every state of a page.

``./run check`` (tasks.py) and tests/test_typography.py look at their Japanese text; the
walk sends a real report and an addition through the app it is given, so it belongs with
the development tools, never in what the site or the relay import.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from safeline.site import page_path


def relay_pages(client, lang: str = "ja") -> Iterator[tuple[str, str]]:
    """The relay's pages in ``lang`` as a reporter meets them, through a Flask test client:
    the report form, its error state, the confirmation, the form that adds to a report (empty,
    with errors, and its confirmation), what someone else can do, and a page that is not there.
    Yields (name, html).  The valid report goes into the app's outbox (use a scratch one)."""
    form, more, other = ("/" + page_path(slug, lang) for slug in ("report", "report/more", "report/other"))

    def token(path: str) -> str:
        page = client.get(path)
        return re.search(r'name="token" value="([^"]+)"', page.get_data(as_text=True))[1]

    def html(response) -> str:
        return response.get_data(as_text=True)

    yield form, html(client.get(form))
    yield f"{form} (with errors)", html(client.post(form, data={"token": token(form), "role": "self"}))
    report = {"token": token(form), "role": "self", "email": "hanako@example.jp",
              "urls": "https://images.example.com/p/1", "description": "写真が投稿されました。", "consent": "yes"}
    sent = client.post(form, data=report)
    if sent.status_code != 303:
        raise RuntimeError(f"{form}: the valid report was not accepted ({sent.status_code})")
    confirmation = html(client.get(sent.headers["Location"]))
    yield f"{form}sent/", confirmation
    reference = re.search(r'id="reference"[^>]*>\s*([^<\s]+)', confirmation)[1]
    code = re.search(r'id="followup-code"[^>]*>\s*([^<\s]+)', confirmation)[1]
    yield more, html(client.get(more))
    yield f"{more} (with errors)", html(client.post(more, data={"token": token(more), "reference": reference,
                                                                 "code": "", "urls": ""}))
    added = client.post(more, data={"token": token(more), "reference": reference, "code": code,
                                    "urls": "https://more.example.com/p/2", "description": ""})
    if added.status_code != 303:
        raise RuntimeError(f"{more}: the addition was not accepted ({added.status_code})")
    yield f"{more}sent/", html(client.get(added.headers["Location"]))
    yield other, html(client.get(other))
    missing = "/" + page_path("report/missing", lang)
    yield f"{missing} (404)", html(client.get(missing))
