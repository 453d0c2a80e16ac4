"""The staff kit's own catalogs (Babel domain ``staff``): ``<lang>/LC_MESSAGES/staff.po``.

Separate from the site's catalogs (theme/translations): the kit is a different audience with its
own words, and it must install without the site. It is installed by pipx straight from the
repository, where ``.mo`` files are not committed, so the ``.po`` files are read at start and
compiled in memory (``read_po`` → ``write_mo`` into a buffer → ``Translations``): nothing to
build before it runs, and nothing written to disk.

``./run i18n-extract`` / ``i18n-update`` / ``i18n-compile`` keep these catalogs too
(``staff/babel.cfg`` says what is extracted).
"""

from __future__ import annotations

import functools
from io import BytesIO
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

DOMAIN = "staff"
FOLDER = Path(__file__).resolve().parent
LANGUAGES = ("ja", "en")  # Japanese first: the kit opens in Japanese
POT = FOLDER / f"{DOMAIN}.pot"


def po_file(lang: str) -> Path:
    return FOLDER / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


@functools.cache
def translations(lang: str) -> Translations:
    """The catalog of ``lang`` (one of ``LANGUAGES``), compiled in memory once per process."""
    if lang not in LANGUAGES:
        raise ValueError(f"no staff catalog for {lang!r}")
    with po_file(lang).open("rb") as po:
        catalog = read_po(po, locale=lang, domain=DOMAIN)
    buffer = BytesIO()
    write_mo(buffer, catalog, use_fuzzy=False)
    buffer.seek(0)
    return Translations(buffer, domain=DOMAIN)


def translate(lang: str, message: str) -> str:
    return translations(lang).gettext(message)


def N_(message: str) -> str:
    """Marks ``message`` for extraction; it is translated where it is shown."""
    return message
