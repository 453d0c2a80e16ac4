"""What happened to the entries of one folder, as the Linux kernel reports it (inotify).

A test that must prove *how* a file came into a folder (renamed in whole, or written there
piece by piece) cannot rely on catching a reader at the wrong moment: the kernel's own record
of every creation, write and rename answers it deterministically.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import struct
from pathlib import Path

MODIFY = 0x002
CLOSE_WRITE = 0x008
MOVED_FROM = 0x040
MOVED_TO = 0x080
CREATE = 0x100
DELETE = 0x200
_NONBLOCK = 0o4000
_HEADER = struct.Struct("iIII")  # wd, mask, cookie, len (then the name, NUL-padded)
NAMES = {MODIFY: "modify", CLOSE_WRITE: "close-write", MOVED_FROM: "moved-from", MOVED_TO: "moved-to",
         CREATE: "create", DELETE: "delete"}


class FolderEvents:
    """Records creations, writes and renames of the entries of ``folder`` (not of its sub-folders)."""

    def __init__(self, folder: Path):
        self._libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        self._fd = self._libc.inotify_init1(_NONBLOCK)
        if self._fd < 0:
            raise OSError(ctypes.get_errno(), "inotify_init1")
        mask = MODIFY | CLOSE_WRITE | MOVED_FROM | MOVED_TO | CREATE | DELETE
        if self._libc.inotify_add_watch(self._fd, os.fsencode(folder), mask) < 0:
            error = ctypes.get_errno()
            os.close(self._fd)
            raise OSError(error, "inotify_add_watch", str(folder))

    def read(self) -> list[tuple[str, str]]:
        """Every (event, entry name) since the last read, in order; then stops watching."""
        events = []
        try:
            while True:
                try:
                    data = os.read(self._fd, 65536)
                except BlockingIOError:
                    break
                offset = 0
                while offset < len(data):
                    _, mask, _, size = _HEADER.unpack_from(data, offset)
                    name = data[offset + _HEADER.size:offset + _HEADER.size + size].rstrip(b"\0").decode()
                    offset += _HEADER.size + size
                    events += [(label, name) for bit, label in NAMES.items() if mask & bit]
        finally:
            os.close(self._fd)
        return events
