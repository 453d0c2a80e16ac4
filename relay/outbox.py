"""The outbox: a spool folder of sealed messages waiting to be handed to the mail server.

A report is confirmed to the victim only once ``Outbox.put`` has returned, so ``put`` must
leave either a complete, durable file or nothing.  Messages are written into ``tmp/`` first
and renamed into the folder, the way Maildir does it: whoever lists the folder never sees a
half-written message.  Several delivery workers may share one folder; ``claim`` makes sure
only one of them holds a given message at a time.
"""

from __future__ import annotations

import errno
import fcntl
import os
import re
import secrets
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.parser import BytesHeaderParser
from email.policy import compat32
from pathlib import Path

TMP = "tmp"
STALE_TMP_SECONDS = 3600.0
# Header blocks of our sealed messages are a few hundred bytes; the cap keeps a file
# without a blank line from being read whole.
HEADER_LIMIT = 64 * 1024
# The name becomes a file name: no separators, no dot files (those are ours), no "tmp".
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+=-]{0,199}")


class OutboxUnwritableError(OSError):
    """The outbox folder cannot take messages; the relay must not accept reports."""


class OutboxFullError(OSError):
    """The outbox holds its cap already: refuse the report before the disk fills."""


# How long a measured size of the outbox is trusted.  Measuring lists the folder and reads
# each message's size (20 ms for 5,000 messages here), and the folder grows while delivery is
# failing, the one time the cap matters: so it is not done per report.  Meanwhile a process
# adds what it stored itself; what other processes store shows at the next measure.  Far
# below the cap that can wait: to cross half of it between two measures, hundreds of reports
# a second would have to pass the site's ceiling.  Near the cap, once a second.
USAGE_TTL_NEAR = 1.0
USAGE_TTL_FAR = 30.0


@dataclass(frozen=True)
class Claim:
    """A message held by this worker: nobody else sends it until the claim ends."""

    path: Path
    data: bytes

    @property
    def name(self) -> str:
        return self.path.name


class Outbox:
    """A folder of sealed messages, one file each, oldest delivered first.

    ``max_bytes`` caps what ``put`` will store (None: no cap).  A flood of reports while
    delivery fails must end in a clear refusal, not in a full disk that the delivery worker,
    the logs and the rest of the machine share.  ``clock`` times how long a measure of the
    outbox's size is trusted (tests step it instead of waiting).
    """

    def __init__(self, folder: str | os.PathLike, *, max_bytes: int | None = None,
                 clock: Callable[[], float] = time.monotonic):
        self.folder = Path(folder)
        self.tmp = self.folder / TMP
        self.max_bytes = max_bytes
        self._clock = clock
        self._usage: tuple[float, int] | None = None  # (measured at, bytes)

    def __repr__(self) -> str:
        return f"Outbox({str(self.folder)!r})"

    # -- writing -------------------------------------------------------------------------

    def put(self, message: bytes, name: str) -> Path:
        """Store ``message`` durably as ``name`` and return its path.

        Raises OSError (FileExistsError if ``name`` is already waiting) and then leaves
        nothing behind; ValueError if ``name`` is not a plain file name.
        """
        if not _NAME.fullmatch(name) or name == TMP:
            raise ValueError("outbox: a message name must be a plain file name")
        if self.max_bytes is not None:
            self._check_room(len(message))
        final = self.folder / name
        # rename() would silently replace a message of the same name: that is a lost report.
        if os.path.lexists(final):
            raise FileExistsError(errno.EEXIST, "outbox: a message of this name is already waiting", name)
        temporary = self._write_temporary(message, name)
        try:
            os.rename(temporary, final)
        except BaseException:
            _unlink_quietly(temporary)
            raise
        try:
            _fsync_directory(self.folder)
        except BaseException:
            # Not known to be durable, so the caller will say "not received": take it back
            # so what the victim was told and what staff receive stay the same.
            _unlink_quietly(final)
            raise
        if self._usage is not None:
            self._usage = (self._usage[0], self._usage[1] + len(message))
        return final

    def _check_room(self, size: int) -> None:
        now = self._clock()
        if self._usage is None or now - self._usage[0] > self._usage_ttl(self._usage[1]):
            self._usage = (now, self.size())
        if self._usage[1] + size > self.max_bytes:
            raise OutboxFullError(errno.ENOSPC, f"outbox holds {self._usage[1]:,} bytes, its cap is {self.max_bytes:,}")

    def _usage_ttl(self, usage: int) -> float:
        return USAGE_TTL_FAR if usage < self.max_bytes / 2 else USAGE_TTL_NEAR

    def size(self) -> int:
        """Bytes of the messages waiting (not of tmp/)."""
        return sum(stat.st_size for _, stat in self._waiting())

    def _write_temporary(self, message: bytes, name: str) -> Path:
        temporary = self.tmp / f"{name}.{os.getpid()}.{secrets.token_hex(4)}"
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
        try:
            fd = os.open(temporary, flags, 0o600)
        except FileNotFoundError:  # the folders are made when first needed (or again, if removed)
            self._make_folders()
            fd = os.open(temporary, flags, 0o600)
        try:
            with open(fd, "wb", closefd=True) as file:
                file.write(message)
                file.flush()
                os.fsync(file.fileno())
        except BaseException:
            _unlink_quietly(temporary)
            raise
        return temporary

    def _make_folders(self) -> None:
        self.folder.parent.mkdir(parents=True, exist_ok=True)
        for folder in (self.folder, self.tmp):
            try:
                os.mkdir(folder, 0o700)
            except FileExistsError:
                continue
            os.chmod(folder, 0o700)  # mkdir's mode is cut by the umask; this one is not
            _fsync_directory(folder.parent)

    # -- startup and housekeeping --------------------------------------------------------

    def check_writable(self) -> None:
        """Make sure a message could be stored now; raise OutboxUnwritableError if not."""
        probe = f".probe-{os.getpid()}-{secrets.token_hex(4)}"
        try:
            self._make_folders()
            if os.stat(self.tmp).st_dev != os.stat(self.folder).st_dev:
                raise OSError(errno.EXDEV, "tmp/ is on another filesystem, so rename() cannot be atomic")
            # The probe takes the same path as put(): temporary file, fsync, rename, fsync.
            temporary = self._write_temporary(b"probe\r\n", probe)
            try:
                os.rename(temporary, self.folder / probe)
            except OSError:
                _unlink_quietly(temporary)
                raise
            _fsync_directory(self.folder)
            os.unlink(self.folder / probe)
            _fsync_directory(self.folder)
        except OSError as error:
            _unlink_quietly(self.folder / probe)
            reason = error.strerror or str(error)
            raise OutboxUnwritableError(f"outbox {self.folder} is not writable: {reason}") from error
        self.clean_tmp()

    def clean_tmp(self, *, max_age: float = STALE_TMP_SECONDS, now: float | None = None) -> int:
        """Remove leftovers of writes that crashed half-way; return how many were removed."""
        now = time.time() if now is None else now
        removed = 0
        try:
            entries = list(os.scandir(self.tmp))
        except FileNotFoundError:
            return 0
        for entry in entries:
            try:
                # An hour is far longer than any put() takes, so a live write is never hit.
                if entry.is_file(follow_symlinks=False) and now - entry.stat().st_mtime > max_age:
                    os.unlink(entry.path)
                    removed += 1
            except FileNotFoundError:
                continue
        return removed

    # -- reading -------------------------------------------------------------------------

    def pending(self) -> list[Path]:
        """The waiting messages, oldest first."""
        found = sorted((stat.st_mtime_ns, name) for name, stat in self._waiting())
        return [self.folder / name for _, name in found]

    def _waiting(self) -> list[tuple[str, os.stat_result]]:
        """Name and stat of each waiting message (not tmp/, not our dot files)."""
        found = []
        try:
            entries = list(os.scandir(self.folder))
        except FileNotFoundError:
            return []
        for entry in entries:
            if entry.name.startswith(".") or entry.name == TMP:
                continue
            try:
                if entry.is_file(follow_symlinks=False):
                    found.append((entry.name, entry.stat(follow_symlinks=False)))
            except FileNotFoundError:  # delivered by another worker meanwhile
                continue
        return found

    @contextmanager
    def claim(self, path: Path) -> Iterator[Claim | None]:
        """Hold ``path`` for sending; yields None if another worker has it or it is gone."""
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
        except FileNotFoundError:
            yield None
            return
        try:
            yield _lock(fd, Path(path))
        finally:
            os.close(fd)  # also releases the lock

    def remove(self, path: Path) -> None:
        """Delete a delivered message, durably."""
        os.unlink(path)
        _fsync_directory(self.folder)

    @staticmethod
    def message_id(path: Path) -> str | None:
        """The Message-ID header of a stored message, reading only its header block."""
        with open(path, "rb") as file:
            return message_id_of(_read_head(file))


def message_id_of(message: bytes) -> str | None:
    """The Message-ID of a message given as bytes (only the header block is looked at)."""
    head = _head_of(message)
    value = BytesHeaderParser(policy=compat32).parsebytes(head).get("Message-ID")
    if value is None:
        return None
    return "".join(str(value).split()) or None


def _read_head(file) -> bytes:
    head = b""
    while len(head) < HEADER_LIMIT:
        chunk = file.read(4096)
        if not chunk:
            break
        head += chunk
        if b"\n\r\n" in head or b"\n\n" in head:
            break
    return _head_of(head[:HEADER_LIMIT])


def _head_of(message: bytes) -> bytes:
    ends = [at for at in (message.find(b"\r\n\r\n"), message.find(b"\n\n")) if at >= 0]
    return message[: min(ends)] + b"\n" if ends else message


def _lock(fd: int, path: Path) -> Claim | None:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return None
    # Another worker may have sent and removed the file between our open() and flock():
    # then we hold a lock on a deleted file, and sending it again would be a duplicate.  The
    # name must still be the file we hold: while we hold it open, its inode number cannot go
    # to another file, so a deleted or replaced file never matches.
    held = os.fstat(fd)
    try:
        current = os.stat(path, follow_symlinks=False)
    except FileNotFoundError:
        return None
    if (held.st_dev, held.st_ino) != (current.st_dev, current.st_ino):
        return None
    chunks = []
    while chunk := os.read(fd, 1 << 20):
        chunks.append(chunk)
    return Claim(path=path, data=b"".join(chunks))


def _fsync_directory(folder: Path) -> None:
    # A rename or unlink is only durable once the directory itself is on disk.
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _unlink_quietly(path: Path) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass
