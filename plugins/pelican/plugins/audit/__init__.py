"""Checks of the written site that no reader should ever have to find out by accident.

After every build: each internal link and asset resolves to a file of the output (and each
``#fragment`` to an id on the page), and nothing is loaded from another host.  Problems
are logged as warnings, so ``pelican --fatal warnings`` (``./run check``) stops on them.
"""

from __future__ import annotations

import logging
from pathlib import Path

from pelican import signals

from .hosts import foreign_loads
from .links import broken_links

__all__ = ["broken_links", "foreign_loads"]

logger = logging.getLogger(__name__)


def audit(pelican) -> None:
    output = Path(pelican.settings["OUTPUT_PATH"])
    outside = pelican.settings.get("AUDIT_SERVED_ELSEWHERE", ())
    for finding in broken_links(output, served_elsewhere=outside):
        logger.warning("broken link: %s", finding)
    for finding in foreign_loads(output):
        logger.warning("loads from another host: %s", finding)


def register() -> None:
    signals.finalized.connect(audit)
