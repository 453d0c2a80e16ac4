"""The site in the tests: where things are, how to build it, how to read a built page.

Fixtures: ``site`` (the site built once per session into a temporary folder) and ``page``
(``page(slug, lang)``: one of its pages, parsed).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

from safeline.site import LANGUAGES, ROOT, page_path

LANGS = LANGUAGES
SLUGS = ("home", "before-you-report", "privacy", "faq", "support", "police", "about", "report-unavailable", "safety", "not-found",
         "report-too-large", "error", "threatened", "under-18", "evidence")

# The title (and <h1>) each page must have, as the hotline's readers know it.
TITLES = {
    ("home", "ja"): "リベンジポルノの被害にあったら",
    ("before-you-report", "ja"): "通報にあたって",
    ("privacy", "ja"): "情報の取り扱い",
    ("faq", "ja"): "よくある質問",
    ("support", "ja"): "相談窓口",
    ("police", "ja"): "警察への相談",
    ("about", "ja"): "運営団体について",
    ("home", "en"): "If intimate images of you were shared without consent",
    ("before-you-report", "en"): "Before you report",
    ("privacy", "en"): "How we handle your information",
    ("faq", "en"): "Questions and answers",
    ("support", "en"): "Consultation lines",
    ("police", "en"): "Going to the police",
    ("about", "en"): "Who runs Safeline",
    ("report-unavailable", "ja"): "フォームが使えないとき",
    ("report-unavailable", "en"): "If the form is not working",
    ("safety", "ja"): "安全にこのサイトを見るために",
    ("safety", "en"): "Staying safe while you use this site",
    ("not-found", "ja"): "ページが見つかりません",
    ("not-found", "en"): "Page not found",
    ("report-too-large", "ja"): "内容が多すぎて、送れませんでした",
    ("report-too-large", "en"): "Your report was too long to send",
    ("error", "ja"): "このページを表示できませんでした",
    ("error", "en"): "This page could not be shown",
    ("threatened", "ja"): "「画像を広める」とおどされているとき",
    ("threatened", "en"): "If someone threatens to share your images",
    ("under-18", "ja"): "18歳未満の人と保護者の方へ",
    ("under-18", "en"): "If you or your child is under 18",
    ("evidence", "ja"): "証拠の残し方",
    ("evidence", "en"): "Keeping evidence",
}

# Pages whose own metadata places them: the home page at the root, "not found" as 404.html.
SPECIAL = {"home": "index.html", "not-found": "404.html"}


def output_file(slug: str, lang: str) -> str:
    """Where a page is written, relative to the output folder (from the site's URL rule,
    ``safeline.site.page_path``, which gives the page's URL path)."""
    if slug in SPECIAL:
        return page_path(slug, lang).removesuffix(f"{slug}/") + SPECIAL[slug]
    return page_path(slug, lang) + "index.html"


def build_site(output: Path, *extra_settings: tuple[str, object], fatal: bool = True) -> subprocess.CompletedProcess:
    """Run the real Pelican build, as ./run build does, into ``output``."""
    command = [sys.executable, "-m", "pelican", str(ROOT / "content"), "--log-handler", "plain",
               "-s", str(ROOT / "pelicanconf.py"), "-o", str(output)]
    if fatal:
        extra_settings += (("STRICT", True),)
    if extra_settings:  # one -e for all: argparse keeps only the last -e given
        command += ["-e", *(f"{name}={json.dumps(value)}" for name, value in extra_settings)]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120)


def catalog(lang: str):
    """The theme's gettext catalog of ``lang``, as the build reads it."""
    from pelican.plugins import i18n

    return i18n.catalog(ROOT / "theme" / "translations", lang)


class BuiltPage:
    """A built page, parsed just enough for the tests to ask about it."""

    def __init__(self, path: Path):
        self.path = path
        self.html = path.read_text(encoding="utf-8")
        parser = _Parser()
        parser.feed(self.html)
        self.title = parser.title.strip()
        self.h1 = parser.h1.strip()
        self.links = parser.links  # (href, text) of every <a>
        self.lang = parser.lang

    @property
    def text(self) -> str:
        """The visible text, tags removed and white space folded."""
        body = re.sub(r"<(script|style)\b.*?</\1>", " ", self.html, flags=re.S)
        body = re.sub(r"<[^>]+>", " ", body)
        import html

        return re.sub(r"\s+", " ", html.unescape(body))

    def hrefs(self) -> list[str]:
        return [href for href, _ in self.links]

    def missing(self, facts) -> list[str]:
        """The ``facts`` (words a page must go on saying, in any wording around them) that its
        visible text no longer holds, ignoring case."""
        text = self.text.lower()
        return [fact for fact in facts if fact.lower() not in text]


class _Parser(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.title = self.h1 = ""
        self.lang = None
        self.links: list[tuple[str, str]] = []
        self._in: str | None = None
        self._href: str | None = None
        self._text = ""

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "html":
            self.lang = attrs.get("lang")
        if tag in ("title", "h1"):
            self._in = tag
        if tag == "a":
            self._href, self._text = attrs.get("href"), ""

    def handle_endtag(self, tag):
        if tag == self._in:
            self._in = None
        if tag == "a" and self._href is not None:
            self.links.append((self._href, self._text.strip()))
            self._href = None

    def handle_data(self, data):
        if self._in == "title":
            self.title += data
        elif self._in == "h1":
            self.h1 += data
        if self._href is not None:
            self._text += data


def compile_catalogs() -> None:
    """Compile the catalogs when a .mo is missing or stale: the relay refuses to start then
    (``./run test`` compiles them first; this serves a test run started by hand)."""
    catalogs = ROOT / "theme" / "translations"
    stale = [
        po for po in catalogs.glob("*/LC_MESSAGES/messages.po")
        if not po.with_suffix(".mo").exists() or po.with_suffix(".mo").stat().st_mtime < po.stat().st_mtime
    ]
    if stale:
        subprocess.run([sys.executable, "-m", "babel.messages.frontend", "-q", "compile", "-d", str(catalogs)],
                       cwd=ROOT, check=True)


@pytest.fixture(scope="session")
def site(tmp_path_factory) -> Path:
    output = tmp_path_factory.mktemp("site")
    result = build_site(output)
    assert result.returncode == 0, result.stdout + result.stderr
    return output


@pytest.fixture(scope="session")
def page(site):
    def load(slug: str, lang: str = "ja") -> BuiltPage:
        return BuiltPage(site / output_file(slug, lang))

    return load
