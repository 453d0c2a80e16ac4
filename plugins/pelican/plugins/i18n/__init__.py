"""Theme strings through gettext, in the language of the page being written.

One Jinja environment renders pages of both languages, so the gettext callables look at
the page in the template context (or a ``lang`` variable) on every call.  Catalogs are the
project's Babel ``.po`` files in ``I18N_CATALOGS`` (by default ``theme/translations``), the
same ones the relay uses; they are read directly, so the site never shows a stale ``.mo``.
Fuzzy entries are left out, as ``pybabel compile`` does.
"""

from __future__ import annotations

import functools
import io
import logging
from collections import defaultdict
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations
from pelican import signals

from safeline.site import DOMAIN, catalog_file, install_gettext

logger = logging.getLogger(__name__)
_catalog_dir: Path | None = None


@functools.cache
def _load(catalog_dir: Path, lang: str) -> Translations:
    po = catalog_file(lang, catalog_dir)
    with po.open("rb") as handle:
        catalog = read_po(handle, locale=lang, domain=DOMAIN)
    compiled = io.BytesIO()
    write_mo(compiled, catalog, use_fuzzy=False)
    compiled.seek(0)
    return Translations(compiled, domain=DOMAIN)


def catalog(catalog_dir: Path, lang: str) -> Translations:
    """The catalog of ``lang`` in ``catalog_dir``, read as the build reads it (for tests and tools)."""
    return _load(Path(catalog_dir).resolve(), lang)


def translations(lang: str) -> Translations:
    """The catalog of ``lang``; the build calls ``configure`` first."""
    if _catalog_dir is None:
        raise RuntimeError("pelican.plugins.i18n is not configured")
    return _load(_catalog_dir, lang)


def configure(pelican) -> None:
    global _catalog_dir
    settings = pelican.settings
    _catalog_dir = Path(settings.get("I18N_CATALOGS") or Path(settings["THEME"]) / "translations").resolve()
    _load.cache_clear()
    extensions = settings.setdefault("JINJA_ENVIRONMENT", {}).setdefault("extensions", [])
    if "jinja2.ext.i18n" not in extensions:
        extensions.append("jinja2.ext.i18n")


def install(generator) -> None:
    env = getattr(generator, "env", None)
    if env is not None:
        install_gettext(env, translations)


def require_every_language(generator) -> None:
    """Each page in every language of ``I18N_LANGUAGES``: a reader switching language must land somewhere."""
    languages = generator.settings.get("I18N_LANGUAGES") or [generator.settings["DEFAULT_LANG"]]
    found = defaultdict(dict)
    for page in [*generator.pages, *generator.translations, *generator.hidden_pages, *generator.hidden_translations]:
        found[page.slug][page.lang] = page
    for slug, versions in sorted(found.items()):
        some = next(iter(versions.values()))
        for lang in languages:
            if lang not in versions:
                logger.warning("%s has no %s version: add %s.%s.md with 'Slug: %s'", some.relative_source_path, lang, slug, lang, slug)


def register() -> None:
    signals.initialized.connect(configure)
    signals.generator_init.connect(install)
    signals.page_generator_finalized.connect(require_every_language)
