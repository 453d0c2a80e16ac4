"""Consultation lines from ``data/hotlines.yaml`` for the templates.

The file is read and checked once when the build starts, so a mistake stops the build
before any page is written (see ``model.DataError``).  Templates get ``HOTLINES`` (the
checked ``Directory``) and the filters ``hours_text`` and ``closures_text``, which speak
the language of the page being written.
"""

from __future__ import annotations

from pathlib import Path

from jinja2 import pass_context
from pelican import signals
from pelican.plugins import i18n

from . import hours
from .model import DataError, Directory, load

__all__ = ["DataError", "Directory", "load"]

_directory: Directory | None = None


def _shown_name(path: Path, root: Path) -> str:
    try:
        return str(path.resolve().relative_to(root.resolve()))
    except ValueError:
        return str(path)


def read_data(pelican) -> None:
    global _directory
    settings = pelican.settings
    root = Path(settings.get("PATH", ".")).parent
    path = Path(settings.get("HOTLINES_DATA") or root / "data" / "hotlines.yaml")
    _directory = load(path, shown_as=_shown_name(path, Path.cwd()))


@pass_context
def _hours_filter(context, line):
    lang = i18n.page_lang(context)
    return hours.hours_text(line, i18n.translations(lang).gettext, lang)


@pass_context
def _closures_filter(context, line):
    lang = i18n.page_lang(context)
    return hours.closures_text(_directory, line, i18n.translations(lang).gettext, lang)


def add_to_templates(generator) -> None:
    generator.context["HOTLINES"] = _directory
    env = getattr(generator, "env", None)
    if env is not None:
        env.filters["hours_text"] = _hours_filter
        env.filters["closures_text"] = _closures_filter


def register() -> None:
    signals.initialized.connect(read_data)
    signals.generator_init.connect(add_to_templates)
