"""What a written page or style sheet refers to, as (attribute, URL) pairs."""

from __future__ import annotations

import re
from dataclasses import dataclass
from html.parser import HTMLParser
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


class _Collector(HTMLParser):
    URL_ATTRIBUTES = {"href", "src", "action", "poster", "data", "formaction", "srcset", "content"}

    def __init__(self, file: Path):
        super().__init__(convert_charrefs=True)
        self.file = file
        self.references: list[Reference] = []
        self.ids: set[str] = set()
        self._in_style = False

    def handle_starttag(self, tag, attrs):
        values = dict(attrs)
        if values.get("id"):
            self.ids.add(values["id"])
        if tag == "a" and values.get("name"):
            self.ids.add(values["name"])
        rel = (values.get("rel") or "").lower()
        for name, value in attrs:
            if value is None or name not in self.URL_ATTRIBUTES:
                continue
            if name == "content":
                # only <meta http-equiv="refresh" content="0; url=...">
                if (values.get("http-equiv") or "").lower() != "refresh" or "url=" not in value.lower():
                    continue
                value = value[value.lower().index("url=") + 4 :]
            if name == "srcset":
                for candidate in value.split(","):
                    if candidate.strip():
                        self.references.append(Reference(self.file, tag, name, candidate.split()[0], rel))
                continue
            self.references.append(Reference(self.file, tag, name, value.strip(), rel))
        if values.get("style"):
            self.references += css_references(self.file, values["style"], tag)
        self._in_style = tag == "style"

    def handle_endtag(self, tag):
        if tag == "style":
            self._in_style = False

    def handle_data(self, data):
        if self._in_style:
            self.references += css_references(self.file, data, "style")


def css_references(file: Path, text: str, tag: str = "css") -> list[Reference]:
    found = []
    for match in CSS_URL.finditer(text):
        url = match.group(2) if match.group(2) is not None else match.group(4)
        if url and not url.startswith("data:"):
            found.append(Reference(file, tag, "url()", url.strip()))
    return found


def read_html(file: Path) -> tuple[list[Reference], set[str]]:
    collector = _Collector(file)
    collector.feed(file.read_text(encoding="utf-8"))
    collector.close()
    return collector.references, collector.ids


def documents(output: Path):
    """Every HTML page and style sheet of the output, in a stable order."""
    return sorted(p for p in output.rglob("*") if p.suffix in (".html", ".css") and p.is_file())


def references(file: Path) -> list[Reference]:
    if file.suffix == ".css":
        return css_references(file, file.read_text(encoding="utf-8"))
    return read_html(file)[0]
