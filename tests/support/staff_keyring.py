"""A keyring backend of the tests' own, for the staff kit's IMAP password.

The staff kit asks ``keyring`` for the password; on a desktop that is the system's keyring
(Secret Service, macOS Keychain, Windows Credential Locker), which a test run has not. This is a
real ``keyring`` backend, chosen the two ways ``keyring`` offers:

- in the test process, the fixture ``staff_keyring`` installs a fresh one with
  ``keyring.set_keyring`` (and puts the previous backend back afterwards);
- in a ``safeline-staff`` subprocess, ``keyring_env(entries)`` is the environment that names
  it in ``PYTHON_KEYRING_BACKEND``; it then holds the entries given in ``SAFELINE_TEST_KEYRING``
  (JSON: ``[[service, user, password], …]``).

It keeps its entries in memory only.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator

import keyring
import pytest
from keyring.backend import KeyringBackend
from keyring.errors import PasswordDeleteError

from safeline.site import ROOT

ENTRIES_ENV = "SAFELINE_TEST_KEYRING"


class StaffTestKeyring(KeyringBackend):
    # Low: never the backend keyring would pick by itself on a computer with a real one.
    priority = 0.1

    def __init__(self, entries: list[tuple[str, str, str]] | None = None):
        super().__init__()
        if entries is None:
            entries = json.loads(os.environ.get(ENTRIES_ENV, "[]"))
        self.entries = {(service, user): password for service, user, password in entries}
        self.asked: list[tuple[str, str]] = []

    def get_password(self, service: str, username: str) -> str | None:
        self.asked.append((service, username))
        return self.entries.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.entries[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        if self.entries.pop((service, username), None) is None:
            raise PasswordDeleteError(f"no entry for {username} in {service}")


def keyring_env(entries: list[tuple[str, str, str]]) -> dict[str, str]:
    """The environment variables that make a subprocess's ``keyring`` this backend, holding ``entries``."""
    return {"PYTHON_KEYRING_BACKEND": f"{__name__}.{StaffTestKeyring.__name__}",
            ENTRIES_ENV: json.dumps([list(entry) for entry in entries]),
            # The subprocess imports this module by name.
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}


@pytest.fixture
def staff_keyring() -> Iterator[StaffTestKeyring]:
    """An empty test keyring, the process's keyring for this test."""
    previous = keyring.get_keyring()
    backend = StaffTestKeyring([])
    keyring.set_keyring(backend)
    try:
        yield backend
    finally:
        keyring.set_keyring(previous)
