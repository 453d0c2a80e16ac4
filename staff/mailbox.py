"""Mail from a Maildir folder (what a mail client or a server such as Dovecot keeps on disk).

``MaildirSource(folder)`` reads the messages in ``cur/`` and ``new/``, and never changes the
mailbox: it does not mark, move or delete a message (the staff member's mail client keeps
doing that), and writes nothing. ``tmp/`` holds messages still being delivered: not read.

A folder without ``cur/`` and ``new/`` that holds ``.eml`` files (one message each, as mail
clients export them and as ``./run serve``'s development mail server stores them) is read the
same way, file by file in name order.

Only the mailbox clean-up (staff/retention.py, after a staff member confirmed) changes it:
``message_ids()`` reads each message's header alone (its Message-ID, nothing of the body), and
``delete(keys)`` removes the files of those messages.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from email.parser import BytesHeaderParser
from email.policy import compat32
from dataclasses import dataclass
from pathlib import Path

from .problems import StaffError


@dataclass(frozen=True)
class Mail:
    """One message: ``ident`` says where it is (a Maildir key, an IMAP UID), for messages only."""

    ident: str
    data: bytes


class MaildirSource:
    """The messages of the Maildir ``folder``, in the order of their names (delivery order)."""

    def __init__(self, folder: str | os.PathLike):
        self.folder = Path(folder)
        if (self.folder / "cur").is_dir() and (self.folder / "new").is_dir():
            subs, suffix = ("new", "cur"), ""
        elif self.folder.is_dir() and any(self.folder.glob("*.eml")):
            subs, suffix = (".",), ".eml"
        else:
            raise StaffError(f"{self.folder} is not a Maildir folder (it has no cur/ and new/) nor a folder of "
                             ".eml files: give the folder of the mailbox that receives the reports")
        self._files = sorted(
            (entry.name, Path(entry.path))
            for sub in subs
            for entry in os.scandir(self.folder / sub)
            if not entry.name.startswith(".") and entry.is_file() and entry.name.endswith(suffix)
        )

    def __len__(self) -> int:
        return len(self._files)

    def __iter__(self) -> Iterator[Mail]:
        for name, path in self._files:
            try:
                data = path.read_bytes()
            except FileNotFoundError:
                continue  # the mail client moved or deleted it meanwhile
            except OSError as error:
                raise StaffError(f"cannot read {path}: {error.strerror or error}; check the mailbox's "
                                 "permissions") from None
            # The key is the name before the flags (":2,S"), the same in new/ and cur/.
            yield Mail(ident=name.split(":", 1)[0], data=data)

    def message_ids(self) -> Iterator[tuple[str, str | None]]:
        """(key, Message-ID as written, or None) of each message, from its header alone."""
        for name, path in self._files:
            try:
                with open(path, "rb") as mail:
                    head = read_header(mail)
            except FileNotFoundError:
                continue
            except OSError as error:
                raise StaffError(f"cannot read {path}: {error.strerror or error}; check the mailbox's "
                                 "permissions") from None
            yield name.split(":", 1)[0], header_message_id(head)

    def delete(self, keys: Iterable[str]) -> int:
        """Remove the files of the messages ``keys`` (from ``message_ids``); how many were removed.
        A message a mail program moved from new/ to cur/ meanwhile (adding flags) is found there;
        one already gone is not counted."""
        keys = set(keys)
        removed = 0
        for name, path in self._files:
            key = name.split(":", 1)[0]
            if key not in keys:
                continue
            keys.discard(key)
            candidates = [path]
            if path.parent.name == "new":
                candidates += sorted((self.folder / "cur").glob(f"{key}:*"))
            for candidate in candidates:
                try:
                    candidate.unlink()
                except FileNotFoundError:
                    continue
                except OSError as error:
                    raise StaffError(f"cannot delete {candidate}: {error.strerror or error}; check the "
                                     "mailbox's permissions") from None
                removed += 1
                break
        return removed

    def close(self) -> None:
        pass


HEADER_LIMIT = 256 * 1024


def read_header(mail) -> bytes:
    """The header block of the message being read from the binary file ``mail`` (up to the
    first empty line, at most HEADER_LIMIT bytes): the body is never read."""
    head = b""
    while len(head) < HEADER_LIMIT:
        line = mail.readline(HEADER_LIMIT)
        if not line or line in (b"\r\n", b"\n"):
            break
        head += line
    return head


def header_message_id(head: bytes) -> str | None:
    """The Message-ID of a message's header block, as written (None when it has none, or more
    than one: such a mail cannot be told apart)."""
    values = BytesHeaderParser(policy=compat32).parsebytes(head).get_all("Message-ID") or []
    if len(values) != 1:
        return None
    value = " ".join(str(values[0]).split())
    return value or None
