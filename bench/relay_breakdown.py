"""Where the relay's time goes, measured in-process (no gunicorn, no sockets): diagnostics.

Used by relay_throughput.py and relay_ratelimited.py after their runs, so that a missed goal
comes with the cost of each step of the request.  Each step is timed on its own, repeated,
with the same report as the load tests; figures are milliseconds per call (median, p99).
"""

from __future__ import annotations

import datetime
import itertools
import logging
import time
import uuid
from pathlib import Path

from bench.common import percentile


def _timed(function, repeat: int) -> tuple[float, float]:
    for _ in range(min(20, repeat)):
        function()
    samples = []
    for _ in range(repeat):
        started = time.perf_counter_ns()
        function()
        samples.append((time.perf_counter_ns() - started) / 1e6)
    samples.sort()
    return percentile(samples, 0.5), percentile(samples, 0.99)


def _print(rows: list[tuple[str, tuple[float, float]]]) -> None:
    for label, (median, p99) in rows:
        print(f"  {label:58} {median:7.3f} ms median, {p99:7.3f} ms p99")


def _app(setup, *, ratelimit: str, ratelimit_posts: str):
    import relay
    from bench.relay_common import relay_env

    app = relay.create_app(relay_env(setup, 8000, ratelimit=ratelimit, ratelimit_posts=ratelimit_posts))
    return app


def _post(app, tokens):
    from bench.relay_common import form_body

    client = app.test_client()
    headers = {"Origin": "http://127.0.0.1:8000", "Sec-Fetch-Site": "same-origin",
               "Content-Type": "application/x-www-form-urlencoded"}
    return lambda: client.post("/report/", data=form_body(tokens.issue()), headers=headers)


def _baseline(status: int, tokens):
    """The bare Flask baseline through the same test client, for comparison."""
    from bench import baseline_app

    baseline_app.STATUS = status
    return _post(baseline_app.app, tokens)


def accepted(setup, outbox_folder: Path, repeat: int = 300) -> None:
    """The steps of one accepted report."""
    from relay import openpgp
    from relay import seal as sealing
    from relay.keys import load_staff_keys
    from relay.outbox import Outbox
    from relay.services import services
    from relay.report import validate
    from relay.token import FormTokens, MemorySpentTokens

    from bench.relay_common import DESCRIPTION, URLS

    quiet = logging.getLogger("relay").level
    app = _app(setup, ratelimit="1000000 per hour", ratelimit_posts="1000000 per hour")
    logging.getLogger("relay").setLevel(logging.WARNING)  # the log line is timed under gunicorn, not here
    tokens = FormTokens(setup.secret, min_fill_seconds=0, spent=MemorySpentTokens())
    post = _post(app, tokens)
    assert post().status_code == 303
    keys = load_staff_keys(setup.keys)
    form = {"role": "self", "email": "hanako.yamada@example.jp", "urls": URLS, "description": DESCRIPTION,
            "consent": "yes"}
    report, _ = validate(form, "ja")
    now = datetime.datetime.now(datetime.timezone.utc)
    headers = {"From": "relay@safeline.test", "To": "staff@safeline.test", "Date": "Sat, 28 Nov 2026 12:00:00 +0000",
               "Message-ID": "<bench@safeline.test>"}
    inner = sealing.pad(sealing._inner(report, reference="SL-AAAA-BBBB", received_at=now, headers=headers))
    ciphertext = openpgp.encrypt(inner, keys.certs)
    sealed = sealing.seal(report, reference="SL-AAAA-BBBB", message_id="<bench@safeline.test>", received_at=now,
                          keys=keys, mail_from="relay@safeline.test", mail_to=["staff@safeline.test"])
    outbox = Outbox(outbox_folder)
    names = (f"breakdown-{number}.eml" for number in itertools.count())
    print(f"in-process cost of an accepted report ({repeat} calls each, {len(sealed)} bytes sealed):")
    rows = [
        ("baseline: bare Flask POST → 303 (same test client)", _timed(_baseline(303, tokens), repeat)),
        ("whole POST /report/ → 303 (Flask test client, no log line)", _timed(lambda: post(), repeat)),
        ("  report.validate (form → Report)", _timed(lambda: validate(form, "ja"), repeat)),
        ("  seal.seal (all of the below)", _timed(lambda: sealing.seal(
            report, reference="SL-AAAA-BBBB", message_id=f"<{uuid.uuid4().hex}@safeline.test>", received_at=now,
            keys=keys, mail_from="relay@safeline.test", mail_to=["staff@safeline.test"]), repeat)),
        ("    keys.ensure_usable (re-check the staff keys)", _timed(lambda: keys.ensure_usable(), repeat)),
        ("    inner MIME entity: write from its template, pad", _timed(lambda: sealing.pad(sealing._inner(
            report, reference="SL-AAAA-BBBB", received_at=now, headers=headers)), repeat)),
        ("    openpgp.encrypt (pysequoia)", _timed(lambda: openpgp.encrypt(inner, keys.certs), repeat)),
        ("    outer PGP/MIME message: write from its template", _timed(lambda: sealing._outer(
            ciphertext, subject="Safeline report SL-AAAA-BBBB", headers=headers), repeat)),
        ("  outbox.put (write, fsync, rename, fsync dir)", _timed(lambda: outbox.put(sealed, next(names)), repeat)),
    ]
    intake = services(app).intake
    intake.accept = lambda report: ("SL-AAAA-BBBB", 0)  # this app only: no seal, no outbox
    rows.insert(2, ("  the same POST with seal and outbox left out (stubbed)", _timed(lambda: post(), repeat)))
    _print(rows)
    logging.getLogger("relay").setLevel(quiet)


def ratelimited(setup, repeat: int = 500) -> None:
    """The steps of one refused (429) POST."""
    from relay import forms, pages
    from relay.token import FormTokens, MemorySpentTokens

    from bench.relay_common import form_body

    quiet = logging.getLogger("relay").level
    app = _app(setup, ratelimit="1 per hour", ratelimit_posts="1 per hour")
    logging.getLogger("relay").setLevel(logging.WARNING)
    logging.getLogger("flask-limiter").setLevel(logging.WARNING)
    tokens = FormTokens(setup.secret, min_fill_seconds=0, spent=MemorySpentTokens())
    post = _post(app, tokens)
    post()  # the one allowed
    response = post()
    assert response.status_code == 429, response.status_code
    body = form_body(tokens.issue())

    def render():
        with app.test_request_context("/report/", method="POST", data=body,
                                      content_type="application/x-www-form-urlencoded"):
            return pages.render_form("ja", values=forms.form_values(), notice="ratelimited", status=429)

    def parse():
        with app.test_request_context("/report/", method="POST", data=body,
                                      content_type="application/x-www-form-urlencoded"):
            return forms.form_values()

    print(f"in-process cost of a refused POST ({repeat} calls each; the 429 page is {len(response.data)} bytes):")
    _print([
        ("baseline: bare Flask POST → 429 (same test client)", _timed(_baseline(429, tokens), repeat)),
        ("whole POST /report/ → 429 (Flask test client, no log line)", _timed(lambda: post(), repeat)),
        ("  request context + form parsing (form_values)", _timed(parse, repeat)),
        ("  the same + render the form page again (render_form)", _timed(render, repeat)),
    ])
    logging.getLogger("relay").setLevel(quiet)
