"""Debian's nginx with deploy/nginx as shipped, configured to run on loopback ports.

The snippets are copied with only their paths replaced; the caller writes the server blocks
(the listen addresses, the certificate, the site root, the relay's port), and ``configure``
puts them into an nginx.conf of their own folder, checks it with ``nginx -t`` and returns the
command that runs it in the foreground.  Used by the tests (tests/support/nginx_server.py)
and by benchmark (b) (bench/nginx_stack.py).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy" / "nginx"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
SNIPPETS = ("safeline-limits.conf", "safeline-site.conf", "safeline-relay.conf")
TEMPORARY = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")


def install_snippets(folder: Path) -> Path:
    """The snippets of deploy/nginx as shipped, in ``folder``/snippets, logging into ``folder``/logs."""
    snippets = folder / "snippets"
    snippets.mkdir(parents=True)
    (folder / "logs").mkdir()
    for name in SNIPPETS:
        text = (DEPLOY / name).read_text(encoding="utf-8")
        text = text.replace("/etc/nginx/snippets/", f"{snippets}/").replace("/var/log/nginx/", f"{folder}/logs/")
        (snippets / name).write_text(text, encoding="utf-8")
    return snippets


def configure(folder: Path, http: str, *, workers: str = "1", error_log: str = "warn",
              connections: int = 64) -> list[str]:
    """Write ``folder``/nginx.conf with ``http`` inside its http block, check it with
    ``nginx -t`` (RuntimeError if it fails) and return the command that runs it."""
    # Every temporary file in the folder: nginx's defaults are under /var/lib/nginx.
    temporary = "\n".join(f"    {kind}_temp_path {folder}/{kind};" for kind in TEMPORARY)
    (folder / "nginx.conf").write_text(f"""worker_processes {workers};
pid {folder}/nginx.pid;
error_log {folder}/logs/error.log {error_log};
events {{ worker_connections {connections}; }}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
{temporary}
{http}
}}
""", encoding="utf-8")
    check = subprocess.run([NGINX, "-t", "-p", str(folder), "-c", str(folder / "nginx.conf")],
                           capture_output=True, text=True)
    if check.returncode:
        raise RuntimeError(f"nginx -t: {check.stderr}")
    return [NGINX, "-p", str(folder), "-c", str(folder / "nginx.conf"), "-g", "daemon off; user root;"]
