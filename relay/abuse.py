"""What keeps the form from being abused, without knowing who anyone is.

- Limits count pseudonyms: an HMAC of the client's address under a key that changes every
  day (UTC), so neither the store nor a log ever holds an address, and one day's pseudonyms
  cannot be linked to another day's.  Each count is made under today's pseudonym and
  tomorrow's (``relay.quota``; two limits for Flask-Limiter's per-POST one), so a client's
  counts carry over when the key changes instead of dropping to zero at midnight.
- An IPv6 client counts by its /64, the block one household or phone is given: its devices
  pick new addresses inside it at will, so a limit per address would be a limit on nobody.
  Its /48 (a whole customer's or organisation's network, 65,536 /64s) is counted too.
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
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from flask import abort, g, request

from .services import services

FORM_TYPE = "application/x-www-form-urlencoded"


@dataclass(frozen=True)
class Names:
    """A client's pseudonyms, today's first: for its own counts and, if IPv6, its /48's."""

    client: tuple[str, str]
    network: tuple[str, str] | tuple[()]


class Pseudonyms:
    """Names for clients that change every day (UTC) and say nothing about the address."""

    def __init__(self, secret: str, clock: Callable[[], float] = time.time):
        self.secret = secret
        self.clock = clock

    def of(self, address: str) -> Names:
        today = datetime.datetime.fromtimestamp(self.clock(), datetime.timezone.utc).date()
        days = (today.isoformat(), (today + datetime.timedelta(days=1)).isoformat())
        network = network_block(address)
        return Names(
            client=self._pair(days, client_block(address)),
            network=self._pair(days, network) if network else (),
        )

    def _pair(self, days: tuple[str, str], block: str) -> tuple[str, str]:
        # The address is only ever an input to this HMAC.
        return tuple(hmac.new(_daily_key(self.secret, day), block.encode(), hashlib.sha256).hexdigest()[:32]
                     for day in days)


def names() -> Names:
    """This request's client's pseudonyms (worked out once per request: kept on ``g``)."""
    found = g.get("client_names")
    if found is None:
        address = request.remote_addr or "unknown"  # only ever an input to the pseudonyms' HMAC
        found = g.client_names = services().pseudonyms.of(address)
    return found


def client_key() -> str:
    """Flask-Limiter's key: the client's pseudonym for today."""
    return names().client[0]


def client_key_tomorrow() -> str:
    """The same client's pseudonym for tomorrow, so its count is there when the day changes."""
    return names().client[1]


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


def network_block(address: str) -> str | None:
    """The /48 of an IPv6 client; None for IPv4 (one address is already the client)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return None
    if ip.version != 6 or ip.ipv4_mapped is not None:
        return None
    return f"{ipaddress.IPv6Network((ip, 48), strict=False).network_address}/48"


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
