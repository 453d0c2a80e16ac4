"""Debian's redis-server on a loopback port for a test: started, stopped, frozen, started again.

``RedisServer(folder).start()`` runs ``redis-server --port <free> --bind 127.0.0.1 --save ''
--appendonly no --dir <folder>`` and returns once it answers PING; ``stop()`` ends it (the
port stays reserved for ``start()`` again: the relay's RELAY_RATELIMIT_STORAGE keeps working
after a restart); ``freeze()``/``thaw()`` stop and continue the process (SIGSTOP/SIGCONT): a
Redis that accepts connections and never answers.  Nothing is written to disk.

The fixture ``redis_server`` gives a started server and stops it after the test; ``module_redis``
one server for a whole test module.
./run test installs the package (``apt-get install -y redis-server``) when it is missing.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from devtools.ports import HOST, free_port

REDIS_SERVER = os.environ.get("REDIS_SERVER") or shutil.which("redis-server") or "/usr/bin/redis-server"


def ping(port: int, password: str | None = None, timeout: float = 0.5) -> bool:
    """Whether a Redis on ``port`` answers PING now (plain RESP, no client library)."""
    try:
        with socket.create_connection((HOST, port), timeout=timeout) as connection:
            if password is not None:
                connection.sendall(b"AUTH %s\r\n" % password.encode())
                if not connection.recv(64).startswith(b"+OK"):
                    return False
            connection.sendall(b"PING\r\n")
            return connection.recv(64).startswith(b"+PONG")
    except OSError:
        return False


class RedisServer:
    def __init__(self, folder: Path, port: int = 0, *, password: str | None = None):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.password = password
        self.log = self.folder / "redis.log"
        self._process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        """What RELAY_RATELIMIT_STORAGE would say, with the password if there is one."""
        auth = f":{self.password}@" if self.password is not None else ""
        return f"redis://{auth}{HOST}:{self.port}/0"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self, timeout: float = 10) -> RedisServer:
        if self.running:
            return self
        if not Path(REDIS_SERVER).exists():
            pytest.fail(f"no redis-server at {REDIS_SERVER}: apt-get install -y redis-server (./run test installs it)")
        command = [REDIS_SERVER, "--port", str(self.port), "--bind", HOST, "--save", "", "--appendonly", "no",
                   "--dir", str(self.folder), "--logfile", str(self.log), "--daemonize", "no",
                   "--protected-mode", "yes"]
        if self.password is not None:
            command += ["--requirepass", self.password]
        self._process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                         stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                log = self.log.read_text(errors="replace") if self.log.exists() else ""
                raise RuntimeError(f"redis-server exited with {self._process.returncode}: {log[-2000:]}")
            if ping(self.port, self.password, timeout=0.2):
                return self
            time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"redis-server did not answer PING on port {self.port} within {timeout} s")

    def stop(self, timeout: float = 5) -> None:
        """End the server (SIGTERM, then SIGKILL); connections now get "connection refused"."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGCONT)  # a frozen server cannot act on SIGTERM
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=timeout)

    def freeze(self) -> None:
        """SIGSTOP: the kernel still accepts connections, the server answers nothing."""
        assert self.running
        self._process.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        assert self.running
        self._process.send_signal(signal.SIGCONT)

    def client(self):
        import redis

        return redis.Redis(host=HOST, port=self.port, db=0, password=self.password, socket_timeout=2,
                           socket_connect_timeout=2)


@pytest.fixture(scope="module")
def module_redis(tmp_path_factory) -> Iterator[RedisServer]:
    """One server for a whole test module, for fast tests that leave it running: each test keeps
    to keys of its own, or empties the database first."""
    server = RedisServer(tmp_path_factory.mktemp("redis")).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def redis_server(tmp_path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path / "redis").start()
    try:
        yield server
    finally:
        server.stop()
