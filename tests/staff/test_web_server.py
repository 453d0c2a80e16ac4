"""The server of ``safeline-staff serve``: 127.0.0.1 only, a new secret each start, the link to
open; the command's own refusals."""

from __future__ import annotations

import argparse
import http.cookiejar
import re
import signal
import socket
import urllib.error
import urllib.request

import pytest

from staff.problems import StaffError
from staff.web import LocalServer, register
from staff.web.guard import cookie_name
from tests.support.staff_records import new_store
from tests.support.staff_web import RecordingBrowser, serving


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
    with serving(staff_home, "--no-browser", ignore_sigint=True) as (process, line):
        assert "http://127.0.0.1:" in line
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 0


def test_the_browser_gets_no_secret_on_its_command_line(staff_home, tmp_path):
    # webbrowser starts the browser with the address as an argument, which any user of the
    # computer can read in the process list: it gets a page in the kit's folder instead, which
    # forwards to the link and is gone once serve stops.
    browser = RecordingBrowser(tmp_path)
    page = staff_home.folder / "open.html"
    with serving(staff_home, env=browser.env) as (process, line):
        link = re.search(r"http://127\.0\.0\.1:\d+/\?token=\S+", line).group(0)
        opened = browser.opened()
        assert link.split("token=", 1)[1] not in opened
        assert opened == page.resolve().as_uri()
        assert f'content="0;url={link}"' in page.read_text(encoding="utf-8")
        assert page.stat().st_mode & 0o077 == 0  # the staff member's alone
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 0
    assert not page.exists()
