"""The guard in front of every page: who may ask, and what every answer carries.

The interface listens on 127.0.0.1, but any page open in the same browser can send requests
there, and a hostile DNS name can be made to point at 127.0.0.1 (DNS rebinding). So:

- Host: only ``127.0.0.1:PORT`` or ``localhost:PORT``, exactly, else a plain 403. A rebound
  name arrives with its own Host and is refused before anything else runs.
- The launch secret (as Jupyter does): ``serve`` prints and opens ``/?token=SECRET``. A valid
  token sets a cookie (HttpOnly, SameSite=Strict, Path=/, named for the port so that two kits
  on two ports do not overwrite each other) and redirects (303) to the same URL without the
  token, so the secret does not stay in the address bar or the history. Without the secret
  and without a valid cookie: a 403 page that says to open the link the command printed. The
  style sheet alone is served without it (it is in the repository; the 403 page needs it).
- Every POST carries a CSRF token (an HMAC of the secret) in a hidden field, else 403. With
  SameSite=Strict a foreign page's POST has no cookie anyway; the token is the second lock,
  and a browser's ``Sec-Fetch-Site`` saying another site sent it is a third.
- Comparisons of secrets are constant-time (``hmac.compare_digest``).
- Headers on every answer, errors included: a strict Content-Security-Policy (no script at
  all: the interface needs none), no referrer, nosniff, no caching (case data must not land
  in the browser's disk cache), and same-origin opener and resource policies.
"""

from __future__ import annotations

import hashlib
import html
import hmac
from urllib.parse import urlencode

from flask import Blueprint, Response, abort, current_app, g, request

bp = Blueprint("guard", __name__)

COOKIE_PREFIX = "safeline_staff_"
CSRF_FIELD = "csrf"
TOKEN_PARAM = "token"

CSP = ("default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
       "frame-ancestors 'none'; base-uri 'none'")
HEADERS = {
    "Content-Security-Policy": CSP,
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}
# Served without the secret: the style sheet (public, in the repository) and the icon.
OPEN_ENDPOINTS = frozenset({"static"})


def _derive(secret: str, purpose: str) -> str:
    return hmac.new(secret.encode(), purpose.encode(), hashlib.sha256).hexdigest()


def _same(given: str | None, expected: str) -> bool:
    return given is not None and hmac.compare_digest(given.encode("utf-8", "surrogateescape"), expected.encode())


def csrf_token(secret: str) -> str:
    """The value every POST form carries in its hidden ``csrf`` field."""
    return _derive(secret, "csrf")


def session_value(secret: str) -> str:
    """What the cookie holds: derived from the secret, so the cookie is not the URL's token."""
    return _derive(secret, "session")


def cookie_name(port: int) -> str:
    return f"{COOKIE_PREFIX}{port}"


def _port() -> str:
    port = current_app.config.get("STAFF_PORT")
    return str(port) if port else request.environ.get("SERVER_PORT", "")


def _host_allowed() -> bool:
    host = request.environ.get("HTTP_HOST", "")
    port = _port()
    return bool(port) and host in (f"127.0.0.1:{port}", f"localhost:{port}")


def _forward(location: str) -> str:
    target = html.escape(location)
    return ('<!doctype html><html lang="ja"><meta charset="utf-8"><title>Safeline staff kit</title>'
            f'<meta http-equiv="refresh" content="0;url={target}"><p><a href="{target}">Safeline staff kit</a></p>\n')


@bp.before_app_request
def guard():
    if not _host_allowed():
        # Plain: a rebound page gets nothing of ours, not even the layout.
        return Response("Forbidden: this interface answers only at 127.0.0.1 or localhost.\n", 403,
                        mimetype="text/plain")
    secret = current_app.config["STAFF_SECRET"]
    if TOKEN_PARAM in request.args and request.method in ("GET", "HEAD"):
        if not _same(request.args.get(TOKEN_PARAM), secret):
            g.forbidden_reason = "secret"
            abort(403)
        rest = [(name, value) for name, value in request.args.items(multi=True) if name != TOKEN_PARAM]
        # One leading slash only: "//host/…" would send the browser to another host.
        location = "/" + request.path.lstrip("/") + (f"?{urlencode(rest)}" if rest else "")
        if request.headers.get("Sec-Fetch-Site") in ("cross-site", "same-site"):
            # Opened from another page (serve's launcher is a file:// page in the kit's folder):
            # the browser sends no SameSite=Strict cookie on a redirect of a navigation another
            # site began, so this page sets the cookie and goes on by itself, a navigation of
            # our own origin. Its address, with the token, is replaced at once.
            response = Response(_forward(location), 200, mimetype="text/html")
        else:
            response = Response(status=303, headers={"Location": location})
        response.set_cookie(cookie_name(int(_port())), session_value(secret), httponly=True, samesite="Strict",
                            path="/")
        return response
    if request.endpoint in OPEN_ENDPOINTS:
        return None
    if not _same(request.cookies.get(cookie_name(int(_port()))), session_value(secret)):
        g.forbidden_reason = "secret"
        abort(403)
    g.staff_in = True  # the page may show what the store holds (not the 403 page's)
    if request.method not in ("GET", "HEAD"):
        # A browser says where a request comes from (Sec-Fetch-Site, whatever the referrer
        # policy): a form sent from another site is refused even before its token is read.
        if request.headers.get("Sec-Fetch-Site", "same-origin") not in ("same-origin", "none") or \
                not _same(request.form.get(CSRF_FIELD), csrf_token(secret)):
            g.forbidden_reason = "csrf"
            abort(403)
    return None


@bp.after_app_request
def headers(response: Response) -> Response:
    for name, value in HEADERS.items():
        response.headers[name] = value
    return response


@bp.app_context_processor
def form_token():
    return {"csrf_field": CSRF_FIELD, "csrf_token": csrf_token(current_app.config["STAFF_SECRET"])}
