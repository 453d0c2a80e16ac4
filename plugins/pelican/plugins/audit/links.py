"""Internal links and assets that do not resolve to a file of the built site."""

from __future__ import annotations

import functools
import posixpath
from pathlib import Path
from urllib.parse import unquote, urlsplit

from .document import Finding, documents, read_html, references


@functools.lru_cache(maxsize=65536)
def _resolve(folder: str, path: str) -> str:
    """Where ``path``, linked from a page in ``folder`` (relative to the output), points."""
    joined = path if path.startswith("/") else posixpath.join("/" + folder, path)
    return posixpath.normpath("/" + unquote(joined).lstrip("/")).lstrip("/")


def _target(page: str, path: str, files: set[str]) -> str:
    """The output file a link of ``page`` (both relative to the output folder) leads to."""
    target = _resolve(posixpath.dirname(page), path)
    if path.endswith("/") or f"{target}/index.html" in files:
        target = f"{target}/index.html".lstrip("/")
    return target


def broken_links(output: Path, served_elsewhere=()) -> list[Finding]:
    """Links of our own pages that lead nowhere: a missing file, or a missing ``#id``.

    ``served_elsewhere`` lists path prefixes that another program answers (the relay), which
    the static output cannot contain.
    """
    output = Path(output)
    # One walk of the output instead of a stat per link: a large site has many thousands.
    files = {path.relative_to(output).as_posix() for path in output.rglob("*") if path.is_file()}

    findings = []
    for file in documents(output):
        shown = file.relative_to(output).as_posix()
        for ref in references(file):
            parts = urlsplit(ref.url)
            if parts.scheme or parts.netloc or ref.url.startswith(("mailto:", "tel:")):
                continue  # another site or another application, not ours to resolve
            if any(parts.path.startswith(prefix) for prefix in served_elsewhere):
                continue
            target = _target(shown, parts.path, files) if parts.path else shown
            if target not in files:
                findings.append(Finding(shown, ref.url, "no such file in the output"))
            elif parts.fragment and target.endswith(".html") and unquote(parts.fragment) not in read_html(output / target)[1]:
                findings.append(Finding(shown, ref.url, f"no id '{parts.fragment}' on that page"))
    return findings
