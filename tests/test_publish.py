"""The publisher (safeline/publish.py) against a real git repository, into a scratch site root.

One history, built once for the module (``history``): a passing commit A; a broken link (B);
bad YAML (C); a half-width bracket beside Japanese (T); a fuzzy translation (P); a passing one
again (D, new text); and E, which changes a plugin's output.  The
publisher runs after each commit and once more after A and B (nothing to do, no retry), with
PUBLISH_KEEP=2.  The tests read what each run printed and left behind.  Tests that go on from
there (daily rebuild, rollback, lock) work on a copy of the root and the bare clone.

Each build takes about 2 s here (Pelican ~0.3 s; the catalog check, compiling, typography and
starting the processes the rest).
"""

from __future__ import annotations

import datetime
import fcntl
import json
import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.git_repo import CONTACT, GIT_ENV, GitRepo, git, publisher_env, run_publisher
from tests.support.site import ROOT

ABOUT = "content/pages/about.en.md"
YAML_LINE = '    from: "12-29"   # 月-日'
PLUGIN = "plugins/pelican/plugins/contact_address/__init__.py"
ABOUT_JA = "content/pages/about.ja.md"
CATALOG = "theme/translations/ja/LC_MESSAGES/messages.po"
FUZZY_BEFORE = '#, python-brace-format\nmsgid "Mail from Safeline'
FUZZY_AFTER = '#, fuzzy, python-brace-format\nmsgid "Mail from Safeline'


def task(env: dict, *args: str) -> subprocess.CompletedProcess:
    """``./run …`` (Invoke) on this checkout."""
    return subprocess.run([sys.executable, "-m", "invoke", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)


def current_name(root: Path) -> str | None:
    link = root / "current"
    return os.readlink(link) if link.is_symlink() else None


def release_names(root: Path) -> list[str]:
    return sorted(path.name for path in (root / "releases").iterdir()) if (root / "releases").is_dir() else []


def served(root: Path, page: str) -> str:
    return (root / "current" / "output" / page).read_text(encoding="utf-8")


def snapshot(root: Path, result: subprocess.CompletedProcess) -> dict:
    """What a run printed and left: the link, the releases, the state, the served page."""
    state = root / "state.json"
    meta = root / "current" / "release.json"
    return {"code": result.returncode, "out": result.stdout, "err": result.stderr, "current": current_name(root),
            "releases": release_names(root), "state": json.loads(state.read_text()) if state.exists() else None,
            "about": served(root, "en/about/index.html") if (root / "current/output").is_dir() else None,
            "meta": json.loads(meta.read_text()) if meta.is_file() else None, "notice": notice(root),
            "notice_text": (root / "published.txt").read_text(encoding="utf-8") if (root / "published.txt").exists()
            else None}


def notice(root: Path) -> list[str] | None:
    """published.txt (what editors read at /published.txt), its times checked and left out."""
    path = root / "published.txt"
    if not path.exists():
        return None
    assert stat.S_IMODE(path.stat().st_mode) == 0o644  # nginx, another user, reads it
    return [re.sub(r" \d{4}-\d\d-\d\d \d\d:\d\d JST", " <time> JST", line, count=1)
            for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="module")
def history(tmp_path_factory):
    base = tmp_path_factory.mktemp("publish")
    repo = GitRepo.from_checkout(base / "repo")
    root, git_dir = base / "site", base / "state" / "repo.git"
    root.mkdir()
    git_dir.parent.mkdir()
    env = publisher_env(root, git_dir, repo.path, PUBLISH_KEEP="2")
    about = (repo.path / ABOUT).read_text(encoding="utf-8")
    steps, commits = {}, {}

    repo.edit(ABOUT, about, about + "\nPublish mark A.\n")
    commits["A"] = repo.commit("A: a passing change")
    steps["A"] = snapshot(root, run_publisher(env))
    steps["A again"] = snapshot(root, run_publisher(env))

    repo.edit(ABOUT, "Publish mark A.\n", "Publish mark A. [A broken link](/no-such-page/)\n")
    commits["B"] = repo.commit("B: a broken link")
    steps["B"] = snapshot(root, run_publisher(env))
    steps["B again"] = snapshot(root, run_publisher(env))

    repo.edit(ABOUT, " [A broken link](/no-such-page/)", "")
    yaml_lines = (repo.path / "data/hotlines.yaml").read_text(encoding="utf-8").splitlines()
    edited = yaml_lines.index(YAML_LINE) + 1
    repo.edit("data/hotlines.yaml", YAML_LINE, "    from: [12-29")
    commits["C"] = repo.commit("C: bad YAML")
    steps["C"] = snapshot(root, run_publisher(env))

    repo.edit("data/hotlines.yaml", "    from: [12-29", YAML_LINE)
    repo.edit(ABOUT_JA, "- [ホーム](/)", "- [ホーム](/)\n\n注意(テスト)")
    commits["T"] = repo.commit("T: a half-width bracket beside Japanese")
    steps["T"] = snapshot(root, run_publisher(env))

    repo.edit(ABOUT_JA, "\n\n注意(テスト)", "")
    repo.edit(CATALOG, FUZZY_BEFORE, FUZZY_AFTER)
    commits["P"] = repo.commit("P: a fuzzy translation")
    steps["P"] = snapshot(root, run_publisher(env))

    repo.edit(CATALOG, FUZZY_AFTER, FUZZY_BEFORE)
    repo.edit(ABOUT, "Publish mark A.", "Publish mark D.")
    commits["D"] = repo.commit("D: passing again, with new words")
    steps["D"] = snapshot(root, run_publisher(env))

    (root / "releases" / ".building-20200101T000000Z-1").mkdir()  # left by a run that died
    repo.edit(PLUGIN, 'class="contact-address"', 'class="contact-address" data-build="plugin-e"')
    repo.edit(ABOUT, "Publish mark D.", "Publish mark E.")
    commits["E"] = repo.commit("E: a plugin's output changes")
    steps["E"] = snapshot(root, run_publisher(env))
    return {"repo": repo, "root": root, "git_dir": git_dir, "env": env, "steps": steps, "commits": commits,
            "yaml_line": edited}


@pytest.fixture
def copied(history, tmp_path):
    """The history's root and bare clone, copied, for a test that changes them."""
    root, git_dir = tmp_path / "site", tmp_path / "repo.git"
    shutil.copytree(history["root"], root, symlinks=True)
    shutil.copytree(history["git_dir"], git_dir, symlinks=True)
    return root, git_dir, publisher_env(root, git_dir, history["repo"].path, PUBLISH_KEEP="2")


def age(path: Path, hours: float) -> None:
    """Make the release in ``path`` look built ``hours`` ago (the clock the daily rebuild reads)."""
    meta = json.loads((path / "release.json").read_text())
    built = datetime.datetime.fromisoformat(meta["built"]) - datetime.timedelta(hours=hours)
    meta["built"] = built.isoformat()
    (path / "release.json").write_text(json.dumps(meta))


def test_a_passing_commit_is_published_with_one_line(history):
    a, step = history["commits"]["A"], history["steps"]["A"]
    assert step["code"] == 0, step
    assert re.fullmatch(rf"published {a} in \d+\.\d s\n", step["out"]), step
    assert step["current"] == f"releases/{step['releases'][0]}" and step["current"].startswith(f"releases/{a}-")
    assert "Publish mark A." in step["about"]
    meta = step["meta"]
    assert meta["commit"] == a and meta["subject"] == "A: a passing change"
    assert datetime.datetime.fromisoformat(meta["committed"]).tzinfo is not None
    assert datetime.datetime.fromisoformat(meta["built"]).utcoffset() == datetime.timedelta(0)
    assert meta["seconds"] > 0
    # What the relay reads from its own checkout, for status to compare (A's are this checkout's).
    from safeline.release import RELAY_INPUTS, digests
    assert meta["relay_inputs"] == digests(ROOT) and set(meta["relay_inputs"]) == set(RELAY_INPUTS)
    assert step["state"]["head"] == a and step["state"]["result"] == "published"
    assert step["notice"] == [f"published {a[:7]} <time> JST"]
    built = datetime.datetime.fromisoformat(meta["built"]).astimezone(datetime.timezone(datetime.timedelta(hours=9)))
    assert step["notice_text"] == f"published {a[:7]} {built:%Y-%m-%d %H:%M} JST\n"  # Tokyo time, for editors


def test_a_run_with_nothing_to_do_prints_nothing(history):
    again, before = history["steps"]["A again"], history["steps"]["A"]
    assert (again["code"], again["out"], again["err"]) == (0, "", "")
    assert again["current"] == before["current"] and again["releases"] == before["releases"]


def test_a_broken_link_is_not_published_and_changes_nothing(history):
    b, step, before = history["commits"]["B"], history["steps"]["B"], history["steps"]["A"]
    assert step["code"] == 1
    assert step["out"] == f"not published {b}: broken link: en/about/index.html: /no-such-page/ (no such file in the output)\n"
    assert step["current"] == before["current"] and step["releases"] == before["releases"]  # no .building left
    assert step["about"] == before["about"]
    # Editors see it at /published.txt: what is still served, and why their commit is not.
    assert step["notice"] == [f"published {history['commits']['A'][:7]} <time> JST",
                              f"not published {b[:7]} <time> JST: broken link: en/about/index.html: /no-such-page/ "
                              "(no such file in the output)"]


def test_a_failed_commit_is_remembered_not_retried(history):
    b, again = history["commits"]["B"], history["steps"]["B again"]
    assert (again["code"], again["out"]) == (0, "")
    assert again["state"]["head"] == b and again["state"]["result"] == "failed"
    assert again["state"]["error"].startswith("broken link: en/about/index.html")


def test_a_full_disk_fails_the_attempt_and_the_commit_is_tried_again_an_hour_later(history, copied, tmp_path):
    """A real full disk: the releases folder on a 1 MiB tmpfs, in a mount namespace of the run's
    own.  The served release stays; the same commit, not the branch's fault, is tried again
    once the hour has passed, and published."""
    root, _, env = copied
    e = history["commits"]["E"]
    before = os.readlink(root / "current")
    repo = history["repo"].clone(tmp_path / "clone")  # the shared history stays as it is
    repo.edit(ABOUT, "Publish mark E.", "Publish mark F.")
    f = repo.commit("F: after a full disk")
    env = {**env, "PUBLISH_REPOSITORY": str(repo.path)}
    full = ["unshare", "--mount", "--propagation", "private", "sh", "-c",
            'mount -t tmpfs -o size=1m tmpfs "$0" && exec "$@"', str(root / "releases")]
    failed = run_publisher(env, prefix=full)
    assert failed.returncode == 1
    assert re.fullmatch(rf"not published {f}: .*No space left on device.*\n", failed.stdout), failed
    assert os.readlink(root / "current") == before and "Publish mark E." in served(root, "en/about/index.html")
    assert run_publisher(env).stdout == ""  # within the hour: not again
    state = json.loads((root / "state.json").read_text())
    tried = datetime.datetime.fromisoformat(state["tried"]) - datetime.timedelta(minutes=61)
    (root / "state.json").write_text(json.dumps({**state, "tried": tried.isoformat()}))
    again = run_publisher(env)
    assert re.fullmatch(rf"published {f} in \d+\.\d s\n", again.stdout), again
    assert "Publish mark F." in served(root, "en/about/index.html") and e not in os.readlink(root / "current")


def test_a_disk_full_to_the_last_byte_costs_no_traceback(history, copied, tmp_path):
    """The whole site root full (a copy of it on a tmpfs filled to the last byte, mounted over it
    in the run's own namespace): the build, state.json and published.txt all fail to be
    written; the run still ends with its lines and status 1, never a traceback."""
    root, _, env = copied
    repo = history["repo"].clone(tmp_path / "clone")
    repo.edit(ABOUT, "Publish mark E.", "Publish mark G.")
    g = repo.commit("G: on a full disk")
    script = ('mount -t tmpfs -o size=16m tmpfs "$1" && cp -a "$0"/. "$1"/ && '
              '(dd if=/dev/zero of="$1"/filler bs=64k 2>/dev/null; true) && mount --bind "$1" "$0" && '
              'shift && exec "$@"')
    spare = tmp_path / "spare"
    spare.mkdir()
    full = ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, str(root), str(spare)]
    result = run_publisher({**env, "PUBLISH_REPOSITORY": str(repo.path)}, prefix=full)
    assert result.returncode == 1 and "Traceback" not in result.stderr, result
    said = result.stdout.splitlines()
    assert re.fullmatch(rf"not published {g}: .*No space left on device.*", said[-1]), said
    assert said[0] == f"state not recorded in {root / 'state.json'} (No space left on device)", said


def test_bad_yaml_is_named_by_file_and_line_and_changes_nothing(history):
    c, step, before = history["commits"]["C"], history["steps"]["C"], history["steps"]["A"]
    assert step["code"] == 1
    match = re.fullmatch(rf"not published {c}: data/hotlines\.yaml:(\d+):\d+ \(syntax\): .+\n", step["out"])
    assert match, step["out"]
    assert int(match[1]) in (history["yaml_line"], history["yaml_line"] + 1)  # YAML notices it on the next line
    assert step["notice"][1] == f"not published {c[:7]} <time> JST: {step['out'].split(': ', 1)[1].strip()}"
    assert step["current"] == before["current"] and step["releases"] == before["releases"]


def test_half_width_punctuation_beside_japanese_is_not_published(history):
    t, step, before = history["commits"]["T"], history["steps"]["T"], history["steps"]["A"]
    assert step["code"] == 1
    assert step["out"].startswith(f'not published {t}: about/index.html: half-width "(" beside Japanese (write "（"): '), step
    assert step["out"].count("\n") == 1
    assert step["current"] == before["current"] and step["releases"] == before["releases"]


def test_a_catalog_problem_is_not_published(history):
    p, step, before = history["commits"]["P"], history["steps"]["P"], history["steps"]["A"]
    assert step["code"] == 1
    assert re.fullmatch(rf"not published {p}: {CATALOG}:\d+ \"Mail from Safeline's staff comes from this address: "
                        r'\{address\}" is marked fuzzy; check it, then remove the flag\n', step["out"]), step["out"]
    assert step["current"] == before["current"] and step["releases"] == before["releases"]


def test_a_passing_commit_after_failures_is_published_with_its_own_text(history):
    d, step = history["commits"]["D"], history["steps"]["D"]
    assert re.fullmatch(rf"published {d} in \d+\.\d s\n", step["out"]) and step["code"] == 0
    assert step["current"].startswith(f"releases/{d}-")
    assert step["notice"] == [f"published {d[:7]} <time> JST"]  # the failure's line is gone
    assert "Publish mark D." in step["about"] and "Publish mark A." not in step["about"]
    # The release before stays as it was, for a rollback.
    a_release = history["root"] / history["steps"]["A"]["current"]
    if a_release.exists():  # pruned after E (PUBLISH_KEEP=2)
        assert "Publish mark A." in (a_release / "output/en/about/index.html").read_text()


def test_the_build_uses_the_commits_own_plugins_not_the_installed_ones(history):
    """E changes the contact_address plugin; .venv's editable install points at this checkout's."""
    e, step = history["commits"]["E"], history["steps"]["E"]
    assert step["out"].startswith(f"published {e} in "), step
    privacy = served(history["root"], "privacy/index.html")
    assert f'class="contact-address" data-build="plugin-e">{CONTACT}<' in privacy
    assert "plugin-e" not in (ROOT / PLUGIN).read_text(encoding="utf-8")
    d_release = history["root"] / history["steps"]["D"]["current"]
    assert "plugin-e" not in (d_release / "output/privacy/index.html").read_text()


def test_only_the_newest_releases_are_kept_and_stale_builds_go(history):
    d, e = history["commits"]["D"], history["commits"]["E"]
    step = history["steps"]["E"]
    assert [name[:40] for name in step["releases"]] == sorted([d, e])  # A and the stale .building-… are gone
    assert all(re.fullmatch(r"[0-9a-f]{40}-\d{8}T\d{6}Z", name) for name in step["releases"])
    assert step["current"] == f"releases/{[n for n in step['releases'] if n.startswith(e)][0]}"


def test_the_daily_rebuild_refreshes_the_served_commit(history, copied):
    root, _, env = copied
    e = history["commits"]["E"]
    serving = root / "current"
    before = os.readlink(serving)
    age(serving.resolve(), 23)
    assert run_publisher(env).stdout == ""  # less than a day old: nothing to do
    age(serving.resolve(), 2)
    result = run_publisher(env)
    assert re.fullmatch(rf"published {e} in \d+\.\d s \(daily rebuild\)\n", result.stdout), result
    after = os.readlink(serving)
    assert after != before and after.startswith(f"releases/{e}-")
    assert len(release_names(root)) == 2  # the new build of E and the old one (D was pruned)
    assert run_publisher(env).stdout == ""


def test_a_failed_daily_rebuild_is_logged_once_and_the_site_stays(history, copied):
    root, _, env = copied
    e = history["commits"]["E"]
    before = os.readlink(root / "current")
    age((root / "current").resolve(), 25)
    env = {**env, "SAFELINE_CONTACT_ADDRESS": "contact@safeline.test"}  # publishconf.py refuses it
    result = run_publisher(env)
    assert result.returncode == 1
    assert result.stdout == (f"not published {e}: SAFELINE_CONTACT_ADDRESS: set it to the address staff write to "
                             "reporters from (the relay's RELAY_CONTACT_ADDRESS) before building the public site "
                             "(daily rebuild; the served release stays)\n")
    assert os.readlink(root / "current") == before
    assert run_publisher(env).stdout == ""  # not again at the next tick
    state = json.loads((root / "state.json").read_text())
    failed = datetime.datetime.fromisoformat(state["rebuild_failed"]) - datetime.timedelta(hours=25)
    (root / "state.json").write_text(json.dumps({**state, "rebuild_failed": failed.isoformat()}))
    assert run_publisher({**env, "SAFELINE_CONTACT_ADDRESS": CONTACT}).stdout.endswith("(daily rebuild)\n")  # a day later


def test_releases_lists_and_rollback_switches_and_stays(history, copied):
    root, _, env = copied
    d, e = history["commits"]["D"], history["commits"]["E"]
    listed = task(env, "releases")
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert re.fullmatch(rf"\* \d{{4}}-\d\d-\d\d \d\d:\d\d UTC  {e[:10]}  E: a plugin's output changes", lines[0])
    assert re.fullmatch(rf"  \d{{4}}-\d\d-\d\d \d\d:\d\d UTC  {d[:10]}  D: passing again, with new words", lines[1])
    assert len(lines) == 2

    rolled = task(env, "rollback")  # the release before the served one
    assert rolled.returncode == 0, rolled.stderr
    assert rolled.stdout.startswith(f"rolled back to {d} ")
    assert os.readlink(root / "current").startswith(f"releases/{d}-")
    assert "Publish mark D." in served(root, "en/about/index.html")
    assert notice(root) == [f"published {d[:7]} <time> JST"]  # a rollback rewrites the notice too
    assert task(env, "releases").stdout.splitlines()[1].startswith("* ")

    assert run_publisher(env).stdout == ""  # the branch did not move: the rollback stays
    assert os.readlink(root / "current").startswith(f"releases/{d}-")
    age((root / "current").resolve(), 25)
    daily = run_publisher(env)  # the daily rebuild rebuilds what is served: D, not the branch's E
    assert daily.stdout.startswith(f"published {d} in ") and "(daily rebuild)" in daily.stdout
    assert os.readlink(root / "current").startswith(f"releases/{d}-")

    # As the runbook writes it, through ./run (the commit as a plain argument); a prefix will do.
    forward = subprocess.run([str(ROOT / "run"), "rollback", e[:7]], cwd=ROOT, env=env, capture_output=True,
                             text=True, timeout=120)
    assert forward.returncode == 0 and forward.stdout.startswith(f"rolled back to {e} ")
    assert "Publish mark E." in served(root, "en/about/index.html")

    unknown = task(env, "rollback", "--commit", "deadbeef")
    assert unknown.returncode != 0
    assert unknown.stderr.strip() == "not rolled back: no release of commit deadbeef (./run releases lists them)"
    assert os.readlink(root / "current").startswith(f"releases/{e}-")
    assert task(env, "rollback", "--commit", "HEAD~1").stderr.startswith("not rolled back: 'HEAD~1' is not a commit")


def test_two_runs_do_not_collide_the_second_waits_for_the_next_tick(history, copied, tmp_path):
    root, _, env = copied
    repo = history["repo"].clone(tmp_path / "mine")
    repo.edit(ABOUT, "Publish mark E.", "Publish mark F.")
    f = repo.commit("F")
    env = {**env, "PUBLISH_REPOSITORY": str(repo.path)}
    before = os.readlink(root / "current")
    with open(root / "lock", "a") as held:  # as a run under way holds it
        fcntl.flock(held, fcntl.LOCK_EX)
        blocked = run_publisher(env)
        rolled = subprocess.Popen([sys.executable, "-m", "invoke", "rollback"], cwd=ROOT, env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        with pytest.raises(subprocess.TimeoutExpired):
            rolled.wait(timeout=1.5)  # a rollback waits for the lock
        assert os.readlink(root / "current") == before
    assert rolled.wait(timeout=60) == 0
    assert (blocked.returncode, blocked.stdout) == (0, "skipped: another publisher run or a rollback holds the lock\n")
    assert json.loads((root / "state.json").read_text())["head"] == history["commits"]["E"]
    assert run_publisher(env).stdout.startswith(f"published {f} in ")


@pytest.mark.parametrize(("change", "named"), [
    pytest.param({"PUBLISH_REPOSITORY": ""}, "PUBLISH_REPOSITORY: missing", id="no-repository"),
    pytest.param({"PUBLISH_REPOSITORY": "--upload-pack=touch /tmp/x"}, "PUBLISH_REPOSITORY: ", id="option-repository"),
    pytest.param({"PUBLISH_BRANCH": "main..x"}, "PUBLISH_BRANCH: 'main..x' is not a branch name", id="bad-branch"),
    pytest.param({"PUBLISH_KEEP": "0"}, "PUBLISH_KEEP: '0' is not a number", id="keep-zero"),
    pytest.param({"PUBLISH_KEEP": "five"}, "PUBLISH_KEEP: 'five' is not a number", id="keep-word"),
    pytest.param({"PUBLISH_ALLOWED_SIGNERS": "/nonexistent/allowed"}, "PUBLISH_ALLOWED_SIGNERS: /nonexistent/allowed",
                 id="no-signers-file"),
    pytest.param({"SAFELINE_SITE_ROOT": "/nonexistent/site"}, "SAFELINE_SITE_ROOT: /nonexistent/site", id="no-root"),
    pytest.param({"PUBLISH_GIT_DIR": "relative/repo.git"}, "PUBLISH_GIT_DIR: relative/repo.git", id="relative-git-dir"),
    pytest.param({"SAFELINE_CONTACT_ADDRESS": ""}, "SAFELINE_CONTACT_ADDRESS: missing", id="no-contact"),
])
def test_a_missing_or_bad_setting_is_named_and_nothing_changes(history, tmp_path, change, named):
    root, git_dir = tmp_path / "site", tmp_path / "repo.git"
    root.mkdir()
    result = run_publisher(publisher_env(root, git_dir, history["repo"].path, **change))
    assert result.returncode == 2
    assert result.stdout.startswith(f"not published: {named}") and result.stdout.count("\n") == 1, result.stdout
    assert list(root.iterdir()) == [] and not git_dir.exists()


def test_an_unreachable_repository_is_logged_and_changes_nothing(history, copied):
    root, _, env = copied
    before = os.readlink(root / "current")
    result = run_publisher({**env, "PUBLISH_REPOSITORY": str(root / "no-such-repository")})
    assert result.returncode == 1
    assert result.stdout.startswith(f"not fetched main from {root / 'no-such-repository'}: ") and result.stdout.count("\n") == 1
    assert os.readlink(root / "current") == before


def test_a_state_file_that_is_not_the_publishers_is_no_memory(history, copied):
    # Garbage, or JSON of another shape: the branch's head is built again, without a traceback.
    root, _, env = copied
    e = history["commits"]["E"]
    for garbage in ("[1, 2]", "{not json"):
        (root / "state.json").write_text(garbage)
        result = run_publisher(env)
        assert result.returncode == 0 and result.stdout.startswith(f"published {e} in "), result
        assert json.loads((root / "state.json").read_text())["head"] == e


def test_a_token_in_the_repository_address_never_reaches_the_log(copied):
    # A private repository over https is often reached as https://user:token@host/…
    from devtools.ports import free_port

    root, _, env = copied
    url = f"http://editor:s3cret-Tok3n@127.0.0.1:{free_port()}/safeline.git"  # nothing listens there
    result = run_publisher({**env, "PUBLISH_REPOSITORY": url})
    assert result.returncode == 1 and "s3cret-Tok3n" not in result.stdout + result.stderr, result
    assert result.stdout.startswith(f"not fetched main from http://…@127.0.0.1:{url.rsplit(':', 1)[1].split('/')[0]}"
                                    "/safeline.git: "), result.stdout


def test_only_commits_signed_by_an_allowed_editor_are_published(history, tmp_path):
    key = tmp_path / "editor"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "editor", "-f", str(key)], check=True)
    allowed = tmp_path / "allowed_signers"
    allowed.write_text(f"editor@safeline.example {key.with_suffix('.pub').read_text()}")
    repo = history["repo"].clone(tmp_path / "mine")
    root = tmp_path / "site"
    root.mkdir()
    env = publisher_env(root, tmp_path / "repo.git", repo.path, PUBLISH_ALLOWED_SIGNERS=str(allowed))

    unsigned = run_publisher(env)  # E, as the history left it: not signed
    assert unsigned.stdout == f"not published {history['commits']['E']}: not signed by an allowed editor\n"
    assert current_name(root) is None and release_names(root) == []
    other = tmp_path / "stranger"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True)
    signing = ("-c", "gpg.format=ssh", "-c", "user.signingkey={}")
    git(repo.path, *[part.format(other) for part in signing], "commit", "--quiet", "--allow-empty", "-S", "-m", "by a stranger")
    stranger = run_publisher(env)
    assert stranger.stdout == f"not published {repo.head}: not signed by an allowed editor\n"
    git(repo.path, *[part.format(key) for part in signing], "commit", "--quiet", "--allow-empty", "-S", "-m", "by the editor")
    signed = run_publisher(env)
    assert signed.stdout.startswith(f"published {repo.head} in "), signed
    assert GIT_ENV["GIT_COMMITTER_EMAIL"] == "editor@safeline.example"  # the identity allowed_signers names


def test_releases_and_rollback_on_a_root_without_releases_say_so(tmp_path):
    env = publisher_env(tmp_path / "nothing", tmp_path / "repo.git", tmp_path / "repo")
    listed, rolled = task(env, "releases"), task(env, "rollback")
    assert (listed.returncode, listed.stderr) == (1, f"no releases in {tmp_path / 'nothing' / 'releases'}\n")
    assert (rolled.returncode, rolled.stderr) == (1, f"not rolled back: no releases in {tmp_path / 'nothing'} "
                                                     "(SAFELINE_SITE_ROOT)\n")


def test_releases_lists_a_subject_without_its_control_characters(tmp_path):
    # A commit's subject is anyone's text; an escape sequence would act on the operator's terminal.
    from safeline.release import listing

    release = tmp_path / "releases" / f"{'a' * 40}-20261207T050000Z"
    (release / "output").mkdir(parents=True)
    (release / "release.json").write_text(json.dumps({
        "commit": "a" * 40, "subject": "窓口の時間\x1b[2J\x1b]0;owned\x07を直す", "committed": "2026-12-07T14:00:00+09:00",
        "built": "2026-12-07T05:00:00+00:00", "seconds": 3.0}), encoding="utf-8")
    (tmp_path / "current").symlink_to(f"releases/{release.name}")
    assert listing(tmp_path) == [f"* 2026-12-07 05:00 UTC  {'a' * 10}  窓口の時間 [2J ]0;owned を直す"]
