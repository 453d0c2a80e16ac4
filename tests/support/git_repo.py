"""A real git repository in a scratch folder, made from this checkout, for the publisher's tests.

``GitRepo.from_checkout(path)`` copies the files git tracks here (as they are on disk, so
uncommitted work is tested too; plus new files not yet added, minus ignored ones) into
``path`` and commits them on ``main``; ``edit`` and ``commit`` make the next commits.
``clone`` gives a test a repository of its own to add commits to without touching a shared one.

And how the tests run the publisher (safeline/publish.py) on such a repository:
``publisher_env`` (its settings, into a scratch site root) and ``run_publisher`` (one run, in
its own process, as the timer starts it).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.support.site import ROOT

# A fixed identity and no user or system configuration, so the commits are the same whatever
# the machine's git settings are (signing, hooks, default branch).
GIT_ENV = {
    "GIT_AUTHOR_NAME": "Editor", "GIT_AUTHOR_EMAIL": "editor@safeline.example",
    "GIT_COMMITTER_NAME": "Editor", "GIT_COMMITTER_EMAIL": "editor@safeline.example",
    "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1",
}


def git(path: Path, *args: str) -> str:
    result = subprocess.run(["git", "-C", str(path), *args], capture_output=True, text=True,
                            env={**os.environ, **GIT_ENV})
    assert result.returncode == 0, f"git {' '.join(args)}: {result.stderr}"
    return result.stdout.strip()


class GitRepo:
    def __init__(self, path: Path):
        self.path = path

    @classmethod
    def from_checkout(cls, path: Path) -> "GitRepo":
        listed = subprocess.run(["git", "-C", str(ROOT), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                                capture_output=True, check=True).stdout.decode().split("\0")
        for name in filter(None, listed):
            source = ROOT / name
            if not source.is_file() or source.is_symlink():
                continue  # deleted in the working tree, or the .venv link
            target = path / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
        git(path, "init", "--quiet", "--initial-branch=main")
        repo = cls(path)
        repo.commit("The site as this checkout has it")
        return repo

    def clone(self, path: Path) -> "GitRepo":
        git(self.path.parent, "clone", "--quiet", str(self.path), str(path))
        return GitRepo(path)

    def edit(self, name: str, old: str, new: str) -> None:
        """Replace ``old`` (which must be there) by ``new`` in the file ``name``."""
        file = self.path / name
        text = file.read_text(encoding="utf-8")
        assert old in text, f"{name} no longer contains {old!r}"
        file.write_text(text.replace(old, new, 1), encoding="utf-8")

    def commit(self, message: str, *options: str) -> str:
        git(self.path, "add", "--all")
        git(self.path, "commit", "--quiet", "--allow-empty", "-m", message, *options)
        return self.head

    @property
    def head(self) -> str:
        return git(self.path, "rev-parse", "HEAD")


CONTACT = "contact@safeline.example"  # SAFELINE_CONTACT_ADDRESS for the builds


def publisher_env(root: Path, git_dir: Path, repository: Path, **extra: str) -> dict:
    """The publisher's settings: publish ``repository`` into the site root ``root``, keeping its
    bare clone in ``git_dir``; no setting of the caller's own environment leaks in."""
    env = {name: value for name, value in os.environ.items() if not name.startswith(("PUBLISH_", "SAFELINE_", "GIT_"))}
    env.update({"PUBLISH_REPOSITORY": str(repository), "SAFELINE_SITE_ROOT": str(root),
                "PUBLISH_GIT_DIR": str(git_dir), "SAFELINE_CONTACT_ADDRESS": CONTACT,
                "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"})
    env.update(extra)
    return env


def run_publisher(env: dict, prefix: list[str] | None = None) -> subprocess.CompletedProcess:
    """One run of ``python -m safeline.publish`` from this checkout (``prefix``: e.g. a launcher
    that confines it first)."""
    return subprocess.run([*(prefix or []), sys.executable, "-m", "safeline.publish"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
