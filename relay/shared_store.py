"""The store every relay instance shares (Redis): how to reach it, and how long to wait.

Form tokens (relay.token), the limits on accepted reports (relay.quota) and Flask-Limiter's
limit on POSTs all keep their counts there.  An unreachable store must never hold a report
up, so each call gives up after half a second and the caller fails open.
"""

from __future__ import annotations

import redis

TIMEOUT = 0.5  # seconds, to connect and for each reply


def options() -> dict[str, float]:
    """The socket options of every connection to the shared store."""
    return {"socket_timeout": TIMEOUT, "socket_connect_timeout": TIMEOUT}


def connect(uri: str, **more) -> redis.Redis:
    return redis.Redis.from_url(uri, **options(), **more)
