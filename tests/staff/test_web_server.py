"""The server of ``safeline-staff serve``: 127.0.0.1 only, a new secret each start, the link to
open; the command's own refusals."""

from __future__ import annotations

import argparse
import http.cookiejar
import re
import socket
import urllib.error
import urllib.request

import pytest

from staff.problems import StaffError
from staff.web import LocalServer, register
from staff.web.guard import cookie_name
from tests.support.staff_records import new_store


@pytest.fixture
def store(tmp_path):
    store, _ = new_store(tmp_path)
    yield store
    store.close()


def test_it_listens_on_loopback_only_with_a_new_secret_each_start(store):
    first, second = LocalServer(store, port=0), LocalServer(store, port=0)
    try:
        for server in (first, second):
            assert server._server.server_address[0] == "127.0.0.1"
            assert re.fullmatch(rf"http://127\.0\.0\.1:{server.port}/\?token=[A-Za-z0-9_-]{{43}}", server.url)
        assert first.secret != second.secret and first.port != second.port
    finally:
        first._server.server_close()
        second._server.server_close()


def test_the_printed_link_opens_the_list_and_the_host_is_checked(store):
    server = LocalServer(store, port=0).start()
    try:
        jar = http.cookiejar.CookieJar()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        with opener.open(server.url) as response:  # 303 to /, with the cookie
            assert response.status == 200 and response.url == server.origin + "/"
            assert "<h1>案件</h1>" in response.read().decode()
        assert [cookie.name for cookie in jar] == [cookie_name(server.port)]
        request = urllib.request.Request(server.url, headers={"Host": f"rebound.example:{server.port}"})
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request)
        assert refused.value.code == 403
    finally:
        server.stop()


def parse(*argv):
    root = argparse.ArgumentParser()
    root.add_argument("--home")
    commands = root.add_subparsers(dest="command")
    register(commands)
    return root.parse_args(["serve", *argv])


def test_serve_takes_port_and_no_browser():
    args = parse("--port", "0", "--no-browser")
    assert args.port == 0 and args.no_browser
    assert parse().port == 8765 and not parse().no_browser


def test_a_port_out_of_range_is_a_staff_error():
    with pytest.raises(StaffError, match="--port 70000"):
        parse("--port", "70000").func(parse("--port", "70000"))


def test_a_busy_port_is_a_staff_error_that_says_what_to_do(staff_home):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        args = parse("--port", str(taken.getsockname()[1]), "--no-browser")
        args.home = staff_home.folder
        with pytest.raises(StaffError, match="choose another with --port"):
            args.func(args)


def test_ctrl_c_stops_serve_even_when_its_parent_ignored_sigint(staff_home):
    # A shell starts a background job with SIGINT ignored, and Python then leaves it ignored:
    # serve would run on after Ctrl+C (the browser tests once waited a minute for it).
    import signal
    import subprocess
    import sys

    from tests.support.site import ROOT

    serving = subprocess.Popen([sys.executable, "-m", "staff", "--home", str(staff_home.folder), "serve",
                                "--no-browser", "--port", "0"], cwd=ROOT, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    try:
        assert "http://127.0.0.1:" in serving.stdout.readline()
        serving.send_signal(signal.SIGINT)
        assert serving.wait(timeout=30) == 0
    finally:
        if serving.poll() is None:
            serving.kill()
            serving.wait()


def test_the_browser_gets_no_secret_on_its_command_line(staff_home, tmp_path):
    # webbrowser starts the browser with the address as an argument, which any user of the
    # computer can read in the process list: it gets a page in the kit's folder instead, which
    # forwards to the link and is gone once serve stops. BROWSER names the "browser" here: a
    # script that writes down what it was given.
    import os
    import signal
    import subprocess
    import sys
    import time

    from tests.support.site import ROOT

    seen = tmp_path / "browser-argv.txt"
    browser = tmp_path / "browser"
    browser.write_text(f"#!/bin/sh\nprintf '%s\\n' \"$@\" > {seen}\n")
    browser.chmod(0o755)
    env = {**os.environ, "BROWSER": str(browser)}
    serving = subprocess.Popen([sys.executable, "-m", "staff", "--home", str(staff_home.folder), "serve",
                                "--port", "0"], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    try:
        link = re.search(r"http://127\.0\.0\.1:\d+/\?token=\S+", serving.stdout.readline()).group(0)
        deadline = time.monotonic() + 30
        # The script writes its line after the shell made the file: wait for the whole line.
        while not (seen.exists() and seen.read_text().endswith("\n")) and time.monotonic() < deadline:
            time.sleep(0.05)
        argv = seen.read_text()
        token = link.split("token=", 1)[1]
        assert token not in argv and argv.startswith("file://"), argv
        page = staff_home.folder / "open.html"
        assert argv.strip() == page.resolve().as_uri()
        assert f'content="0;url={link}"' in page.read_text(encoding="utf-8")
        assert page.stat().st_mode & 0o077 == 0  # the staff member's alone
        serving.send_signal(signal.SIGINT)
        assert serving.wait(timeout=30) == 0
        assert not page.exists()
    finally:
        if serving.poll() is None:
            serving.kill()
            serving.wait()
