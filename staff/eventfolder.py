"""The team's events folder: where each event's mail is appended, and read back after a position.

``Config.events`` names it, one of:

- ``imaps://USER@HOST[:PORT]/FOLDER``: a folder of its own in the team's mailbox (never INBOX,
  where the reports arrive). The connection is staff/imap.py's (verified TLS, the password
  from the system keyring or asked, one line for each failure); the folder is created when
  missing (``CREATE``), events are added with ``APPEND``, and read with ``EXAMINE`` and
  ``BODY.PEEK[]``, so reading changes nothing in the mailbox. The position is the folder's
  ``UIDVALIDITY`` and the last UID read: the server numbers messages in the order they were
  appended, whoever appended them. A changed ``UIDVALIDITY`` (the folder was re-created or
  restored) means the old numbers mean nothing: the whole folder is read again, which is safe
  because applying an event twice changes nothing (the store keys them by id).
- a local folder path: a Maildir (``tmp/``, ``new/``, ``cur/``, made when missing), for a kit
  used alone and for tests. Events are written as ``new/<nanoseconds>.<random>.safeline-staff``
  (written in ``tmp/``, synced to disk, then renamed: never half a mail). The position is the
  folder's own random identity (``.safeline-staff-folder``, the UIDVALIDITY's counterpart)
  and the greatest file name read. File names sort in the order of the writers' clocks, so
  writers of one Maildir must share one clock (one computer); a team on several computers
  uses IMAP, where the server orders the folder.

Both have the same interface (``EventFolder``): ``name`` (the key of the position in the
store), ``append(mail)``, ``read(position)`` yielding ``FolderMail`` (each with the position
just after it), ``position`` (where the last read ended, also when it found nothing new),
``close()``. ``FolderUnreachable`` (an ``ImapError``) means the server cannot be reached
now (refused, no answer, unknown host, the connection lost): sync keeps the local changes
queued and says so.
"""

from __future__ import annotations

import getpass
import os
import secrets
import socket
import ssl
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from imapclient.exceptions import IMAPClientAbortError, IMAPClientError

from .imap import BATCH, KEYRING_SERVICE, TIMEOUT, ImapError, ImapSource, parse_address
from .problems import StaffError

MAILDIR_SUFFIX = ".safeline-staff"
IDENTITY_FILE = ".safeline-staff-folder"


class FolderError(StaffError):
    """The events folder cannot be used as it is."""


class FolderUnreachable(ImapError):
    """The events folder's server cannot be reached now (offline, refused, no answer)."""


@dataclass(frozen=True)
class FolderMail:
    ident: str  # the UID, or the file name
    data: bytes
    position: str  # the folder's position just after this mail


class EventFolder(Protocol):
    name: str
    position: str | None

    def append(self, mail: bytes) -> str | None: ...

    def read(self, position: str | None) -> Iterator[FolderMail]: ...

    def close(self) -> None: ...


def check_where(where: str | None) -> None:
    """``FolderError``/``ImapError`` when ``where`` (``Config.events``) is no events folder
    address, said without connecting (before any passphrase or password is asked)."""
    if where is None or not where.strip():
        raise FolderError('no "events" in config.json: set it to the team\'s events folder, '
                          "imaps://USER@HOST/FOLDER (or a local folder)")
    if where.startswith(("imaps:", "imap:")):
        _imap_address(where)


def _imap_address(url: str):
    address = parse_address(url)
    if address.folder.upper() == "INBOX":
        raise FolderError("the events need a folder of their own, not INBOX where the reports arrive: "
                          "write it at the end of the address, imaps://USER@HOST/Safeline-Events")
    return address


def open_folder(where: str | None, *, ca_file: str | Path | None = None,
                password_prompt: Callable[[str], str] = getpass.getpass,
                keyring_service: str | None = KEYRING_SERVICE, timeout: float = TIMEOUT) -> EventFolder:
    """The events folder ``where`` (``Config.events``), opened (IMAP: connected and logged in)."""
    check_where(where)
    if where.startswith(("imaps:", "imap:")):
        return ImapEventFolder(where, ca_file=ca_file, password_prompt=password_prompt,
                               keyring_service=keyring_service, timeout=timeout)
    return MaildirEventFolder(Path(where))


# -- IMAP ------------------------------------------------------------------------------------

def _network(error: BaseException) -> bool:
    """Whether ``error`` means "the server cannot be reached now" rather than a setting to fix."""
    if isinstance(error, ssl.SSLError):
        return False  # an untrusted certificate or the wrong port: a setting, not the network
    return isinstance(error, (OSError, EOFError, IMAPClientAbortError, TimeoutError, socket.timeout))


class _Connection(ImapSource):
    """staff/imap.py's connection (TLS, login, one-line errors), with the events folder selected
    for nothing: ``ImapSource.__init__`` calls ``_examine`` after login, which here makes sure
    the folder exists instead of listing it."""

    def _examine(self) -> list[int]:
        folder = self.address.folder
        try:
            if not self._client.folder_exists(folder):
                try:
                    self._client.create_folder(folder)
                except IMAPClientAbortError:
                    raise
                except IMAPClientError:
                    # Another kit may have created it at the same moment.
                    if not self._client.folder_exists(folder):
                        raise ImapError(f"cannot create the folder {folder!r} in the mailbox of "
                                        f"{self.address.account}: create it in your mail program, "
                                        "or check the folder at the end of the events address") from None
        except ImapError:
            raise
        except Exception as error:  # noqa: BLE001
            raise self._connection_problem(error) from None
        return []

    def _connection_problem(self, error: BaseException) -> ImapError:
        problem = super()._connection_problem(error)
        return FolderUnreachable(str(problem)) if _network(error) else problem

    def _reading_problem(self, error: BaseException) -> ImapError:
        problem = super()._reading_problem(error)
        text = str(problem).replace("run the import again (what it imported already is skipped)",
                                    "run sync again (what it applied already is kept)")
        return FolderUnreachable(text) if _network(error) else ImapError(text)


class ImapEventFolder:
    """The events folder of an IMAP mailbox."""

    def __init__(self, url: str, *, ca_file: str | Path | None = None,
                 password_prompt: Callable[[str], str] = getpass.getpass,
                 keyring_service: str | None = KEYRING_SERVICE, timeout: float = TIMEOUT, batch: int = BATCH):
        address = _imap_address(url)
        self.address = address
        self.name = f"imap:{address.account}:{address.port}/{address.folder}"
        self.position: str | None = None
        self.batch = batch
        self._connection = _Connection(url, password_prompt=password_prompt, keyring_service=keyring_service,
                                       ca_file=ca_file, timeout=timeout)

    @property
    def _client(self):
        client = self._connection._client
        if client is None:
            raise ImapError("the IMAP connection is closed")
        return client

    def append(self, mail: bytes) -> str | None:
        """APPEND ``mail``; its UID when the server says it (UIDPLUS, RFC 4315), else None."""
        try:
            answer = self._client.append(self.address.folder, mail)
        except IMAPClientAbortError as error:
            raise self._connection._reading_problem(error) from None
        except IMAPClientError:
            raise ImapError(f"{self.address.where} refused to add an event to {self.address.folder!r}: "
                            "is the mailbox full?") from None
        except Exception as error:  # noqa: BLE001
            raise self._connection._reading_problem(error) from None
        text = bytes(answer or b"")
        if text.startswith(b"[APPENDUID "):
            parts = text[1:].split(b"]", 1)[0].split()
            if len(parts) == 3 and parts[2].isdigit():
                return parts[2].decode("ascii")
        return None

    def read(self, position: str | None) -> Iterator[FolderMail]:
        """Every message after ``position`` (all of them when its UIDVALIDITY is not the folder's)."""
        client = self._client
        try:
            info = client.select_folder(self.address.folder, readonly=True)
            validity = int(info[b"UIDVALIDITY"])
            last = _last_uid(position, validity)
            # "N:*" always matches the last message, even below N: keep only those above.
            uids = sorted(uid for uid in client.search(["UID", f"{last + 1}:*"]) if uid > last)
        except Exception as error:  # noqa: BLE001
            raise self._connection._reading_problem(error) from None
        self.position = f"{validity}:{last}"
        for start in range(0, len(uids), self.batch):
            chunk = uids[start:start + self.batch]
            try:
                answer = client.fetch(chunk, ["BODY.PEEK[]"])
            except Exception as error:  # noqa: BLE001
                raise self._connection._reading_problem(error) from None
            for uid in chunk:
                data = answer.get(uid, {}).get(b"BODY[]")
                position = f"{validity}:{uid}"
                if data is not None:  # expunged since the search: gone
                    yield FolderMail(str(uid), bytes(data), position)
                self.position = position

    def close(self) -> None:
        self._connection.close()

    def __enter__(self) -> ImapEventFolder:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _last_uid(position: str | None, validity: int) -> int:
    if position:
        stored, _, uid = position.partition(":")
        if stored == str(validity) and uid.isdigit():
            return int(uid)
    return 0


# -- a local Maildir -------------------------------------------------------------------------

class MaildirEventFolder:
    """A local Maildir as the events folder (made when missing)."""

    def __init__(self, path: Path):
        self.path = Path(path).absolute()
        self.name = f"maildir:{self.path}"
        self.position: str | None = None
        try:
            for sub in ("tmp", "new", "cur"):
                (self.path / sub).mkdir(parents=True, exist_ok=True)
            self.identity = self._identity()
        except OSError as error:
            raise FolderError(f"cannot use the events folder {self.path} ({error.strerror or error}): "
                              "check the path in config.json (events)") from None

    def _identity(self) -> str:
        file = self.path / IDENTITY_FILE
        try:
            with open(file, "x", encoding="ascii") as out:
                identity = secrets.token_hex(8)
                out.write(identity + "\n")
                return identity
        except FileExistsError:
            text = file.read_text(encoding="ascii", errors="replace").strip()
            if not text:  # another kit is writing it this very moment
                time.sleep(0.1)
                text = file.read_text(encoding="ascii", errors="replace").strip()
            return text

    def append(self, mail: bytes) -> str:
        name = f"{time.time_ns():020d}.{secrets.token_hex(8)}{MAILDIR_SUFFIX}"
        temporary = self.path / "tmp" / name
        try:
            with open(temporary, "xb") as out:
                out.write(mail)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, self.path / "new" / name)
        except OSError as error:
            temporary.unlink(missing_ok=True)
            raise FolderError(f"cannot write to the events folder {self.path} ({error.strerror or error})") from None
        return name

    def _names(self) -> list[tuple[str, Path]]:
        found = []
        for sub in ("new", "cur"):
            for entry in (self.path / sub).iterdir():
                if entry.name.startswith(".") or not entry.is_file():
                    continue
                found.append((entry.name.split(":", 1)[0], entry))
        return sorted(found)

    def read(self, position: str | None) -> Iterator[FolderMail]:
        last = ""
        if position:
            identity, _, name = position.partition(":")
            if identity == self.identity:
                last = name
        try:
            names = [(name, entry) for name, entry in self._names() if name > last]
        except OSError as error:
            raise FolderError(f"cannot read the events folder {self.path} ({error.strerror or error})") from None
        self.position = f"{self.identity}:{last}"
        for name, entry in names:
            try:
                data = entry.read_bytes()
            except FileNotFoundError:
                # A mail program may have moved it to cur/ since the listing (adding flags).
                moved = sorted((self.path / "cur").glob(f"{name}:*")) if entry.parent.name == "new" else []
                try:
                    data = moved[0].read_bytes() if moved else None
                except OSError:
                    data = None
                if data is None:
                    continue  # deleted since the listing
            except OSError as error:
                raise FolderError(f"cannot read {entry} ({error.strerror or error})") from None
            self.position = f"{self.identity}:{name}"
            yield FolderMail(name, data, self.position)

    def close(self) -> None:
        pass

    def __enter__(self) -> MaildirEventFolder:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
