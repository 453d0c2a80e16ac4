"""The relay's log lines: one per event on stderr (journald), nothing about the reporter.

Every process of the relay (gunicorn's workers, the delivery worker, the CLI) calls
``configure()`` once at start.  Lines carry a reference number, an outcome, sizes and
timings: never an address, e-mail, URL or description, and never a traceback, whose local
variables could hold what was typed.
"""

from __future__ import annotations

import logging


def configure() -> None:
    """One line per event on stderr: time, level, logger, message; nothing about the reporter."""
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("relay").setLevel(logging.INFO)
    # Werkzeug's request lines start with the client's address: never log them.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    limiter_log = logging.getLogger("flask-limiter")
    if not any(isinstance(found, LimiterLogFilter) for found in limiter_log.filters):
        limiter_log.addFilter(LimiterLogFilter())


class LimiterLogFilter(logging.Filter):
    """Flask-Limiter's lines made like ours: one line, no traceback, no client key.

    With ``swallow_errors`` it logs each failure of the store with a full traceback, on every
    request while Redis is away (and a traceback names the store's address); the limits then
    fail open, and this says so in one line.  Its "exceeded" line carries the client's key,
    which stays the same for a whole day: the relay logs "refused: rate limit" instead.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info:
            error = record.exc_info[1]
            counted = str(record.msg).startswith("Failed to deduct")
            record.msg = "rate limit store failed (%s): %s, failing open"
            record.args = (type(error).__name__, "report not counted" if counted else "limits not checked")
            record.exc_info = record.exc_text = None
            return True
        return not str(record.msg).startswith("ratelimit ")
