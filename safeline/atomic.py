"""Files that are replaced whole: a reader sees the old content or the new, never a part.

The relay's delivery record and status metrics, the publisher's state, release.json and
/published.txt are all written this way: a temporary file beside the target (same folder, so
the rename stays on one file system), its mode set with fchmod (the process's umask does not
decide who may read it), its bytes on disk (fsync), then rename(2) over the target.  The
temporary file is removed when anything fails, and the error goes to the caller, who decides
whether it matters (the delivery worker logs it once and delivers on).
"""

from __future__ import annotations

import os
from pathlib import Path


def replace_file(path: Path, data: bytes, *, mode: int = 0o600, sync_folder: bool = False) -> None:
    """Write ``data`` as ``path`` atomically, with ``mode``; ``sync_folder`` also puts the rename
    itself on disk (a release's state that must survive a power cut as it was)."""
    path = Path(path)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    # O_NOFOLLOW: a link planted under the temporary name is refused, not written through.
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC | os.O_NOFOLLOW, mode)
    try:
        try:
            os.fchmod(fd, mode)
            written = 0
            while written < len(data):
                written += os.write(fd, data[written:])
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise
    if sync_folder:
        fsync_path(path.parent)


def fsync_path(path: Path) -> None:
    """``path`` (a file, or a folder: its entries, e.g. a rename into it) on disk."""
    descriptor = os.open(path, os.O_RDONLY | (os.O_DIRECTORY if Path(path).is_dir() else 0))
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
