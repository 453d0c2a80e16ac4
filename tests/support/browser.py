"""A real browser on the built site: Debian's Chromium, driven by Playwright, and the local stack.

- ``browser``: one Chromium for the session (``/usr/bin/chromium``, or ``$CHROMIUM``). Never
  ``playwright install``: it downloads a browser of its own. ``./run test`` installs Debian's.
- ``serve``: serve a built site folder on 127.0.0.1 (a free port, ``ThreadingHTTPServer`` in a
  thread) with a strict Content-Security-Policy, as production does: nothing inline runs.
- ``served_site``: the base URL of the session's normal build (the ``site`` fixture);
  ``site_built_on(day)``: of a build whose hours data start on ``day`` (live badges at fixed clocks).
- ``stack``: that build and the real relay on one origin (``Stack``, below).

Pages made with ``new_page(context)`` record what a test must be able to refuse: requests to
any other address, console errors (a CSP violation is one) and uncaught script errors;
``Recorder`` records a whole context's requests and cookies, ``RECORD_STORAGE_WRITES`` every
way a page could store something.

The stack:

- the session's build of the site (``output``) and the real relay (``relay.create_app``) behind
  the same dispatcher as ``./run serve`` (``tasks._site_and_relay``), served by werkzeug's
  ``make_server`` on 127.0.0.1 in a thread;
- the static pages get the same security headers as production (deploy/nginx sends them; the
  relay sends its own), so that nothing inline can run in these tests either;
- a real SMTP server (aiosmtpd, ``devtools.mail``), a real outbox, the real delivery worker
  (``deliver_once``) and a real staff key (the GnuPG fixture key, whose secret half decrypts).

``RELAY_MIN_FILL_SECONDS`` is 1: a test waits that long between opening the form and sending it
(``Stack.wait_to_send``).
"""

from __future__ import annotations

import functools
import os
import shutil
import threading
import time
from dataclasses import dataclass, field
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

import pelicanconf
from devtools.mail import DevMail
from relay.headers import HEADERS
from tests.support.keys import GPG_PUBLIC
from tests.support.relay_app import RELAY_MAIL_FROM, RELAY_MAIL_TO, SECRET_KEY, deliver
from tests.support.reports import FORM_PATHS
from tests.support.site import build_site, compile_catalogs

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


@pytest.fixture(scope="session")
def site_built_on(tmp_path_factory, serve):
    """``site_built_on(day)`` → the URL of the site as built on ``day`` (``HOTLINES_TODAY``), so
    that the live badges' data start on a known day; one build per day for the whole session."""
    built: dict = {}

    def url(day) -> str:
        if day not in built:
            output = tmp_path_factory.mktemp(f"site-{day.isoformat()}")
            result = build_site(output, ("HOTLINES_TODAY", day.isoformat()))
            assert result.returncode == 0, result.stdout + result.stderr
            built[day] = serve(output)
        return built[day]

    return url


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
        # Every one counts, /favicon.ico's too: browsers ask for it by themselves, and the
        # site ships one (a 404 there costs Lighthouse's best practices).
        if message.type == "error":
            self.errors.append(message.text)

    def foreign_requests(self, base_url: str) -> list[str]:
        return [url for url in self.requests if not url.startswith(base_url)]


def new_page(context) -> Watched:
    return Watched(context.new_page())


# -- the stack: the site and the relay on one origin ---------------------------------------

MIN_FILL_SECONDS = 1.0

# Every request a browser test may make goes here, or to the routed quick exit.
LOCAL_HOST = "127.0.0.1"
QUICK_EXIT_URL = pelicanconf.QUICK_EXIT_URL  # the relay is given the same (RELAY_QUICK_EXIT_URL)
NEUTRAL_PAGE = "<!doctype html><html lang=ja><title>neutral</title><p>tenki</p></html>"


@dataclass
class Stack:
    origin: str  # "http://127.0.0.1:PORT", no slash at the end
    relay_app: object
    mail: DevMail
    outbox: Path
    _server: object = field(repr=False, default=None)

    def url(self, path: str = "/") -> str:
        return self.origin + path

    @staticmethod
    def wait_to_send(opened_at: float) -> None:
        """Sleep until the form opened at ``opened_at`` (time.monotonic()) may be sent."""
        remaining = MIN_FILL_SECONDS + 0.2 - (time.monotonic() - opened_at)
        if remaining > 0:
            time.sleep(remaining)

    def deliver(self):
        """One pass of the real delivery worker: the outbox to the aiosmtpd server."""
        return deliver(self.relay_app)

    def received(self, reference: str) -> bytes:
        """The one mail the server received for ``reference`` (its outer Subject names it)."""
        found = [path.read_bytes() for path in self.mail.messages()
                 if f"Safeline report {reference}".encode() in path.read_bytes()]
        assert len(found) == 1, f"{len(found)} mails for {reference}"
        return found[0]

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self.mail.stop()


def start(site: Path, folder: Path, **overrides: str) -> Stack:
    """Start the stack over the built ``site``; its keys, outbox and mail live in ``folder``."""
    import relay
    from tasks import _site_and_relay
    from werkzeug.serving import WSGIRequestHandler, make_server

    compile_catalogs()
    keys = folder / "staff-keys"
    keys.mkdir(parents=True)
    shutil.copyfile(GPG_PUBLIC, keys / "staff.asc")
    mail = DevMail(folder / "received").start()

    class Quiet(WSGIRequestHandler):
        def log_request(self, *args, **kwargs):
            pass

    # Bind first: the relay must know its origin (the same-origin check of its POSTs).
    served = {}
    server = make_server(LOCAL_HOST, 0, lambda environ, start_response: served["app"](environ, start_response),
                         threaded=True, request_handler=Quiet)
    origin = f"http://{LOCAL_HOST}:{server.server_port}"
    env = {
        "RELAY_ENV": "development",
        "RELAY_SECRET_KEY": SECRET_KEY,
        "RELAY_STAFF_KEYS": str(keys),
        "RELAY_MAIL_TO": RELAY_MAIL_TO,
        "RELAY_MAIL_FROM": RELAY_MAIL_FROM,
        "RELAY_SMTP_URL": f"smtp://127.0.0.1:{mail.port}",
        "RELAY_OUTBOX": str(folder / "outbox"),
        "RELAY_SITE_ORIGIN": origin,
        "RELAY_MIN_FILL_SECONDS": str(MIN_FILL_SECONDS),
        "RELAY_RATELIMIT": "1000 per hour",
        "RELAY_RATELIMIT_POSTS": "1000 per hour",
        "RELAY_QUICK_EXIT_URL": QUICK_EXIT_URL,
        **overrides,
    }
    relay_app = relay.create_app(env)
    # The static pages get the headers production gives them (tasks adds relay/headers.py's,
    # as deploy/nginx does); the relay's paths carry the relay's own.
    served["app"] = _site_and_relay(site, relay_app, pelicanconf.RELAY_PATHS)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return Stack(origin=origin, relay_app=relay_app, mail=mail, outbox=folder / "outbox", _server=server)


# -- what a browser test records -------------------------------------------------------------

# Runs before any script of every page: records each way a page could store something.
RECORD_STORAGE_WRITES = """(() => {
  const writes = [];
  Object.defineProperty(window, "__storageWrites", { value: writes });
  const record = (kind, detail) => writes.push(kind + " " + String(detail).slice(0, 80));
  const wrap = (proto, name, kind) => {
    if (!proto || typeof proto[name] !== "function") return;
    const original = proto[name];
    proto[name] = function (first) { record(kind, first); return original.apply(this, arguments); };
  };
  wrap(window.Storage && Storage.prototype, "setItem", "Storage.setItem");
  wrap(window.IDBFactory && IDBFactory.prototype, "open", "indexedDB.open");
  wrap(window.ServiceWorkerContainer && ServiceWorkerContainer.prototype, "register", "serviceWorker.register");
  wrap(window.CacheStorage && CacheStorage.prototype, "open", "caches.open");
  wrap(window.CookieStore && CookieStore.prototype, "set", "cookieStore.set");
  const cookie = Object.getOwnPropertyDescriptor(Document.prototype, "cookie");
  Object.defineProperty(Document.prototype, "cookie", {
    configurable: true,
    get() { return cookie.get.call(this); },
    set(value) { record("document.cookie", value); cookie.set.call(this, value); },
  });
})();"""

READ_STORAGE = """async () => ({
  local: localStorage.length,
  session: sessionStorage.length,
  databases: (await indexedDB.databases()).map((db) => db.name),
  workers: (await navigator.serviceWorker.getRegistrations()).length,
  caches: await caches.keys(),
  cookie: document.cookie,
})"""

EMPTY_STORAGE = {"local": 0, "session": 0, "databases": [], "workers": 0, "caches": [], "cookie": ""}


class Recorder:
    """Every request and response of a browser context, and whether one set a cookie."""

    def __init__(self, context):
        self.requests: list[tuple[str, str, dict]] = []  # (method, url, headers)
        self.set_cookies: list[str] = []
        context.on("request", lambda request: self.requests.append((request.method, request.url, request.headers)))
        context.on("response", self._response)

    def _response(self, response):
        try:
            value = response.header_value("set-cookie")
        except Exception:  # noqa: BLE001 - a response whose page has gone: nothing to read
            return
        if value:
            self.set_cookies.append(f"{response.url}: {value}")

    def urls(self) -> list[str]:
        return [url for _, url, _ in self.requests]

    def foreign(self, origin: str) -> list[str]:
        """Requests to anywhere but ``origin``, other than the routed quick exit."""
        return [url for url in self.urls()
                if not url.startswith(origin + "/") and not url.startswith(QUICK_EXIT_URL)]

    def exits(self) -> list[tuple[str, str, dict]]:
        return [entry for entry in self.requests if entry[1].startswith(QUICK_EXIT_URL)]


def route_quick_exit(context, *, delay: float = 0.0, answered: list | None = None) -> None:
    """Answer the quick exit's site locally, after ``delay`` seconds; note when in ``answered``.

    The delay blocks only this test's Playwright client, like a slow server; the browser carries on.
    """
    def answer(route):
        if delay:
            time.sleep(delay)
        if answered is not None:
            answered.append(time.time() * 1000)
        route.fulfill(status=200, body=NEUTRAL_PAGE, content_type="text/html")

    context.route(QUICK_EXIT_URL + "**", answer)


# -- the report form, as a person fills it in ---------------------------------------------------

# The relay's states a reporter can meet, as (name, what to do on the form).
# "other" (the form sent as someone else) shows the template of "other-page"; the form's
# button is hidden once "someone else" is chosen, so a browser reaches it only by the link.
RELAY_STATES = ("form", "errors", "sent", "other-chosen", "other-page", "more", "more-errors", "more-sent",
                "not-found")


def send_form(page, stack: Stack, opened_at: float) -> None:
    """Press the form's button once the form may be sent; wait for the next page."""
    stack.wait_to_send(opened_at)
    with page.expect_navigation():
        page.locator("form.report-form button[type=submit]").click()


def open_relay_state(page, stack: Stack, state: str, lang: str) -> None:
    """Bring ``page`` to one of ``RELAY_STATES`` of the form in ``lang``."""
    form = FORM_PATHS[lang]
    if state == "not-found":
        response = page.goto(stack.url(form + "no-such-page/"))
        assert response.status == 404
        return
    if state == "other-page":
        assert page.goto(stack.url(form + "other/")).status == 200
        return
    if state.startswith("more"):
        open_more_state(page, stack, state, lang)
        return
    page.goto(stack.url(form))
    opened = time.monotonic()
    if state == "form":
        return
    if state == "other-chosen":  # the style sheet shows what a friend can do; nothing is sent
        page.check("#role-other")
        return
    if state == "errors":  # every field wrong: no role, no address, a file path, nothing described, no consent
        page.fill("#email", "hanako at example")
        page.fill("#urls", "C:\\Users\\hanako\\photo.jpg")
    elif state == "sent":
        page.check("#role-self")
        page.fill("#email", "hanako@example.jp")
        page.fill("#urls", "https://images.example.com/p/1")
        page.fill("#description", "A photo of me at the beach.")
        page.check("#consent")
    send_form(page, stack, opened)
    if state == "errors":
        assert page.locator(".error-summary li").count() == 5
    elif state == "sent":
        assert page.locator("#reference").count() == 1 and page.locator("#followup-code").count() == 1


def open_more_state(page, stack: Stack, state: str, lang: str) -> None:
    """The form that adds to a report: empty, with a wrong pair, or sent (to a report sent first)."""
    if state != "more":
        open_relay_state(page, stack, "sent", lang)
        reference = page.locator("#reference").inner_text().strip()
        code = page.locator("#followup-code").inner_text().strip()
    page.goto(stack.url(FORM_PATHS[lang] + "more/"))
    opened = time.monotonic()
    if state == "more":
        return
    page.fill("#reference", reference)
    page.fill("#code", code if state == "more-sent" else f"{(int(code) + 1) % 10 ** 8:08d}")
    page.fill("#urls", "https://images.example.com/p/2")
    send_form(page, stack, opened)
    if state == "more-errors":
        assert page.locator(".error-summary li").count() == 1
    else:
        assert page.locator("#reference").inner_text().strip() == reference


@pytest.fixture(scope="session")
def stack(site, tmp_path_factory):
    """The built site and the real relay on one origin, with a real mail server."""
    running = start(site, tmp_path_factory.mktemp("stack"))
    try:
        yield running
    finally:
        running.stop()
