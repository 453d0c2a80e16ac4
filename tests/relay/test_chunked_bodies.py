"""A body sent in chunks, without Content-Length, straight to gunicorn: the same cap as any.

Behind nginx bodies arrive with their length; straight to gunicorn (a misconfigured proxy,
or none) a chunked body used to be cut at 64 KiB without a word, so the form lost its end
(and its token) and the reporter was told the form was "invalid".
"""

from __future__ import annotations

import socket
from urllib.parse import urlencode

import pytest

from devtools.ports import HOST
from relay import MAX_BODY
from tests.support.relay_app import outbox_files
from tests.support.relay_server import RelayServer
from tests.support.reports import VALID


@pytest.fixture
def server(tmp_path, relay_env, catalogs):
    started = RelayServer(relay_env, tmp_path / "gunicorn.log").start()
    yield started
    started.stop()


def post_chunked(port: int, body: bytes, chunk: int = 8192) -> bytes:
    """POST ``body`` with Transfer-Encoding: chunked; the whole raw response."""
    with socket.create_connection((HOST, port), timeout=30) as connection:
        connection.sendall(b"POST /report/ HTTP/1.1\r\nHost: relay.test\r\n"
                           b"Content-Type: application/x-www-form-urlencoded\r\nSec-Fetch-Site: same-origin\r\n"
                           b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n")
        try:
            for start in range(0, len(body), chunk):
                piece = body[start:start + chunk]
                connection.sendall(b"%x\r\n%s\r\n" % (len(piece), piece))
            connection.sendall(b"0\r\n\r\n")
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
