"""What the views reach: the store, the kit's folder and settings, the team's names.

The server answers in threads; ``staff.store.Store`` is made for that (one connection behind
its own lock), so the views share the one store the command opened.

``home()`` is the kit's folder (``staff.home.Home``) when the app was made with one (``serve``
always is); ``config()`` its settings, read again on every request (a change to config.json
counts at once), or the defaults without a folder. ``team()`` is ``staff.team.Team`` of
``staff_keys`` when that is set and readable, else None: names are then fingerprints.
``who(fingerprint)`` is how a member is shown: the name of their key's user ID when the team
knows it, else the fingerprint's last 16 digits.
"""

from __future__ import annotations

import os
import threading
import time

from flask import current_app

from staff.home import Config
from staff.openpgp import short
from staff.problems import StaffError

TEAM_CACHE_SECONDS = 60  # the keys' folder is read again after this (or when it changed)


def store():
    """The store the app was made with."""
    return current_app.extensions["staff_store"]


def home():
    """The kit's folder, or None (an app made for a store alone: tests of other parts)."""
    return current_app.extensions.get("staff_home")


def config() -> Config:
    folder = home()
    if folder is None:
        return Config()
    return folder.config()


class TeamCache:
    """``Team.load`` of ``staff_keys``, kept a minute or until the file or folder changes."""

    def __init__(self):
        self._lock = threading.Lock()
        self._key = None
        self._team = None
        self._at = 0.0

    def get(self, source: str | None):
        if not source:
            return None
        try:
            stamp = os.stat(source).st_mtime_ns
        except OSError:
            return None
        key = (source, stamp)
        with self._lock:
            if self._key == key and time.monotonic() - self._at < TEAM_CACHE_SECONDS:
                return self._team
            from staff.team import Team

            try:
                team = Team.load(source)
            except StaffError:
                team = None
            self._key, self._team, self._at = key, team, time.monotonic()
            return team


def team():
    try:
        source = config().staff_keys
    except StaffError:
        return None
    return current_app.extensions["staff_team_cache"].get(source)


def short_fingerprint(fingerprint: str) -> str:
    return short(fingerprint[-16:])


def member_name(member) -> str:
    """The name part of a key's first user ID ("Hanako Sato <h@example.jp>" → "Hanako Sato")."""
    user_id = (member.user_id or "").strip()
    name = user_id.split("<", 1)[0].strip() if "<" in user_id else user_id
    return name or short_fingerprint(member.fingerprint)


def who(fingerprint: str | None, known=None) -> str:
    """A member as a page shows them: their name, else their short fingerprint ("" for None)."""
    if not fingerprint:
        return ""
    known = team() if known is None else known
    member = known.member(fingerprint) if known else None
    return member_name(member) if member is not None else short_fingerprint(fingerprint)
