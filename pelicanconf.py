"""Pelican settings for development; publishconf.py builds on them for production.

Japanese is the default language at ``/``; English pages are translations (same slug,
``Lang: en``) at ``/en/<slug>/``.  Only pages are built: no articles, feeds, tags or
archives, so there are no empty listing pages to maintain or to leak.
"""

from pathlib import Path

# safeline.site (the site's rules, shared with the relay) and our plugins (namespace packages
# pelican.plugins.<name>, in plugins/) are installed into .venv by ./run (pyproject.toml).
from safeline.site import (
    CATALOGS, DEFAULT_LANG, LANGUAGE_NAMES, LANGUAGES, PAGE_LANG_URL, PAGE_URL, QUICK_EXIT_URL, SITEURL,
    THEME_STATIC_DIR, page_path,
)

ROOT = Path(__file__).resolve().parent

SITENAME = "セーフライン"
# SITEURL and THEME_STATIC_DIR come from safeline.site (the relay gives its templates the same).
# Absolute origin for what must be absolute (hreflang alternates).  Development: the address
# ./run serve serves by default (it passes its own port); production: publishconf.py.
SITE_ORIGIN = "http://127.0.0.1:8000"
RELATIVE_URLS = False
TIMEZONE = "Asia/Tokyo"
I18N_LANGUAGES = list(LANGUAGES)  # every page exists in each; the build warns otherwise

PATH = str(ROOT / "content")
PAGE_PATHS = ["pages"]
ARTICLE_PATHS = []
# The site's icon as /favicon.ico at the root, where browsers ask for it by themselves (a 404
# there is an error in the console); base.html links it and theme/static/icon.svg.  Pelican's
# own recipe: a file of the content, written to the root.
STATIC_PATHS = ["extra/favicon.ico"]
EXTRA_PATH_METADATA = {"extra/favicon.ico": {"path": "favicon.ico"}}
THEME = str(ROOT / "theme")
OUTPUT_PATH = str(ROOT / "output")
DELETE_OUTPUT_DIRECTORY = True

PLUGINS = [
    "pelican.plugins.i18n",
    "pelican.plugins.hotlines",
    "pelican.plugins.navigation",
    "pelican.plugins.contact_address",
    "pelican.plugins.audit",
]
# The address staff write to reporters from, in place of [contact-address] on the privacy page;
# the relay shows its RELAY_CONTACT_ADDRESS on the form (the same development value here).
# Production: publishconf.py reads SAFELINE_CONTACT_ADDRESS.
CONTACT_ADDRESS = "contact@safeline.test"
HOTLINES_DATA = str(ROOT / "data" / "hotlines.yaml")
I18N_CATALOGS = str(CATALOGS)

# PAGE_URL and PAGE_LANG_URL come from safeline.site.
PAGE_SAVE_AS = PAGE_URL + "index.html"
PAGE_LANG_SAVE_AS = PAGE_LANG_URL + "index.html"
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
RELAY_PATHS = ["/" + page_path("report", lang) for lang in LANGUAGES]
AUDIT_SERVED_ELSEWHERE = RELAY_PATHS

# LANGUAGE_NAMES and QUICK_EXIT_URL (the theme reads both) come from safeline.site.
