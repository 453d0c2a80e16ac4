"""What a written page or style sheet refers to, as (attribute, URL) pairs."""

from __future__ import annotations

import functools
import html
import re
from dataclasses import dataclass
from pathlib import Path

CSS_URL = re.compile(r"""url\(\s*(['"]?)(.*?)\1\s*\)|@import\s+(['"])(.*?)\3""", re.IGNORECASE)


@dataclass(frozen=True)
class Reference:
    file: Path
    tag: str
    attribute: str
    url: str
    rel: str = ""


@dataclass(frozen=True)
class Finding:
    file: str
    url: str
    reason: str

    def __str__(self) -> str:
        return f"{self.file}: {self.url} ({self.reason})"


URL_ATTRIBUTES = {"href", "src", "action", "poster", "data", "formaction", "srcset", "content"}
# A tokenizer for the HTML our own build writes (Markdown and our templates): comments are
# dropped, <style> bodies kept, attributes double-, single- or un-quoted or bare.  Several
# times faster than html.parser, which made the audit the slowest part of a large build.
_COMMENT = re.compile(r"<!--.*?-->", re.S)
_TAG = re.compile(r"<([a-zA-Z][a-zA-Z0-9-]*)((?:[^>\"']|\"[^\"]*\"|'[^']*')*)>")
_ATTRIBUTE = re.compile(r"""([^\s"'>/=]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+)))?""")
_STYLE = re.compile(r"<style\b[^>]*>(.*?)</style\s*>", re.S | re.I)


def _attributes(text: str) -> list[tuple[str, str | None]]:
    found = []
    for match in _ATTRIBUTE.finditer(text):
        name, *values = match.groups()
        value = next((v for v in values if v is not None), None)
        found.append((name.lower(), html.unescape(value) if value is not None else None))
    return found


def _scan(file: Path, text: str) -> tuple[list[Reference], set[str]]:
    references: list[Reference] = []
    ids: set[str] = set()
    text = _COMMENT.sub("", text)
    for match in _TAG.finditer(text):
        tag, attrs = match.group(1).lower(), _attributes(match.group(2))
        values = dict(attrs)
        if values.get("id"):
            ids.add(values["id"])
        if tag == "a" and values.get("name"):
            ids.add(values["name"])
        rel = (values.get("rel") or "").lower()
        for name, value in attrs:
            if value is None or name not in URL_ATTRIBUTES:
                continue
            if name == "content":
                # only <meta http-equiv="refresh" content="0; url=...">
                if (values.get("http-equiv") or "").lower() != "refresh" or "url=" not in value.lower():
                    continue
                value = value[value.lower().index("url=") + 4 :]
            if name == "srcset":
                for candidate in value.split(","):
                    if candidate.strip():
                        references.append(Reference(file, tag, name, candidate.split()[0], rel))
                continue
            references.append(Reference(file, tag, name, value.strip(), rel))
        if values.get("style"):
            references += css_references(file, values["style"], tag)
    for body in _STYLE.findall(text):
        references += css_references(file, body, "style")
    return references, ids


def css_references(file: Path, text: str, tag: str = "css") -> list[Reference]:
    found = []
    for match in CSS_URL.finditer(text):
        url = match.group(2) if match.group(2) is not None else match.group(4)
        if url and not url.startswith("data:"):
            found.append(Reference(file, tag, "url()", url.strip()))
    return found


def read_html(file: Path) -> tuple[list[Reference], set[str]]:
    """A page's references and ids, parsed once however many checks ask (keyed by the file's
    size and modification time, so a rewritten page is read again)."""
    stat = file.stat()
    return _parse(file, stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=4096)
def _parse(file: Path, mtime_ns: int, size: int) -> tuple[list[Reference], set[str]]:
    return _scan(file, file.read_text(encoding="utf-8"))


def documents(output: Path):
    """Every HTML page and style sheet of the output, in a stable order."""
    return sorted(p for p in output.rglob("*") if p.suffix in (".html", ".css") and p.is_file())


def references(file: Path) -> list[Reference]:
    if file.suffix == ".css":
        return css_references(file, file.read_text(encoding="utf-8"))
    return read_html(file)[0]
