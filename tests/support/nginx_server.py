"""Debian's nginx, running deploy/nginx/ as shipped, on loopback ports for a test.

The production files are copied with only what cannot work in a test replaced: the listen
addresses (127.0.0.1 and free ports), the certificate (a fresh self-signed one), the
site root, the relay's port and where the snippets and the error log live
(``devtools.nginx``, which benchmark (b) shares).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from devtools.nginx import DEPLOY, configure, install_snippets
from devtools.ports import free_port, wait_for_port


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
            ("/srv/safeline/site/published.txt", str(folder / "published.txt")),
            ("/srv/safeline/site/current/output", str(site_root)),
            ("root /var/www/html;", f"root {folder / 'acme'};"),
            ("/etc/nginx/snippets/", f"{snippets}/"),
            ("/var/log/nginx/", f"{folder}/logs/"),
        ]:
            assert old in site, f"deploy/nginx/safeline.conf no longer contains {old!r}"
            site = site.replace(old, new)
        # nginx's default access log lies outside the folder: here, so that a test sees any
        # line the shipped files fail to turn off.
        site = f"access_log {folder}/logs/access.log;\n{site}"
        self.process = subprocess.Popen(configure(folder, site), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        text=True)
        try:
            wait_for_port(self.https_port, process=self.process, timeout=10)
        except RuntimeError as error:
            said = self.process.stderr.read() if self.process.poll() is not None else ""
            self.stop()
            raise RuntimeError(f"nginx: {error}: {said}") from None

    @property
    def origin(self) -> str:
        return f"https://127.0.0.1:{self.https_port}"

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
