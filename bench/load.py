"""A small HTTP/1.1 load generator: fixed requests, fixed connections, per-request latency.

Every request is prepared beforehand as raw bytes (so each POST can carry its own single-use
form token), then sent over ``concurrency`` connections spread over ``processes`` processes
(threads inside each, blocking sockets: the GIL is released while waiting).  A connection is
kept alive while the server allows it; gunicorn's sync workers answer ``Connection: close``,
so there every request opens a new TCP connection, and its latency includes the connect.

The run is bounded twice: by the number of requests and by ``max_seconds`` (each connection
stops when the deadline passes); each socket operation times out after ``timeout`` seconds.

    .venv/bin/python bench/load.py http://127.0.0.1:8001/report/ -n 2000 -c 4 \
        --data 'role=self&...' -H 'Content-Type: application/x-www-form-urlencoded'
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import socket
import threading
import time
from array import array
from collections import Counter
from dataclasses import dataclass, field
from urllib.parse import urlsplit

if __package__ in (None, ""):
    import sys

    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # the project, for bench.*
    from bench.common import percentile  # noqa: E402
else:
    from .common import percentile


@dataclass
class Result:
    sent: int = 0
    seconds: float = 0.0
    statuses: Counter = field(default_factory=Counter)
    errors: Counter = field(default_factory=Counter)
    latencies_ms: list[float] = field(default_factory=list)  # ascending
    connections_opened: int = 0
    stopped_by_deadline: bool = False
    client_cpu: float = 0.0  # CPU seconds of the load processes
    server_cpu: float | None = None  # CPU seconds of the server, when the caller measured it
    others_busy: float | None = None  # share of all CPUs used by other processes meanwhile (0..1)

    @property
    def rate(self) -> float:
        return self.sent / self.seconds if self.seconds else 0.0

    def p(self, fraction: float) -> float:
        return percentile(self.latencies_ms, fraction)

    def summary(self) -> str:
        statuses = ", ".join(f"{code}: {count}" for code, count in sorted(self.statuses.items()))
        errors = f"; errors {dict(self.errors)}" if self.errors else ""
        deadline = " (stopped by the time limit)" if self.stopped_by_deadline else ""
        cpu = f"CPU/request: load tool {self.client_cpu / max(self.sent, 1) * 1000:.2f} ms"
        if self.server_cpu is not None:
            cpu += f", server {self.server_cpu / max(self.sent, 1) * 1000:.2f} ms"
        if self.others_busy is not None:
            cpu += f"; other processes used {self.others_busy:.0%} of the CPUs"
        return (f"{self.sent} requests in {self.seconds:.2f} s = {self.rate:.0f} req/s; latency ms "
                f"p50 {self.p(0.50):.1f}, p90 {self.p(0.90):.1f}, p99 {self.p(0.99):.1f}, max {self.p(1.0):.1f}; "
                f"status {{{statuses}}}; {self.connections_opened} connections; {cpu}{errors}{deadline}")


def request_bytes(method: str, host: str, port: int, path: str, *, headers: dict[str, str] | None = None,
                  body: bytes = b"") -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}:{port}"]
    for name, value in (headers or {}).items():
        lines.append(f"{name}: {value}")
    if body or method in ("POST", "PUT"):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


class _Connection:
    def __init__(self, host: str, port: int, timeout: float):
        self.address = (host, port)
        self.timeout = timeout
        self.sock: socket.socket | None = None
        self.opened = 0

    def _open(self) -> socket.socket:
        sock = socket.create_connection(self.address, timeout=self.timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.opened += 1
        return sock

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    def exchange(self, request: bytes) -> int:
        """Send one request, read the whole response; return its status code."""
        reused = self.sock is not None
        if self.sock is None:
            self.sock = self._open()
        sock = self.sock
        buffer = b""
        try:
            sock.sendall(request)
            while b"\r\n\r\n" not in buffer:
                chunk = sock.recv(65536)
                if not chunk:
                    raise ConnectionResetError("closed before the response")
                buffer += chunk
        except (ConnectionResetError, BrokenPipeError):
            self.close()
            if reused and not buffer:
                # A kept-alive connection the server had closed meanwhile: nothing was
                # answered, so sending once more on a fresh connection is safe.
                return self.exchange(request)
            raise
        head, _, rest = buffer.partition(b"\r\n\r\n")
        status = int(head[9:12])
        length = None
        close = head.startswith(b"HTTP/1.0")
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"connection":
                close = value.strip().lower() == b"close"
        if length is None:  # no length: the body ends when the server closes
            while chunk := sock.recv(65536):
                rest += chunk
            close = True
        else:
            while len(rest) < length:
                chunk = sock.recv(65536)
                if not chunk:
                    raise ConnectionResetError("closed in the body")
                rest += chunk
        if close:
            self.close()
        return status


def _connection_worker(host, port, requests, timeout, deadline_ns, out):
    connection = _Connection(host, port, timeout)
    latencies = array("q")
    statuses: Counter = Counter()
    errors: Counter = Counter()
    started = time.monotonic_ns()
    stopped = False
    for request in requests:
        if time.monotonic_ns() > deadline_ns:
            stopped = True
            break
        t0 = time.perf_counter_ns()
        try:
            status = connection.exchange(request)
        except OSError as error:
            connection.close()
            errors[type(error).__name__] += 1
            continue
        latencies.append(time.perf_counter_ns() - t0)
        statuses[status] += 1
    ended = time.monotonic_ns()
    connection.close()
    out.append((started, ended, latencies, statuses, errors, connection.opened, stopped))


def _process_main(host, port, slices, timeout, max_seconds, ready, go, queue):
    """One load process: a thread per connection; reports its figures through ``queue``."""
    out: list = []
    ready.set()
    go.wait(60)
    deadline_ns = time.monotonic_ns() + int(max_seconds * 1e9)
    threads = [threading.Thread(target=_connection_worker, daemon=True,
                                args=(host, port, requests, timeout, deadline_ns, out))
               for requests in slices]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(max_seconds + timeout * 3 + 5)
    queue.put([(s, e, lat.tobytes(), dict(st), dict(er), op, stop) for s, e, lat, st, er, op, stop in out])


def run(host: str, port: int, requests: list[bytes], *, concurrency: int, processes: int = 2,
        max_seconds: float = 60.0, timeout: float = 10.0) -> Result:
    """Send ``requests`` (in order, spread round-robin over the connections); wait for all."""
    concurrency = max(1, min(concurrency, len(requests)))
    processes = max(1, min(processes, concurrency))
    slices = [requests[i::concurrency] for i in range(concurrency)]
    per_process = [slices[i::processes] for i in range(processes)]
    context = multiprocessing.get_context("fork")  # the request lists are inherited, not pickled
    queue = context.Queue()
    go = context.Event()
    readies = [context.Event() for _ in per_process]
    children = [context.Process(target=_process_main, daemon=True,
                                args=(host, port, mine, timeout, max_seconds, ready, go, queue))
                for mine, ready in zip(per_process, readies)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    for child in children:
        child.start()
    try:
        for ready in readies:
            ready.wait(30)
        go.set()
        parts = []
        for _ in children:
            parts += queue.get(timeout=max_seconds + timeout * 3 + 30)
    finally:
        for child in children:
            child.join(5)
            if child.is_alive():
                child.kill()
                child.join(5)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)  # the load processes, now reaped
    result = Result()
    result.client_cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    latencies: list[float] = []
    first, last = None, None
    for started, ended, raw, statuses, errors, opened, stopped in parts:
        lat = array("q")
        lat.frombytes(raw)
        latencies += [value / 1e6 for value in lat]
        result.statuses.update(statuses)
        result.errors.update(errors)
        result.connections_opened += opened
        result.stopped_by_deadline |= stopped
        first = started if first is None else min(first, started)
        last = ended if last is None else max(last, ended)
    latencies.sort()
    result.latencies_ms = latencies
    result.sent = len(latencies)
    result.seconds = (last - first) / 1e9 if parts else 0.0
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url", help="http://127.0.0.1:PORT/path (loopback only)")
    parser.add_argument("-n", "--requests", type=int, default=1000)
    parser.add_argument("-c", "--concurrency", type=int, default=4)
    parser.add_argument("-p", "--processes", type=int, default=2)
    parser.add_argument("-X", "--method", default=None)
    parser.add_argument("-d", "--data", default=None, help="request body (makes it a POST)")
    parser.add_argument("-H", "--header", action="append", default=[], help="'Name: value'")
    parser.add_argument("--max-seconds", type=float, default=60.0)
    args = parser.parse_args(argv)
    parts = urlsplit(args.url)
    if parts.scheme != "http" or parts.hostname not in ("127.0.0.1", "localhost", "::1"):
        parser.error("only http:// on the loopback interface")
    body = (args.data or "").encode()
    method = args.method or ("POST" if args.data is not None else "GET")
    headers = dict(line.split(":", 1) for line in args.header)
    headers = {name.strip(): value.strip() for name, value in headers.items()}
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    request = request_bytes(method, parts.hostname, parts.port or 80, path, headers=headers, body=body)
    result = run(parts.hostname, parts.port or 80, [request] * args.requests, concurrency=args.concurrency,
                 processes=args.processes, max_seconds=args.max_seconds)
    print(result.summary())


if __name__ == "__main__":
    main()
