"""Pelican settings for development; publishconf.py builds on them for production.

Japanese is the default language at ``/``; English pages are translations (same slug,
``Lang: en``) at ``/en/<slug>/``.  Only pages are built: no articles, feeds, tags or
archives, so there are no empty listing pages to maintain or to leak.
"""

from pathlib import Path

import pelican.plugins

ROOT = Path(__file__).resolve().parent
# Our plugins follow Pelican's convention (namespace packages pelican.plugins.<name>) but
# live in this repository, not in site-packages: add their folder to the namespace.  Tests
# and tasks import this file to get the same view.
if str(ROOT / "plugins" / "pelican" / "plugins") not in pelican.plugins.__path__:
    pelican.plugins.__path__.append(str(ROOT / "plugins" / "pelican" / "plugins"))

SITENAME = "セーフライン"
SITEURL = ""  # links stay root-relative, so the output works on any host
# Absolute origin for what must be absolute (hreflang alternates); empty in development.
SITE_ORIGIN = ""
RELATIVE_URLS = False
TIMEZONE = "Asia/Tokyo"
DEFAULT_LANG = "ja"
I18N_LANGUAGES = ["ja", "en"]  # every page exists in each; the build warns otherwise

PATH = str(ROOT / "content")
PAGE_PATHS = ["pages"]
ARTICLE_PATHS = []
STATIC_PATHS = []
THEME = str(ROOT / "theme")
THEME_STATIC_DIR = "theme"
OUTPUT_PATH = str(ROOT / "output")
DELETE_OUTPUT_DIRECTORY = True

PLUGINS = [
    "pelican.plugins.i18n",
    "pelican.plugins.hotlines",
    "pelican.plugins.navigation",
    "pelican.plugins.audit",
]
HOTLINES_DATA = str(ROOT / "data" / "hotlines.yaml")
I18N_CATALOGS = str(ROOT / "theme" / "translations")

PAGE_URL = "{slug}/"
PAGE_SAVE_AS = "{slug}/index.html"
PAGE_LANG_URL = "{lang}/{slug}/"
PAGE_LANG_SAVE_AS = "{lang}/{slug}/index.html"
PAGE_TRANSLATION_ID = "slug"
SLUGIFY_SOURCE = "basename"

DIRECT_TEMPLATES = []
ARTICLE_SAVE_AS = ""
ARTICLE_LANG_SAVE_AS = ""
DRAFT_SAVE_AS = ""
DRAFT_LANG_SAVE_AS = ""
DRAFT_PAGE_SAVE_AS = ""
DRAFT_PAGE_LANG_SAVE_AS = ""
AUTHOR_SAVE_AS = ""
AUTHORS_SAVE_AS = ""
CATEGORY_SAVE_AS = ""
CATEGORIES_SAVE_AS = ""
TAG_SAVE_AS = ""
TAGS_SAVE_AS = ""
ARCHIVES_SAVE_AS = ""
FEED_ALL_ATOM = None
FEED_ALL_RSS = None
CATEGORY_FEED_ATOM = None
TRANSLATION_FEED_ATOM = None
AUTHOR_FEED_ATOM = None
AUTHOR_FEED_RSS = None

MARKDOWN = {
    "extension_configs": {
        "markdown.extensions.extra": {},
        "markdown.extensions.toc": {},
    },
    "output_format": "html5",
}
TYPOGRIFY = False
CACHE_CONTENT = False

# The audit plugin checks the written site (internal links, loads from other hosts) only when
# the build is STRICT (./run check, ./run publish, the tests) or AUDIT is true (./run serve passes
# -e AUDIT=true): it reads every page, a good part of the build, and ./run build skips it.
AUDIT = False

# Paths answered by the relay (relay/views.py), not by the static site: the web server
# routes them there, and the link audit does not look for them in output/.
RELAY_PATHS = ["/report/", "/en/report/"]
AUDIT_SERVED_ELSEWHERE = RELAY_PATHS

LANGUAGE_NAMES = {"ja": "日本語", "en": "English"}
# Where the quick exit leads: an ordinary, harmless everyday site (a weather forecast).
QUICK_EXIT_URL = "https://tenki.jp/"
