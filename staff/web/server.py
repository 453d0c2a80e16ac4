"""The interface's server: 127.0.0.1 only, a secret per launch, the link to open.

As Jupyter does: each start makes a new random secret (``secrets.token_urlsafe(32)``) and a
link ``http://127.0.0.1:PORT/?token=SECRET`` that is printed and opened in the staff
member's browser; the guard turns the token into a cookie. The server binds to 127.0.0.1
only (never 0.0.0.0, never a name that could resolve elsewhere) and answers in threads
(werkzeug's ``make_server(..., threaded=True)``), without logging requests: request lines
would carry references and searches.
"""

from __future__ import annotations

import secrets
import socket
import threading

from werkzeug.serving import WSGIRequestHandler, make_server

from .app import create_app

HOST = "127.0.0.1"
DEFAULT_PORT = 8765


class _Quiet(WSGIRequestHandler):
    def log_request(self, *args, **kwargs):  # a request line holds references and searches
        pass


class LocalServer:
    """The interface over ``store`` on 127.0.0.1:``port`` (0: any free port)."""

    def __init__(self, store, *, port: int = DEFAULT_PORT, secret: str | None = None, home=None, identity=None):
        self.secret = secret or secrets.token_urlsafe(32)
        app = {}
        # Bind first, so that the app knows its real port (the Host check and the cookie's name).
        # Our own socket: a port in use is an OSError here (werkzeug would exit the process).
        listener = socket.create_server((HOST, port))
        try:
            self._server = make_server(HOST, listener.getsockname()[1],
                                       lambda environ, start: app["app"](environ, start),
                                       threaded=True, request_handler=_Quiet, fd=listener.fileno())
        finally:
            listener.close()  # the server holds its own duplicate
        self.port = self._server.server_address[1]
        self.app = create_app(store, secret=self.secret, port=self.port, home=home, identity=identity)
        app["app"] = self.app
        self._thread: threading.Thread | None = None

    @property
    def origin(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def url(self) -> str:
        """The link to open: it carries the launch secret."""
        return f"{self.origin}/?token={self.secret}"

    def sync_on_opening(self) -> bool:
        """Start a team sync in the background (when the kit has a team); whether one started."""
        return self.app.extensions["staff_syncer"].start()

    def serve_forever(self) -> None:
        self._server.serve_forever()

    def start(self) -> LocalServer:
        """Serve in a background thread (tests, and anything that runs beside it)."""
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        # shutdown() waits for a serve_forever loop to end; it would wait for ever if none ran
        # (Ctrl+C before serving began), so only a loop of start()'s thread is asked to end.
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join()
            self._thread = None
        self._server.server_close()
