"""What keeps the form from being abused, without knowing who anyone is.

- Rate limits are keyed by an HMAC of the client address under a key that changes every
  day (UTC), so neither the store nor a log ever holds an address, and yesterday's keys
  cannot be linked to today's.  An IPv6 client counts by its /64, the block one household
  or phone is given: its devices pick new addresses inside it at will, so a limit per
  address would be a limit on nobody.
- A POST must come from our own pages: ``Sec-Fetch-Site`` (or, from older browsers,
  ``Origin``) must not say another site sent it.
- Only URL-encoded bodies: no multipart, so no file can ever be uploaded.
"""

from __future__ import annotations

import datetime
import functools
import hashlib
import hmac
import ipaddress
from urllib.parse import urlsplit

from flask import abort, current_app, g, request

FORM_TYPE = "application/x-www-form-urlencoded"


def client_key() -> str:
    """The limiter's key for this request's client (asked once per limit: kept on ``g``)."""
    key = g.get("client_key")
    if key is None:
        day = datetime.datetime.now(datetime.timezone.utc).date().isoformat()
        # The address is only ever an input to this HMAC; the limiter sees the digest.
        address = client_block(request.remote_addr or "unknown").encode()  # hmac input only
        key = g.client_key = hmac.new(_daily_key(current_app.config["SECRET_KEY"], day), address,
                                      hashlib.sha256).hexdigest()[:32]
    return key


def client_block(address: str) -> str:
    """What one client is, for the limits: an IPv4 address, or the /64 of an IPv6 one."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if ip.version == 6:
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return f"{ipaddress.IPv6Network((ip, 64), strict=False).network_address}/64"
    return str(ip)


@functools.lru_cache(maxsize=4)
def _daily_key(secret: str, day: str) -> bytes:
    return hmac.new(secret.encode(), b"ratelimit:" + day.encode(), hashlib.sha256).digest()


def same_origin(a: str, b: str) -> bool:
    """Compare origins as browsers do: scheme and host without case, default ports implied."""

    def parts(origin: str):
        split = urlsplit(origin.strip().rstrip("/"))
        try:
            port = split.port or {"http": 80, "https": 443}.get(split.scheme.lower())
        except ValueError:
            return None
        return split.scheme.lower(), (split.hostname or "").lower(), port

    first = parts(a)
    return first is not None and first == parts(b)


def refuse_cross_site(site_origin: str) -> None:
    fetch_site = request.headers.get("Sec-Fetch-Site")
    if fetch_site is not None:
        if fetch_site not in ("same-origin", "none"):
            abort(403)
        return
    origin = request.headers.get("Origin")
    if origin is not None and not same_origin(origin, site_origin):
        abort(403)


def refuse_unexpected_body() -> None:
    if request.mimetype != FORM_TYPE:
        abort(400)
