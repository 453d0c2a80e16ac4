"""The editor's loop, as the README describes it: ./run serve, change a file, see the page change."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from devtools.ports import free_port
from tests.support.project import copy_project



@pytest.fixture
def project(tmp_path) -> Path:
    """A copy of the project, so tasks can build into its own output/ without touching the checkout."""
    return copy_project(tmp_path)


def invoke(project: Path, *args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "invoke", *args], cwd=project, capture_output=True, text=True, timeout=180, **kwargs)


def fetch(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.read().decode("utf-8")


def wait_for(predicate, seconds: float = 60, every: float = 0.3):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError("timed out")


def test_serve_shows_the_site_and_follows_edits(project):
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-u", "-m", "invoke", "serve", "--port", str(port), "--mail-port", str(free_port())],
        cwd=project, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )
    lines: list[str] = []
    try:
        def address():
            line = server.stdout.readline()
            lines.append(line)
            match = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
            return match and match.group(0)

        url = wait_for(address, every=0)
        assert url == f"http://127.0.0.1:{port}/"
        assert 'name="token"' in fetch(url + "report/")  # the relay, on the same origin
        assert "セーフライン" in fetch(url)
        assert "毎日 9:00〜21:00" in fetch(url + "support/")

        # The newcomer's task from the README: change a line's hours.
        data = project / "data" / "hotlines.yaml"
        data.write_text(data.read_text(encoding="utf-8").replace('close: "21:00"', 'close: "20:30"'), encoding="utf-8")
        wait_for(lambda: "毎日 9:00〜20:30" in fetch(url + "support/"))

        # A broken edit: the error is shown, the last good page stays up.
        data.write_text(data.read_text(encoding="utf-8").replace('close: "20:30"', "close: 20:30"), encoding="utf-8")
        wait_for(lambda: any("close: write the time in double quotes" in line for line in lines) or lines.append(server.stdout.readline()))
        assert "毎日 9:00〜20:30" in fetch(url + "support/")

        page = project / "content" / "pages" / "police.ja.md"
        page.write_text(page.read_text(encoding="utf-8").replace("近くの警察署に相談することも", "近くの警察署に相談することも(編集テスト)"), encoding="utf-8")
        data.write_text(data.read_text(encoding="utf-8").replace("close: 20:30", 'close: "20:30"'), encoding="utf-8")
        wait_for(lambda: "編集テスト" in fetch(url + "police/"))

        # The preview audits its builds: a broken link is a warning, and the page is still updated.
        # A file not edited before, so that the rebuild's output is told apart by its first line
        # ("changed: …") and ends with "rebuilt" or "the build failed": reading never blocks.
        faq = project / "content" / "pages" / "faq.ja.md"
        faq.write_text(faq.read_text(encoding="utf-8") + "\n\n[監査テスト](/no-such-page/)\n", encoding="utf-8")
        while not lines[-1].startswith("changed: content/pages/faq.ja.md"):
            lines.append(server.stdout.readline())
        rebuild = [lines[-1]]
        while not rebuild[-1].startswith(("rebuilt", "the build failed")):
            rebuild.append(server.stdout.readline())
        assert rebuild[-1].startswith("rebuilt"), rebuild
        assert any("WARNING: broken link: faq/index.html: /no-such-page/" in line for line in rebuild), rebuild
        assert "監査テスト" in fetch(url + "faq/")
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=10)


def test_check_passes_on_the_project(project):
    result = invoke(project, "check")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "data/hotlines.yaml: OK" in result.stdout
    assert "check passed" in result.stdout


def test_check_and_build_fail_on_bad_data(project):
    data = project / "data" / "hotlines.yaml"
    data.write_text(data.read_text(encoding="utf-8").replace("audience: men", "audience: man"), encoding="utf-8")
    for task in ("check", "build"):
        result = invoke(project, task)
        assert result.returncode != 0
        assert re.search(r"^data/hotlines\.yaml:\d+:\d+ organisations\.4\.lines\.1\.audience: ", result.stderr, re.M), result.stderr
        assert "Traceback" not in result.stdout + result.stderr


def test_publish_builds_the_production_site(project):
    # The public build needs the address staff write from (publishconf.py refuses to run without it).
    result = invoke(project, "publish", env={**os.environ, "SAFELINE_CONTACT_ADDRESS": "contact@safeline.example"})
    assert result.returncode == 0, result.stdout + result.stderr
    assert "contact@safeline.example" in (project / "output" / "privacy" / "index.html").read_text(encoding="utf-8")
    assert (project / "output" / "index.html").is_file()
    assert (project / "output" / "en" / "support" / "index.html").is_file()


def test_serve_runs_the_whole_stack_a_report_arrives_and_reads(project):
    """The README's local walk-through: send a report on ./run serve, read it with ./run read-mail."""
    import urllib.parse

    port = free_port()
    env = {**os.environ, "RELAY_MIN_FILL_SECONDS": "1"}
    server = subprocess.Popen(
        [sys.executable, "-u", "-m", "invoke", "serve", "--port", str(port), "--mail-port", str(free_port())],
        cwd=project, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True, env=env,
    )
    try:
        wait_for(lambda: "Ctrl+C" in server.stdout.readline(), every=0)
        form = fetch(f"http://127.0.0.1:{port}/report/")
        token = re.search(r'name="token" value="([^"]+)"', form).group(1)
        time.sleep(1.2)
        body = urllib.parse.urlencode({
            "token": token, "role": "self", "email": "me@example.com", "consent": "yes",
            "urls": "https://example.com/photo/1", "description": "ローカルで送ったテスト MARKER-LOCAL",
        }).encode()
        request = urllib.request.Request(f"http://127.0.0.1:{port}/report/", data=body,
                                         headers={"Origin": f"http://127.0.0.1:{port}"})
        with urllib.request.urlopen(request, timeout=10) as response:  # follows the 303
            confirmation = response.read().decode("utf-8")
        reference = re.search(r'id="reference">(SL-[A-Z0-9-]+)<', confirmation).group(1)
        mail = project / "var" / "dev" / "mail"
        wait_for(lambda: list(mail.glob("*.eml")), seconds=20)
        assert all(b"MARKER-LOCAL" not in m.read_bytes() for m in mail.glob("*.eml"))
        result = invoke(project, "read-mail")
        assert result.returncode == 0, result.stderr
        assert reference in result.stdout and "ローカルで送ったテスト MARKER-LOCAL" in result.stdout
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=10)


def test_run_mutants_turns_bare_words_into_modules_and_keeps_option_values():
    """``./run mutants MODULE… --jobs N``: N is the option's value, not a module; the tool names
    the one unknown module and stops before copying anything."""
    root = Path(__file__).resolve().parent.parent
    result = subprocess.run([str(root / "run"), "mutants", "relay/not-a-module.py", "--jobs", "2", "-m", "relay/neither.py"],
                            cwd=root, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stderr
    assert "not a module this task knows: relay/not-a-module.py, relay/neither.py (" in result.stderr
