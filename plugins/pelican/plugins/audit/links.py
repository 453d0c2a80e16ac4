"""Internal links and assets that do not resolve to a file of the built site."""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlsplit

from .document import Finding, documents, read_html, references


def _target(output: Path, page: Path, path: str) -> Path:
    if path.startswith("/"):
        base = PurePosixPath("/")
    else:
        base = PurePosixPath("/") / page.parent.relative_to(output).as_posix()
    joined = PurePosixPath(base, unquote(path))
    parts: list[str] = []
    for part in joined.parts[1:]:
        if part == "..":
            if parts:
                parts.pop()
        elif part != ".":
            parts.append(part)
    target = output.joinpath(*parts)
    if path.endswith("/") or target.is_dir():
        target = target / "index.html"
    return target


def broken_links(output: Path, served_elsewhere=()) -> list[Finding]:
    """Links of our own pages that lead nowhere: a missing file, or a missing ``#id``.

    ``served_elsewhere`` lists path prefixes that another program answers (the relay), which
    the static output cannot contain.
    """
    output = Path(output)

    def ids(file: Path) -> set[str]:
        return read_html(file)[1]

    findings = []
    for file in documents(output):
        shown = file.relative_to(output).as_posix()
        for ref in references(file):
            parts = urlsplit(ref.url)
            if parts.scheme or parts.netloc or ref.url.startswith(("mailto:", "tel:")):
                continue  # another site or another application, not ours to resolve
            if any(parts.path.startswith(prefix) for prefix in served_elsewhere):
                continue
            target = _target(output, file, parts.path) if parts.path else file
            if not target.is_file():
                findings.append(Finding(shown, ref.url, "no such file in the output"))
            elif parts.fragment and target.suffix == ".html" and unquote(parts.fragment) not in ids(target):
                findings.append(Finding(shown, ref.url, f"no id '{parts.fragment}' on that page"))
    return findings
