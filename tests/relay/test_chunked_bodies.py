"""A body sent in chunks, without Content-Length, straight to gunicorn: the same cap as any.

Behind nginx bodies arrive with their length; straight to gunicorn (a misconfigured proxy,
or none) a chunked body used to be cut at 64 KiB without a word, so the form lost its end
(and its token) and the reporter was told the form was "invalid".  Past the cap the relay
reads on, up to about 1 MiB, so that a client still sending sees the 413 page, not a reset.

The last tests give the middleware (relay.chunked_body) requests as other WSGI servers may
frame them: a body with no length header at all, a stream the server does not end.
"""

from __future__ import annotations

import io
import socket
from urllib.parse import urlencode

import pytest
from flask import Flask, request
from werkzeug.test import EnvironBuilder, run_wsgi_app

from devtools.ports import HOST
from relay import MAX_BODY
from relay.chunked_body import ChunkedBodyLimit
from tests.support.relay_app import outbox_files
from tests.support.relay_server import RelayServer
from tests.support.reports import VALID


@pytest.fixture
def server(tmp_path, relay_env, catalogs):
    started = RelayServer(relay_env, tmp_path / "gunicorn.log").start()
    yield started
    started.stop()


CHUNKED_HEAD = (b"POST /report/ HTTP/1.1\r\nHost: relay.test\r\n"
                b"Content-Type: application/x-www-form-urlencoded\r\nSec-Fetch-Site: same-origin\r\n"
                b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n")
LAST_CHUNK = b"0\r\n\r\n"


def chunk(piece: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(piece), piece)


def post_chunked(port: int, body: bytes, size: int = 8192) -> bytes:
    """POST ``body`` with Transfer-Encoding: chunked; the whole raw response."""
    with socket.create_connection((HOST, port), timeout=30) as connection:
        connection.sendall(CHUNKED_HEAD)
        try:
            for start in range(0, len(body), size):
                connection.sendall(chunk(body[start:start + size]))
            connection.sendall(LAST_CHUNK)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may answer and close before reading everything
        response = b""
        while data := connection.recv(65536):
            response += data
    return response


def form(token: str, description: str) -> bytes:
    return urlencode({**VALID, "description": description, "token": token}).encode()


def form_of_size(token: str, size: int) -> bytes:
    """A valid report of exactly ``size`` bytes, padded by a field the relay does not read."""
    body = form(token, "ちょうど上限の大きさの通報です。") + b"&padding="
    assert len(body) < size
    return body + b"x" * (size - len(body))


def post_sized(port: int, body: bytes) -> bytes:
    """POST ``body`` with its Content-Length, as a browser does; the whole raw response."""
    with socket.create_connection((HOST, port), timeout=30) as connection:
        connection.sendall(b"POST /report/ HTTP/1.1\r\nHost: relay.test\r\n"
                           b"Content-Type: application/x-www-form-urlencoded\r\nSec-Fetch-Site: same-origin\r\n"
                           b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body))
        try:
            connection.sendall(body)
        except (BrokenPipeError, ConnectionResetError):
            pass
        response = b""
        while data := connection.recv(65536):
            response += data
    return response


def test_the_cap_is_64_kib():
    """nginx's client_max_body_size (128k) and its comments count on the relay refusing past 64 KiB."""
    assert MAX_BODY == 64 * 1024


def test_a_chunked_form_within_the_cap_is_accepted(server, outbox_dir):
    response = post_chunked(server.port, form(server.client().token(), "分けて送られた通報です。"))
    assert response.startswith(b"HTTP/1.1 303 ")
    assert len(outbox_files(outbox_dir)) == 1


@pytest.mark.parametrize("size", [MAX_BODY + 1, 100_000, 10 * 1024 * 1024])
def test_a_chunked_body_over_the_cap_is_refused_with_413_and_its_page(server, outbox_dir, size):
    body = form(server.client().token(), "")
    body += b"x" * (size - len(body))
    response = post_chunked(server.port, body)
    head, _, page = response.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413 "), head[:200]
    assert b"Content-Security-Policy: default-src 'none'" in head
    assert "送られた内容が大きすぎます".encode() in page
    assert outbox_files(outbox_dir) == []
    assert "refused: 413" in server.log_text()


@pytest.mark.parametrize("send", [post_chunked, post_sized], ids=["chunked", "with-length"])
def test_a_body_of_exactly_the_cap_is_accepted_and_one_byte_more_is_refused(server, outbox_dir, send):
    token = server.client().token()
    response = send(server.port, form_of_size(token, MAX_BODY))
    assert response.startswith(b"HTTP/1.1 303 "), response[:300]
    assert len(outbox_files(outbox_dir)) == 1

    response = send(server.port, form_of_size(server.client().token(), MAX_BODY + 1))
    assert response.startswith(b"HTTP/1.1 413 "), response[:300]
    assert len(outbox_files(outbox_dir)) == 1


def connect_with_a_small_send_buffer(port: int) -> socket.socket:
    """A connection whose own send buffer is small: what the kernel holds for the client cannot
    hide a relay that stopped reading (its receive buffer holds some hundred KiB at most)."""
    connection = socket.socket()
    connection.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 16 * 1024)
    connection.settimeout(30)
    connection.connect((HOST, port))
    return connection


def test_a_client_that_sends_its_whole_body_first_gets_the_whole_413_page(server, outbox_dir):
    """The drain: a client (curl, a browser) sends the whole request before it reads the answer.
    Had the relay stopped reading at the cap, the client, still sending, would see its connection
    reset and show an error instead of the page.  Here the body is some hundred KiB past the cap,
    well within what the relay reads on, so every byte is taken and the whole page arrives,
    followed by a clean end."""
    body = form(server.client().token(), "")
    body += b"x" * (MAX_BODY + 768 * 1024 - len(body))
    with connect_with_a_small_send_buffer(server.port) as connection:
        try:
            connection.sendall(CHUNKED_HEAD + b"".join(chunk(body[start:start + 8192])
                                                       for start in range(0, len(body), 8192)) + LAST_CHUNK)
        except (BrokenPipeError, ConnectionResetError) as error:
            pytest.fail(f"the relay stopped reading the body: {error!r}")
        response = b""
        try:
            while data := connection.recv(65536):
                response += data
        except ConnectionResetError:
            pytest.fail(f"the connection was reset after {len(response)} bytes of the answer")
    head, _, page = response.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413 "), head[:200]
    assert f"Content-Length: {len(page)}".encode() in head.split(b"\r\n")
    assert "送られた内容が大きすぎます".encode() in page
    assert outbox_files(outbox_dir) == []


def test_a_body_without_end_is_cut_off_about_a_mebibyte_past_the_cap(server):
    """The drain is bounded: a client that sends chunk after chunk is answered and cut off once
    the relay has read about 1 MiB past the cap, not when the client chooses to stop."""
    total, piece, sent = 16 * 1024 * 1024, chunk(b"x" * 65536), 0
    with connect_with_a_small_send_buffer(server.port) as connection:
        connection.sendall(CHUNKED_HEAD)
        try:
            while sent < total:
                connection.sendall(piece)
                sent += 65536
            connection.sendall(LAST_CHUNK)
        except (BrokenPipeError, ConnectionResetError):
            pass  # cut off: what follows is the answer sent before
        response = b""
        try:
            while data := connection.recv(65536):
                response += data
        except ConnectionResetError:
            pass
    assert response.startswith(b"HTTP/1.1 413 "), response[:200]
    assert MAX_BODY + 1024 * 1024 <= sent < total, f"{sent} bytes sent before the relay answered"


# -- the middleware on its own, as other WSGI servers may hand it a request --------------------

def echo(limit: int) -> Flask:
    """A Flask app with the cap ``limit`` behind ChunkedBodyLimit, as the relay is: it answers
    with the body it was given."""
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = limit
    app.add_url_rule("/", "echo", lambda: request.get_data(), methods=["POST"])
    app.wsgi_app = ChunkedBodyLimit(app.wsgi_app, limit)
    return app


def call(app: Flask, body: io.BytesIO, **framing) -> tuple[str, bytes]:
    """POST ``body`` as the server's ``wsgi.input``, framed by ``framing`` (environ keys) and
    nothing else: no Content-Length unless given.  The status and the body of the answer."""
    environ = EnvironBuilder(method="POST", path="/").get_environ()
    environ.pop("CONTENT_LENGTH", None)
    environ.pop("wsgi.input_terminated", None)
    environ.update({"wsgi.input": body, **framing})
    answer, status, _ = run_wsgi_app(app, environ, buffered=True)
    return status, b"".join(answer)


# How a body without Content-Length arrives from a server that ends the stream at the body's end:
# in chunks (HTTP/1.1), or with no header about its length at all (HTTP/2 frames carry it).
TERMINATED = {
    "chunked": {"HTTP_TRANSFER_ENCODING": "chunked", "wsgi.input_terminated": True},
    "no-length-header": {"wsgi.input_terminated": True},
}


@pytest.mark.parametrize("limit", [MAX_BODY, 1001])
@pytest.mark.parametrize("framing", TERMINATED.values(), ids=TERMINATED.keys())
def test_any_cap_holds_for_a_body_without_its_length(framing, limit):
    """Exactly the cap passes whole (never cut) and one byte more is refused, whatever the cap
    (even or odd) and however the server marks a body without Content-Length."""
    body = bytes(range(256)) * (limit // 256 + 1)
    status, answer = call(echo(limit), io.BytesIO(body[:limit]), **framing)
    assert (status, answer) == ("200 OK", body[:limit])
    status, _ = call(echo(limit), io.BytesIO(body[:limit + 1]), **framing)
    assert status.startswith("413 ")


@pytest.mark.parametrize("chunked", [{"HTTP_TRANSFER_ENCODING": "chunked"}, {}], ids=["chunked", "no-length-header"])
def test_an_input_the_server_does_not_end_is_left_unread(chunked):
    """A server that does not set wsgi.input_terminated hands over its socket as it is: read past
    the body's end, it would wait for the client forever.  The middleware leaves it to Werkzeug,
    which reads nothing from it."""
    stream = io.BytesIO(b"a=1" * 100)
    status, answer = call(echo(MAX_BODY), stream, **chunked)
    assert (status, answer, stream.tell()) == ("200 OK", b"", 0)
