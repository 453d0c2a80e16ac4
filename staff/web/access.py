"""The store as the views reach it: ``store()``.

The server answers in threads; ``staff.store.Store`` is made for that (one connection behind
its own lock), so the views share the one store the command opened.
"""

from __future__ import annotations

from flask import current_app


def store():
    """The store the app was made with."""
    return current_app.extensions["staff_store"]
