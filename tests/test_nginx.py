"""deploy/nginx as shipped, in Debian's nginx, in front of the real relay under gunicorn.

tests/support/nginx_server.py runs the shipped configuration on loopback ports (a self-signed
certificate, the session's build as the site root).  Behind it, the relay runs as in
production: ``gunicorn -c deploy/gunicorn.conf.py``, ``RELAY_ENV=production`` with every
setting given, limits in a real Redis (tests/support/redis_server.py), the GnuPG fixture key as
the staff key, one proxy in front.

Checked over https: the TLS profile (TLS 1.2 only with forward-secret AEAD suites, TLS 1.3;
nothing older); the security headers of a static page (from nginx) and of a relay page (from
the relay), each once; http → https, with HSTS; gzip; a report posted through nginx reaches
the outbox; with the relay stopped, the form's paths answer 503 with the page that lists the
phone lines; a body over nginx's limit gets the site's "too long to send" page (413), also
chunked; a bare 500 from the relay gets the "form not working" page, while the relay's own
4xx and 503 pages pass through untouched (a stand-in relay answers any status asked for);
any other error of nginx's, on any path, gets the site's error page; a flood of POSTs is
refused by nginx with 429 and the "form not working" page, while reading never is; and
nginx writes no access log and no client address.
"""

from __future__ import annotations

import gzip
import http.client
import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
import threading
import time
import warnings
import urllib.parse
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from devtools.mail import DevMail
from devtools.nginx import NGINX
from devtools.ports import free_port, wait_for_port
from tests.support.keys import GPG_PUBLIC, GPG_SECRET
from tests.support.nginx_server import Nginx
from tests.support.redis_server import RedisServer
from tests.support.relay_app import RELAY_MAIL_FROM, RELAY_MAIL_TO
from tests.support.reports import decrypt_mail
from tests.support.site import ROOT, compile_catalogs

GUNICORN = Path(sys.executable).with_name("gunicorn")  # .venv/bin/gunicorn, beside the tests' Python
TLS = ssl._create_unverified_context()  # the test's own self-signed certificate
FORM = {"role": "self", "email": "hanako@example.jp", "urls": "https://images.example.com/p/77",
        "description": "海辺で撮られた写真です。", "consent": "yes"}


class Relay:
    """The relay under gunicorn, as deploy/systemd/safeline-relay.service runs it."""

    def __init__(self, env: dict[str, str], port: int):
        self.env, self.port, self.process = env, port, None

    def start(self) -> None:
        self.process = subprocess.Popen([str(GUNICORN), "-c", str(ROOT / "deploy" / "gunicorn.conf.py")], cwd=ROOT,
                                        env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            wait_for_port(self.port, process=self.process, timeout=30)
        except RuntimeError as error:
            said = self.process.stdout.read() if self.process.poll() is not None else ""
            raise RuntimeError(f"the relay did not start: {error}\n{said}") from None

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@pytest.fixture(scope="module")
def served(site, tmp_path_factory):
    if not Path(NGINX).exists():
        pytest.fail(f"no nginx at {NGINX}: apt-get install -y nginx openssl (./run test installs them)")
    compile_catalogs()
    folder = tmp_path_factory.mktemp("nginx-stack")
    relay_port = free_port()
    nginx = Nginx(folder / "nginx", site, relay_port)
    keys = folder / "staff-keys"
    keys.mkdir()
    shutil.copyfile(GPG_PUBLIC, keys / "staff.asc")
    mail = DevMail(folder / "received").start()
    # Production refuses memory:// limits: a real Redis, as the runbook sets up.
    redis = RedisServer(folder / "redis").start()
    env = {name: value for name, value in os.environ.items() if not name.startswith("RELAY_")}
    env.update({
        "RELAY_ENV": "production",
        "RELAY_SECRET_KEY": "nginx-test-secret-9f1b7c3e5a2d8046b1e9c7a3f5d2b8e4",
        "RELAY_STAFF_KEYS": str(keys),
        "RELAY_MAIL_TO": RELAY_MAIL_TO,
        "RELAY_MAIL_FROM": RELAY_MAIL_FROM,
        "RELAY_SMTP_URL": f"smtp://127.0.0.1:{mail.port}",
        "RELAY_OUTBOX": str(folder / "outbox"),
        "RELAY_RATELIMIT_STORAGE": redis.url,
        "RELAY_RATELIMIT": "100 per hour",
        "RELAY_RATELIMIT_POSTS": "100 per hour",
        "RELAY_SITE_ORIGIN": nginx.origin,
        "RELAY_CONTACT_ADDRESS": "contact@safeline.example",
        "RELAY_MIN_FILL_SECONDS": "1",
        "RELAY_PROXIES": "1",
        "RELAY_QUICK_EXIT_URL": "https://tenki.jp/",
        "RELAY_BIND": f"127.0.0.1:{relay_port}",
        "RELAY_WORKERS": "1",
    })
    relay = Relay(env, relay_port)
    try:
        relay.start()
        yield nginx, relay, folder
    finally:
        relay.stop()
        nginx.stop()
        mail.stop()
        redis.stop()


class StandIn(BaseHTTPRequestHandler):
    """A stand-in for the relay that answers whatever status ``?status=`` asks for, with a
    bare page of its own (like gunicorn's), so that what nginx passes on can be told apart."""

    protocol_version = "HTTP/1.1"
    MARK = "answered by the stand-in relay"

    def answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        status = int(urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query).get("status", ["200"])[0])
        body = f"<html><body><h1>{status}</h1><p>{self.MARK}</p></body></html>".encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Stand-In", "yes")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_POST = do_HEAD = answer

    def log_message(self, *args):  # no log lines (they would name the client)
        pass


@pytest.fixture(scope="module")
def stand_in(site, tmp_path_factory):
    """The shipped nginx in front of StandIn instead of the relay."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), StandIn)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    nginx = Nginx(tmp_path_factory.mktemp("nginx-stand-in"), site, server.server_address[1])
    try:
        yield nginx
    finally:
        nginx.stop()
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize(("path", "kind"), [("/favicon.ico", "image/x-icon"), ("/theme/icon.svg", "image/svg+xml")])
def test_the_icon_is_served_where_browsers_ask_for_it(served, site, path, kind):
    """Browsers ask for /favicon.ico by themselves: the build's file, with the site's headers."""
    nginx, _, _ = served
    status, headers, body = fetch(nginx.https_port, path)
    assert status == 200 and header(headers, "Content-Type") == kind
    assert body == (site / path.lstrip("/")).read_bytes()
    assert_secure_headers(headers, path)


def fetch(port: int, path: str, *, method: str = "GET", body: bytes | None = None, headers: dict | None = None,
          tls: bool = True, chunked: bool = False):
    """One request; the status, every header as sent (a list, so duplicates show) and the body.
    ``chunked``: the body goes in 16 KiB chunks without a Content-Length."""
    connection = (http.client.HTTPSConnection("127.0.0.1", port, context=TLS, timeout=10) if tls
                  else http.client.HTTPConnection("127.0.0.1", port, timeout=10))
    try:
        if chunked:
            pieces = iter([body[start:start + 16384] for start in range(0, len(body), 16384)])
            connection.request(method, path, body=pieces, headers={**(headers or {}), "Transfer-Encoding": "chunked"},
                               encode_chunked=True)
        else:
            connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.getheaders(), response.read()
    finally:
        connection.close()


def header(headers: list[tuple[str, str]], name: str) -> str | None:
    values = [value for key, value in headers if key.lower() == name.lower()]
    assert len(values) <= 1, f"{name} sent {len(values)} times: {values}"
    return values[0] if values else None


def csp_directives(value: str) -> dict[str, list[str]]:
    parts = [part.split() for part in value.split(";") if part.strip()]
    return {part[0]: part[1:] for part in parts}


def assert_secure_headers(headers, where: str) -> None:
    csp = header(headers, "Content-Security-Policy")
    assert csp, f"{where}: no Content-Security-Policy"
    directives = csp_directives(csp)
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp, where
    assert directives["default-src"] == ["'none'"]
    assert directives["script-src"] == ["'self'"] and directives["style-src"] == ["'self'"]
    assert directives["form-action"] == ["'self'"]
    assert directives["frame-ancestors"] == ["'none'"]
    assert header(headers, "Referrer-Policy") == "same-origin", where
    assert header(headers, "X-Content-Type-Options") == "nosniff", where
    assert header(headers, "X-Frame-Options") == "DENY", where
    assert "camera=()" in (header(headers, "Permissions-Policy") or ""), where
    assert header(headers, "Cross-Origin-Opener-Policy") == "same-origin", where
    assert header(headers, "Cache-Control") == "no-store", where
    hsts = header(headers, "Strict-Transport-Security")
    assert hsts and int(re.search(r"max-age=(\d+)", hsts)[1]) >= 31536000, f"{where}: {hsts}"


def assert_no_duplicates(headers, where: str) -> None:
    counts = Counter(name.lower() for name, _ in headers)
    assert [name for name, count in counts.items() if count > 1] == [], where


@pytest.mark.parametrize("path", ["/", "/en/safety/", "/report-unavailable/", "/theme/css/site.css",
                                  "/theme/js/exit.js", "/no-such-page/", "/report/", "/en/report/",
                                  "/report/no-such-page/"])
def test_every_answer_carries_the_security_headers_once(served, path):
    nginx, _, _ = served
    status, headers, _ = fetch(nginx.https_port, path)
    assert status == (404 if "no-such-page" in path else 200)
    assert_secure_headers(headers, path)
    assert_no_duplicates(headers, path)
    assert header(headers, "Server") in (None, "nginx")  # server_tokens off: no version
    assert header(headers, "Set-Cookie") is None


@pytest.mark.parametrize(("path", "title"), [("/no-such-page/", "ページが見つかりません"),
                                           ("/en/no-such-page/", "Page not found"),
                                           ("/theme/no-such-file.css", "ページが見つかりません")])
def test_a_missing_page_is_the_sites_own_404_page(served, path, title):
    nginx, _, _ = served
    status, headers, body = fetch(nginx.https_port, path)
    assert status == 404
    assert f"<h1>{title}</h1>" in body.decode() and 'href="tel:110"' in body.decode()
    assert_secure_headers(headers, path)


def test_the_shipped_header_lines_are_the_relays_header_table():
    """Read as written, without nginx: the static pages' add_header lines in safeline-site.conf
    say what relay/headers.py says (HSTS: the relay adds it in production), once each."""
    from relay.headers import HEADERS, HSTS

    text = (ROOT / "deploy" / "nginx" / "safeline-site.conf").read_text(encoding="utf-8")
    lines = re.findall(r'^\s*add_header\s+([\w-]+)\s+"([^"]*)"\s+always;', text, re.M)
    assert len(lines) == len({name for name, _ in lines}), lines
    assert dict(lines) == {**HEADERS, "Strict-Transport-Security": HSTS}


def test_nginx_sends_the_relays_own_policy(served):
    """One policy for the whole origin: the static pages' headers are the relay's (relay/headers.py)."""
    from relay.headers import CSP, HEADERS

    nginx, _, _ = served
    _, static, _ = fetch(nginx.https_port, "/faq/")
    _, relay, _ = fetch(nginx.https_port, "/report/")
    assert header(static, "Content-Security-Policy") == header(relay, "Content-Security-Policy") == CSP
    for name, value in HEADERS.items():
        assert header(static, name) == header(relay, name) == value, name


def test_http_redirects_to_https(served):
    nginx, _, _ = served
    status, headers, _ = fetch(nginx.http_port, "/en/faq/?a=1", tls=False)
    assert status == 301
    location = urllib.parse.urlsplit(header(headers, "Location"))
    assert (location.scheme, location.hostname, location.path, location.query) == ("https", "127.0.0.1", "/en/faq/", "a=1")
    hsts = header(headers, "Strict-Transport-Security")
    assert hsts and int(re.search(r"max-age=(\d+)", hsts)[1]) >= 31536000
    assert_no_duplicates(headers, "http")


def test_the_publishers_notice_is_served_as_text_with_the_headers(served):
    # /published.txt is the publisher's file beside the releases (safeline/publish.py), not a
    # page of the release: a failed build or a rollback never touches a release.
    nginx, _, _ = served
    notice = nginx.folder / "published.txt"
    notice.unlink(missing_ok=True)
    status, _, body = fetch(nginx.https_port, "/published.txt")
    assert status == 404 and b"<html" in body  # none yet: the site's own 404 page
    notice.write_text("published 1a2b3c4 2026-12-07 14:05 JST\nnot published 5d6e7f8 2026-12-07 14:20 JST: "
                      "broken link: faq/index.html: /fqa/ (no such file in the output)\n", encoding="utf-8")
    try:
        status, headers, body = fetch(nginx.https_port, "/published.txt")
        assert (status, body) == (200, notice.read_bytes())
        assert header(headers, "Content-Type") == "text/plain; charset=utf-8"
        assert_secure_headers(headers, "/published.txt")
        assert header(headers, "Cache-Control") == "no-store"  # editors reload it to see a change
        assert fetch(nginx.https_port, "/en/published.txt")[0] == 404
    finally:
        notice.unlink()


def test_http_answers_the_acme_challenge_from_certbots_webroot(served):
    # A certificate renewal (certbot --webroot /var/www/html) must not meet the redirect.
    nginx, _, _ = served
    challenge = nginx.folder / "acme" / ".well-known" / "acme-challenge"
    challenge.mkdir(parents=True, exist_ok=True)
    (challenge / "t0ken-Ab_9").write_text("t0ken-Ab_9.thumbprint")
    status, headers, body = fetch(nginx.http_port, "/.well-known/acme-challenge/t0ken-Ab_9", tls=False)
    assert (status, body) == (200, b"t0ken-Ab_9.thumbprint")
    assert header(headers, "Content-Type") == "text/plain"
    status, _, _ = fetch(nginx.http_port, "/.well-known/acme-challenge/missing", tls=False)
    assert status == 404
    # Anything else beside it still goes to https.
    status, headers, _ = fetch(nginx.http_port, "/.well-known/security.txt", tls=False)
    assert status == 301 and header(headers, "Location").startswith("https://")


def handshake(port: int, version: ssl.TLSVersion, ciphers: str = "DEFAULT") -> tuple[str, str]:
    """A TLS handshake offering only ``version`` and ``ciphers``: the version and suite agreed."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with warnings.catch_warnings():  # TLSv1/TLSv1_1 are deprecated names: offering them is the point
        warnings.simplefilter("ignore", DeprecationWarning)
        context.minimum_version = context.maximum_version = version
    context.set_ciphers(f"{ciphers}:@SECLEVEL=0")  # let this client offer even what it would not
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw, context.wrap_socket(raw) as tls:
        return tls.version(), tls.cipher()[0]


@pytest.mark.parametrize("suite", [
    "AES128-GCM-SHA256",            # plain RSA key exchange: no forward secrecy
    "AES256-GCM-SHA384",
    "AES128-SHA",
    "DHE-RSA-AES128-GCM-SHA256",    # forward secret, but left out of the profile (no dhparam)
    "ECDHE-RSA-AES128-SHA256",      # forward secret, but CBC
    "ECDHE-RSA-AES256-SHA",
])
def test_tls_1_2_refuses_suites_outside_the_profile(served, suite):
    nginx, _, _ = served
    with pytest.raises(ssl.SSLError) as refused:
        handshake(nginx.https_port, ssl.TLSVersion.TLSv1_2, suite)
    assert refused.value.reason == "SSLV3_ALERT_HANDSHAKE_FAILURE", refused.value  # the server's refusal


@pytest.mark.parametrize("suite", ["ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-RSA-AES256-GCM-SHA384",
                                   "ECDHE-RSA-CHACHA20-POLY1305"])
def test_tls_1_2_with_ecdhe_aead_succeeds(served, suite):
    nginx, _, _ = served
    assert handshake(nginx.https_port, ssl.TLSVersion.TLSv1_2, suite) == ("TLSv1.2", suite)


def test_tls_1_3_succeeds_and_older_versions_are_refused(served):
    nginx, _, _ = served
    assert handshake(nginx.https_port, ssl.TLSVersion.TLSv1_3)[0] == "TLSv1.3"
    for old in (ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1):
        with pytest.raises(ssl.SSLError) as refused:
            handshake(nginx.https_port, old)
        assert refused.value.reason == "TLSV1_ALERT_PROTOCOL_VERSION", refused.value


@pytest.mark.parametrize("path", ["/", "/theme/css/site.css", "/theme/js/exit.js"])
def test_gzip_is_served(served, site, path):
    nginx, _, _ = served
    status, headers, body = fetch(nginx.https_port, path, headers={"Accept-Encoding": "gzip"})
    assert status == 200 and header(headers, "Content-Encoding") == "gzip"
    assert "Accept-Encoding" in header(headers, "Vary")
    file = site / (path.lstrip("/") or "index.html")
    assert gzip.decompress(body) == file.read_bytes()


def test_a_report_posted_through_nginx_reaches_the_outbox(served):
    nginx, _, folder = served
    status, headers, body = fetch(nginx.https_port, "/report/")
    assert status == 200
    token = re.search(rb'name="token" value="([^"]+)"', body)[1].decode()
    time.sleep(1.2)  # RELAY_MIN_FILL_SECONDS
    data = urllib.parse.urlencode({**FORM, "token": token, "website": ""}).encode()
    status, headers, _ = fetch(nginx.https_port, "/report/", method="POST", body=data, headers={
        "Content-Type": "application/x-www-form-urlencoded", "Origin": nginx.origin})
    assert status == 303, status
    location = header(headers, "Location")
    assert location.startswith("/report/sent/?r=")
    assert_secure_headers(headers, "303")
    status, _, page = fetch(nginx.https_port, location)
    reference = re.search(rb'id="reference">(SL-[0-9A-Z]{4}-[0-9A-Z]{4})<', page)[1].decode()
    sealed = [path for path in (folder / "outbox").iterdir() if path.is_file()]
    mails = [path.read_bytes() for path in sealed if f"Safeline report {reference}".encode() in path.read_bytes()]
    assert len(mails) == 1
    _, _, record = decrypt_mail(mails[0], GPG_SECRET)
    assert {name: record[name] for name in ("role", "email", "description")} == {
        name: FORM[name] for name in ("role", "email", "description")}
    assert record["urls"] == [FORM["urls"]]
    # A post from another origin is refused, through nginx too.
    status, _, _ = fetch(nginx.https_port, "/report/", method="POST", body=data, headers={
        "Content-Type": "application/x-www-form-urlencoded", "Origin": "https://evil.example"})
    assert status == 403


def test_with_the_relay_stopped_the_form_says_whom_to_call(served):
    from safeline.hotlines.model import load

    nginx, relay, folder = served
    phones = [line.phone for line in load(ROOT / "data" / "hotlines.yaml").lines]
    relay.stop()
    try:
        for path, title in (("/report/", "フォームが使えないとき"), ("/en/report/", "If the form is not working"),
                            ("/report/sent/?r=x", "フォームが使えないとき")):
            status, headers, body = fetch(nginx.https_port, path)
            text = body.decode()
            assert status == 503, path
            assert title in text
            assert all(phone in text for phone in phones), path
            assert_secure_headers(headers, f"{path} (relay down)")
            assert_no_duplicates(headers, path)
        status, _, body = fetch(nginx.https_port, "/report/", method="POST", body=b"role=self",
                                headers={"Content-Type": "application/x-www-form-urlencoded", "Origin": nginx.origin})
        assert status == 503 and "フォームが使えないとき" in body.decode()
    finally:
        relay.start()
    status, _, _ = fetch(nginx.https_port, "/report/")
    assert status == 200  # and back when it is

    # Nothing that names a client: no access log at all, no address in any log.
    logs = nginx.folder / "logs"
    assert not (logs / "access.log").exists() or (logs / "access.log").stat().st_size == 0
    for log in logs.iterdir():
        assert b"127.0.0.1" not in log.read_bytes(), f"{log.name}: {log.read_text(errors='replace')}"


TOO_LONG = {"ja": "内容が多すぎて、送れませんでした", "en": "Your report was too long to send"}
NOT_WORKING = {"ja": "フォームが使えないとき", "en": "If the form is not working"}
ERROR = {"ja": "このページを表示できませんでした", "en": "This page could not be shown"}
FORM_POST = {"Content-Type": "application/x-www-form-urlencoded"}


def lang_of(path: str) -> str:
    return "en" if path.startswith("/en/") else "ja"


def assert_site_page(status, headers, body, *, title: str, where: str, head: bool = False) -> None:
    """One of the site's own pages, with every header once, and nothing of nginx's or the relay's."""
    assert_secure_headers(headers, where)
    assert_no_duplicates(headers, where)
    assert header(headers, "X-Stand-In") is None, where
    assert header(headers, "Content-Type") == "text/html; charset=utf-8", where
    if head:
        assert body == b"", where
        return
    text = body.decode()
    assert f"<h1>{title}</h1>" in text, f"{where}: {text[:300]}"
    assert StandIn.MARK not in text and "nginx" not in text, where


@pytest.mark.parametrize("chunked", [False, True], ids=["with-length", "chunked"])
@pytest.mark.parametrize("path", ["/report/", "/en/report/"])
def test_a_body_over_nginxs_limit_gets_the_too_long_page(stand_in, path, chunked):
    """Over client_max_body_size (128 KiB) nginx refuses the body itself: the site's page,
    in the language of the address, with the headers; the relay never sees it."""
    status, headers, body = fetch(stand_in.https_port, path, method="POST", body=b"description=" + b"x" * 200_000,
                                  headers=FORM_POST, chunked=chunked)
    assert status == 413
    assert_site_page(status, headers, body, title=TOO_LONG[lang_of(path)], where=f"{path} 413")
    text = body.decode()
    assert ("届いていません" in text) if lang_of(path) == "ja" else ("has not reached us" in text)
    assert ('href="/report/"' in text) if lang_of(path) == "ja" else ('href="/en/report/"' in text)


@pytest.mark.parametrize("chunked", [False, True], ids=["with-length", "chunked"])
def test_a_body_under_nginxs_limit_reaches_the_relay(stand_in, chunked):
    status, headers, body = fetch(stand_in.https_port, "/report/?status=200", method="POST",
                                  body=b"description=" + b"x" * 100_000, headers=FORM_POST, chunked=chunked)
    assert status == 200 and StandIn.MARK in body.decode() and header(headers, "X-Stand-In") == "yes"


@pytest.mark.parametrize("method", ["GET", "POST", "HEAD"])
@pytest.mark.parametrize("path", ["/report/", "/en/report/", "/en/report/sent/?r=x"])
def test_a_bare_500_from_the_relay_gets_the_form_not_working_page(stand_in, path, method):
    """gunicorn's own bare 500 (an error escaping the app) never reaches the reporter."""
    target = f"{path}{'&' if '?' in path else '?'}status=500"
    status, headers, body = fetch(stand_in.https_port, target, method=method,
                                  body=b"role=self" if method == "POST" else None,
                                  headers=FORM_POST if method == "POST" else None)
    assert status == 500
    assert_site_page(status, headers, body, title=NOT_WORKING[lang_of(path)], where=f"{method} {path} 500",
                     head=method == "HEAD")
    if method != "HEAD":
        assert "03-5467-2455" in body.decode()  # the phone lines


@pytest.mark.parametrize(("method", "status"), [*[("POST", status) for status in (400, 403, 404, 405, 413, 422, 429, 503)],
                                                 *[("GET", status) for status in (400, 403, 404, 405, 429, 503)]])
def test_the_relays_own_4xx_and_503_pages_pass_through(stand_in, method, status):
    """They give the form back with what was typed: nginx must not put a page of its own in
    their place (proxy_intercept_errors only for 500).  (A POST states its length and goes to
    one named location, a GET to the other: both are checked.)"""
    answer = fetch(stand_in.https_port, f"/en/report/?status={status}", method=method,
                   body=b"role=self" if method == "POST" else None, headers=FORM_POST if method == "POST" else None)
    assert answer[0] == status
    assert StandIn.MARK in answer[2].decode() and header(answer[1], "X-Stand-In") == "yes"


def test_a_413_from_the_relay_for_a_chunked_body_gets_the_sites_page(stand_in):
    """The one exception, by design: nginx reads a body sent without a length (never a
    browser's form) only in the named location, where its own 413 needs the page, so the
    relay's 413 (64-128 KiB) is replaced there by the site's page with the same message."""
    answer = fetch(stand_in.https_port, "/en/report/?status=413", method="POST", body=b"role=self",
                   headers=FORM_POST, chunked=True)
    assert answer[0] == 413
    assert_site_page(*answer, title=TOO_LONG["en"], where="chunked 413 from the relay")


@pytest.mark.parametrize(("method", "path", "extra", "status"), [
    ("POST", "/en/faq/", {}, 405),                         # a static page cannot take a form
    ("POST", "/faq/", {}, 405),
    ("PUT", "/en/", {}, 405),
    ("POST", "/en/faq/", {"big": True}, 413),              # over the default 1 MiB of nginx
    ("GET", "/" + "a" * 9000, {}, 414),                   # longer than nginx reads
    ("GET", "/en/", {"headers": {"X-Long": "a" * 20000}}, 400),  # headers too long
    ("GET", "/en/", {"headers": {"Transfer-Encoding": "gzip"}}, 501),
    ("GET", "/theme/", {}, 404),                            # a folder without a page
])
def test_nginxs_own_errors_on_any_path_get_the_sites_page(stand_in, method, path, extra, status):
    body = b"a=1" * (400_000 if extra.get("big") else 1) if method in ("POST", "PUT") else None
    answer = fetch(stand_in.https_port, path, method=method, body=body, headers=extra.get("headers"))
    assert answer[0] == status
    # Errors found while nginx reads the request come before it knows the address's language.
    lang = "ja" if status in (400, 501) else lang_of(path)
    title = {404: "ページが見つかりません" if lang == "ja" else "Page not found"}.get(status, ERROR[lang])
    assert_site_page(*answer, title=title, where=f"{method} {path[:20]} {status}")


@pytest.mark.parametrize("path", ["/en/no-such-page/", "/en/faq/"])
def test_head_requests_get_the_headers(stand_in, path):
    status, headers, body = fetch(stand_in.https_port, path, method="HEAD")
    assert status == (404 if "no-such" in path else 200)
    assert_site_page(status, headers, body, title="", where=f"HEAD {path}", head=True)


@pytest.mark.parametrize("path", ["/report", "/en/report"])
def test_the_forms_address_without_its_slash_redirects_with_the_headers(stand_in, path):
    status, headers, _ = fetch(stand_in.https_port, path)
    assert status == 301 and header(headers, "Location").endswith(f"{path}/")
    assert_secure_headers(headers, path)
    assert_no_duplicates(headers, path)


def test_the_error_paths_log_no_client_address(stand_in):
    """Errors of every kind, made here: still no access log, and no address in any log."""
    logs = stand_in.folder / "logs"
    for method, path, headers, status in [
        ("GET", "/en/no-such-page/", None, 404),
        ("GET", "/" + "a" * 9000, None, 414),
        ("GET", "/en/", {"X-Long": "a" * 20000}, 400),
        ("GET", "/en/", {"Transfer-Encoding": "gzip"}, 501),
        ("POST", "/faq/", FORM_POST, 405),
        ("GET", "/report/?status=500", None, 500),
        ("GET", "/en/report/?status=404", None, 404),
    ]:
        answer = fetch(stand_in.https_port, path, method=method, body=b"a=1" if method == "POST" else None,
                       headers=headers)
        assert answer[0] == status, (method, path[:20])
    assert not (logs / "access.log").exists() or (logs / "access.log").stat().st_size == 0
    for log in logs.iterdir():
        assert b"127.0.0.1" not in log.read_bytes(), f"{log.name}: {log.read_text(errors='replace')}"


def test_the_error_pages_are_built_in_both_languages(site):
    """What nginx serves for its errors exists in the build (nginx would fall back to its own page)."""
    for page in ("error/index.html", "report-too-large/index.html", "report-unavailable/index.html", "404.html"):
        for prefix in ("", "en/"):
            assert (site / prefix / page).is_file(), prefix + page


def test_a_flood_of_posts_is_refused_by_nginx_and_reading_never_is(served, site, tmp_path):
    # An nginx of its own in front of the same relay: the flood fills its zone for 127.0.0.1
    # (safeline-limits.conf), which would refuse the POSTs of the other tests, in any order.
    front, relay, _ = served
    nginx = Nginx(tmp_path / "nginx", site, relay.port)
    try:
        flood(nginx, origin=front.origin)  # the relay checks the origin it was configured with
    finally:
        nginx.stop()


def flood(nginx: Nginx, *, origin: str) -> None:
    from safeline.hotlines.model import load

    phones = [line.phone for line in load(ROOT / "data" / "hotlines.yaml").lines]
    data = urllib.parse.urlencode({**FORM, "token": "not-a-token", "website": ""}).encode()
    answers = []
    for number in range(80):
        path = "/report/" if number % 2 else "/en/report/"
        status, headers, body = fetch(nginx.https_port, path, method="POST", body=data, headers={
            "Content-Type": "application/x-www-form-urlencoded", "Origin": origin})
        answers.append((path, status, headers, body.decode()))
    by_relay = [answer for answer in answers if answer[1] != 429]
    refused = [answer for answer in answers if answer[1] == 429]
    # The burst of 30 (plus one let through every two seconds) reached the relay, which answered as it does to a bad token: its form again,
    # with what was typed.
    assert 25 <= len(by_relay) <= 40, [answer[1] for answer in answers]
    assert all(status == 400 and FORM["description"] in body for _, status, _, body in by_relay)
    assert len(refused) >= 40
    for path, _, headers, body in refused:
        title = "If the form is not working" if path.startswith("/en/") else "フォームが使えないとき"
        assert title in body and all(phone in body for phone in phones), path
        assert_secure_headers(headers, f"{path} (429 from nginx)")
        assert_no_duplicates(headers, path)
    # Reading is never limited: the form, the site and the confirmation page still open.
    for path in ("/report/", "/en/report/", "/", "/en/faq/", "/report/sent/?r=x") * 10:
        status, _, _ = fetch(nginx.https_port, path)
        assert status == 200, path
    for log in (nginx.folder / "logs").iterdir():
        assert b"127.0.0.1" not in log.read_bytes(), log.name
