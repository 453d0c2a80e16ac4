"""Mail from a Maildir folder (what a mail client or a server such as Dovecot keeps on disk).

``MaildirSource(folder)`` reads the messages in ``cur/`` and ``new/``, and never changes the
mailbox: it does not mark, move or delete a message (the staff member's mail client keeps
doing that), and writes nothing. ``tmp/`` holds messages still being delivered: not read.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
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
        if not (self.folder / "cur").is_dir() or not (self.folder / "new").is_dir():
            raise StaffError(f"{self.folder} is not a Maildir folder (it has no cur/ and new/): "
                             "give the folder of the mailbox that receives the reports")
        self._files = sorted(
            (entry.name, Path(entry.path))
            for sub in ("new", "cur")
            for entry in os.scandir(self.folder / sub)
            if not entry.name.startswith(".") and entry.is_file()
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

    def close(self) -> None:
        pass
