"""deploy/nginx as shipped, in front of the relay, for benchmark (b): the production path of a refusal.

The snippets are used as they are, with only their paths replaced (installed as for the
tests, by devtools/nginx.py), inside a plain-HTTP server block on a free loopback port:
the load tool speaks plain HTTP, and TLS would cost the same whoever answers.
The site root is a fresh build of the site (the 429 page is the real "form not working"
page).  Like Debian's nginx.conf: one worker per core.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from bench.common import HOST, PY, ROOT
from devtools.nginx import configure, install_snippets


def build_site(output: Path) -> Path:
    """The site, built with pelicanconf.py into ``output`` (a few seconds)."""
    built = subprocess.run([PY, "-m", "pelican", str(ROOT / "content"), "-s", str(ROOT / "pelicanconf.py"),
                            "-o", str(output), "--log-handler", "plain"], cwd=ROOT, capture_output=True, text=True)
    if built.returncode:
        raise RuntimeError(f"the site did not build:\n{built.stdout}{built.stderr}")
    return output


def command(folder: Path, *, site_root: Path, relay_port: int, port: int) -> list[str]:
    """Write the configuration into ``folder`` and return the command that runs nginx with it."""
    snippets = install_snippets(folder)
    return configure(folder, f"""    include {snippets}/safeline-limits.conf;
    upstream safeline_relay {{
        server {HOST}:{relay_port};
        keepalive 16;
    }}
    server {{
        listen {HOST}:{port};
        root {site_root};
        set $safeline_published {folder}/published.txt;
        include {snippets}/safeline-site.conf;
    }}""", workers="auto", error_log="crit", connections=512)
