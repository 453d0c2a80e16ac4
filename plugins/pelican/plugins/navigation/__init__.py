"""Where pages are, per language: the main menu and links to a page by its slug.

Pelican lists only default-language pages in ``pages``; the English menu needs the
translations too.  Templates get ``NAV[lang]`` (pages with a ``Nav`` number, in that order,
labelled by ``Nav_title`` or the title) and ``page_url(slug, lang)``, which the relay
provides under the same name so that one set of templates serves both.

A page whose ``Save_as`` is empty is written nowhere but is listed like any other: that is how
``content/pages/report.*.md`` puts the relay's report form (``/report/``, ``/en/report/``) in
the menu of every page, the relay's own included (relay/frame.py reads the same metadata).
"""

from __future__ import annotations

from collections import defaultdict

from pelican import signals

_urls: dict[tuple[str, str], str] = {}


def page_url(slug: str, lang: str) -> str:
    """The site-relative URL of the page ``slug`` in ``lang``; a missing page fails the build."""
    try:
        return _urls[slug, lang]
    except KeyError:
        raise LookupError(f"the theme links to the page '{slug}' in '{lang}', but content/ has no such page") from None


def collect(generator) -> None:
    menus = defaultdict(list)
    _urls.clear()
    for page in [*generator.pages, *generator.translations, *generator.hidden_pages, *generator.hidden_translations]:
        # Pelican formats ``page.url`` from the settings on every access (a copy of the metadata,
        # path resolution), and the theme reads each page's URL on many pages (menu, language
        # switch, hreflang); nothing changes it after this point, so it is formatted once here.
        # ``override_url`` is Pelican's own hook for a fixed URL (the ``URL:`` metadata).
        page.override_url = page.url
        _urls[page.slug, page.lang] = page.url
        order = getattr(page, "nav", None)
        if order is not None:
            menus[page.lang].append((int(order), page))
    generator.context["NAV"] = {
        lang: [page for _, page in sorted(items, key=lambda item: item[0])] for lang, items in menus.items()
    }


def add_to_templates(generator) -> None:
    env = getattr(generator, "env", None)
    if env is not None:
        env.globals["page_url"] = page_url
        env.globals["home_url"] = lambda lang: page_url("home", lang)


def register() -> None:
    signals.generator_init.connect(add_to_templates)
    signals.page_generator_finalized.connect(collect)
