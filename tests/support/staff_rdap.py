"""A local RDAP service for the host lookup's tests: a real HTTP server on 127.0.0.1 that answers
with the recorded responses of ``tests/staff/rdap/`` (their README says where each shape comes
from). Never the internet.

``RdapServer()`` starts it on a free port; ``base`` is its address (``http://127.0.0.1:PORT/``),
which replaces ``{base}`` in the recorded files, so that the bootstrap files and the links point
back to it. ``bootstrap_url`` is what ``Config.rdap_bootstrap`` takes. ``requests`` lists the
paths asked for, in order, with their headers. ``iana_down`` makes the bootstrap files answer
503 (IANA unreachable while the registries answer); ``bootstrap_headers`` are added to the
bootstrap files' answers (``Cache-Control``, ``Expires``), ``bootstrap_override`` replaces their
body; each bootstrap file has an ``ETag``
and answers ``304`` to a matching ``If-None-Match``.

The routes (``ROUTES``, first match wins) map a path to an answer: the IANA files; APNIC, which
redirects to JPNIC for 192.0.2.0/24 as APNIC does for the addresses JPNIC holds; JPNIC, ARIN,
RIPE and a local network for 127.0.0.0/8 and ::1; the .jp and .com registries; and
``/errors/``, one misbehaving registry per address of 203.0.113.0/24 (and names under
``.example``).
"""

from __future__ import annotations

import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from tests.support.site import ROOT

RECORDED = ROOT / "tests" / "staff" / "rdap"
ETAG = '"bootstrap-2026-11-20"'
LAST_MODIFIED = "Fri, 20 Nov 2026 21:00:02 GMT"
HUGE = 2 * 1024 * 1024
SLOW_SECONDS = 5.0


def _file(name: str, status: int = 200, content_type: str = "application/rdap+json"):
    return ("file", status, content_type, name)


def _redirect(status: int, location: str):
    return ("redirect", status, location)


# (path pattern, answer); answers: ("file", status, type, name), ("redirect", status, location with
# {base} and {rest}), ("slow", seconds), ("drip", seconds per byte), ("huge", with length?),
# ("status", code).
ROUTES = [
    (r"/iana/(dns|ipv4|ipv6)\.json", ("bootstrap",)),
    (r"/apnic/ip/(?P<rest>.+)", _redirect(301, "{base}jpnic/ip/{rest}")),
    (r"/jpnic/ip/.+", _file("jpnic-network.json")),
    (r"/arin/registry/ip/.+", _file("arin-network.json")),
    (r"/ripe/ip/.+", _file("ripe-network.json")),
    (r"/local/ip/.+", _file("local-network.json")),
    (r"/jprs/rdap/domain/example\.co\.jp", _file("jprs-domain.json")),
    (r"/jprs/rdap/domain/ne\.jp", ("status", 400)),
    (r"/jprs/rdap/domain/example\.ne\.jp", _file("jprs-domain.json")),
    (r"/gtld/com/v1/domain/example\.com", _file("gtld-domain.json")),
    (r"/errors/ip/203\.0\.113\.1", _file("server-error.json", 503)),
    (r"/errors/ip/203\.0\.113\.2", ("slow", SLOW_SECONDS)),
    (r"/errors/ip/203\.0\.113\.3", ("huge", True)),
    (r"/errors/ip/203\.0\.113\.4", _file("junk.json")),
    (r"/errors/ip/203\.0\.113\.5", _file("odd-network.json")),
    (r"/errors/ip/203\.0\.113\.7", _redirect(302, "http://rdap.invalid/ip/203.0.113.7")),
    (r"/errors/ip/203\.0\.113\.8", _redirect(302, "{base}errors/ip/203.0.113.8")),
    (r"/errors/ip/203\.0\.113\.9", ("status", 429)),
    (r"/errors/ip/203\.0\.113\.10", _file("html.txt", 200, "text/html")),
    (r"/errors/ip/203\.0\.113\.11", _redirect(307, "/arin/registry/ip/198.51.100.7")),
    (r"/errors/ip/203\.0\.113\.12", ("drip", 0.2)),
    (r"/errors/ip/203\.0\.113\.13", ("huge", False)),
    (r"/errors/ip/203\.0\.113\.14", ("status", 302)),
    (r"/errors/domain/odd\.example", _file("odd-domain.json")),
    (r"/errors/domain/slow\.example", ("slow", SLOW_SECONDS)),
    (r"/errors/domain/gtld\.example", _file("gtld-domain.json")),
    (r"/errors/domain/network\.example", _file("arin-network.json")),
]


class RdapServer:
    def __init__(self):
        self.requests: list[tuple[str, dict]] = []
        self.iana_down = False
        self.bootstrap_headers: dict[str, str] = {}
        self.bootstrap_override: bytes | None = None   # served instead of every bootstrap file
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                server.requests.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
                server.answer(self)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.httpd.block_on_close = False
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        self.bootstrap_url = self.base + "iana/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def paths(self) -> list[str]:
        return [path for path, _ in self.requests]

    def recorded(self, name: str) -> bytes:
        return (RECORDED / name).read_text(encoding="utf-8").replace("{base}", self.base).encode()

    def answer(self, handler: BaseHTTPRequestHandler) -> None:
        path = handler.path.split("?")[0]
        for pattern, answer in ROUTES:
            if match := re.fullmatch(pattern, path):
                break
        else:
            return self.send(handler, 404, self.recorded("not-found.json"))
        kind = answer[0]
        if kind == "bootstrap":
            if self.iana_down:
                return self.send(handler, 503, b"IANA is down\n", "text/plain")
            if self.bootstrap_override is not None:
                return self.send(handler, 200, self.bootstrap_override, "application/json")
            headers = {"ETag": ETAG, "Last-Modified": LAST_MODIFIED, **self.bootstrap_headers}
            if handler.headers.get("If-None-Match") == ETAG:
                return self.send(handler, 304, b"", headers=headers)
            body = self.recorded(f"bootstrap/{match.group(1)}.json")
            return self.send(handler, 200, body, "application/json", headers=headers)
        if kind == "file":
            _, status, content_type, name = answer
            return self.send(handler, status, self.recorded(name), content_type)
        if kind == "redirect":
            _, status, location = answer
            rest = match.groupdict().get("rest", "")
            return self.send(handler, status, b"", headers={"Location": location.format(base=self.base, rest=rest)})
        if kind == "status":
            body = self.recorded("not-found.json").replace(b"404", str(answer[1]).encode())
            return self.send(handler, answer[1], body)
        if kind == "slow":
            time.sleep(answer[1])
            return self.send(handler, 200, self.recorded("arin-network.json"))
        if kind == "drip":
            handler.send_response(200)
            handler.send_header("Content-Type", "application/rdap+json")
            handler.end_headers()
            try:
                for byte in self.recorded("arin-network.json")[:60]:
                    handler.wfile.write(bytes([byte]))
                    handler.wfile.flush()
                    time.sleep(answer[1])
            except OSError:
                pass
            return None
        if kind == "huge":
            with_length = answer[1]
            padding = b" " * HUGE
            body = b'{"objectClassName": "ip network", "handle": "HUGE", "padding": "' + padding + b'"}'
            handler.send_response(200)
            handler.send_header("Content-Type", "application/rdap+json")
            if with_length:
                handler.send_header("Content-Length", str(len(body)))
            handler.end_headers()
            try:
                handler.wfile.write(body)
            except OSError:
                pass
            return None
        raise AssertionError(kind)

    @staticmethod
    def send(handler, status: int, body: bytes, content_type: str = "application/rdap+json",
             headers: dict | None = None) -> None:
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        for name, value in (headers or {}).items():
            handler.send_header(name, value)
        if status != 304:
            handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        if body and status != 304:
            try:
                handler.wfile.write(body)
            except OSError:
                pass


def write_kit_config(folder: Path, bootstrap_url: str) -> None:
    """A staff folder whose settings point RDAP at the local server; its store key is a stand-in
    (the lookup itself never opens the store)."""
    import json

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps({"key": "0" * 40, "rdap_bootstrap": bootstrap_url}),
                                        encoding="utf-8")
    (folder / "store-key.asc").write_text("not used by the lookup\n", encoding="utf-8")
