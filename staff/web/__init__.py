"""The local web interface: ``safeline-staff serve``.

A Flask application on 127.0.0.1 only, for the staff member at this computer: the case list,
a case with its reports and additions, notes, status, cases from phone calls, deletion on
request, and reply drafts opened in their own mail client; removal work (who has a case, each
address's requests, state and next date, what is due today, who hosts an address, request
drafts), the statistics of a period, and team sync (on opening and on demand, in the
background). Japanese at ``/``, English at
``/en/``. It works without JavaScript, loads nothing from any other host, and is guarded
against other pages in the same browser (``guard``).

``create_app`` (``app``) assembles the parts; ``server`` binds and makes the launch link.
"""

from __future__ import annotations

import html
import os
import sys
import webbrowser
from pathlib import Path

from staff.openpgp import PASSPHRASE_ENV
from staff.problems import StaffError

from .app import create_app
from .server import DEFAULT_PORT, LocalServer

__all__ = ["DEFAULT_PORT", "LocalServer", "create_app", "register"]


def register(commands) -> None:
    command = commands.add_parser(
        "serve", help="open the cases in your browser (a local interface on 127.0.0.1)",
        description="Serve the case store on 127.0.0.1 only and open it in your browser, with a secret made for "
                    "this start (the link printed). Stop with Ctrl+C. If your key file has a passphrase, it is "
                    f"asked for (or taken from ${PASSPHRASE_ENV}, for scripts and tests).")
    command.add_argument("--port", type=int, default=DEFAULT_PORT,
                         help=f"the port on 127.0.0.1 (default: {DEFAULT_PORT}; 0 for any free port)")
    command.add_argument("--no-browser", action="store_true", help="print the link only; do not open a browser")
    command.set_defaults(func=serve)


LAUNCHER = "open.html"


def open_in_browser(url: str, folder: Path) -> Path:
    """Open ``url`` in the staff member's browser without putting its secret on a command line.

    ``webbrowser`` starts the browser with the address as an argument, which every user of the
    computer can read in the process list while the browser runs. As Jupyter does, the browser
    gets instead a small page in the kit's own folder (the staff member's, readable by them
    alone) that forwards to the link; it is removed when serve stops.
    """
    page = folder / LAUNCHER
    text = ('<!doctype html><meta charset="utf-8"><title>Safeline staff kit</title>'
            f'<meta http-equiv="refresh" content="0;url={html.escape(url)}">'
            f'<p><a href="{html.escape(url)}">Safeline staff kit</a></p>\n')
    descriptor = os.open(page, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with open(descriptor, "w", encoding="utf-8") as out:
        out.write(text)
    webbrowser.open(page.resolve().as_uri())
    return page


def serve(args) -> int:
    from staff.home import Home
    from staff.openpgp import identity_of
    from staff.setup import open_store

    if not 0 <= args.port <= 65535:
        raise StaffError(f"--port {args.port}: give a port from 1 to 65535 (or 0 for any free port)")
    # A key file's passphrase comes from the environment or is asked (staff.openpgp.identity_of).
    home = Home(args.home)
    identity = identity_of(home)
    store = open_store(home, identity=identity)
    try:
        try:
            server = LocalServer(store, port=args.port, home=home, identity=identity)
        except OSError as error:
            raise StaffError(f"cannot listen on 127.0.0.1:{args.port} ({error.strerror or error}); "
                             "choose another with --port") from None
        # The launcher page's place is known before it is written: a Ctrl+C while the browser
        # starts (inside open_in_browser) still removes it.
        launcher = None if args.no_browser else home.folder / LAUNCHER
        # Ctrl+C may come at any moment from here on, even before serving starts (werkzeug's
        # serve_forever takes it itself): every way out is the same clean stop.
        try:
            print(f"The staff kit is at {server.url}", flush=True)
            print("Open that link (it holds this start's secret); stop with Ctrl+C.", flush=True)
            # Sync on opening: in the background, the pages never wait for it.
            server.sync_on_opening()
            if launcher is not None:
                open_in_browser(server.url, home.folder)
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.stop()
            if launcher is not None:
                launcher.unlink(missing_ok=True)
    finally:
        store.close()
    print("stopped", file=sys.stderr)
    return 0
