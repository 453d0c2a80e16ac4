"""The staff member's folder: their settings, the case store and the store's key.

One folder per staff member and computer, by default the platform's place for application
data (``%APPDATA%\\safeline-staff`` on Windows, ``~/Library/Application Support/safeline-staff``
on macOS, ``$XDG_DATA_HOME/safeline-staff`` or ``~/.local/share/safeline-staff`` elsewhere),
or ``SAFELINE_STAFF_HOME``, or ``--home`` on the command line. It holds:

- ``config.json``: which OpenPGP key is theirs (a GnuPG fingerprint, or the path of an armored
  secret key file), GnuPG's home when not the default, the IMAP address. No secret: no
  passphrase, no password, no key material.
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


@dataclass
class Config:
    """What ``config.json`` holds. ``key`` is a GnuPG fingerprint; ``key_file`` an armored
    secret key file (one of the two); ``gnupg_home`` GnuPG's folder when not the default;
    ``imap`` the mailbox's ``imaps://user@host[:port]/FOLDER`` address."""

    key: str | None = None
    key_file: str | None = None
    gnupg_home: str | None = None
    imap: str | None = None

    @classmethod
    def from_json(cls, text: str) -> Config:
        data = json.loads(text)
        return cls(**{name: data.get(name) for name in cls.__dataclass_fields__})

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
