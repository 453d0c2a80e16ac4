"""The built site: links resolve, nothing comes from another host, every page fits one round trip."""

from __future__ import annotations

import gzip
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from pelican.plugins.audit import broken_links, foreign_loads
from pelican.plugins.audit.document import references

BUDGET = 14 * 1024  # bytes, gzip: what the first round trip of a new connection carries


def test_every_internal_link_resolves(site):
    import pelicanconf

    assert broken_links(site, served_elsewhere=pelicanconf.AUDIT_SERVED_ELSEWHERE) == []


def test_nothing_is_loaded_from_another_host(site):
    assert foreign_loads(site) == []


def test_no_script_style_or_font_from_anywhere_but_the_site(site):
    """Belt and braces: no absolute URL at all in what a page fetches by itself."""
    for file in site.rglob("*.html"):
        for ref in references(file):
            # <a href> and a page's alternates (<link rel="alternate" hreflang>, absolute by
            # necessity) are hyperlinks, never fetched by themselves.
            if ref.tag != "a" and not (ref.tag == "link" and ref.rel.split() == ["alternate"]):
                assert not urlsplit(ref.url).netloc, f"{file}: {ref.url}"


def _loads(site: Path, page: Path) -> list[Path]:
    """The site's own CSS and JavaScript files a page loads."""
    files = []
    for ref in references(page):
        if (ref.tag, ref.attribute) in (("link", "href"), ("script", "src")) and not urlsplit(ref.url).netloc:
            target = site / urlsplit(ref.url).path.lstrip("/")
            if target.suffix in (".css", ".js"):
                files.append(target)
    return files


def test_each_page_with_its_css_and_js_fits_14_kb_gzip(site):
    pages = sorted(site.rglob("*.html"))
    assert len(pages) >= 14
    for page in pages:
        parts = [page, *_loads(site, page)]
        assert any(p.suffix == ".css" for p in parts), f"{page} loads no style sheet"
        size = sum(len(gzip.compress(p.read_bytes(), compresslevel=6)) for p in parts)
        assert size <= BUDGET, f"{page.relative_to(site)}: {size} bytes gzip with {[p.name for p in parts[1:]]}"


# The audits themselves must catch what they are for.

PLANTED = """<!doctype html><html><head>
<link rel="stylesheet" href="https://cdn.example.com/a.css">
<link rel="icon" href="//icons.example.net/i.png">
<link rel="alternate stylesheet" href="https://cdn.example.com/alt.css">
<link rel="alternate" hreflang="en" href="https://mirror.example.com/en/">
<script src="http://tracker.example.org/t.js"></script>
<style>@import "https://fonts.example.com/f.css"; body { background: url(https://img.example.com/b.png) }</style>
</head><body id="top">
<img src="https://img.example.com/x.png" srcset="/ok.png 1x, https://img.example.com/x2.png 2x">
<iframe src="https://video.example.com/embed"></iframe>
<form action="https://forms.example.com/post"></form>
<a href="https://www.saferinternet.or.jp/">an outbound link is fine</a>
<a href="/missing/">broken</a> <a href="/exists/#nope">missing id</a> <a href="#top">fine</a>
<a href="/exists/#here">fine</a> <a href="../exists/">fine</a> <a href="tel:110">fine</a>
<a href="/report/">served by the relay</a>
</body></html>"""


def test_audit_catches_planted_problems(tmp_path):
    (tmp_path / "page").mkdir()
    (tmp_path / "page" / "index.html").write_text(PLANTED, encoding="utf-8")
    (tmp_path / "ok.png").write_bytes(b"")
    (tmp_path / "exists").mkdir()
    (tmp_path / "exists" / "index.html").write_text('<p id="here">x</p>', encoding="utf-8")
    (tmp_path / "style.css").write_text("a { background: url('//cdn.example.com/y.svg') }", encoding="utf-8")

    foreign = {(f.file, f.url) for f in foreign_loads(tmp_path)}
    assert foreign == {
        ("page/index.html", "https://cdn.example.com/a.css"),
        ("page/index.html", "//icons.example.net/i.png"),
        ("page/index.html", "https://cdn.example.com/alt.css"),  # an alternate style sheet is fetched; an alternate page is not
        ("page/index.html", "http://tracker.example.org/t.js"),
        ("page/index.html", "https://fonts.example.com/f.css"),
        ("page/index.html", "https://img.example.com/b.png"),
        ("page/index.html", "https://img.example.com/x.png"),
        ("page/index.html", "https://img.example.com/x2.png"),
        ("page/index.html", "https://video.example.com/embed"),
        ("page/index.html", "https://forms.example.com/post"),
        ("style.css", "//cdn.example.com/y.svg"),
    }
    broken = {(f.file, f.url) for f in broken_links(tmp_path, served_elsewhere=("/report/",))}
    assert broken == {("page/index.html", "/missing/"), ("page/index.html", "/exists/#nope")}


@pytest.mark.parametrize("bad_link", ["[x](/no-such-page/)", "[x](/faq/#no-such-heading)"])
def test_a_broken_link_in_content_fails_the_checked_build(tmp_path, bad_link):
    """./run check builds with warnings fatal; the audit's warning must stop it."""
    import shutil

    from tests.support.site import ROOT, build_site

    content = tmp_path / "content"
    shutil.copytree(ROOT / "content", content)
    page = content / "pages" / "police.ja.md"
    page.write_text(page.read_text(encoding="utf-8") + f"\n\n{bad_link}\n", encoding="utf-8")
    result = build_site(tmp_path / "out", ("PATH", str(content)))
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert f"WARNING: broken link: police/index.html: {bad_link[4:-1]}" in output
    assert "Traceback" not in output


def test_the_audit_runs_on_strict_or_audit_builds_only(tmp_path):
    """./run build skips the audit, ./run serve (AUDIT) warns and goes on, ./run check (STRICT) fails."""
    import shutil

    from tests.support.site import ROOT, build_site

    content = tmp_path / "content"
    shutil.copytree(ROOT / "content", content)
    page = content / "pages" / "police.ja.md"
    page.write_text(page.read_text(encoding="utf-8") + "\n\n[x](/no-such-page/)\n", encoding="utf-8")
    warning = "WARNING: broken link: police/index.html: /no-such-page/"

    plain = build_site(tmp_path / "plain", ("PATH", str(content)), fatal=False)
    assert plain.returncode == 0, plain.stdout + plain.stderr
    assert "broken link" not in plain.stdout + plain.stderr
    assert (tmp_path / "plain" / "police" / "index.html").is_file()

    audited = build_site(tmp_path / "audited", ("PATH", str(content)), ("AUDIT", True), fatal=False)
    assert audited.returncode == 0, audited.stdout + audited.stderr
    assert warning in audited.stdout + audited.stderr

    strict = build_site(tmp_path / "strict", ("PATH", str(content)))
    assert strict.returncode == 1, strict.stdout + strict.stderr
    assert warning in strict.stdout + strict.stderr
    assert "Traceback" not in strict.stdout + strict.stderr


def test_no_inline_script_anywhere(site):
    """The CSP allows our own script files only: no inline code, handler or JSON-LD."""
    import re

    for file in site.rglob("*.html"):
        html = file.read_text(encoding="utf-8")
        for tag, body in re.findall(r"(<script\b[^>]*>)(.*?)</script>", html, re.S | re.I):
            assert re.search(r'\ssrc="/[^/"]', tag) and " defer" in tag and not body.strip(), f"{file}: {tag}"
        assert not re.search(r"<[^>]+\son[a-z]+=", html), f"{file}: an inline event handler"
        assert "javascript:" not in html.lower(), file


def test_the_scripts_store_nothing_and_send_nothing(site):
    scripts = sorted(site.rglob("*.js"))
    assert scripts, "no script was built"
    for script in scripts:
        code = script.read_text(encoding="utf-8")
        for word in ("cookie", "localStorage", "sessionStorage", "indexedDB", "fetch(", "XMLHttpRequest",
                     "sendBeacon", "WebSocket", "import(", "eval(", "innerHTML", "getTimezoneOffset",
                     "toLocale", "Intl."):
            assert word not in code, f"{script.name} uses {word}"
