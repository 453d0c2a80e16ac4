"""The production build, once, for ``./run publish`` and for the publisher (safeline/publish.py).

:func:`build_site` builds the source tree ``source`` (this checkout, or a commit's files
unpacked by the publisher) into ``output``, strictly:

1. the translation catalogs are complete and current (as ``./run check``), and they compile
   to ``.mo`` files (``./run i18n-compile``: fuzzy or missing translations are refused; the
   .mo files are not committed, so a tree from ``git archive`` has none);
2. Pelican with ``publishconf.py`` and ``STRICT=true``: a data error in
   ``data/hotlines.yaml`` (named ``file:line:col``), a broken internal link or anchor, a load
   from another host, any warning at all fails the build (the audit plugin);
3. no half-width ``( ) ? : !`` beside Japanese text in the built Japanese pages
   (safeline/typography.py; ``./run check`` also renders the relay's own pages, which the
   relay serves from the installed checkout and which a publication does not change).

The build runs in a process of its own, ``python -m safeline.build``, with ``source`` as its
working directory and first on ``PYTHONPATH``: it imports *that tree's* pelicanconf.py,
publishconf.py, plugins/, safeline/ and theme/, never the copies the interpreter's
environment was installed from.  That needs care, because ./run installs this project into
.venv in editable mode (setuptools' editable finder points ``safeline``, ``relay`` and each
``pelican.plugins.<name>`` at the installed checkout):

- ``safeline`` and ``relay`` are found on ``sys.path`` before the editable finder is asked
  (it is appended to ``sys.meta_path``, after the path finder), so ``PYTHONPATH=source`` wins;
- ``pelican.plugins`` is a namespace package inside Pelican's own (regular) package, so its
  path comes from Pelican's folder, not from ``sys.path``: :func:`_use_tree` puts
  ``source/plugins/pelican/plugins`` first in ``pelican.plugins.__path__`` before Pelican
  loads any plugin, and then checks that every module it is about to use came from ``source``
  (a build that would mix two versions stops instead).  tests/test_publish.py proves it with a
  commit that changes a plugin's output.

The Python packages are the interpreter's (the server's .venv, installed from the checkout's
requirements.txt): a commit that changes requirements.txt is built with the packages already
installed.  If it needs a package or a version that is not there, its build fails (an import
error, or whatever the old version does), it is not published, and the site stays as it was:
update /srv/safeline (git pull, then deploy/install, which installs the pins) and the publisher
tries the commit again within the hour (or at once: ``systemctl start safeline-publish`` after
removing state.json).
A commit older than this module has no ``safeline/build.py`` and cannot be built this way.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

# Lines of the build's output that carry a problem, most telling first (see first_error).
_ERROR = re.compile(r"^(CRITICAL|ERROR)\b")
_WARNING = re.compile(r"^WARNING\b")


@dataclass(frozen=True)
class Build:
    ok: bool
    output: str  # everything the build printed (stdout and stderr, in order)
    seconds: float

    @property
    def first_error(self) -> str:
        return first_error(self.output)


def first_error(text: str) -> str:
    """The line that says what went wrong: the first ERROR or CRITICAL line; else, since a
    strict build fails on warnings (broken links, foreign hosts…), the first WARNING; else the
    last line (a data error ends the build with one line naming ``file:line:col``)."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    for pattern in (_ERROR, _WARNING):
        for line in lines:
            if pattern.match(line):
                return re.sub(r"^(CRITICAL|ERROR|WARNING):?\s*", "", line)
    return lines[-1] if lines else "the build failed without saying why"


def build_site(source: Path, output: Path, *, settings: str = "publishconf.py", env: dict | None = None,
               python: str = sys.executable, timeout: float = 600) -> Build:
    """Build the tree ``source`` into ``output`` strictly (see the module's docstring)."""
    source = Path(source).resolve()
    environment = dict(os.environ if env is None else env)
    # The tree first; whatever PYTHONPATH held before comes after it.
    environment["PYTHONPATH"] = os.pathsep.join(filter(None, [str(source), environment.get("PYTHONPATH")]))
    environment["PYTHONDONTWRITEBYTECODE"] = "1"  # nothing written into a checkout or a release's source
    started = time.monotonic()
    try:
        result = subprocess.run(
            [python, "-m", "safeline.build", str(source), str(Path(output).resolve()), "--settings", settings],
            cwd=source, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired as error:
        said = error.stdout.decode(errors="replace") if isinstance(error.stdout, bytes) else (error.stdout or "")
        return Build(False, said + f"\nERROR: the build took longer than {timeout:.0f} s", time.monotonic() - started)
    return Build(result.returncode == 0, result.stdout, time.monotonic() - started)


# ---------------------------------------------------------------------------------------------
# What runs inside the build's own process.

def _use_tree(source: Path) -> None:
    """Make ``source``'s plugins the ones Pelican imports, and check where the code comes from."""
    import pelican.plugins
    import safeline

    plugins = source / "plugins" / "pelican" / "plugins"
    pelican.plugins.__path__ = [str(plugins), *[entry for entry in pelican.plugins.__path__ if entry != str(plugins)]]
    names = sorted(entry.name for entry in plugins.iterdir() if (entry / "__init__.py").exists())
    import importlib

    for name in names:
        importlib.import_module(f"pelican.plugins.{name}")
    for module in [safeline] + [sys.modules[f"pelican.plugins.{name}"] for name in names]:
        where = Path(module.__file__).resolve()
        if source not in where.parents:
            raise SystemExit(f"ERROR: {module.__name__} was imported from {where}, not from the tree being built")


def _catalogs(source: Path) -> list[str]:
    from pelican.plugins.i18n.catalogs import problems
    from safeline.site import LANGUAGES

    catalogs = source / "theme" / "translations"
    found = [f"ERROR: {line}" for line in problems(source, catalogs, LANGUAGES)]
    if found:
        return found
    compiled = subprocess.run([sys.executable, "-m", "babel.messages.frontend", "compile", "-d", str(catalogs)],
                              cwd=source, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if compiled.returncode:
        return [f"ERROR: theme/translations: the catalogs do not compile: {compiled.stdout.strip()}"]
    return []


def _typography(output: Path) -> list[str]:
    from safeline import typography

    found = []
    for page in sorted(output.rglob("*.html")):
        found += typography.findings(page.read_text(encoding="utf-8"), page.relative_to(output).as_posix())
    return [f"ERROR: {line}" for line in found]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m safeline.build", description=__doc__.split("\n")[0])
    parser.add_argument("source", type=Path)
    parser.add_argument("output", type=Path)
    parser.add_argument("--settings", default="publishconf.py")
    args = parser.parse_args(argv)
    source = args.source.resolve()
    _use_tree(source)
    problems = _catalogs(source)
    if problems:
        print("\n".join(problems), flush=True)
        return 1
    import pelican

    try:
        pelican.main([str(source / "content"), "--log-handler", "plain", "-s", str(source / args.settings),
                      "-o", str(args.output), "-e", "STRICT=true"])
    except SystemExit as end:
        if end.code not in (None, 0):
            if not isinstance(end.code, int):
                print(end.code, flush=True)
            return 1
    problems = _typography(args.output)
    if problems:
        print("\n".join(problems), flush=True)
        print(f"typography: {len(problems)} half-width mark(s) beside Japanese text (safeline/typography.py "
              "says the rule)", flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
