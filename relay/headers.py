"""Security headers on every relay response.

The CSP allows our own style sheet and scripts and nothing inline; forms may post only to
us; nobody may frame the pages.  ``Referrer-Policy: same-origin`` rather than
``no-referrer``: with the latter browsers send ``Origin: null`` on our own POSTs.  Nothing is
cached: a shared device must not keep a report page.
"""

from __future__ import annotations

CSP = "; ".join(
    [
        "default-src 'none'",
        "style-src 'self'",
        "script-src 'self'",
        "img-src 'self'",
        "connect-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    ]
)

HEADERS = {
    "Content-Security-Policy": CSP,
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), interest-cohort=()",
    "Cross-Origin-Opener-Policy": "same-origin",
}


# Over https only, so in production only.
HSTS = "max-age=31536000; includeSubDomains"


def add(response, *, production: bool):
    for name, value in HEADERS.items():
        response.headers[name] = value
    if production:
        response.headers["Strict-Transport-Security"] = HSTS
    return response
