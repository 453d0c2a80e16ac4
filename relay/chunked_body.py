"""A body sent in chunks (no Content-Length) meets the same size cap as any other.

Werkzeug checks ``MAX_CONTENT_LENGTH`` against the Content-Length header; a chunked body
from a server that terminates the stream (gunicorn) is only read up to the cap, and the
rest silently dropped: a cut form, whose token at the end is then "invalid".
"""

from __future__ import annotations

import io


class ChunkedBodyLimit:
    """WSGI middleware: reads a body without Content-Length here, up to one byte over the
    cap, and hands it on with its length, so that an over-long one is refused with 413 and
    its page like any other."""

    DRAIN = 1024 * 1024  # read on past the cap up to this much, so the client sees the 413

    def __init__(self, app, limit: int):
        self.app = app
        self.limit = limit

    def __call__(self, environ, start_response):
        chunked = "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
        if (chunked or not environ.get("CONTENT_LENGTH")) and environ.get("wsgi.input_terminated"):
            stream = environ["wsgi.input"]
            body = stream.read(self.limit + 1)
            if len(body) > self.limit:
                drained = 0
                while drained < self.DRAIN and (chunk := stream.read(65536)):
                    drained += len(chunk)
                body = b""  # Werkzeug refuses by the length alone, before reading anything
                environ["CONTENT_LENGTH"] = str(self.limit + 1)
            else:
                environ["CONTENT_LENGTH"] = str(len(body))
            # Now an ordinary body of known length: no longer chunked, no longer open-ended.
            environ["wsgi.input"] = io.BytesIO(body)
            environ.pop("HTTP_TRANSFER_ENCODING", None)
            del environ["wsgi.input_terminated"]
        return self.app(environ, start_response)
