"""The release folders nginx serves from, and the one atomic switch between them.

Under the site root (``SAFELINE_SITE_ROOT``, default /srv/safeline/site)::

    releases/<commit>-<yyyymmddTHHMMSSZ>/   one per successful build: the full 40-hex commit
        output/                             and the UTC time the build started, so the daily
        release.json                        rebuild of the same commit gets a folder of its own
    releases/.building-…/                   a build under way (never served; removed if stale)
    current -> releases/<name>              what nginx serves (root …/current/output)
    state.json                              the publisher's memory (safeline/publish.py)
    published.txt                           what editors read at /published.txt (ditto)
    lock                                    held (flock) by the publisher and by a rollback

A release is complete before it has its name: it is built in ``.building-…``, fsynced, and
renamed; ``current`` is then replaced by a fresh symlink through ``os.replace`` (rename(2)),
so a reader sees the old release or the new one, never a mix and never nothing.  The link is
relative (``releases/<name>``), so the root may be moved or mounted elsewhere.
"""

from __future__ import annotations

import datetime
import fcntl
import hashlib
import json
import os
import shutil
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from safeline.atomic import fsync_path, replace_file

DEFAULT_ROOT = Path("/srv/safeline/site")
BUILDING = ".building-"
# The files of a commit that the relay also reads, from its own checkout (/srv/safeline), when
# it starts: the lines open now on its 429 and 503 pages, and the form's words.  The publisher
# puts only the site live; release.json keeps these files' SHA-256 ("relay_inputs"), and
# ``flask --app relay status`` calls a person while the relay's copies differ, so a changed
# phone number never stays on the form's pages unseen.
RELAY_INPUTS = ("data/hotlines.yaml", "theme/translations/ja/LC_MESSAGES/messages.po",
                "theme/translations/en/LC_MESSAGES/messages.po")


def digests(tree: Path) -> dict[str, str]:
    """SHA-256 of each of RELAY_INPUTS in ``tree`` (a file that is not there is left out)."""
    found = {}
    for name in RELAY_INPUTS:
        try:
            found[name] = hashlib.sha256((tree / name).read_bytes()).hexdigest()
        except FileNotFoundError:
            pass
    return found


class ReleaseError(Exception):
    """A request about releases that cannot be met (unknown commit, nothing to roll back to)."""


def site_root(env=None) -> Path:
    env = os.environ if env is None else env
    return Path(env.get("SAFELINE_SITE_ROOT") or DEFAULT_ROOT)


def utc_now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)


@dataclass(frozen=True)
class Release:
    name: str
    path: Path
    commit: str
    subject: str
    committed: str
    built: datetime.datetime
    seconds: float

    @property
    def output(self) -> Path:
        return self.path / "output"


def release_name(commit: str, built: datetime.datetime) -> str:
    return f"{commit}-{built.astimezone(datetime.timezone.utc):%Y%m%dT%H%M%SZ}"


def read_release(path: Path) -> Release | None:
    """The release in ``path``, or None if it is not a complete one (no readable release.json)."""
    try:
        meta = json.loads((path / "release.json").read_text(encoding="utf-8"))
        built = datetime.datetime.fromisoformat(meta["built"])
        if built.tzinfo is None:
            built = built.replace(tzinfo=datetime.timezone.utc)
        return Release(path.name, path, meta["commit"], meta.get("subject", ""), meta.get("committed", ""), built,
                       float(meta.get("seconds", 0)))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def releases(root: Path) -> list[Release]:
    """Every complete release, newest build first."""
    folder = root / "releases"
    if not folder.is_dir():
        return []
    found = [read_release(path) for path in folder.iterdir() if not path.name.startswith(".") and path.is_dir()]
    return sorted((release for release in found if release), key=lambda release: (release.built, release.name),
                  reverse=True)


def current(root: Path) -> Release | None:
    """The release ``current`` points at, or None (no link yet, or it points at nothing complete)."""
    link = root / "current"
    if not link.is_symlink():
        return None
    return read_release(root / os.readlink(link))


def fsync_tree(top: Path) -> None:
    """Every file and folder under ``top`` on disk, so a crash after the switch never leaves
    ``current`` pointing at pages the disk never got."""
    for folder, _, files in os.walk(top):
        for name in files:
            fsync_path(Path(folder) / name)
        fsync_path(Path(folder))


def write_json(path: Path, data: dict) -> None:
    """Write ``data`` as ``path`` atomically, the rename on disk too (safeline/atomic.py)."""
    text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    replace_file(path, text.encode("utf-8"), mode=0o644, sync_folder=True)


def new_building(root: Path) -> Path:
    """A fresh, empty folder for a build, inside releases/ (the same file system as the
    releases, so the finished build is renamed, not copied)."""
    folder = root / "releases"
    folder.mkdir(exist_ok=True)
    building = folder / f"{BUILDING}{utc_now():%Y%m%dT%H%M%SZ}-{os.getpid()}"
    shutil.rmtree(building, ignore_errors=True)
    building.mkdir()
    return building


def finish(root: Path, building: Path, meta: dict) -> Release:
    """Make the build in ``building`` (its output/ complete) a release: write release.json,
    put everything on disk, then give it its name.  ``meta`` has commit, subject, committed,
    built (a datetime) and seconds."""
    built = meta["built"]
    write_json(building / "release.json", {**meta, "built": built.isoformat()})
    fsync_tree(building)
    name = release_name(meta["commit"], built)
    target = root / "releases" / name
    suffix = 1
    while target.exists():  # two builds of one commit within a second: keep both
        suffix += 1
        target = root / "releases" / f"{name}-{suffix}"
    os.rename(building, target)
    fsync_path(target.parent)
    release = read_release(target)
    assert release is not None
    return release


def switch(root: Path, release: Release) -> None:
    """Serve ``release``: a new symlink, renamed over ``current`` in one step (rename(2) is
    atomic), then the root folder fsynced so the switch survives a crash."""
    if read_release(release.path) is None or not release.output.is_dir():
        raise ReleaseError(f"{release.path} is not a complete release")
    link = root / "current"
    temporary = root / f".current.{os.getpid()}.tmp"
    if temporary.is_symlink() or temporary.exists():
        temporary.unlink()
    os.symlink(os.path.relpath(release.path, root), temporary)
    os.replace(temporary, link)
    fsync_path(root)


def prune(root: Path, keep: int) -> list[str]:
    """Remove all but the ``keep`` newest releases and the one served, and any unfinished
    build (called under the lock, so no build is under way).  Returns the names removed."""
    serving = current(root)
    kept = {release.name for release in releases(root)[:keep]}
    if serving:
        kept.add(serving.name)
    removed = []
    folder = root / "releases"
    if not folder.is_dir():
        return removed
    for path in folder.iterdir():
        if path.name in kept:
            continue
        if path.name.startswith(BUILDING) or path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path.name)
    return removed


@contextmanager
def locked(root: Path, *, wait: bool = True):
    """Hold ``root``/lock (flock) for a publisher run or a rollback, so no two of them switch
    or prune at once.  ``wait=False``: raise BlockingIOError when another holds it."""
    # Opened for reading only (flock needs no more): a lock file made by a rollback run as root
    # still serves the publisher, which runs as safeline.
    descriptor = os.open(root / "lock", os.O_RDONLY | os.O_CREAT, 0o644)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        yield
    finally:
        os.close(descriptor)  # closing releases the lock


def find(root: Path, commit: str | None) -> Release:
    """The release to roll back to: the newest build of the commit ``commit`` starts (at
    least 4 hex digits), or, with no commit, the release built before the one served."""
    every = releases(root)
    serving = current(root)
    if commit is None:
        if serving is None:
            raise ReleaseError("no release is served yet: nothing to roll back from")
        older = [release for release in every if (release.built, release.name) < (serving.built, serving.name)
                 and release.commit != serving.commit]
        if not older:
            raise ReleaseError("no release of another commit was built before the one served: name the commit "
                               "to serve (./run releases lists them)")
        return older[0]
    prefix = commit.strip().lower()
    if len(prefix) < 4 or any(char not in "0123456789abcdef" for char in prefix):
        raise ReleaseError(f"{commit!r} is not a commit: give at least 4 hex digits (./run releases lists them)")
    matches = [release for release in every if release.commit.startswith(prefix)]
    if not matches:
        raise ReleaseError(f"no release of commit {commit} (./run releases lists them)")
    if len({release.commit for release in matches}) > 1:
        raise ReleaseError(f"{commit} is the start of several commits: give more digits")
    return matches[0]


def rollback(root: Path, commit: str | None = None) -> Release:
    """Serve an earlier release, in one atomic switch, under the publisher's lock."""
    if not (root / "releases").is_dir():
        raise ReleaseError(f"no releases in {root} (SAFELINE_SITE_ROOT)")
    with locked(root):
        target = find(root, commit)
        switch(root, target)
    return target


def listing(root: Path) -> list[str]:
    """``./run releases``: one line per release, newest first, the served one marked ``*``."""
    serving = current(root)
    lines = []
    for release in releases(root):
        mark = "*" if serving and release.name == serving.name else " "
        # A subject is anyone's text: no control character reaches the operator's terminal.
        subject = "".join(char if char.isprintable() else " " for char in release.subject)
        lines.append(f"{mark} {release.built:%Y-%m-%d %H:%M} UTC  {release.commit[:10]}  {subject}")
    return lines
