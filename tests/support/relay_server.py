"""The relay as production runs it: gunicorn with deploy/gunicorn.conf.py, on a loopback port.

``RelayServer(env, log).start()`` runs ``python -m gunicorn -c deploy/gunicorn.conf.py`` in
its own process group with the RELAY_* variables of ``env`` (and nothing of the test
process's own RELAY_*), ``RELAY_BIND`` on a free port, gunicorn's stderr into ``log``; it
returns once the form is served.  ``stop()`` ends it as systemd would (SIGTERM);
``kill()`` sends SIGKILL to the whole process group, master and workers at once.

``HttpClient`` speaks plain HTTP/1.1 to it (http.client, no redirects followed), as a
browser posting the form would.
"""

from __future__ import annotations

import http.client
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit


from devtools.ports import HOST, free_port
from relay.receipt import Receipts
from tests.support.reports import FORM_PATHS, VALID
from tests.support.site import ROOT


class RelayServer:
    def __init__(self, env: dict[str, str], log: Path, *, workers: int = 1, port: int = 0):
        self.env = dict(env)
        self.log = Path(log)
        self.workers = workers
        self.port = port or free_port()
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 30) -> RelayServer:
        env = {name: value for name, value in os.environ.items() if not name.startswith("RELAY_")}
        env.update(self.env, RELAY_BIND=f"{HOST}:{self.port}", RELAY_WORKERS=str(self.workers))
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "deploy" / "gunicorn.conf.py")],
                cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.process.returncode}:\n{self.log_text()[-3000:]}")
            try:
                if HttpClient(self.port, timeout=2).get(FORM_PATHS["ja"]).status == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.05)
        self.kill()
        raise RuntimeError(f"gunicorn did not serve the form within {timeout} s:\n{self.log_text()[-3000:]}")

    def stop(self, timeout: float = 15) -> None:
        """SIGTERM to the master (gunicorn's graceful stop), SIGKILL to the group if it lingers."""
        process = self.process
        if process is None:
            return
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                pass
        self.kill()

    def kill(self) -> None:
        """SIGKILL to master and workers at once: nothing gets to clean up."""
        process, self.process = self.process, None
        if process is None:
            return
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait(timeout=10)

    def log_text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace") if self.log.exists() else ""

    def client(self, timeout: float = 10) -> HttpClient:
        return HttpClient(self.port, timeout=timeout)


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: str

    @property
    def location(self) -> str | None:
        return self.headers.get("location")


class HttpClient:
    """One request per connection, like a browser's first visit; redirects are not followed."""

    def __init__(self, port: int, *, timeout: float = 10):
        self.port = port
        self.timeout = timeout

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None) -> Reply:
        connection = http.client.HTTPConnection(HOST, self.port, timeout=self.timeout)
        try:
            connection.request(method, path, body=body, headers=headers or {})
            response = connection.getresponse()
            data = response.read()
            return Reply(response.status, {k.lower(): v for k, v in response.getheaders()},
                         data.decode("utf-8", "replace"))
        finally:
            connection.close()

    def get(self, path: str) -> Reply:
        return self.request("GET", path)

    def token(self, lang: str = "ja") -> str:
        reply = self.get(FORM_PATHS[lang])
        assert reply.status == 200, reply.status
        return re.search(r'name="token" value="([^"]+)"', reply.body)[1]

    def submit(self, *, lang: str = "ja", token: str | None = None, **fields) -> Reply:
        """POST the form: ``VALID`` changed by ``fields``, with a fresh token unless one is given."""
        data = {**VALID, "token": token if token is not None else self.token(lang), **fields}
        body = urlencode({name: value for name, value in data.items() if value is not None}).encode()
        return self.request("POST", FORM_PATHS[lang], body,
                            {"Content-Type": "application/x-www-form-urlencoded", "Sec-Fetch-Site": "same-origin"})


def reference_in(location: str, secret_key: str) -> str:
    """The reference a confirmation redirect carries, opened with the server's secret as the
    relay opens it (relay.receipt), without asking the server."""
    sealed = parse_qs(urlsplit(location).query)["r"][0]
    receipt = Receipts(secret_key).open("report", sealed)
    assert receipt is not None, location
    return receipt.reference
