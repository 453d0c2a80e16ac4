"""The publisher: ``python -m safeline.publish``, run by safeline-publish.timer every 5 minutes.

Each run: fetch the branch into its own bare clone; when the branch head moved since the last
attempt, or the served release was built more than a day ago (the daily rebuild: the "open
now" schedule of the pages is computed at build time and runs out), build that commit strictly
(safeline/build.py, as ``./run publish``) into a new release folder, and only when the build
passes switch ``current`` to it (safeline/release.py).  One line per attempt on stdout (the
journal): ``published <commit> in N s`` or ``not published <commit>: <first error>``; nothing
when there is nothing to do.

After each run, and after a rollback, ``published.txt`` beside the releases says what is served
and, when the branch's newest commit could not be published, why (``write_notice``).  nginx
serves it as ``/published.txt``: the editors' guide (README, 「変更を公開するには」) tells editors
to look there, since they have no shell on the server.  It carries the commit's first 7 digits,
the build time and the first error, which name only the site's own files and pages: nothing of
a report, and not the commit's subject (an editor's message is not for the public).

A failed commit is remembered (state.json) and tried again when the branch moves, or an hour
later (the fault may have been the server's, e.g. a full disk); a failed daily rebuild is logged, the served release stays, and it is tried again a day later.
The daily rebuild builds the commit that is served, so after ``./run rollback`` the
rolled-back commit stays served (and fresh) until the branch moves.

Settings (environment; /etc/safeline/publish.env under systemd), checked before anything is
touched: a missing or bad one is named on one line and the run ends with status 2.

    PUBLISH_REPOSITORY       the repository to publish from (URL or path); required
    PUBLISH_BRANCH           its branch (default main)
    PUBLISH_KEEP             releases kept besides the served one (default 5)
    PUBLISH_ALLOWED_SIGNERS  optional: git's SSH allowed-signers file; then only commits whose
                             signature it accepts are published
    SAFELINE_SITE_ROOT       the site root (default /srv/safeline/site; it must exist)
    PUBLISH_GIT_DIR          the bare clone (default /var/lib/safeline/publish/repo.git)
    SAFELINE_CONTACT_ADDRESS needed by publishconf.py (the build checks it)
"""

from __future__ import annotations

import datetime
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit
from zoneinfo import ZoneInfo

from safeline import release as rel
from safeline.atomic import replace_file
from safeline.build import build_site

DEFAULT_GIT_DIR = Path("/var/lib/safeline/publish/repo.git")
DAY = datetime.timedelta(hours=24)
# A failed head is tried again after this long even if the branch did not move: the fault may
# have been the server's (a full disk, a package missing until the checkout is updated), and a
# commit that is broken costs one line an hour until the next push.
RETRY = datetime.timedelta(hours=1)
NOTICE = "published.txt"
TOKYO = ZoneInfo("Asia/Tokyo")  # editors read the times in the notice in Japan
REF = "refs/publish/head"  # where the fetched branch head is kept in the bare clone


class SettingError(Exception):
    pass


@dataclass(frozen=True)
class Settings:
    repository: str
    branch: str
    keep: int
    allowed_signers: Path | None
    root: Path
    git_dir: Path

    @classmethod
    def from_env(cls, env) -> "Settings":
        """The settings, or SettingError naming the first one that is missing or bad."""
        repository = env.get("PUBLISH_REPOSITORY", "").strip()
        if not repository:
            raise SettingError("PUBLISH_REPOSITORY: missing; set it to the repository's URL (or path)")
        if repository.startswith("-") or any(char.isspace() for char in repository):
            raise SettingError(f"PUBLISH_REPOSITORY: {without_credentials(repository)!r} is not a repository URL or "
                               "path")
        branch = env.get("PUBLISH_BRANCH", "").strip() or "main"
        valid = subprocess.run(["git", "check-ref-format", f"refs/heads/{branch}"], capture_output=True)
        if valid.returncode or branch.startswith("-"):
            raise SettingError(f"PUBLISH_BRANCH: {branch!r} is not a branch name")
        keep_text = env.get("PUBLISH_KEEP", "").strip() or "5"
        if not re.fullmatch(r"[0-9]+", keep_text) or not 1 <= int(keep_text) <= 100:
            raise SettingError(f"PUBLISH_KEEP: {keep_text!r} is not a number of releases from 1 to 100")
        signers_text = env.get("PUBLISH_ALLOWED_SIGNERS", "").strip()
        signers = Path(signers_text) if signers_text else None
        if signers is not None and not (signers.is_file() and os.access(signers, os.R_OK)):
            raise SettingError(f"PUBLISH_ALLOWED_SIGNERS: {signers} is not a readable file")
        root = rel.site_root(env)
        if not root.is_absolute() or not root.is_dir():
            raise SettingError(f"SAFELINE_SITE_ROOT: {root} is not an existing folder (an absolute path)")
        git_dir = Path(env.get("PUBLISH_GIT_DIR", "").strip() or DEFAULT_GIT_DIR)
        if not git_dir.is_absolute() or not git_dir.parent.is_dir():
            raise SettingError(f"PUBLISH_GIT_DIR: {git_dir} must be an absolute path in an existing folder")
        if not env.get("SAFELINE_CONTACT_ADDRESS", "").strip():
            raise SettingError("SAFELINE_CONTACT_ADDRESS: missing; the address staff write from, for the privacy page")
        return cls(repository, branch, int(keep_text), signers, root, git_dir)


def without_credentials(url: str) -> str:
    """The repository's address as the journal may show it: a token in https://user:token@host/
    (a private repository) never reaches a log line."""
    parts = urlsplit(url)
    if parts.scheme and "@" in parts.netloc:
        return urlunsplit(parts._replace(netloc="…@" + parts.netloc.rsplit("@", 1)[1]))
    return url


def git(settings: Settings, *args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(["git", f"--git-dir={settings.git_dir}", *args], capture_output=True, **kwargs)


def _said(result: subprocess.CompletedProcess) -> str:
    text = result.stderr.decode(errors="replace") if isinstance(result.stderr, bytes) else result.stderr
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    return lines[0] if lines else f"git exited with status {result.returncode}"


def fetch(settings: Settings) -> str:
    """Fetch the branch into the bare clone (made at the first run); return its head commit."""
    if not (settings.git_dir / "HEAD").exists():
        made = subprocess.run(["git", "init", "--quiet", "--bare", str(settings.git_dir)], capture_output=True,
                              text=True)
        if made.returncode:
            raise RuntimeError(f"git init {settings.git_dir}: {_said(made)}")
    # No prompt for a password, ever: a refused login is a line in the journal, not a hang.
    fetched = git(settings, "fetch", "--quiet", "--no-tags", "--force", "--", settings.repository,
                  f"+refs/heads/{settings.branch}:{REF}", text=True, timeout=300,
                  env={**os.environ, "GIT_TERMINAL_PROMPT": "0"})
    if fetched.returncode:
        raise RuntimeError(_said(fetched))
    head = git(settings, "rev-parse", "--verify", f"{REF}^{{commit}}", text=True)
    if head.returncode:
        raise RuntimeError(_said(head))
    return head.stdout.strip()


def signed_by_an_editor(settings: Settings, commit: str) -> bool:
    result = git(settings, "-c", f"gpg.ssh.allowedSignersFile={settings.allowed_signers}", "verify-commit", commit)
    return result.returncode == 0


def commit_facts(settings: Settings, commit: str) -> tuple[str, str]:
    shown = git(settings, "log", "-1", "--format=%s%x00%cI", commit, text=True)
    subject, _, committed = shown.stdout.strip().partition("\x00")
    return subject, committed


class _Archive(tarfile.TarFile):
    def chown(self, *args, **kwargs) -> None:
        """Never: the files belong to whoever runs the publisher (as root, tarfile would call
        chown(2), which the unit's system call filter refuses)."""


def unpack(settings: Settings, commit: str, target: Path) -> None:
    """The commit's tracked files (``git archive``) into ``target``."""
    target.mkdir()
    with subprocess.Popen(["git", f"--git-dir={settings.git_dir}", "archive", "--format=tar", commit],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE) as archive:
        with _Archive.open(fileobj=archive.stdout, mode="r|") as tar:
            tar.extractall(target, filter="data")
        said = archive.stderr.read().decode(errors="replace")
    if archive.returncode:
        raise RuntimeError(f"git archive {commit}: {said.strip()}")


def read_state(root: Path) -> dict:
    """The publisher's memory; anything unreadable is no memory (the head is tried again)."""
    try:
        state = json.loads((root / "state.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return state if isinstance(state, dict) else {}


def notice(root: Path) -> str:
    """What ``published.txt`` says: the served release, and the newest commit's failure."""
    serving = rel.current(root)
    lines = [f"published {serving.commit[:7]} {serving.built.astimezone(TOKYO):%Y-%m-%d %H:%M} JST"
             if serving else "published nothing yet"]
    state = read_state(root)
    tried = _when(state.get("tried"))
    if state.get("result") == "failed" and isinstance(state.get("head"), str) and tried:
        error = " ".join(str(state.get("error") or "").split())
        lines.append(f"not published {state['head'][:7]} {tried.astimezone(TOKYO):%Y-%m-%d %H:%M} JST: {error}")
    return "\n".join(lines) + "\n"


def write_notice(root: Path) -> None:
    """Rewrite ``published.txt`` when what it says changed (atomically, readable by nginx)."""
    text = notice(root)
    path = root / NOTICE
    try:
        if path.read_text(encoding="utf-8") == text:
            return
    except OSError:
        pass
    try:
        replace_file(path, text.encode("utf-8"), mode=0o644)
    except OSError:
        pass  # a full disk: the notice stays as it was, the journal's line counts; the next run tries again


def _when(text: str | None) -> datetime.datetime | None:
    try:
        return datetime.datetime.fromisoformat(text) if text else None
    except ValueError:
        return None


def build_and_switch(settings: Settings, commit: str) -> tuple[rel.Release | None, str]:
    """Build ``commit`` into a new release and serve it; (release, "") or (None, first error).
    The served release changes only after a complete, passing build."""
    started = time.monotonic()
    built_at = rel.utc_now()
    building = rel.new_building(settings.root)
    try:
        unpack(settings, commit, building / "source")
        result = build_site(building / "source", building / "output")
        if not result.ok:
            return None, result.first_error
        inputs = rel.digests(building / "source")
        shutil.rmtree(building / "source")  # the release keeps what is served and release.json
        subject, committed = commit_facts(settings, commit)
        release = rel.finish(settings.root, building, {
            "commit": commit, "subject": subject, "committed": committed, "built": built_at,
            "seconds": round(time.monotonic() - started, 2), "relay_inputs": inputs,
        })
        rel.switch(settings.root, release)
        return release, ""
    finally:
        if building.exists():
            shutil.rmtree(building, ignore_errors=True)


def run(settings: Settings, say=print) -> int:
    """One publisher run, under the lock (see the module's docstring).  Returns the exit status."""
    root = settings.root
    lock = rel.locked(root, wait=False)
    try:
        lock.__enter__()
    except BlockingIOError:
        say("skipped: another publisher run or a rollback holds the lock")
        return 0
    try:
        state = read_state(root)
        try:
            head = fetch(settings)
        except (RuntimeError, subprocess.TimeoutExpired) as error:
            shown = without_credentials(settings.repository)
            say(f"not fetched {settings.branch} from {shown}: {str(error).replace(settings.repository, shown)}")
            return 1
        now = rel.utc_now()
        serving = rel.current(root)
        failed_rebuild = _when(state.get("rebuild_failed"))
        tried = _when(state.get("tried"))
        if head != state.get("head") or (state.get("result") == "failed" and (tried is None or now - tried > RETRY)):
            commit, daily = head, False
        elif serving and now - serving.built > DAY and (failed_rebuild is None or now - failed_rebuild > DAY):
            commit, daily = serving.commit, True
        else:
            write_notice(root)  # e.g. after a rollback by hand, or the first run of a new version
            return 0  # nothing moved, nothing is stale (a failed head waits for a push, or its hour)
        started = time.monotonic()
        if settings.allowed_signers and not signed_by_an_editor(settings, commit):
            release, error = None, "not signed by an allowed editor"
        else:
            try:
                release, error = build_and_switch(settings, commit)
            except (OSError, RuntimeError, subprocess.SubprocessError, tarfile.TarError) as problem:
                # Unpacking or writing failed (a full disk, a bad archive): one line, remembered
                # like a failed build, instead of a traceback at every tick.
                release, error = None, f"{type(problem).__name__}: {problem}"
        seconds = time.monotonic() - started
        if daily and release is None:
            state["rebuild_failed"] = now.isoformat()  # tried again a day later, not at every tick
        else:
            state.pop("rebuild_failed", None)
        if not daily:
            state.update({"head": head, "tried": now.isoformat(), "result": "published" if release else "failed",
                          "error": error})
        try:
            rel.write_json(root / "state.json", state)
        except OSError as problem:
            # A full disk: the attempt's line below still goes to the journal; without its
            # memory the publisher simply tries this commit again at the next tick.
            say(f"state not recorded in {root / 'state.json'} ({problem.strerror or type(problem).__name__})")
        rel.prune(root, settings.keep)
        write_notice(root)
        if release is None:
            say(f"not published {commit}: {error}" + (" (daily rebuild; the served release stays)" if daily else ""))
            return 1
        say(f"published {commit} in {seconds:.1f} s" + (" (daily rebuild)" if daily else ""))
        return 0
    finally:
        lock.__exit__(None, None, None)


def main(env=None) -> int:
    env = os.environ if env is None else env
    try:
        settings = Settings.from_env(env)
    except SettingError as error:
        print(f"not published: {error}", flush=True)
        return 2
    return run(settings, say=lambda line: print(line, flush=True))


if __name__ == "__main__":
    sys.exit(main())
