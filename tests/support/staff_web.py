"""The staff kit's web interface in tests: a store with cases, the app, a logged-in client.

- ``filled_store(folder)``: a fresh store (random key) holding a few cases made as the relay
  makes them (tests/support/staff_records.py; ``filled_into(store)`` adds them to any store):
  a report with two additions, a hostile report
  (markup and script in every field, a right-to-left override, 30 URLs, 4,000 characters),
  an English report, an addition whose report has not come, and a phone case. Returns the
  store and ``Cases``, the references by name.
- ``running_serve(home)``: the real ``safeline-staff serve --no-browser`` (``Served``: its
  process and link), stopped after as Ctrl+C stops it, which must end it with status 0.
- ``serving(home, *options)``: the real ``safeline-staff serve`` in a process of its own, with
  the first line it printed (the launch link), stopped as Ctrl+C stops it afterwards;
  ``RecordingBrowser(folder)``: a "browser" for ``BROWSER`` that only writes down what it was
  given to open.
- ``kit_app(folder, config)``: a kit's folder with ``config`` as its config.json and the
  filled store, served by the app: ``(app, store, cases)``, the store closed after;
  ``get(client, path, status)``: the response, its status checked.
- ``client_for(app)``: a Flask test client at ``http://127.0.0.1:PORT`` that has already opened
  the launch link, so it holds the cookie; ``csrf(app)`` the token a POST form carries.
"""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest

from staff.web import create_app
from staff.web.guard import csrf_token
from tests.support.site import ROOT
from tests.support.staff_records import T0, addition, message_id, new_store, report

PORT = 18765
ORIGIN = f"http://127.0.0.1:{PORT}"
SECRET = "test-secret-" + "x" * 32

HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)><a href="https://evil.example/">click</a>'
RLO = "\u202eexe.txt"  # a right-to-left override: shown isolated, never reorders the page
HOSTILE_URLS = tuple(f"https://h{index}.bad.example/p?q=<b>{index}</b>&x=\"'" for index in range(30))
SPOOF_URL = "https://evil.example/\u202emoc.elgoog"  # shown with a visible U+202E mark
LONG = ("長い説明。" * 800)[:4000]


@dataclass
class Cases:
    plain: str
    hostile: str
    english: str
    orphan: str
    phone: str


def filled_store(folder: Path):
    """A fresh store in ``folder`` (random key) with the cases of ``filled_into``."""
    store, _ = new_store(folder)
    return store, filled_into(store)


def filled_into(store) -> Cases:
    """Adds the test cases to ``store``; their references."""
    plain = report(contact_safety="平日の夜だけメールしてください。夫が見ることがあります。", police_referral=True,
                   email="hanako@example.jp", where="掲示板", received_at=T0)
    store.add(plain, message_id=message_id())
    store.add(addition(plain.reference, received_at=T0 + timedelta(hours=2), description="二つ目を見つけました。"),
              message_id=message_id())
    store.add(addition(plain.reference, received_at=T0 + timedelta(hours=1), description="一つ目の追加です。",
                       urls=("https://more.example.net/q/1",)), message_id=message_id())
    hostile = report(role="guardian", email="a.b+x@example.jp", urls=HOSTILE_URLS,
                     description=HOSTILE + RLO + LONG[: 4000 - len(HOSTILE) - len(RLO)],
                     contact_safety=HOSTILE + RLO, where=HOSTILE, received_at=T0 + timedelta(days=1))
    store.add(hostile, message_id=message_id())
    english = report(email="alex@example.org", lang="en", description="Photos of me were posted.",
                     urls=("https://images.example.com/p/9", SPOOF_URL),
                     contact_safety="Only write after 6 pm.", received_at=T0 + timedelta(days=2))
    store.add(english, message_id=message_id())
    orphan_reference = report().reference
    store.add(addition(orphan_reference, received_at=T0 + timedelta(days=3)), message_id=message_id())
    phone = store.add_phone_case(role="self", description="電話で相談がありました。", urls=["https://phone.example.jp/x"],
                                 at=T0 + timedelta(days=4))
    return Cases(plain=plain.reference, hostile=hostile.reference, english=english.reference,
                        orphan=orphan_reference, phone=phone)


def make_app(store):
    app = create_app(store, secret=SECRET, port=PORT)
    app.testing = False  # errors become pages, as when served
    return app


def client_for(app):
    client = app.test_client()
    client.environ_base["HTTP_HOST"] = f"127.0.0.1:{PORT}"
    response = client.get(f"{ORIGIN}/?token={SECRET}")
    assert response.status_code == 303, response.status_code
    return client


@contextmanager
def kit_app(folder: Path, config: dict):
    import json

    from staff.home import Home

    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(config))
    (folder / "store-key.asc").write_text("a stand-in: the store is opened with its key by the test\n")
    store, _ = new_store(folder)
    try:
        cases = filled_into(store)
        app = create_app(store, secret=SECRET, port=PORT, home=Home(folder))
        app.testing = False  # errors become pages, as when served
        yield app, store, cases
    finally:
        store.close()


def get(client, path: str, status: int = 200):
    response = client.get(ORIGIN + path)
    assert response.status_code == status, (path, response.status_code, response.get_data(as_text=True)[-800:])
    return response


def csrf() -> str:
    return csrf_token(SECRET)


@contextmanager
def serving(home, *options: str, env: dict | None = None,
            ignore_sigint: bool = False) -> Iterator[tuple[subprocess.Popen, str]]:
    """``python -m staff --home HOME serve --port 0 OPTIONS``: the process and the first line it
    printed. Left running by the test, it is stopped with SIGINT (killed if that fails) after.
    ``ignore_sigint`` starts it as a shell's background job is started: with SIGINT ignored."""
    process = subprocess.Popen(
        [sys.executable, "-m", "staff", "--home", str(home.folder), "serve", "--port", "0", *options],
        cwd=ROOT, env={**os.environ, **(env or {})}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=(lambda: signal.signal(signal.SIGINT, signal.SIG_IGN)) if ignore_sigint else None)
    try:
        yield process, process.stdout.readline()
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


class Served:
    """The running command: its link (with the secret) and its origin."""

    def __init__(self, process: subprocess.Popen, url: str):
        self.process = process
        self.url = url
        self.origin = url.split("/?", 1)[0]

    def at(self, path: str) -> str:
        return self.origin + path


def start_serve(home) -> Served:
    """The real ``safeline-staff serve --no-browser`` on a free port, once it printed its link."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    # python -m staff: the command's own entry point (staff.cli.main), as safeline-staff runs it.
    # -X faulthandler: a server that does not stop is made to show where each thread is (SIGABRT).
    process = subprocess.Popen([sys.executable, "-X", "faulthandler", "-m", "staff", "--home", str(home.folder), "serve", "--no-browser",
                                "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    lines: queue.Queue = queue.Queue()

    def read():
        for line in process.stdout:
            lines.put(line)
        lines.put(None)  # the command ended

    threading.Thread(target=read, daemon=True).start()
    try:
        line = lines.get(timeout=60)
    except queue.Empty:
        line = None
    if line is None:
        process.kill()
        pytest.fail("safeline-staff serve printed no link: " + process.stderr.read())
    found = re.search(r"http://127\.0\.0\.1:\d+/\?token=[A-Za-z0-9_-]{43}", line)
    assert found, line
    return Served(process, found.group(0))


@contextmanager
def running_serve(home) -> Iterator[Served]:
    """``start_serve``, stopped after as Ctrl+C stops it: it must end with status 0 within a
    minute, or the test fails with where its threads were (faulthandler, on SIGABRT)."""
    running = start_serve(home)
    try:
        yield running
    finally:
        running.process.send_signal(signal.SIGINT)  # as Ctrl+C: the command closes the store and ends
        try:
            assert running.process.wait(timeout=60) == 0
        except subprocess.TimeoutExpired:
            running.process.send_signal(signal.SIGABRT)
            try:
                running.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                pass
            pytest.fail("safeline-staff serve did not stop on SIGINT; where its threads were:\n"
                        + running.process.stderr.read()[-6000:])
        finally:
            if running.process.poll() is None:
                running.process.kill()


class RecordingBrowser:
    """A program for ``BROWSER`` (which ``webbrowser`` obeys) that writes its arguments to a file."""

    def __init__(self, folder: Path):
        self.program = folder / "browser"
        self.seen = folder / "browser-argv.txt"
        self.program.write_text(f"#!/bin/sh\nprintf '%s\\n' \"$@\" > {self.seen}\n")
        self.program.chmod(0o755)
        self.env = {"BROWSER": str(self.program)}

    def opened(self, timeout: float = 30) -> str:
        """What it was asked to open (waiting for the whole line: the shell makes the file first)."""
        deadline = time.monotonic() + timeout
        while not (self.seen.exists() and self.seen.read_text().endswith("\n")):
            if time.monotonic() > deadline:
                raise AssertionError("serve opened no browser")
            time.sleep(0.05)
        return self.seen.read_text().strip()
