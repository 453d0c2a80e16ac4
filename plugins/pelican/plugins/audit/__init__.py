"""Checks of the written site that no reader should ever have to find out by accident.

After a build: each internal link and asset resolves to a file of the output (and each
``#fragment`` to an id on the page), and nothing is loaded from another host.  Problems
are logged as warnings.

The checks read every written page, a good part of a large build, and they check the site
rather than produce it, so they run only when asked for:

- ``STRICT = True`` (``./run check``, ``./run publish``, the tests): the checks run, and any
  warning of the build, ours or Pelican's, makes it end with exit status 1 once everything
  has been reported.  Pelican's own ``--fatal warnings`` stops at the first one and prints a
  traceback, which tells an editor nothing they need.
- ``AUDIT = True`` (``./run serve`` passes ``-e AUDIT=true``): the checks run and warn, and the
  build still succeeds, so an editor sees a broken link while previewing.
- neither (``./run build``): no checks.
"""

from __future__ import annotations

import logging
from pathlib import Path

from pelican import signals

from .hosts import foreign_loads
from .links import broken_links

__all__ = ["broken_links", "foreign_loads"]

logger = logging.getLogger(__name__)


class _Counter(logging.Handler):
    def __init__(self):
        super().__init__(level=logging.WARNING)
        self.count = 0

    def emit(self, record):
        self.count += 1


_counter = _Counter()


_plain = logging.StreamHandler()
_plain.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))


def start_counting(pelican) -> None:
    root = logging.getLogger()
    root.removeHandler(_counter)
    _counter.count = 0
    if not root.handlers:
        # ``--log-handler plain`` leaves the root logger without a handler; one line per
        # message, unwrapped, is what editors and tests read.
        root.addHandler(_plain)
    if pelican.settings.get("STRICT"):
        root.addHandler(_counter)


def audit(pelican) -> None:
    settings = pelican.settings
    if settings.get("STRICT") or settings.get("AUDIT"):
        output = Path(settings["OUTPUT_PATH"])
        outside = settings.get("AUDIT_SERVED_ELSEWHERE", ())
        for finding in broken_links(output, served_elsewhere=outside):
            logger.warning("broken link: %s", finding)
        for finding in foreign_loads(output, own_origins=[settings.get("SITE_ORIGIN") or ""]):
            logger.warning("loads from another host: %s", finding)
    if settings.get("STRICT") and _counter.count:
        raise SystemExit(f"the build is not clean: {_counter.count} warning(s) above")


def register() -> None:
    signals.initialized.connect(start_counting)
    signals.finalized.connect(audit)
