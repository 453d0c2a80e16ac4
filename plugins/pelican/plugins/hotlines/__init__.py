"""Consultation lines from ``data/hotlines.yaml`` for the templates.

The file is read and checked once when the build starts, so a mistake stops the build
before any page is written (see ``model.DataError``).  Templates get:

- ``HOTLINES``: the checked ``Directory``;
- the filters ``hours_text``, ``closures_text`` and ``extra_openings`` (each opening with its
  text), in the language of the page being written;
- for the live badge: the filter ``hours_data`` (a line's data attributes, from
  ``schedule.embedded``) and ``badge_texts()`` (its words, from the catalogs);
- ``HOTLINES_FROM`` (the day of the build) and ``SCHEMA_DAYS`` (weekday names for schema.org);
- for each line's source: the filters ``checked_text`` (the day it was compared with its
  source, in words) and ``source_host`` (the host of the source page, as the link's text);
- who can call, and when (``safeline.hotlines.reach``): the filters ``by_reach`` (organisations,
  those for one area only last) and ``lines_by_reach``; the globals ``lines_now_entries()``
  (the entries of the lines that may be open now, 24-hour lines first, for lines-now.html)
  and ``emergency_lines()`` (110, shown apart);
- line cards in a page's Markdown (``markers``): the filters ``line_cards`` (the page's HTML in
  parts, each with the lines of the marker that follows it) and ``has_line_cards``;
- ``japanese``: Japanese runs of a text marked ``lang="ja"`` on pages of another language
  (``safeline.phrasing``), so that the browser breaks them by phrases.

The badge data start on the day of the build, today in Tokyo unless the setting
``HOTLINES_TODAY = "YYYY-MM-DD"`` pins it (tests, reproducible builds), and reach
``schedule.HORIZON_DAYS`` days ahead.  The build warns when they cannot reach
``schedule.WARN_DAYS`` days.
"""

from __future__ import annotations

import datetime
import logging
from pathlib import Path
from urllib.parse import urlsplit

from jinja2 import pass_context
from pelican import signals
from pelican.plugins import i18n

from safeline import phrasing
from safeline.site import page_lang

from safeline.hotlines import hours, reach, schedule
from safeline.hotlines.model import DAYS, DataError, Directory, load

from . import markers

__all__ = ["DataError", "Directory", "load"]

logger = logging.getLogger(__name__)

_directory: Directory | None = None
_horizon: schedule.Horizon | None = None
_warned = False
_embedded: dict[int, dict[str, str]] = {}

# schema.org's DayOfWeek names, for the microdata of the hours
SCHEMA_DAYS = dict(zip(DAYS, ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")))


def _shown_name(path: Path, root: Path) -> str:
    try:
        return str(path.resolve().relative_to(root.resolve()))
    except ValueError:
        return str(path)


def read_data(pelican) -> None:
    global _directory, _horizon, _warned
    settings = pelican.settings
    root = Path(settings.get("PATH", ".")).parent
    path = Path(settings.get("HOTLINES_DATA") or root / "data" / "hotlines.yaml")
    _directory = load(path, shown_as=_shown_name(path, Path.cwd()))
    pinned = settings.get("HOTLINES_TODAY")
    try:
        start = datetime.date.fromisoformat(str(pinned)) if pinned else schedule.today()
    except ValueError:
        raise SystemExit(f'HOTLINES_TODAY: write the date as "YYYY-MM-DD", not {pinned!r}') from None
    _horizon = schedule.horizon(start)
    _warned = False
    _embedded.clear()


def warn_if_horizon_ends_soon() -> None:
    """Once per build, after the audit plugin has started counting warnings."""
    global _warned
    if _warned or _horizon is None:
        return
    _warned = True
    if _horizon.ends_soon():
        logger.warning(
            "the opening hours on the consultation page are known only until %s (%d days after %s): "
            "after that the 'open now' badge hides itself; update the holidays package "
            "(requirements.in) so that its Japanese holidays reach further",
            _horizon.end, _horizon.days, _horizon.start,
        )


@pass_context
def _hours_filter(context, line):
    lang = page_lang(context)
    return hours.hours_text(line, i18n.translations(lang).gettext, lang)


@pass_context
def _closures_filter(context, line):
    lang = page_lang(context)
    return hours.closures_text(_directory, line, i18n.translations(lang).gettext, lang, _horizon.start)


@pass_context
def _extra_openings_filter(context, line):
    """(opening, its text) for each extra opening from the day of the build on."""
    lang = page_lang(context)
    _ = i18n.translations(lang).gettext
    return [(extra, hours.extra_opening_text(extra, _, lang)) for extra in hours.upcoming_extra_openings(line, _horizon.start)]


def _hours_data(line):
    # The same for every language (400 days of rules per line): worked out once per build.
    try:
        return _embedded[id(line)]
    except KeyError:
        return _embedded.setdefault(id(line), schedule.embedded(_directory, line, _horizon))


@pass_context
def _checked_filter(context, line):
    return hours.checked_text(line.checked, page_lang(context))


def _source_host(line):
    return urlsplit(line.source).hostname


@pass_context
def _badge_texts(context):
    lang = page_lang(context)
    return hours.badge_texts(i18n.translations(lang).gettext, lang)


@pass_context
def _lines_now_entries(context):
    """Every line that may be open now: those open around the clock shown with their hours
    (true at any hour, without JavaScript), the others hidden until hours.js finds them open."""
    lang = page_lang(context)
    gettext = i18n.translations(lang).gettext
    entries = []
    for line in reach.candidates_now(_directory):
        allday = reach.around_the_clock(line)
        when = ", ".join(hours.hours_text(line, gettext, lang)) if allday else ""
        entries.append(reach.NowEntry(line, allday=allday, shown=allday, when=when))
    return entries


def _line_cards(html):
    return markers.parts(html, _directory)


def check_markers(content) -> None:
    """Every line card a page asks for must exist: one clear line, and the build stops."""
    markers.check(getattr(content, "_content", None) or "", _directory,
                  _shown_name(Path(content.source_path), Path.cwd()) if content.source_path else "(page)")


def add_to_templates(generator) -> None:
    warn_if_horizon_ends_soon()
    generator.context["HOTLINES"] = _directory
    env = getattr(generator, "env", None)
    if env is not None:
        env.filters["hours_text"] = _hours_filter
        env.filters["closures_text"] = _closures_filter
        env.filters["extra_openings"] = _extra_openings_filter
        env.filters["hours_data"] = _hours_data
        env.filters["checked_text"] = _checked_filter
        env.filters["source_host"] = _source_host
        env.globals["badge_texts"] = _badge_texts
        env.filters["by_reach"] = reach.by_reach
        env.filters["lines_by_reach"] = reach.lines_by_reach
        env.globals["lines_now_entries"] = _lines_now_entries
        env.globals["emergency_lines"] = lambda: reach.emergency_lines(_directory)
        env.filters["line_cards"] = _line_cards
        env.filters["has_line_cards"] = markers.has_markers
        env.filters["japanese"] = phrasing.japanese
        env.globals["HOTLINES_FROM"] = _horizon.start
        env.globals["SCHEMA_DAYS"] = SCHEMA_DAYS


def register() -> None:
    signals.initialized.connect(read_data)
    signals.generator_init.connect(add_to_templates)
    signals.content_object_init.connect(check_markers)
