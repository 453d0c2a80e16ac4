"""Project tasks, run through ``./run TASK`` (Invoke), after pelican-quickstart's tasks.py.

    ./run build      build the site into output/ (no audit of links and hosts: see check)
    ./run serve      the site, the relay and a local mail server on http://127.0.0.1:8000/
    ./run read-mail  decrypt what the local mail server received
    ./run check      validate data (warn of sources not checked for a year, list assumptions), build with every warning fatal
    ./run publish    build with publishconf.py (production), strictly, as the publisher does
    ./run releases   the published releases on this server; ./run rollback [--commit C] serves an earlier one
    ./run test       all tests
    ./run lighthouse Lighthouse on the main pages of both languages, 100 in every category or fail
    ./run i18n-extract | i18n-update | i18n-compile     the Babel catalogs
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import threading
from pathlib import Path

from invoke import task

from safeline.site import CATALOGS, LANGUAGES, ROOT, catalog_file

POT = CATALOGS / "messages.pot"
# The staff kit's own catalogs (domain "staff"): staff/translations/, extracted by staff/babel.cfg.
STAFF_CATALOGS = ROOT / "staff" / "translations"
STAFF_POT = STAFF_CATALOGS / "staff.pot"
WATCHED = ("content", "theme", "data", "plugins", "safeline", "pelicanconf.py", "publishconf.py")
PY = sys.executable


def _pelican(*args: str, check: bool = True) -> int:
    """Run Pelican in its own process, so a rebuild always sees fresh settings and plugins."""
    command = [PY, "-m", "pelican", str(ROOT / "content"), "--log-handler", "plain", *args]
    return subprocess.run(command, cwd=ROOT, check=check).returncode


@task
def build(c, settings="pelicanconf.py", output=None, fatal=False):
    """Build the site into output/ (or --output)."""
    args = ["-s", str(ROOT / settings)]
    if output:
        args += ["-o", str(output)]
    if fatal:
        args += ["-e", "STRICT=true"]  # one -e only: argparse keeps the last
    if _pelican(*args, check=False):
        raise SystemExit(1)


@task
def publish(c, output=None):
    """Build the production site with publishconf.py, strictly (the publisher's build: safeline/build.py)."""
    from safeline.build import build_site

    result = build_site(ROOT, Path(output) if output else ROOT / "output")
    print(result.output, end="", flush=True)
    if not result.ok:
        raise SystemExit(f"not published: {result.first_error}")
    print(f"built in {result.seconds:.1f} s")


@task
def releases(c):
    """The site's releases on this server, newest first (date, commit, subject); * is the one served."""
    from safeline.release import listing, site_root

    root = site_root()
    lines = listing(root)
    if not lines:
        raise SystemExit(f"no releases in {root / 'releases'}")
    print("\n".join(lines))


@task(help={"commit": "the commit to serve again (a prefix will do; default: the release before the served one)"})
def rollback(c, commit=None):
    """Serve an earlier release again, in one atomic switch; the publisher keeps it until the branch moves."""
    from safeline.publish import write_notice
    from safeline.release import ReleaseError, rollback as roll_back, site_root

    root = site_root()
    try:
        release = roll_back(root, commit)
    except ReleaseError as error:
        raise SystemExit(f"not rolled back: {error}") from None
    except OSError as error:  # a full or read-only disk: what is served has not changed
        raise SystemExit(f"not rolled back: {error.strerror or type(error).__name__} ({error.filename or root})") from None
    write_notice(root)  # /published.txt says what is served now
    print(f"rolled back to {release.commit} ({release.subject}, built {release.built:%Y-%m-%d %H:%M} UTC)")


def _watch_and_rebuild(args: list[str], ready: threading.Event) -> None:
    from watchfiles import watch

    changes_seen = watch(
        *(ROOT / name for name in WATCHED),
        watch_filter=lambda _, path: "__pycache__" not in path,
        yield_on_timeout=True,  # an empty first batch tells us the watcher is running
        rust_timeout=200,
    )
    for changes in changes_seen:
        ready.set()
        if not changes:
            continue
        names = sorted({Path(path).relative_to(ROOT).as_posix() for _, path in changes})
        print(f"changed: {', '.join(names)}; rebuilding", flush=True)
        if _pelican(*args, check=False) == 0:
            print("rebuilt", flush=True)
        else:
            print("the build failed: fix the lines above; the last good build is still served", flush=True)


@task(name="i18n-compile")
def i18n_compile(c):
    """Compile the catalogs to .mo files (refuses fuzzy or missing translations)."""
    _pybabel("compile", "-d", str(CATALOGS), "--statistics")
    # The staff kit reads its .po files at start (staff/translations); compiling them here
    # checks them the same way.
    _pybabel("compile", "-d", str(STAFF_CATALOGS), "-D", "staff", "--statistics")


def _relay_stack(port: int, mail_port: int):
    """The local relay: development keys, a local mail server, the relay app and its worker."""
    os.environ.setdefault("RELAY_SITE_ORIGIN", f"http://127.0.0.1:{port}")
    os.environ.setdefault("RELAY_SMTP_URL", f"smtp://127.0.0.1:{mail_port}")
    from devtools.keys import make_dev_keys
    from devtools.mail import start as start_mail
    from devtools.mailbox import MAILBOX
    from relay import create_app
    from relay.delivery import run as deliver
    from relay.services import services
    from relay.smtp import SmtpTarget

    make_dev_keys(production=os.environ.get("RELAY_ENV") == "production")
    mail = start_mail(MAILBOX, mail_port)
    app = create_app()
    settings = services(app).settings
    stop = threading.Event()
    worker = threading.Thread(
        target=deliver,
        args=(services(app).outbox, SmtpTarget.from_url(settings.smtp_url), settings.mail_from, list(settings.mail_to)),
        kwargs={"stop": stop, "poll_seconds": 1.0},
        daemon=True,
    )
    worker.start()
    return app, mail, stop


def _site_and_relay(output: Path, relay_app, relay_paths):
    """One origin, as in production: the relay's paths go to the relay, the rest is output/."""
    from werkzeug.middleware.shared_data import SharedDataMiddleware
    from werkzeug.wrappers import Response

    def not_found(environ, start_response):
        page = output / "404.html"
        body = page.read_bytes() if page.exists() else b"Not found"
        return Response(body, status=404, mimetype="text/html")(environ, start_response)

    from relay import headers

    static = SharedDataMiddleware(not_found, {"/": str(output)}, cache=False)

    def app(environ, start_response):
        path = environ.get("PATH_INFO", "/")
        if path.startswith(tuple(relay_paths)):
            return relay_app(environ, start_response)
        if path.endswith("/"):
            environ["PATH_INFO"] = path + "index.html"

        def with_headers(status, response_headers, exc_info=None):
            # The same headers as nginx sends in production, so development shows CSP problems.
            names = {name.lower() for name, _ in response_headers}
            response_headers += [(name, value) for name, value in headers.HEADERS.items() if name.lower() not in names]
            return start_response(status, response_headers, exc_info)

        return static(environ, with_headers)

    return app


@task(pre=[i18n_compile])
def serve(c, port=8000, mail_port=8025):
    """Build and serve the site and the relay on 127.0.0.1, with a local mail server; rebuild on change."""
    from werkzeug.serving import WSGIRequestHandler, make_server

    import pelicanconf

    output = ROOT / "output"
    # Rebuild over the served files instead of deleting them first, so a reader who reloads
    # during a rebuild never gets a 404.  AUDIT: an editor sees broken links as warnings while
    # previewing, without the strictness of ./run check failing the preview.
    # SITE_ORIGIN: the hreflang alternates are absolute, with the origin served here.
    args = ["-s", str(ROOT / "pelicanconf.py"), "-o", str(output), "-e", "DELETE_OUTPUT_DIRECTORY=false", "AUDIT=true",
            f'SITE_ORIGIN="http://127.0.0.1:{int(port)}"']
    # Watch first, then build: an edit made while the first build runs is not missed.
    ready = threading.Event()
    threading.Thread(target=_watch_and_rebuild, args=(args, ready), daemon=True).start()
    ready.wait(timeout=10)
    _pelican(*args, check=False)
    output.mkdir(exist_ok=True)

    relay_app, mail, stop = _relay_stack(int(port), int(mail_port))

    class Quiet(WSGIRequestHandler):
        def log_request(self, *args, **kwargs):  # request lines carry the client address: none
            pass

    server = make_server("127.0.0.1", int(port), _site_and_relay(output, relay_app, pelicanconf.RELAY_PATHS),
                         threaded=True, request_handler=Quiet)
    print(f"Site: http://127.0.0.1:{server.server_port}/", flush=True)
    print(f"Report form: http://127.0.0.1:{server.server_port}/report/", flush=True)
    print(f"Mail server: smtp://127.0.0.1:{mail.port}, saving to {mail.folder.relative_to(ROOT)}/ (./run read-mail)", flush=True)
    print("Ctrl+C to stop", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        mail.stop()


@task
def lighthouse(c, url=None):
    """Lighthouse (mobile) on the home, support and report pages of both languages: fails under 100."""
    command = [PY, str(ROOT / "bench" / "lighthouse.py")] + (["--url", url] if url else [])
    raise SystemExit(subprocess.run(command, cwd=ROOT).returncode)


@task(
    iterable=["module"],
    help={"module": "a module to mutate (repeat it; default: all of devtools/mutants.py)", "jobs": "modules run side by side (default: one per core)"},
)
def mutants(c, module=None, jobs=0):
    """Mutation testing of the relay's core and the hours engine (cosmic-ray): scores and survivors."""
    from devtools.mutants import main

    sys.exit(main(list(module or []) + ([f"--jobs={jobs}"] if jobs else [])))


@task(name="read-mail")
def read_mail(c, file=None):
    """Decrypt the reports the local mail server received (newest last), with the development key."""
    from devtools import mailbox

    mailbox.main([file] if file else [])


def stale_hotlines(path: Path = ROOT / "data" / "hotlines.yaml", today=None) -> list[str]:
    """The warnings of ./run check for lines last compared with their source more than a year
    ago (``checked``), one line each: a reminder, never a failure."""
    from safeline.hotlines.model import stale_checks

    shown = "data/hotlines.yaml" if Path(path).resolve() == (ROOT / "data" / "hotlines.yaml").resolve() else str(path)
    return [f"WARNING: {line}" for line in stale_checks(path, shown_as=shown, today=today)]


def hotline_assumptions(path: Path = ROOT / "data" / "hotlines.yaml") -> list[str]:
    """What ./run check lists of data/hotlines.yaml's assumptions: dates of closed periods the
    sources give only in words (``assumed``) and lines with only the seed as source
    (``source_note``), one plain line each; a reminder to confirm, never a failure."""
    from safeline.hotlines.model import assumptions

    shown = "data/hotlines.yaml" if Path(path).resolve() == (ROOT / "data" / "hotlines.yaml").resolve() else str(path)
    label = {"assumed": "ASSUMED", "seed": "TO CONFIRM BY PHONE"}
    return [f"{label[kind]}: {line}" for kind, line in assumptions(path, shown_as=shown)]


@task
def check(c):
    """Check data/hotlines.yaml and the catalogs, then build with every warning fatal."""
    from safeline.hotlines.model import load

    directory = load(ROOT / "data" / "hotlines.yaml", shown_as="data/hotlines.yaml")
    print(f"data/hotlines.yaml: OK ({len(directory.lines)} lines of {len(directory.organisations)} organisations)")
    stale = stale_hotlines()
    for line in stale:
        print(line, file=sys.stderr)
    if stale:
        print(f"data/hotlines.yaml: {len(stale)} line(s) not compared with their source for over a year "
              "(a warning: the check goes on)", file=sys.stderr)
    for line in hotline_assumptions():
        print(line)
    from pelican.plugins.i18n.catalogs import problems

    stale = problems(ROOT, CATALOGS, LANGUAGES)
    if stale:
        raise SystemExit("\n".join(stale))
    print("theme/translations: catalogs complete and current")
    build(c, fatal=True)
    i18n_compile(c)  # the relay's pages below are rendered by the relay, which reads the .mo files
    findings = typography_findings()
    if findings:
        raise SystemExit("\n".join(findings) + f"\ntypography: {len(findings)} half-width mark(s) beside "
                         "Japanese text (safeline/typography.py says the rule)")
    print("typography: no half-width ( ) ? : ! beside Japanese text in the Japanese pages")
    print("check passed")


def typography_findings(output: Path = ROOT / "output") -> list[str]:
    """Half-width ( ) ? : ! beside Japanese text (the rule: safeline/typography.py), one line
    each naming the page: in the built Japanese pages of ``output`` and in the relay's Japanese
    pages (form, errors, confirmation, addition, "someone else"), rendered by a relay with the
    development keys and a scratch outbox."""
    import tempfile

    from devtools.keys import make_dev_keys
    from devtools.relay_pages import relay_pages
    from relay import create_app
    from safeline import typography

    found = []
    for page in sorted(output.rglob("*.html")):
        found += typography.findings(page.read_text(encoding="utf-8"), f"{output.name}/{page.relative_to(output).as_posix()}")
    make_dev_keys(production=False)
    with tempfile.TemporaryDirectory() as scratch:
        env = {"RELAY_ENV": "development", "RELAY_OUTBOX": str(Path(scratch) / "outbox"), "RELAY_MIN_FILL_SECONDS": "0"}
        client = create_app(env).test_client()
        for name, html in relay_pages(client):
            found += typography.findings(html, f"relay {name}")
    return found


# The programs the tests start, and the system packages that bring them: Debian's (apt-get; the
# same names on Ubuntu, whose chromium comes as a snap) and Homebrew's on macOS, where one exists.
# ./run test makes sure of them before pytest starts; ./run serve needs none of them.
SYSTEM_PACKAGES = (
    # (program, Debian package, Homebrew formula or None)
    ("chromium", "chromium", "--cask chromium"),  # tests/browser/: Debian's Chromium, never Playwright's
    ("nginx", "nginx", "nginx"),  # tests/test_nginx.py: deploy/nginx as shipped
    ("openssl", "openssl", "openssl"),  # self-signed certificates for nginx and SMTP over TLS
    ("redis-server", "redis-server", "redis"),  # shared limits and spent form tokens
    ("gpg", "gnupg", "gnupg"),  # classic clients read our mail; keys that expire in seconds
    ("systemd-analyze", "systemd", None),  # tests/test_systemd.py rates the shipped units
    ("dovecot", "dovecot-imapd", "dovecot"),  # tests/staff/: the staff kit reads a real IMAP mailbox
    ("strace", "strace", None),  # tests/relay/test_outbox_syscalls.py: the outbox's fsyncs, in order (Linux only)
    ("git", "git", "git"),  # tests/test_publish.py: the publisher fetches from a real repository
    ("ssh-keygen", "openssh-client", None),  # the publisher's signed commits (git's SSH signatures)
    ("unshare", "util-linux", None),  # a full disk or a read-only folder, mounted in a namespace (Linux only)
)
# nginx lives in /usr/sbin, which a user's PATH may lack.
SEARCH_EXTRA = ("/usr/sbin", "/sbin")


def _missing_programs() -> list[tuple[str, str, str | None]]:
    path = os.pathsep.join([os.environ.get("PATH", ""), *SEARCH_EXTRA])
    return [entry for entry in SYSTEM_PACKAGES if shutil.which(entry[0], path=path) is None]


def _ensure_system_packages() -> None:
    """Install what the tests need with apt-get (as root, or with a sudo that asks no password);
    otherwise stop, before any test, with one line that says what to run."""
    missing = _missing_programs()
    if not missing:
        return
    packages = [debian for _, debian, _ in missing]
    prefix = _apt_prefix()
    if prefix is not None:
        print(f"run test: installing {' '.join(packages)} (the tests start "
              f"{', '.join(program for program, _, _ in missing)})", flush=True)
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        for args in (["update", "-q"], ["install", "-y", "-q", *packages]):
            if subprocess.run([*prefix, "apt-get", *args], env=env).returncode != 0:
                raise SystemExit(f"run test: apt-get {args[0]} failed (see above); fix that, then run: "
                                 f"sudo apt-get install -y {' '.join(packages)}")
        missing = _missing_programs()
        if not missing:
            return
    programs = ", ".join(program for program, _, _ in missing)
    line = (f"run test: the tests need {programs}, missing here; install "
            f"{'them' if len(missing) > 1 else 'it'} with: sudo apt-get install -y "
            f"{' '.join(debian for _, debian, _ in missing)}")
    brew = [formula for _, _, formula in missing if formula]
    if brew:
        none = [program for program, _, formula in missing if not formula]
        line += (f" (on macOS: {' && '.join(f'brew install {formula}' for formula in brew)}"
                 + (f"; {', '.join(none)}: none on macOS)" if none else ")"))
    raise SystemExit(line)


def _apt_prefix() -> list[str] | None:
    """How to run apt-get here: [] as root, ["sudo", "-n"] with a sudo that asks no password,
    None if it cannot be run (no apt-get, or no way to be root without a password)."""
    if shutil.which("apt-get") is None:
        return None
    if os.geteuid() == 0:
        return []
    if shutil.which("sudo") and subprocess.run(["sudo", "-n", "true"], capture_output=True).returncode == 0:
        return ["sudo", "-n"]
    return None


@task
def test(c, k=None):
    """Run every test (pytest), after installing the system packages they need; -k selects by name."""
    _ensure_system_packages()  # first: a machine that lacks them stops before anything else
    i18n_compile(c)
    # Every core (pytest-xdist; PYTEST_XDIST_AUTO_NUM_WORKERS=N sets how many).  Each worker runs
    # its own session fixtures (the built site, nginx, redis, the relay stack, Chromium), on its
    # own free loopback ports and in its own temporary folders; --dist loadfile keeps the tests
    # of one file on one worker, so a file's module fixtures start once.
    command = [PY, "-m", "pytest", "-n", "auto", "--dist", "loadfile"] + (["-k", k] if k else [])
    raise SystemExit(subprocess.run(command, cwd=ROOT).returncode)


def _pybabel(*args: str) -> None:
    print("pybabel " + shlex.join(args))
    subprocess.run([PY, "-m", "babel.messages.frontend", *args], cwd=ROOT, check=True)


@task(name="i18n-extract")
def i18n_extract(c):
    """Collect every translatable string into theme/translations/messages.pot (and the staff
    kit's into staff/translations/staff.pot)."""
    _pybabel("extract", "-F", "babel.cfg", "-o", str(POT), "--sort-by-file", "--no-wrap",
             "--project", "safeline", "--copyright-holder", "Safer Internet Association", ".")
    _pybabel("extract", "-F", "staff/babel.cfg", "-o", str(STAFF_POT), "--sort-by-file", "--no-wrap",
             "--project", "safeline-staff", "--copyright-holder", "Safer Internet Association", ".")


@task(name="i18n-update", pre=[i18n_extract])
def i18n_update(c):
    """Merge new strings into the ja and en catalogs (then translate them)."""
    for lang in LANGUAGES:
        po = catalog_file(lang)
        if po.exists():
            _pybabel("update", "-i", str(POT), "-d", str(CATALOGS), "-l", lang, "--no-wrap", "--ignore-obsolete")
        else:
            _pybabel("init", "-i", str(POT), "-d", str(CATALOGS), "-l", lang, "--no-wrap")
        staff = STAFF_CATALOGS / lang / "LC_MESSAGES" / "staff.po"
        verb = "update" if staff.exists() else "init"
        _pybabel(verb, "-i", str(STAFF_POT), "-d", str(STAFF_CATALOGS), "-D", "staff", "-l", lang, "--no-wrap",
                 *(["--ignore-obsolete"] if verb == "update" else []))


@task(name="deps-lock")
def deps_lock(c):
    """Pin requirements.in and everything it pulls in into requirements.txt, from a clean venv."""
    import tempfile

    with tempfile.TemporaryDirectory() as scratch:
        venv = Path(scratch) / "venv"
        subprocess.run([PY, "-m", "venv", str(venv)], check=True)
        pip = [str(venv / "bin" / "python"), "-m", "pip", "--disable-pip-version-check"]
        subprocess.run([*pip, "install", "--quiet", "-r", str(ROOT / "requirements.in")], check=True)
        frozen = subprocess.run([*pip, "freeze", "--all", "--exclude", "pip", "--exclude", "setuptools"],
                                check=True, capture_output=True, text=True).stdout
    header = "# Generated by ./run deps-lock from requirements.in: do not edit by hand.\n"
    (ROOT / "requirements.txt").write_text(header + frozen)
    print(f"requirements.txt: {len(frozen.splitlines())} pins")
