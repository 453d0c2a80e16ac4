"""nginx (deploy/nginx as shipped, root <site>/current/output) serving while releases switch.

Two releases X and Y are published by the real publisher from a real git repository; nginx
serves ``current/output`` of the site root.  Reader threads fetch pages and an asset in a loop
over https while the main thread rolls back and forth between X and Y 150 times
(safeline.release.rollback: the lock and the switch ./run rollback uses), then the publisher
builds and publishes a third commit Z (its build runs while the pages are read), then 150
switches more.
Every answer must be 200 with the body of that file in one of the releases: never a 404,
never an error page, never a mix.
"""

from __future__ import annotations

import http.client
import ssl
import threading
import time
from collections import Counter

from safeline import release as rel
from tests.support.git_repo import GitRepo, publisher_env, run_publisher
from tests.support.nginx_server import Nginx

TLS = ssl._create_unverified_context()  # the test's own self-signed certificate
ABOUT = "content/pages/about.en.md"
PAGES = {"/": "index.html", "/en/about/": "en/about/index.html", "/privacy/": "privacy/index.html",
         "/theme/css/site.css": "theme/css/site.css"}
READERS = 4
SWITCHES = 300


def test_readers_see_whole_pages_of_one_release_while_releases_switch(tmp_path):
    repo = GitRepo.from_checkout(tmp_path / "repo")
    root, git_dir = tmp_path / "site", tmp_path / "repo.git"
    root.mkdir()
    env = publisher_env(root, git_dir, repo.path, PUBLISH_KEEP="5")
    commits, line = {}, "## "  # the English about page's first heading, where each release's mark goes
    for number, mark in enumerate("XYZ", start=1):
        # Each release's page differs in its words and its length (the privacy and home pages
        # too: they link to it in the same menu), so a page cut short or mixed matches neither.
        marked = f"Release mark {mark}{' and more' * number}.\n\n## "
        repo.edit(ABOUT, line, marked)
        line = marked
        commits[mark] = repo.commit(f"{mark}: the page changes")
        if mark != "Z":
            published = run_publisher(env)
            assert published.stdout.startswith(f"published {commits[mark]} in "), published
    assert len({(release.output / "en/about/index.html").read_bytes() for release in rel.releases(root)}) == 2

    def in_a_release(path: str, body: bytes) -> bool:
        """Is ``body`` that file in a complete release (X, Y, and Z once it is built)?"""
        return any((release.output / PAGES[path]).read_bytes() == body for release in rel.releases(root))

    nginx = Nginx(tmp_path / "nginx", root / "current" / "output", relay_port=9)
    stop = threading.Event()
    seen: Counter = Counter()
    wrong: list[str] = []

    def read() -> None:
        connection = None
        while not stop.is_set():
            for path in PAGES:
                try:
                    if connection is None:
                        connection = http.client.HTTPSConnection("127.0.0.1", nginx.https_port, context=TLS,
                                                                 timeout=10)
                    connection.request("GET", path)
                    response = connection.getresponse()
                    body = response.read()
                except (OSError, http.client.HTTPException) as error:
                    connection = None
                    wrong.append(f"{path}: {error!r}")
                    continue
                seen[path] += 1
                if response.status != 200:
                    wrong.append(f"{path}: {response.status}")
                elif not in_a_release(path, body):
                    wrong.append(f"{path}: a body of no release ({len(body)} bytes)")

    def switch(times: int) -> None:
        for number in range(times):
            rel.rollback(root, commits["X"] if number % 2 else commits["Y"])
            time.sleep(0.002)

    readers = [threading.Thread(target=read, daemon=True) for _ in range(READERS)]
    try:
        for reader in readers:
            reader.start()
        switch(SWITCHES // 2)
        # Z is built while the pages are read (the publisher holds the lock, so the rollbacks
        # wait for it: it never meets one of them), then served by the publisher's own switch.
        published = run_publisher(env)
        assert published.stdout.startswith(f"published {commits['Z']} in "), published
        time.sleep(0.2)
        switch(SWITCHES // 2)
        time.sleep(0.2)
    finally:
        stop.set()
        for reader in readers:
            reader.join(timeout=15)
        nginx.stop()
    assert not wrong, f"{len(wrong)} bad answers of {sum(seen.values())}: {wrong[:10]}"
    assert min(seen.values()) > 100, seen
