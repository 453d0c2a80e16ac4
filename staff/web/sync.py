"""Team sync from the interface: once when it starts, and again with "Sync now".

``staff.sync.sync_config`` runs in a background thread (``Syncer``), never in a request: a page
never waits for the IMAP server. It runs only when the kit has both ``events`` and
``staff_keys`` (config.json) and an identity to sign and decrypt with (``serve`` has one). One
at a time: "Sync now" while a sync runs changes nothing.

The page's header shows the last sync's time and its summary (sent, received, applied, already
known, ignored), "offline: N changes waiting" when the server could not be reached, or the
one-line problem to fix. A password can only come from the system keyring here: the browser
cannot be asked for it (the prompt given to ``sync_config`` refuses at once), and the page says
how to fix that.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from flask import Blueprint, current_app, g, redirect, request

from staff.problems import StaffError
from staff.store import JAPAN

from .i18n import link

bp = Blueprint("sync", __name__)


class NoPrompt(EOFError):
    """Raised by the password prompt: the browser cannot be asked for the IMAP password."""


@dataclass(frozen=True)
class SyncResult:
    at: datetime  # when it ended
    tally: object | None  # staff.sync.SyncTally, when the sync ran
    problem: str | None  # one line (StaffError) when it could not run
    password: str | None = None  # USER@HOST when the password was not in the keyring


class Syncer:
    """Runs ``sync_config`` in a thread; keeps the last result."""

    def __init__(self, store, home, identity):
        self.store, self.home, self.identity = store, home, identity
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.last: SyncResult | None = None

    def config(self):
        return self.home.config() if self.home is not None else None

    def configured(self) -> bool:
        try:
            config = self.config()
        except StaffError:
            return False
        return bool(config and config.events and config.staff_keys and self.identity is not None)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> bool:
        """Start a sync unless one runs or the kit has no team; whether one started."""
        with self._lock:
            if self.running or not self.configured():
                return False
            self._thread = threading.Thread(target=self._run, name="safeline-staff-sync", daemon=True)
            self._thread.start()
            return True

    def wait(self, timeout: float | None = None) -> SyncResult | None:
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
        return self.last

    def _run(self) -> None:
        from staff.sync import SyncTally, sync_config

        asked: list[str] = []

        def no_prompt(question: str) -> str:
            asked.append(question)
            raise NoPrompt

        tally = SyncTally()
        config = None
        try:
            config = self.config()
            # The IMAP server's CA: config.json's imap_ca, read by sync_config itself.
            sync_config(config, self.store, self.identity, password_prompt=no_prompt, tally=tally)
            result = SyncResult(datetime.now(JAPAN), tally, None)
        except StaffError as error:
            account = None
            if asked:
                parts = urlsplit(getattr(config, "events", None) or "")
                account = f"{parts.username}@{parts.hostname}" if parts.username and parts.hostname else "USER@HOST"
            result = SyncResult(datetime.now(JAPAN), None, str(error), account)
        except Exception as error:  # noqa: BLE001 - a thread's failure must still show on the page
            # Neither the message (it could carry text) nor a traceback: the type is enough.
            result = SyncResult(datetime.now(JAPAN), None, f"the sync failed ({type(error).__name__})")
        self.last = result


def syncer() -> Syncer:
    return current_app.extensions["staff_syncer"]


def _local_path(value: str) -> str | None:
    """``value`` when it is a path of this interface (no scheme, no host), else None."""
    if not value.startswith("/") or value.startswith("//") or "\\" in value or any(ord(c) < 32 for c in value):
        return None
    return value


@bp.post("/sync")
def sync_now():
    syncer().start()
    back = _local_path(request.form.get("back", "")) or link("cases.case_list")
    return redirect(back, 303)


@bp.app_context_processor
def sync_state():
    runner = current_app.extensions.get("staff_syncer")
    if not g.get("staff_in") or runner is None or not runner.configured():
        return {"sync": None}
    waiting = len(runner.store.pending_events())
    return {"sync": {"running": runner.running, "last": runner.last, "waiting": waiting,
                     "back": request.full_path.rstrip("?") if request.method == "GET" else ""}}


def install(app, store, home, identity) -> Syncer:
    runner = Syncer(store, home, identity)
    app.extensions["staff_syncer"] = runner
    return runner
