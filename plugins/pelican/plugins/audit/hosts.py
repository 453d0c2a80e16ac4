"""Anything a page would fetch from a host other than the site's own.

A person reading this site may be watched; every request to a third party (a CDN, a web
font, analytics, an embed) tells someone else that they were here.  Plain outbound links
(``<a href>``) are not fetched until followed, so they are allowed, and so are the
alternates of a page (``<link rel="alternate" hreflang=…>``, hyperlinks that browsers never
fetch; absolute by necessity); everything else that names another host is a finding: ``src``,
``<link href>`` (a style sheet, an icon, an alternate style sheet), form actions, CSS ``url()``.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from .document import Finding, documents, references


def foreign_loads(output: Path, own_origins=()) -> list[Finding]:
    """``own_origins`` are the site's own absolute addresses (``https://host``), allowed anywhere."""
    output = Path(output)
    own = {urlsplit(origin).netloc for origin in own_origins if origin}
    findings = []
    for file in documents(output):
        for ref in references(file):
            if ref.tag == "a" and ref.attribute == "href":
                continue
            if ref.tag == "link" and ref.rel.split() == ["alternate"]:
                continue
            parts = urlsplit(ref.url)
            if parts.netloc in own and parts.scheme == "https":
                continue
            if parts.netloc or ref.url.startswith("//") or parts.scheme not in ("", "data"):
                findings.append(Finding(file.relative_to(output).as_posix(), ref.url, f"<{ref.tag} {ref.attribute}>"))
    return findings
