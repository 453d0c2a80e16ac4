"""What only the tests in this folder get: every log line of the relay (``complete_logs``)."""

from __future__ import annotations

import logging

import pytest


@pytest.fixture(autouse=True)
def complete_logs():
    """Undo Pelican's log de-duplication for the relay's loggers, in this test process only.

    The test session imports Pelican (tests/support/site.py), whose logger class gives every
    new logger a filter that drops a message seen before; the relay never imports Pelican, so
    it logs every line, and the tests about logs must see every line too.
    """
    for name in [n for n in logging.root.manager.loggerDict if n.split(".")[0] in ("relay", "flask-limiter")]:
        logger = logging.getLogger(name)
        for found in [f for f in logger.filters if type(f).__name__ == "LimitFilter"]:
            logger.removeFilter(found)
