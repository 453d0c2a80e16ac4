"""The staff member's folder: their settings, the case store and the store's key.

One folder per staff member and computer, by default the platform's place for application
data (``%APPDATA%\\safeline-staff`` on Windows, ``~/Library/Application Support/safeline-staff``
on macOS, ``$XDG_DATA_HOME/safeline-staff`` or ``~/.local/share/safeline-staff`` elsewhere),
or ``SAFELINE_STAFF_HOME``, or ``--home`` on the command line. It holds:

- ``config.json``: which OpenPGP key is theirs (a GnuPG fingerprint, or the path of an armored
  secret key file), GnuPG's home when not the default, the IMAP address, the team's public
  keys and the settings of casework (``Config``). No secret: no passphrase, no password, no
  key material.
- ``store-key.asc``: the store's random 256-bit key, encrypted to their own OpenPGP key.
- ``cases.sqlite3``: the case store, encrypted with that key (``staff.store``).

``safeline-staff init`` makes the folder (``staff.setup``).
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

from .problems import StaffError

HOME_ENV = "SAFELINE_STAFF_HOME"
APP = "safeline-staff"


class HomeError(StaffError):
    """The folder cannot be used as it is."""


def default_home() -> Path:
    if env := os.environ.get(HOME_ENV):
        return Path(env)
    if sys.platform == "win32":
        return Path(os.environ.get("APPDATA") or Path.home() / "AppData" / "Roaming") / APP
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / APP
    return Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share") / APP


# The settings a staff member may change, with their bounds: (least, most).
NUMBER_SETTINGS = {
    "recheck_days": (1, 365),
    "retention_days": (30, 3650),
    "stats_threshold": (1, 100),
}


# The settings that are texts (or unset, null).
TEXT_SETTINGS = ("key", "key_file", "gnupg_home", "imap", "imap_ca", "staff_keys", "events", "rdap_bootstrap")


@dataclass
class Config:
    """What ``config.json`` holds.

    - ``key``: a GnuPG fingerprint, or ``key_file``: an armored secret key file (one of the two);
      ``gnupg_home``: GnuPG's folder when not the default.
    - ``imap``: the mailbox's ``imaps://user@host[:port]/FOLDER`` address (reports come from it).
    - ``imap_ca``: a CA certificate file (PEM) to trust, instead of the system's authorities,
      for the IMAP server (a server with its own authority): import, sync and the web
      interface's sync on opening use it; ``--imap-ca`` on the command line still wins.
    - ``staff_keys``: the file or folder of every staff member's public key, the same keys as
      the relay's ``RELAY_STAFF_KEYS``: events are encrypted to them, and only events signed
      by one of them are applied.
    - ``events``: where the team's events are kept: ``imaps://user@host[:port]/FOLDER`` (a
      folder of the same mailbox), or a local folder (a Maildir) for a kit used alone or in tests.
    - ``recheck_days``: days from a removal request to the address's next date (a re-request or
      a check). Default 7: most sites answer a request within a week, and a victim should not
      wait longer than that for the next step.
    - ``retention_days``: a case closed longer than this is offered for deletion (only the
      counts statistics need stay). Default 365: a year's statistics can be made from the
      store, and a reporter who comes back within a year finds their case.
    - ``stats_threshold``: a count in the statistics below this is shown as "<N". Default 5.
    - ``rdap_bootstrap``: where the IANA RDAP bootstrap files are read from (tests: a local server).
    """

    key: str | None = None
    key_file: str | None = None
    gnupg_home: str | None = None
    imap: str | None = None
    imap_ca: str | None = None
    staff_keys: str | None = None
    events: str | None = None
    recheck_days: int = 7
    retention_days: int = 365
    stats_threshold: int = 5
    rdap_bootstrap: str = "https://data.iana.org/rdap/"

    @classmethod
    def from_json(cls, text: str) -> Config:
        data = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        defaults = cls()
        values = {name: data.get(name, getattr(defaults, name)) for name in cls.__dataclass_fields__}
        for name, (least, most) in NUMBER_SETTINGS.items():
            value = values[name]
            if isinstance(value, bool) or not isinstance(value, int) or not least <= value <= most:
                raise ValueError(f'"{name}" must be a whole number from {least} to {most}')
        for name in TEXT_SETTINGS:
            if values[name] is not None and not isinstance(values[name], str):
                raise ValueError(f'"{name}" must be a text')
        return cls(**values)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2) + "\n"


class Home:
    """The staff member's folder ``folder``."""

    def __init__(self, folder: Path | None = None):
        self.folder = Path(folder) if folder else default_home()
        self.config_file = self.folder / "config.json"
        self.store_key_file = self.folder / "store-key.asc"
        self.store_file = self.folder / "cases.sqlite3"

    def exists(self) -> bool:
        return self.config_file.is_file() and self.store_key_file.is_file()

    def config(self) -> Config:
        if not self.exists():
            raise HomeError(f"no staff kit in {self.folder}: run `safeline-staff init` first")
        try:
            return Config.from_json(self.config_file.read_text(encoding="utf-8"))
        except (ValueError, TypeError) as error:
            raise HomeError(f"{self.config_file}: not readable ({error}); fix it or run init again") from None

    def save_config(self, config: Config) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.config_file.write_text(config.to_json(), encoding="utf-8")
