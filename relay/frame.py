"""The site's frame for the relay's pages: the theme's templates, with what Pelican gives them.

The relay renders ``theme/templates`` like Pelican does, and those templates expect what
Pelican gives them: a ``page`` (lang, title, url, translations, summary), the menu
``NAV``, ``page_url(slug, lang)``, the gettext functions and ``SITE_ORIGIN`` (here
``RELAY_SITE_ORIGIN``: hreflang alternates are absolute, as in the built pages).  The
relay never imports Pelican, so it reads the menu from the metadata lines at the top of
``content/pages/*.md``, with the site's URL rule (``safeline.site.page_path``; a test
compares both menus).

Translations come from the compiled catalogs (``./run i18n-compile``); a missing or stale
``.mo`` stops the relay at start, rather than showing untranslated or old text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from babel.support import Translations
from jinja2 import Environment, FileSystemLoader, select_autoescape

from safeline.phrasing import japanese
from safeline.site import (
    CATALOGS, DEFAULT_LANG, DOMAIN, LANGUAGE_NAMES, LANGUAGES, ROOT, SITEURL, THEME_STATIC_DIR, catalog_file,
    install_gettext, page_path,
)

from .problems import Problems

CONTENT = ROOT / "content" / "pages"
TEMPLATES = ROOT / "theme" / "templates"


class SiteError(Problems):
    """The theme's catalogs cannot be used; one line per problem."""


@dataclass
class Page:
    """Just what the templates read of a page."""

    lang: str
    title: str
    url: str
    slug: str = ""
    summary: str = ""
    nav: int | None = None
    nav_title: str | None = None
    translations: list["Page"] = field(default_factory=list)


def read_pages(folder: Path = CONTENT) -> dict[tuple[str, str], Page]:
    pages = {}
    for file in sorted(folder.glob("*.md")):
        meta = {}
        for line in file.read_text(encoding="utf-8").splitlines():
            match = re.match(r"^([A-Za-z_]+):\s*(.*)$", line)
            if not match:
                break
            meta[match[1].lower()] = match[2].strip()
        slug, lang = meta.get("slug", file.stem.split(".")[0]), meta.get("lang", DEFAULT_LANG)
        url = meta["url"] if "url" in meta else page_path(slug, lang)
        pages[slug, lang] = Page(
            lang=lang,
            title=meta.get("title", ""),
            url=url,
            slug=slug,
            summary=meta.get("summary", ""),
            nav=int(meta["nav"]) if meta.get("nav", "").isdigit() else None,
            nav_title=meta.get("nav_title"),
        )
    return pages


def menus(pages: dict[tuple[str, str], Page]) -> dict[str, list[Page]]:
    return {
        lang: sorted((p for p in pages.values() if p.lang == lang and p.nav is not None), key=lambda p: p.nav)
        for lang in LANGUAGES
    }


def load_translations(catalogs: Path = CATALOGS) -> dict[str, Translations]:
    problems, loaded = [], {}
    for lang in LANGUAGES:
        po = catalog_file(lang, catalogs)
        mo = po.with_suffix(".mo")
        if not mo.exists() or mo.stat().st_mtime < po.stat().st_mtime:
            problems.append(f"{mo.relative_to(ROOT) if mo.is_relative_to(ROOT) else mo}: missing or older than messages.po; run ./run i18n-compile")
            continue
        with mo.open("rb") as handle:
            loaded[lang] = Translations(handle, domain=DOMAIN)
    if problems:
        raise SiteError(problems)
    return loaded


class Frame:
    """The Jinja environment and everything the shared templates need from the site."""

    def __init__(self, *, quick_exit_url: str, site_origin: str = "", contact_address: str = "",
                 staff_language: str = DEFAULT_LANG):
        self.pages = read_pages()
        self.translations = load_translations()
        self.env = Environment(
            loader=FileSystemLoader(TEMPLATES),
            autoescape=select_autoescape(["html"]),
            extensions=["jinja2.ext.i18n"],
            trim_blocks=True,
            lstrip_blocks=True,
        )
        install_gettext(self.env, self.translations.__getitem__)
        self.env.filters["japanese"] = japanese  # as in the site's templates (the hotlines plugin)
        self.env.globals.update(
            NAV=menus(self.pages),
            page_url=self.page_url,
            home_url=lambda lang: self.page_url("home", lang),
            SITEURL=SITEURL,
            SITE_ORIGIN=site_origin,  # RELAY_SITE_ORIGIN: for the absolute hreflang alternates
            THEME_STATIC_DIR=THEME_STATIC_DIR,
            DEFAULT_LANG=DEFAULT_LANG,
            LANGUAGE_NAMES=LANGUAGE_NAMES,
            QUICK_EXIT_URL=quick_exit_url,
            # The address staff write from, and the language they write in (RELAY_CONTACT_ADDRESS,
            # RELAY_STAFF_LANGUAGE): the form says both, so that the mail is expected and understood.
            CONTACT_ADDRESS=contact_address,
            STAFF_LANGUAGE=staff_language,
        )

    def page_url(self, slug: str, lang: str) -> str:
        return self.pages[slug, lang].url

    def gettext(self, lang: str):
        return self.translations[lang].gettext

    def render(self, template: str, **context) -> str:
        return self.env.get_template(template).render(**context)
