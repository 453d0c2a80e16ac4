"""Debian's nginx, running deploy/nginx/ as shipped, on loopback ports for a test.

The production files are copied with only what cannot work in a test replaced: the listen
addresses (127.0.0.1 and free ports), the certificate (a fresh self-signed one), the
site root, the relay's port and where the snippets and the error log live.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy" / "nginx"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
SNIPPETS = ("safeline-limits.conf", "safeline-site.conf", "safeline-relay.conf")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


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


def _wait_for_port(port: int, process: subprocess.Popen, seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"nginx exited: {process.stderr.read()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("nginx did not start")


class Nginx:
    def __init__(self, folder: Path, site_root: Path, relay_port: int):
        self.folder = folder
        self.https_port, self.http_port = free_port(), free_port()
        snippets = install_snippets(folder)
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
             "-keyout", str(folder / "key.pem"), "-out", str(folder / "cert.pem")],
            check=True, capture_output=True,
        )
        site = (DEPLOY / "safeline.conf").read_text(encoding="utf-8")
        for old, new in [
            ("server 127.0.0.1:8001;", f"server 127.0.0.1:{relay_port};"),
            ("    listen 80;\n    listen [::]:80;\n", f"    listen 127.0.0.1:{self.http_port};\n"),
            ("    listen 443 ssl http2;\n    listen [::]:443 ssl http2;\n", f"    listen 127.0.0.1:{self.https_port} ssl http2;\n"),
            ("/etc/ssl/safeline/fullchain.pem", str(folder / "cert.pem")),
            ("/etc/ssl/safeline/privkey.pem", str(folder / "key.pem")),
            ("/srv/safeline/output", str(site_root)),
            ("/etc/nginx/snippets/", f"{snippets}/"),
        ]:
            assert old in site, f"deploy/nginx/safeline.conf no longer contains {old!r}"
            site = site.replace(old, new)
        (folder / "nginx.conf").write_text(
            f"""worker_processes 1;
pid {folder}/nginx.pid;
error_log {folder}/logs/error.log warn;
events {{ worker_connections 64; }}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    client_body_temp_path {folder}/body;
    proxy_temp_path {folder}/proxy;
    fastcgi_temp_path {folder}/fastcgi;
    uwsgi_temp_path {folder}/uwsgi;
    scgi_temp_path {folder}/scgi;
{site}
}}
""",
            encoding="utf-8",
        )
        check = subprocess.run([NGINX, "-t", "-p", str(folder), "-c", str(folder / "nginx.conf")], capture_output=True, text=True)
        if check.returncode:
            raise RuntimeError(check.stderr)
        self.process = subprocess.Popen(
            [NGINX, "-p", str(folder), "-c", str(folder / "nginx.conf"), "-g", "daemon off; user root;"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        _wait_for_port(self.https_port, self.process)

    @property
    def origin(self) -> str:
        return f"https://127.0.0.1:{self.https_port}"

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
