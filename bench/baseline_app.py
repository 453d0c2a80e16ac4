"""The baseline of the relay benchmarks: a bare Flask app with one POST route.

It reads the same form fields as the relay's form and answers 303 to the confirmation page
(``BENCH_BASELINE_STATUS=303``, benchmark a) or 429 with a one-line body (``=429``,
benchmark b): no validation, no sealing, no outbox, no rate limiter, no templates.
Served by gunicorn with deploy/gunicorn.conf.py, like the relay:

    RELAY_BIND=127.0.0.1:PORT .venv/bin/python -m gunicorn -c deploy/gunicorn.conf.py bench.baseline_app:app
"""

from __future__ import annotations

import os

from flask import Flask, redirect, request

FIELDS = ("role", "email", "urls", "description", "consent", "token", "website")
STATUS = int(os.environ.get("BENCH_BASELINE_STATUS", "303"))

app = Flask(__name__, static_folder=None)


@app.post("/report/")
@app.post("/en/report/")
def submit():
    values = {name: request.form.get(name, "") for name in FIELDS}
    if STATUS == 429:
        return "Too many requests\n", 429, {"Content-Type": "text/plain; charset=utf-8"}
    return redirect(f"/report/sent/?r={len(values['token'])}", code=303)
