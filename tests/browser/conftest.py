"""A real browser on the built site: Debian's Chromium, driven by Playwright.

- ``browser``: one Chromium for the session (``/usr/bin/chromium``, or ``$CHROMIUM``). Never
  ``playwright install``: it downloads a browser of its own. ``./run test`` installs Debian's.
- ``serve``: serve a built site folder on 127.0.0.1 (a free port, ``ThreadingHTTPServer`` in a
  thread) with a strict Content-Security-Policy, as production does: nothing inline runs.
- ``served_site``: the base URL of the session's normal build (the ``site`` fixture).
- ``stack``: that build and the real relay on one origin, with a real SMTP server, the real
  delivery worker and a real staff key (tests/browser/stack.py, which also has what the tests
  record: requests, storage writes).

Pages made with ``new_page(context)`` record what a test must be able to refuse: requests to
any other address, console errors (a CSP violation is one) and uncaught script errors.
"""

from __future__ import annotations

import functools
import os
import shutil
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from relay.headers import HEADERS

CHROMIUM = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run",
]


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"no Chromium at {CHROMIUM}: apt-get install -y chromium (./run test installs it), or set CHROMIUM")
    from playwright.sync_api import sync_playwright

    playwright = sync_playwright().start()
    chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    try:
        yield chromium
    finally:
        chromium.close()
        playwright.stop()


class _Handler(SimpleHTTPRequestHandler):
    def end_headers(self):
        for name, value in HEADERS.items():  # what production sends with every page
            self.send_header(name, value)
        super().end_headers()

    def log_message(self, format, *args):  # quiet
        pass


@pytest.fixture(scope="session")
def serve():
    """``serve(folder)`` → ``"http://127.0.0.1:PORT/"``; every server stops at the end of the session."""
    servers: list[ThreadingHTTPServer] = []

    def start(folder: Path) -> str:
        server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Handler, directory=str(folder)))
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_port}/"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="session")
def served_site(site, serve) -> str:
    return serve(site)


class Watched:
    """A page and what it did: requests made, console errors, uncaught errors."""

    def __init__(self, page):
        self.page = page
        self.requests: list[str] = []
        self.errors: list[str] = []
        page.on("request", lambda request: self.requests.append(request.url))
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.errors.append(str(error)))

    def _console(self, message):
        # Browsers ask for /favicon.ico by themselves; the site has none, and that is no error of a page.
        if message.type == "error" and not (message.location or {}).get("url", "").endswith("/favicon.ico"):
            self.errors.append(message.text)

    def foreign_requests(self, base_url: str) -> list[str]:
        return [url for url in self.requests if not url.startswith(base_url)]


def new_page(context) -> Watched:
    return Watched(context.new_page())


@pytest.fixture(scope="session")
def stack(site, tmp_path_factory):
    """The built site and the real relay on one origin, with a real mail server (tests/browser/stack.py)."""
    from tests.browser import stack as stacks

    running = stacks.start(site, tmp_path_factory.mktemp("stack"))
    try:
        yield running
    finally:
        running.stop()
