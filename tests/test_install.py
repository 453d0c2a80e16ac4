"""deploy/install into a staging tree (--root), run as root, with the real tools it drives.

The tree starts as a Debian system would look to the installer: root in etc/passwd and
etc/group, and nginx's own etc/nginx/nginx.conf and mime.types (copied from this machine's
nginx package).  The installer runs as a program (its #! line: the system's Python, no venv
packages), and the tests check:

- the first run's lines; a second run says "nothing changed" and changes no file's content,
  mode, owner or mtime; the owner and mode of everything made, owners named from the tree's
  own etc/passwd and etc/group (where useradd --root put the user safeline);
- RELAY_SECRET_KEY is generated once and survives a run with a changed template;
- the units stay disabled, the lines naming each missing setting, until relay.env and
  publish.env are complete and a certificate is there; then they are enabled (the symlinks
  that systemctl --root makes), and the relay's own check (the checkout's venv) still refuses
  a setting only it knows to be wrong;
- with --certificate and --domain: the files, the key's mode 0600, server_name; nginx -t passes
  on the staged configuration, checked here independently of the installer's own check;
- every staged unit passes systemd-analyze verify --root and rates 2.5 or less in
  systemd-analyze security --offline=true --root;
- odd input (relative or file --root, a tree without etc/passwd, a missing certificate, a key
  without its certificate) is refused with one line, status 2, nothing changed;
- the installer's list of required settings is relay/config.py's.
"""

from __future__ import annotations

import hashlib
import importlib.machinery
import importlib.util
import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from devtools.nginx import configure
from relay.config import DEVELOPMENT_DEFAULTS, OPTIONAL_DEFAULTS
from tests.support.keys import GPG_PUBLIC
from tests.support.relay_app import RELAY_MAIL_FROM, RELAY_MAIL_TO
from tests.support.site import ROOT

INSTALL = ROOT / "deploy" / "install"
UNITS = sorted(path.name for pattern in ("*.service", "*.timer")
               for path in (ROOT / "deploy" / "systemd").glob(pattern))
ANALYZE = shutil.which("systemd-analyze") or "/usr/bin/systemd-analyze"
DOMAIN = "hotline.safeline.example"

# Everything the installer makes, with owner, group and mode.
MADE = {
    "etc/safeline": ("root", "root", 0o755),
    "etc/safeline/staff-keys": ("root", "safeline", 0o750),
    "etc/safeline/relay.env": ("root", "root", 0o600),
    "etc/safeline/publish.env": ("root", "root", 0o600),
    "etc/ssl/safeline": ("root", "root", 0o755),
    "srv/safeline": ("root", "root", 0o755),
    "srv/safeline/site": ("safeline", "safeline", 0o755),
    "var/lib/safeline": ("safeline", "safeline", 0o751),
    "var/lib/safeline/outbox": ("safeline", "safeline", 0o700),
    "var/lib/safeline/delivery": ("safeline", "safeline", 0o700),
    "var/lib/safeline/publish": ("safeline", "safeline", 0o700),
    "var/lib/safeline/metrics": ("safeline", "safeline", 0o755),
    "etc/nginx/sites-available/safeline": ("root", "root", 0o644),
    **{f"etc/nginx/snippets/{name}": ("root", "root", 0o644)
       for name in ("safeline-limits.conf", "safeline-site.conf", "safeline-relay.conf")},
    **{f"etc/systemd/system/{unit}": ("root", "root", 0o644) for unit in UNITS},
}
WITH_CERTIFICATE = {
    "etc/ssl/safeline/fullchain.pem": ("root", "root", 0o644),
    "etc/ssl/safeline/privkey.pem": ("root", "root", 0o600),
}
# Folders on the way (root's, 0755) and useradd's own backups and lock.
ON_THE_WAY = {"etc/ssl", "srv", "var", "var/lib", "etc/nginx/sites-available", "etc/nginx/snippets",
              "etc/nginx/sites-enabled", "etc/systemd", "etc/systemd/system"}
USERADD = {"etc/passwd-", "etc/group-", "etc/.pwd.lock"}


def debian_tree(root: Path) -> Path:
    """A staging tree as the installer expects one: root's user and group, and nginx's files."""
    if not Path("/etc/nginx/nginx.conf").is_file():
        pytest.fail("no /etc/nginx/nginx.conf here: apt-get install -y nginx")
    (root / "etc" / "nginx").mkdir(parents=True)
    (root / "etc" / "passwd").write_text("root:x:0:0:root:/root:/bin/bash\n")
    (root / "etc" / "group").write_text("root:x:0:\n")
    for name in ("nginx.conf", "mime.types"):
        shutil.copyfile(f"/etc/nginx/{name}", root / "etc" / "nginx" / name)
    return root


def install(root: Path | str, *args: str, checkout: Path = ROOT) -> subprocess.CompletedProcess:
    # Started as a program: its #! line names the system's Python, which has no venv packages.
    return subprocess.run([str(checkout / "deploy" / "install"), "--root", str(root), *args],
                          capture_output=True, text=True, timeout=120)


def snapshot(root: Path) -> dict[str, tuple]:
    """Every entry under root: kind, mode, owner, mtime, and content (a hash) or link target."""
    found = {}
    for path in [root, *root.rglob("*")]:
        status = path.lstat()
        if stat.S_ISLNK(status.st_mode):
            what = os.readlink(path)
        elif stat.S_ISREG(status.st_mode):
            what = hashlib.sha256(path.read_bytes()).hexdigest()
        else:
            what = None
        found[str(path.relative_to(root))] = (status.st_mode, status.st_uid, status.st_gid, status.st_mtime_ns, what)
    return found


def names(root: Path, table: str) -> dict[int, str]:
    return {int(fields[2]): fields[0] for fields in
            (line.split(":") for line in (root / "etc" / table).read_text().splitlines()) if len(fields) > 2}


def owner_and_mode(root: Path, path: str) -> tuple[str, str, int]:
    status = (root / path).lstat()
    return names(root, "passwd")[status.st_uid], names(root, "group")[status.st_gid], stat.S_IMODE(status.st_mode)


def check_tree(root: Path, before: dict, expected: dict) -> None:
    """Each thing made has its owner and mode, and nothing else was made."""
    for path, wanted in expected.items():
        assert owner_and_mode(root, path) == wanted, path
    made = set(snapshot(root)) - set(before) - set(expected) - USERADD
    made -= {path for path in made if path.startswith("etc/nginx/sites-enabled/")}
    assert made == ON_THE_WAY & made, made - ON_THE_WAY
    for path in made:
        assert owner_and_mode(root, path) == ("root", "root", 0o755), path


def settings(path: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in path.read_text().splitlines() if line and not line.startswith("#"))


def fill(path: Path, values: dict[str, str]) -> None:
    """Edit an env file as an operator would: each NAME=… line given its value."""
    text = path.read_text()
    for name, value in values.items():
        text, count = re.subn(rf"^#?{name}=.*$", f"{name}={value}", text, flags=re.M)
        if not count:
            text += f"{name}={value}\n"
    path.write_text(text)


def wanted_units(root: Path) -> set[str]:
    return {link.name for link in (root / "etc" / "systemd" / "system").glob("*.wants/*")}


@pytest.fixture(scope="module")
def certificate(tmp_path_factory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("certificate")
    chain, key = folder / "fullchain.pem", folder / "privkey.pem"
    # The pair, and its successor (a renewal) in renewed/.
    (folder / "renewed").mkdir()
    for where in (folder, folder / "renewed"):
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                        "-nodes", "-days", "2", "-subj", f"/CN={DOMAIN}", "-keyout", str(where / key.name),
                        "-out", str(where / chain.name)], check=True, capture_output=True)
    # A second key, not the certificate's.
    subprocess.run(["openssl", "genpkey", "-algorithm", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-out", str(folder / "other.pem")], check=True, capture_output=True)
    return chain, key


def test_a_second_run_changes_nothing_and_says_so(tmp_path):
    root = debian_tree(tmp_path / "root")
    before = snapshot(root)
    first = install(root)
    assert first.returncode == 3, first.stderr
    lines = first.stdout.splitlines()
    assert lines[0] == "created the system user safeline (no login, home /var/lib/safeline)"
    assert "created /var/lib/safeline/outbox (safeline:safeline 0700)" in lines
    assert "wrote /etc/safeline/relay.env (root:root 0600) with a new RELAY_SECRET_KEY" in lines
    assert {f"wrote /etc/systemd/system/{unit} (root:root 0644)" for unit in UNITS} <= set(lines)
    assert "nothing changed" not in lines
    check_tree(root, before, MADE)
    user = next(line for line in (root / "etc" / "passwd").read_text().splitlines() if line.startswith("safeline:"))
    _, _, uid, _, _, home, shell = user.split(":")
    assert int(uid) < 1000 and home == "/var/lib/safeline" and shell == "/usr/sbin/nologin"

    after = snapshot(root)
    second = install(root)
    assert second.returncode == 3, second.stderr
    assert second.stdout.splitlines()[0] == "nothing changed"
    assert snapshot(root) == after  # content, mode, owner, mtime: the folders' too

    # --check on a tree in place says nothing changes; on a fresh one, what would.
    assert install(root, "--check").stdout.splitlines()[0] == "nothing would change"
    fresh = debian_tree(tmp_path / "fresh")
    untouched = snapshot(fresh)
    check = install(fresh, "--check")
    assert check.returncode == 3 and snapshot(fresh) == untouched
    changes = lines[:lines.index("not enabled yet: complete these, then run deploy/install again:")]
    assert [line.removeprefix("would: ") for line in check.stdout.splitlines()[:len(changes)]] == changes


def test_the_secret_key_is_made_once_and_never_rewritten(tmp_path):
    # A checkout of its own, whose template this test changes.
    checkout = tmp_path / "checkout"
    shutil.copytree(ROOT / "deploy", checkout / "deploy")
    root = debian_tree(tmp_path / "root")
    install(root, checkout=checkout)
    relay_env = root / "etc" / "safeline" / "relay.env"
    key = settings(relay_env)["RELAY_SECRET_KEY"]
    assert len(key) >= 32 and key != DEVELOPMENT_DEFAULTS["RELAY_SECRET_KEY"]
    written = relay_env.read_bytes()

    other = debian_tree(tmp_path / "other")
    install(other, checkout=checkout)
    assert settings(other / "etc" / "safeline" / "relay.env")["RELAY_SECRET_KEY"] != key  # random each time

    template = checkout / "deploy" / "relay.env.example"
    template.write_text(template.read_text().replace("RELAY_SECRET_KEY=\n", "RELAY_SECRET_KEY=\nRELAY_NEW=1\n"))
    third = install(root, "--repository", "https://git.example.org/other.git", checkout=checkout)
    assert third.stdout.splitlines()[0] == "nothing changed"
    assert relay_env.read_bytes() == written
    assert third.stderr == ("/etc/safeline/publish.env keeps PUBLISH_REPOSITORY=: the file is never rewritten; "
                            "edit it to change that\n")

    relay_env.chmod(0o644)  # a mode gone wrong is put right, the content left alone
    fourth = install(root, checkout=checkout)
    assert fourth.stdout.splitlines()[0] == "mode of /etc/safeline/relay.env: 0644 -> 0600"
    assert relay_env.read_bytes() == written and stat.S_IMODE(relay_env.stat().st_mode) == 0o600


def test_with_a_certificate_the_units_are_enabled_once_the_settings_are_complete(tmp_path, certificate):
    chain, key = certificate
    root = debian_tree(tmp_path / "root")
    before = snapshot(root)
    first = install(root, "--domain", DOMAIN, "--certificate", str(chain), "--key", str(key),
                    "--repository", "https://git.example.org/safeline.git", "--branch", "live")
    assert first.returncode == 3, first.stderr
    lines = first.stdout.splitlines()
    assert "installed the certificate as /etc/ssl/safeline/fullchain.pem" in lines
    assert "linked /etc/nginx/sites-enabled/safeline -> /etc/nginx/sites-available/safeline" in lines
    check_tree(root, before, {**MADE, **WITH_CERTIFICATE})
    assert (root / "etc/ssl/safeline/fullchain.pem").read_bytes() == chain.read_bytes()
    assert (root / "etc/ssl/safeline/privkey.pem").read_bytes() == key.read_bytes()
    site = (root / "etc/nginx/sites-available/safeline").read_text()
    assert re.findall(r"^\s*server_name\s+([^;]+);", site, re.M) == [DOMAIN, DOMAIN]
    assert "ssl_certificate /etc/ssl/safeline/fullchain.pem;" in site
    assert "ssl_certificate_key /etc/ssl/safeline/privkey.pem;" in site
    assert os.readlink(root / "etc/nginx/sites-enabled/safeline") == "/etc/nginx/sites-available/safeline"
    nginx_accepts(root, tmp_path / "nginx")

    relay_env, publish_env = root / "etc/safeline/relay.env", root / "etc/safeline/publish.env"
    assert settings(relay_env)["RELAY_SITE_ORIGIN"] == f"https://{DOMAIN}"
    publish = settings(publish_env)
    assert publish["PUBLISH_REPOSITORY"] == "https://git.example.org/safeline.git"
    assert publish["PUBLISH_BRANCH"] == "live" and publish["SITE_ORIGIN"] == f"https://{DOMAIN}"
    # Not enabled: each missing setting named, with its file.
    assert "not enabled yet: complete these, then run deploy/install again:" in lines
    for name in ("RELAY_MAIL_TO", "RELAY_MAIL_FROM", "RELAY_CONTACT_ADDRESS", "RELAY_SMTP_URL"):
        assert f"  /etc/safeline/relay.env: {name} is missing: " in "\n".join(lines) + "\n", name
    assert any(line.startswith("  /etc/safeline/staff-keys: no staff key yet") for line in lines)
    assert any(line.startswith("  /etc/safeline/publish.env: SAFELINE_CONTACT_ADDRESS is missing") for line in lines)
    missing = lines[lines.index("not enabled yet: complete these, then run deploy/install again:"):]
    assert not any("RELAY_SITE_ORIGIN" in line or "RELAY_SECRET_KEY" in line for line in missing), missing
    assert not wanted_units(root)

    # A development value is named as such; a value only the relay knows to be wrong, by the relay.
    fill(relay_env, {"RELAY_MAIL_TO": RELAY_MAIL_TO, "RELAY_MAIL_FROM": "relay@",
                     "RELAY_CONTACT_ADDRESS": "contact@safeline.test", "RELAY_SMTP_URL": "smtp://127.0.0.1:25"})
    fill(publish_env, {"SAFELINE_CONTACT_ADDRESS": "hotline@safeline.example"})
    shutil.copyfile(GPG_PUBLIC, root / "etc/safeline/staff-keys/staff.asc")
    second = install(root)
    assert second.returncode == 3 and second.stdout.splitlines()[:2] == [
        "nothing changed", "not enabled yet: complete these, then run deploy/install again:"]
    assert second.stdout.splitlines()[2:] == [
        "  /etc/safeline/relay.env: RELAY_CONTACT_ADDRESS is the development value: "
        "the address staff write to reporters from"]
    fill(relay_env, {"RELAY_CONTACT_ADDRESS": "desk@safeline.example"})
    assert install(root).stdout.splitlines()[2:] == [
        "  /etc/safeline/publish.env: SAFELINE_CONTACT_ADDRESS is hotline@safeline.example, RELAY_CONTACT_ADDRESS "
        "in relay.env desk@safeline.example: make them the same (the privacy page and the form name it to reporters)"]
    fill(relay_env, {"RELAY_CONTACT_ADDRESS": "hotline@safeline.example"})
    third = install(root)
    assert third.returncode == 3
    assert third.stdout.splitlines()[2].startswith(
        "  /etc/safeline/relay.env (the relay's own check): RELAY_MAIL_FROM: 'relay@' is not an e-mail address")
    assert not wanted_units(root)

    fill(relay_env, {"RELAY_MAIL_FROM": RELAY_MAIL_FROM})
    fourth = install(root)  # without the options: the domain and certificate stay as they are
    assert fourth.returncode == 0, fourth.stdout + fourth.stderr
    enabled = sorted(line.removeprefix("enabled ") for line in fourth.stdout.splitlines())
    timers = {unit.removesuffix(".timer") for unit in UNITS if unit.endswith(".timer")}
    assert enabled == [unit for unit in UNITS if unit.endswith(".timer") or unit.removesuffix(".service") not in timers]
    assert wanted_units(root) == set(enabled)
    settled = snapshot(root)
    fifth = install(root)
    assert (fifth.returncode, fifth.stdout) == (0, "nothing changed\n")
    assert snapshot(root) == settled

    renewed = chain.parent / "renewed"
    sixth = install(root, "--certificate", str(renewed / chain.name), "--key", str(renewed / key.name))
    assert sixth.returncode == 0 and sixth.stdout.splitlines() == [
        "installed the certificate as /etc/ssl/safeline/fullchain.pem",
        "installed its key as /etc/ssl/safeline/privkey.pem (0600)"]
    assert (root / "etc/ssl/safeline/privkey.pem").read_bytes() == (renewed / key.name).read_bytes()
    assert owner_and_mode(root, "etc/ssl/safeline/privkey.pem") == ("root", "root", 0o600)
    units_pass_systemd_analyze(root)


def nginx_accepts(root: Path, folder: Path) -> None:
    """nginx -t on the staged site and snippets, in an nginx.conf of the test's own (not the
    installer's copy): the staged files with their /etc paths led into the tree."""
    folder.mkdir()
    (folder / "snippets").mkdir()
    (folder / "logs").mkdir()

    def led(text: str) -> str:
        return (text.replace("/etc/nginx/snippets/", f"{folder}/snippets/")
                .replace("/var/log/nginx/", f"{folder}/logs/")
                .replace("/etc/ssl/safeline/", f"{root}/etc/ssl/safeline/"))

    for snippet in (root / "etc/nginx/snippets").iterdir():
        (folder / "snippets" / snippet.name).write_text(led(snippet.read_text()))
    (folder / "site.conf").write_text(led((root / "etc/nginx/sites-available/safeline").read_text()))
    configure(folder, f"include {folder}/site.conf;")  # raises with nginx's words if -t fails


def units_pass_systemd_analyze(root: Path) -> None:
    """verify and security on the staged units.  verify resolves every name inside the tree, so
    the tree gets what a real server has there: systemd's own units, /bin/kill, and the entry
    points of the venv that ./run --list makes in /srv/safeline."""
    if not Path(ANALYZE).exists():
        pytest.fail(f"no systemd-analyze at {ANALYZE}: apt-get install -y systemd")
    shutil.copytree("/usr/lib/systemd/system", root / "usr/lib/systemd/system", symlinks=True)
    (root / "usr/bin").mkdir()
    shutil.copy2("/usr/bin/kill", root / "usr/bin/kill")
    (root / "bin").symlink_to("usr/bin")
    venv = root / "srv/safeline/.venv/bin"
    venv.mkdir(parents=True)
    for program in ("gunicorn", "flask", "python"):
        shutil.copy2(Path(sys.executable).with_name(program), venv / program)
    verify = subprocess.run([ANALYZE, "verify", f"--root={root}", *UNITS], capture_output=True, text=True, timeout=60)
    assert (verify.returncode, verify.stderr) == (0, ""), verify.stderr
    for unit in (name for name in UNITS if name.endswith(".service")):
        report = subprocess.run([ANALYZE, "security", "--offline=true", f"--root={root}", unit],
                                capture_output=True, text=True, timeout=60)
        assert report.returncode == 0, report.stderr
        exposure = float(re.search(rf"Overall exposure level for {re.escape(unit)}: (\d+\.\d+)", report.stdout)[1])
        assert exposure <= 2.5, report.stdout


@pytest.mark.parametrize("case", ["relative root", "root is a file", "tree without passwd", "missing certificate",
                                  "key without certificate", "bad domain", "another key", "broken nginx file"])
def test_odd_input_is_refused_with_one_line_and_nothing_done(tmp_path, certificate, case):
    root = debian_tree(tmp_path / "root")
    args = {
        "relative root": ["--root", "root"],
        "root is a file": ["--root", str(root / "etc" / "passwd")],
        "tree without passwd": ["--root", str(tmp_path / "empty")],
        "missing certificate": ["--certificate", str(tmp_path / "nowhere.pem"), "--key", str(certificate[1])],
        "key without certificate": ["--key", str(certificate[1])],
        "bad domain": ["--domain", "safeline example"],
        "another key": ["--certificate", str(certificate[0]), "--key", str(certificate[1].with_name("other.pem"))],
        "broken nginx file": [],
    }[case]
    install_program = INSTALL
    if case == "broken nginx file":  # a checkout whose site snippet nginx refuses
        shutil.copytree(ROOT / "deploy", tmp_path / "checkout" / "deploy")
        install_program = tmp_path / "checkout" / "deploy" / "install"
        snippet = tmp_path / "checkout" / "deploy" / "nginx" / "safeline-site.conf"
        snippet.write_text(snippet.read_text().replace("charset utf-8;", "charset utf-8 utf-8;"))
    (tmp_path / "empty").mkdir()
    before = snapshot(tmp_path)
    result = subprocess.run([str(install_program), *(args if args[:1] == ["--root"] else ["--root", str(root), *args])],
                            capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert result.returncode == 2 and result.stdout == ""
    assert len(result.stderr.splitlines()) == 1 and result.stderr.startswith("deploy/install: "), result.stderr
    assert snapshot(tmp_path) == before
    if case in ("another key", "broken nginx file"):
        assert result.stderr.startswith("deploy/install: nginx -t refuses the configuration, nothing was changed: "
                                        "nginx: [emerg] ")
        assert ("/etc/ssl/safeline/privkey.pem" if case == "another key"
                else "/etc/nginx/snippets/safeline-site.conf:") in result.stderr


def test_the_required_settings_are_the_relays():
    loader = importlib.machinery.SourceFileLoader("deploy_install", str(INSTALL))
    spec = importlib.util.spec_from_loader("deploy_install", loader)
    installer = importlib.util.module_from_spec(spec)
    loader.exec_module(installer)
    assert set(installer.RELAY_REQUIRED) == set(DEVELOPMENT_DEFAULTS)
    for name, value in DEVELOPMENT_DEFAULTS.items():
        if name in ("RELAY_STAFF_KEYS", "RELAY_OUTBOX"):
            continue  # paths under var/dev: relative to the checkout, never a production path
        if name == "RELAY_PROXIES":
            assert name not in installer.RELAY_DEVELOPMENT  # 0 is a value production may state
        else:
            assert installer.RELAY_DEVELOPMENT[name] == value, name
    template = (ROOT / "deploy" / "relay.env.example").read_text()
    for name in [*DEVELOPMENT_DEFAULTS, *OPTIONAL_DEFAULTS]:
        assert re.search(rf"^#?{name}=", template, re.M), name


def test_the_status_metrics_are_linked_into_node_exporters_folder_when_it_is_there(tmp_path):
    # safeline-status writes /var/lib/safeline/metrics/safeline.prom (root owns the collector's
    # folder); the collector, another user, reads it through the link, passing the home (0751).
    root = debian_tree(tmp_path / "root")
    collector = root / "var/lib/prometheus/node-exporter"
    collector.mkdir(parents=True)
    first = install(root)
    assert first.returncode == 3, first.stderr
    assert ("linked /var/lib/prometheus/node-exporter/safeline.prom -> /var/lib/safeline/metrics/safeline.prom"
            in first.stdout.splitlines())
    assert os.readlink(collector / "safeline.prom") == "/var/lib/safeline/metrics/safeline.prom"
    assert owner_and_mode(root, "var/lib/safeline")[2] & 0o001  # others may pass through
    assert owner_and_mode(root, "var/lib/safeline/metrics")[2] == 0o755
    assert install(root).stdout.splitlines()[0] == "nothing changed"
