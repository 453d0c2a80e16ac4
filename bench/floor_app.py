"""The floor of benchmark (a): what any relay that keeps promises 1 and 2 must do per report.

A bare Flask POST route like bench/baseline_app.py, plus the two steps no implementation can
leave out: encrypt what was sent to the staff key (pysequoia, as relay/openpgp.py calls it)
and store the ciphertext durably before answering, the way the relay's outbox does
(relay.outbox.Outbox.put: write, fsync, rename, fsync the folder).  No form token,
validation, rate limits, MIME, padding, log line or security headers: the relay's throughput
can only approach this, never pass it.  (A store with one fsync per report, an append-only
journal, would raise this floor somewhat: BENCHMARKS.md, "What limits each goal".)

    FLOOR_STAFF_KEYS=folder FLOOR_OUTBOX=folder RELAY_BIND=127.0.0.1:PORT \\
        .venv/bin/python -m gunicorn -c deploy/gunicorn.conf.py bench.floor_app:app
"""

from __future__ import annotations

import json
import os
import secrets

from flask import Flask, redirect, request

from relay import openpgp
from relay.keys import load_staff_keys
from relay.outbox import Outbox

FIELDS = ("role", "email", "urls", "description", "consent", "token", "website")
CERTS = load_staff_keys(os.environ["FLOOR_STAFF_KEYS"]).certs
OUTBOX = Outbox(os.environ["FLOOR_OUTBOX"])

app = Flask(__name__, static_folder=None)


@app.post("/report/")
@app.post("/en/report/")
def submit():
    values = {name: request.form.get(name, "") for name in FIELDS}
    ciphertext = openpgp.encrypt(json.dumps(values, ensure_ascii=False).encode("utf-8"), CERTS)
    name = secrets.token_hex(8)
    OUTBOX.put(ciphertext, f"{name}.eml")
    return redirect(f"/report/sent/?r={name}", code=303)
