"""Where the relay's time goes, measured in-process (no gunicorn, no sockets): diagnostics.

Used by relay_throughput.py and relay_ratelimited.py after their runs, so that a missed goal
comes with the cost of each step of the request.  Each step is timed on its own, repeated,
with the same report as the load tests; figures are milliseconds per call (median, p99).

The requests go through the relay's own entry points (``relay.create_app`` and its routes,
through Flask's test client), and the steps are the public functions of the modules that do
them (report, seal, openpgp, keys, outbox), never the views' helpers: those change with the
views, and a benchmark that called them broke with them (issue 21).  The seal's two writing
steps are its private functions, measured apart because they were worth a design change
(relay/seal.py); tests/test_bench_smoke.py runs this, so a change to them shows at once.
"""

from __future__ import annotations

import datetime
import itertools
import logging
import math
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
        tail = "" if math.isnan(p99) else f", {p99:7.3f} ms p99"
        print(f"  {label:58} {median:7.3f} ms median{tail}")


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
    whole = _timed(lambda: post(), repeat)
    seal_all = _timed(lambda: sealing.seal(
        report, reference="SL-AAAA-BBBB", message_id=f"<{uuid.uuid4().hex}@safeline.test>", received_at=now,
        keys=keys, mail_from="relay@safeline.test", mail_to=["staff@safeline.test"]), repeat)
    put = _timed(lambda: outbox.put(sealed, next(names)), repeat)
    rest = whole[0] - seal_all[0] - put[0]
    rows = [
        ("baseline: bare Flask POST → 303 (same test client)", _timed(_baseline(303, tokens), repeat)),
        ("whole POST /report/ → 303 (Flask test client, no log line)", whole),
        ("  the rest: whole - seal.seal - outbox.put (medians)", (rest, float("nan"))),
        ("  report.validate (form → Report)", _timed(lambda: validate(form, "ja"), repeat)),
        ("  seal.seal (all of the below)", seal_all),
        ("    keys.ensure_usable (re-check the staff keys)", _timed(lambda: keys.ensure_usable(), repeat)),
        ("    inner MIME entity: write from its template, pad", _timed(lambda: sealing.pad(sealing._inner(
            report, reference="SL-AAAA-BBBB", received_at=now, headers=headers)), repeat)),
        ("    openpgp.encrypt (pysequoia)", _timed(lambda: openpgp.encrypt(inner, keys.certs), repeat)),
        ("    outer PGP/MIME message: write from its template", _timed(lambda: sealing._outer(
            ciphertext, subject="Safeline report SL-AAAA-BBBB", headers=headers), repeat)),
        ("  outbox.put (write, fsync, rename, fsync dir)", put),
    ]
    _print(rows)
    logging.getLogger("relay").setLevel(quiet)


def ratelimited(setup, repeat: int = 500) -> None:
    """The steps of one refused (429) POST."""
    from flask import request

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
    client = app.test_client()

    def parse():
        with app.test_request_context("/report/", method="POST", data=body,
                                      content_type="application/x-www-form-urlencoded"):
            return request.form.to_dict()

    def show():
        shown = client.get("/report/")
        assert shown.status_code == 200, shown.status_code
        return shown

    print(f"in-process cost of a refused POST ({repeat} calls each; the 429 page is {len(response.data)} bytes):")
    _print([
        ("baseline: bare Flask POST → 429 (same test client)", _timed(_baseline(429, tokens), repeat)),
        ("whole POST /report/ → 429 (Flask test client, no log line)", _timed(lambda: post(), repeat)),
        ("  request context + form parsing (request.form)", _timed(parse, repeat)),
        ("  GET /report/ → 200: the empty form page, rendered", _timed(show, repeat)),
    ])
    logging.getLogger("relay").setLevel(quiet)
