"""The site's rules, stated once: its languages, where each page lives, how text is translated.

Pelican's settings (pelicanconf.py), our plugins, the relay, tasks.py and the tests read them
from here, so that the static pages and the relay's pages cannot disagree about a language, a
URL or a translation.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Literal, get_args

from babel.support import Translations
from jinja2 import pass_context
from markupsafe import Markup

ROOT = Path(__file__).resolve().parent.parent
CATALOGS = ROOT / "theme" / "translations"  # Babel: messages.pot, <lang>/LC_MESSAGES/messages.po
DOMAIN = "messages"

Lang = Literal["ja", "en"]  # Japanese first: every page exists in each
LANGUAGES: tuple[Lang, ...] = get_args(Lang)
DEFAULT_LANG = "ja"  # at /; the others at /<lang>/
LANGUAGE_NAMES = {"ja": "日本語", "en": "English"}  # each in its own language, for the switch

# Where a page lives, below the site's root: Pelican's PAGE_URL and PAGE_LANG_URL.
PAGE_URL = "{slug}/"
PAGE_LANG_URL = "{lang}/{slug}/"

# Pelican settings the theme reads, which the relay gives its templates as well.
SITEURL = ""  # links stay root-relative, so the output works on any host
THEME_STATIC_DIR = "theme"  # the theme's static files: /theme/css/…, /theme/js/…

# Where the quick exit leads: an ordinary, harmless everyday site (a weather forecast).
QUICK_EXIT_URL = "https://tenki.jp/"


def page_path(slug: str, lang: str) -> str:
    """The page ``slug`` in ``lang``, relative to the site's root: ``faq/``, ``en/faq/``."""
    pattern = PAGE_URL if lang == DEFAULT_LANG else PAGE_LANG_URL
    return pattern.format(slug=slug, lang=lang)


def catalog_file(lang: str, catalogs: Path = CATALOGS) -> Path:
    """The Babel catalog (``.po``) of ``lang`` in the folder ``catalogs``; its ``.mo`` beside it."""
    return catalogs / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


def lang_of_path(path: str) -> str:
    """The language a URL path (``/en/report/``) is in."""
    first = path.lstrip("/").split("/", 1)[0]
    return first if first in LANGUAGES and first != DEFAULT_LANG else DEFAULT_LANG


def N_(message: str) -> str:
    """Marks ``message`` for the catalogs (Babel extracts N_); it is translated where shown."""
    return message


def page_lang(context) -> str:
    """The language of what a template is writing: a ``lang`` variable, or its ``page``'s."""
    return context.get("lang") or getattr(context.get("page"), "lang", None) or DEFAULT_LANG


def template_gettext(translations: Callable[[str], Translations]):
    """``gettext`` and ``ngettext`` for Jinja templates that render pages of every language.

    They do what Jinja's newstyle gettext does (``install_gettext_callables(newstyle=True)``):
    mark the translation safe under autoescape and always format it with the keyword
    arguments (so "%%" is one "%").  One call each, rather than through Jinja's ``_`` alias and
    wrapper: a page looks up dozens of strings.  The language is the page's (or a ``lang``
    variable), and ``translations(lang)`` gives its catalog.
    """

    @pass_context
    def gettext(context, message: str, **variables) -> str:
        text = translations(page_lang(context)).gettext(message)
        if context.eval_ctx.autoescape:
            text = Markup(text)
        return text % variables

    @pass_context
    def ngettext(context, singular: str, plural: str, n: int, **variables) -> str:
        variables.setdefault("num", n)
        text = translations(page_lang(context)).ngettext(singular, plural, n)
        if context.eval_ctx.autoescape:
            text = Markup(text)
        return text % variables

    return gettext, ngettext


def install_gettext(env, translations: Callable[[str], Translations]) -> None:
    """Put ``template_gettext`` into a Jinja environment as ``gettext``, ``ngettext`` and ``_``."""
    gettext, ngettext = template_gettext(translations)
    env.install_gettext_callables(gettext=gettext, ngettext=ngettext, newstyle=True)
    # The template compiler still treats gettext calls as newstyle (kwargs, no ``|format``);
    # ours already behave so, and ``_`` goes straight to them.
    env.globals.update(gettext=gettext, ngettext=ngettext, _=gettext)
