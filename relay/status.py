"""``flask --app relay status``: what the runbook's "What to monitor" asks, on one screen.

    flask --app relay status                     the screen; exit status 1 when a person is needed
    flask --app relay status --prometheus        the same as metrics (text format) on stdout
    flask --app relay status --prometheus FILE   ... written to FILE atomically (node_exporter's
                                                 textfile collector), nothing printed

Each check stands alone and never raises: a setting it cannot read, a file it cannot parse, a
Redis that does not answer, a key the relay would refuse, each is a line of its own.  So the
command works exactly when it is needed, while the relay cannot start; it reads the relay's
settings (relay.env) but needs none of them to be valid, not even the secret, which it never uses.

A line marked ``!`` needs a person (exit status 1, ``safeline_status_needs_person 1``):

- the oldest report waiting in the outbox has waited over 30 minutes (one slow hand-off alone
  may take 15), or the outbox cannot be read;
- a staff key stops being usable within 7 days, or already is not (expired, revoked, no
  encryption subkey, refused by policy, secret key material, unreadable file, a development
  key in production);
- Redis does not answer (limits and spent form tokens fail open meanwhile);
- the relay's settings have a problem (the relay refuses to start with them);
- the last delivery error is newer than the last delivery and was logged at ERROR (a refusal,
  a failure a retry will not mend by itself); a deferral (WARNING) is left to the 30 minutes;
- the site-wide ceiling is refusing reports (a flood, or a real surge: raise it then);
- the relay's data/hotlines.yaml or catalogs differ from the published commit's (the form's
  pages would show other lines or words than the site until the relay is updated);
- the published release was built over 2 days ago (the daily rebuild is failing, and the
  "open now" badge will run out), or ``current`` points to a release that is not there;
- a check failed in a way this module did not foresee (its error class is shown).

Nothing of a report, and no address, e-mail or URL, is ever shown: the outbox is counted and
dated, never read; keys are named by fingerprint, not user ID; Redis by host and port; the
delivery error is the worker's own log line, which carries neither; the relay's setting
problems are shown with their quoted values left out.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import urlsplit

from safeline.atomic import replace_file
from safeline.site import ROOT

from . import openpgp
from .config import ConfigError, Settings, _Reader
from .delivery import StateFileError, read_state, state_path
from .keys import KEY_SUFFIXES, StaffKey, _how_long, is_development_key
from .outbox import Outbox
from .quota import RedisStore, Rule, _counter

OLDEST_WAITING = timedelta(minutes=30)
KEY_WARNING = timedelta(days=7)
PUBLISHED_MAX_AGE = timedelta(days=2)
SITE_ROOT_VARIABLE = "SAFELINE_SITE_ROOT"
SITE_ROOT = Path("/srv/safeline/site")
MARK = "!"  # before a line that needs a person
LINE_TEXT_LIMIT = 300  # what status shows of a text it did not write itself (the error line, a subject)


@dataclass
class Line:
    topic: str
    text: str
    needs_person: bool = False

    def __str__(self) -> str:
        return f"{MARK if self.needs_person else ' '} {self.topic:<10} {self.text}"


@dataclass
class Metric:
    """One metric family: a gauge, with one sample per set of labels."""

    name: str
    help: str
    samples: list[tuple[dict[str, str], float]] = field(default_factory=list)


@dataclass
class Status:
    now: datetime
    lines: list[Line] = field(default_factory=list)
    metrics: dict[str, Metric] = field(default_factory=dict)

    @property
    def needs_person(self) -> bool:
        return any(line.needs_person for line in self.lines)

    def say(self, topic: str, text: str, *, needs_person: bool = False) -> None:
        self.lines.append(Line(topic, text, needs_person))

    def gauge(self, name: str, help: str, value: float, labels: Mapping[str, str] | None = None) -> None:
        metric = self.metrics.setdefault(name, Metric(f"safeline_{name}", help))
        metric.samples.append((dict(labels or {}), float(value)))

    def screen(self) -> str:
        marked = sum(line.needs_person for line in self.lines)
        head = f"safeline status at {_when(self.now)}"
        foot = (f"{MARK} needs a person: {marked} line{'' if marked == 1 else 's'} marked {MARK}" if marked
                else "  nothing needs a person")
        return "\n".join([head, *map(str, self.lines), foot]) + "\n"

    def exposition(self) -> str:
        """The metrics in Prometheus's text format (version 0.0.4), HELP and TYPE for each."""
        closing = [Metric("safeline_status_needs_person", "1 when a line of `flask --app relay status` needs a person",
                          [({}, float(self.needs_person))]),
                   Metric("safeline_status_timestamp_seconds", "When these metrics were made (Unix time)",
                          [({}, self.now.timestamp())])]
        out = []
        for metric in [*self.metrics.values(), *closing]:
            out.append(f"# HELP {metric.name} {_escape_help(metric.help)}")
            out.append(f"# TYPE {metric.name} gauge")
            for labels, value in metric.samples:
                shown = ",".join(f'{name}="{_escape_label(text)}"' for name, text in labels.items())
                out.append(f"{metric.name}{{{shown}}} {_number(value)}" if shown else f"{metric.name} {_number(value)}")
        return "\n".join(out) + "\n"


def collect(environ: Mapping[str, str] | None = None, *, now: datetime | None = None) -> Status:
    """Every check, each on its own: what is wrong with one never hides the others."""
    environ = os.environ if environ is None else environ
    status = Status(now or datetime.now(timezone.utc))
    for topic, check in (("settings", _settings), ("outbox", _outbox), ("delivery", _delivery),
                         ("staff key", _staff_keys), ("redis", _redis_and_ceiling), ("published", _published)):
        try:
            check(status, environ)
        except Exception as error:  # a line, never a traceback (whose locals could hold anything)
            status.say(topic, f"could not be checked ({type(error).__name__})", needs_person=True)
    return status


# -- the relay's settings --------------------------------------------------------------------

def _settings(status: Status, environ: Mapping[str, str]) -> None:
    try:
        Settings.from_env(environ)
    except ConfigError as problems:
        status.gauge("settings_problems", "Problems in the relay's settings (it refuses to start with any)",
                     len(problems.lines))
        for problem in problems.lines:
            status.say("settings", _redact(problem), needs_person=True)
        return
    status.gauge("settings_problems", "Problems in the relay's settings (it refuses to start with any)", 0)
    status.say("settings", f"sound ({_Reader(environ).env})")


def _read(environ: Mapping[str, str], name: str) -> tuple[str, list[str]]:
    """One setting as the relay reads it (its default included), and its problems."""
    reader = _Reader(environ)
    reader.problems.clear()  # an unknown RELAY_ENV is said by the settings line already
    return reader.get(name), [_redact(problem) for problem in reader.problems]


# -- the outbox --------------------------------------------------------------------------------

def _outbox(status: Status, environ: Mapping[str, str]) -> None:
    folder, _ = _read(environ, "RELAY_OUTBOX")  # its problems are on the settings lines
    if not folder:
        status.say("outbox", "cannot be found: RELAY_OUTBOX is not set", needs_person=True)
        return
    if os.path.lexists(folder) and not Path(folder).is_dir():
        status.say("outbox", f"{folder} is not a folder: the relay cannot start", needs_person=True)
        return
    if not Path(folder).is_dir():
        status.say("outbox", f"{folder} does not exist yet (the relay makes it when it starts)")
        status.gauge("outbox_waiting", "Reports waiting in the outbox for the mail server", 0)
        return
    try:
        waiting = Outbox(folder)._waiting()
    except OSError as error:
        status.say("outbox", f"{folder} cannot be read ({error.strerror or type(error).__name__})", needs_person=True)
        return
    size = sum(stat.st_size for _, stat in waiting)
    status.gauge("outbox_waiting", "Reports waiting in the outbox for the mail server", len(waiting))
    status.gauge("outbox_bytes", "Bytes of the reports waiting in the outbox", size)
    if not waiting:
        status.gauge("outbox_oldest_seconds", "How long the oldest waiting report has waited", 0)
        status.say("outbox", "empty: nothing waits for the mail server")
        return
    oldest = min(stat.st_mtime for _, stat in waiting)
    age = max(0.0, status.now.timestamp() - oldest)
    status.gauge("outbox_oldest_seconds", "How long the oldest waiting report has waited", age)
    late = age > OLDEST_WAITING.total_seconds()
    text = f"{len(waiting)} waiting ({_size(size)}), the oldest for {_duration(age)}"
    if late:
        text += f": over {_duration(OLDEST_WAITING.total_seconds())}, delivery is failing (see the delivery lines)"
    status.say("outbox", text, needs_person=late)


# -- the delivery worker's state file -----------------------------------------------------------

def _delivery(status: Status, environ: Mapping[str, str]) -> None:
    path = state_path(environ)
    try:
        state = read_state(path)
    except FileNotFoundError:
        status.say("delivery", f"nothing recorded yet ({path} appears at the worker's first delivery or error)")
        return
    except StateFileError as error:
        status.say("delivery", f"the state file {path} cannot be used ({error}): the worker writes a new one at "
                               "its next delivery or error")
        return
    except OSError as error:
        status.say("delivery", f"the state file {path} cannot be read ({error.strerror or type(error).__name__})")
        return
    delivered = _entry(state, "last_delivery")
    failed = _entry(state, "last_error")
    if delivered is None:
        status.say("delivery", "nothing sent since the state file was made")
    else:
        status.gauge("last_delivery_timestamp_seconds", "When the delivery worker last handed a report over",
                     delivered[0])
        status.say("delivery", f"last sent {_ago(delivered[0], status.now)}")
    if failed is None:
        status.say("delivery", "no delivery error recorded")
        return
    when, entry = failed
    status.gauge("last_delivery_error_timestamp_seconds", "When the delivery worker last logged a delivery error",
                 when)
    level = str(entry.get("level", "error"))
    unresolved = level == "error" and (delivered is None or when > delivered[0])
    line = _printable(str(entry.get("line", "")))
    text = f"last error {_ago(when, status.now)}, {level.upper()}: {line}"
    if unresolved:
        text += " (none delivered since)"
    status.say("delivery", text, needs_person=unresolved)


def _entry(state: dict, name: str) -> tuple[float, dict] | None:
    entry = state.get(name)
    if not isinstance(entry, dict):
        return None
    when = entry.get("timestamp")
    if not isinstance(when, (int, float)) or not math.isfinite(when):
        return None
    return float(when), entry


# -- staff keys -------------------------------------------------------------------------------

def _staff_keys(status: Status, environ: Mapping[str, str]) -> None:
    """Each key as the relay would judge it at start, named by fingerprint only: user IDs and
    file names may hold staff addresses, and the relay's own problem lines quote them."""
    source, _ = _read(environ, "RELAY_STAFF_KEYS")
    if not source:
        status.say("staff key", "RELAY_STAFF_KEYS is not set: the relay encrypts to nobody", needs_person=True)
        return
    production = _Reader(environ).production
    path = Path(source)
    if path.is_dir():
        try:
            files = sorted(entry for entry in path.iterdir() if not entry.name.startswith(".")
                           and entry.is_file() and entry.suffix.lower() in KEY_SUFFIXES)
        except OSError as error:
            status.say("staff key", f"{path} cannot be listed ({error.strerror or type(error).__name__})",
                       needs_person=True)
            return
    elif path.exists():
        files = [path]
    else:
        status.say("staff key", f"{path} does not exist (RELAY_STAFF_KEYS)", needs_person=True)
        return
    seen: set[str] = set()
    for file in files:
        for fingerprint, problem, until in _file_keys(file, status.now, production):
            if fingerprint is not None and fingerprint in seen:
                problem = "is in the folder twice: keep one copy"
            seen.add(fingerprint or "")
            _key_line(status, fingerprint, file, problem, until)
    if not seen:
        status.say("staff key", f"none in {path}: the relay refuses to start", needs_person=True)


def _file_keys(file: Path, now: datetime, production: bool) -> Iterable[tuple[str | None, str | None, datetime | None]]:
    """(fingerprint or None, problem or None, usable until) for each key in ``file``."""
    try:
        data = file.read_bytes()
    except OSError as error:
        yield None, f"cannot be read ({error.strerror or type(error).__name__})", None
        return
    if b"PRIVATE KEY BLOCK" in data:
        yield None, "holds SECRET key material: delete it from the server, keep only the public key", None
        return
    try:
        certs = openpgp.parse_certs(data)
    except openpgp.OpenPGPError:
        yield None, "is not an OpenPGP public key", None
        return
    if not certs:
        yield None, "holds no OpenPGP key", None
    for cert in certs:
        fingerprint = openpgp.fingerprint(cert)
        try:
            problem, until = _judge(file, cert, fingerprint, now, production)
        except Exception as error:  # one odd key must not hide the others
            problem, until = f"could not be judged ({type(error).__name__})", None
        yield fingerprint, problem, until


def _judge(file: Path, cert: openpgp.Cert, fingerprint: str, now: datetime,
           production: bool) -> tuple[str | None, datetime | None]:
    """(problem or None, usable until) of one key, as relay.keys judges it when the relay starts."""
    try:
        key = StaffKey(file, cert, fingerprint, tuple(openpgp.user_ids(cert)))
    except openpgp.OpenPGPError:
        return "is refused by the OpenPGP policy (a weak key): ask its owner for a new one", None
    if openpgp.has_secret_keys(cert):
        return "holds SECRET key material: delete it from the server, keep only the public key", None
    if production and is_development_key(key):
        return "is a development key: production needs the staff's real keys", None
    if found := key.problems(now):
        return found[0], None
    if key.refused_by_policy():
        return "has no encryption key the OpenPGP policy accepts: cannot encrypt to it", None
    return None, key.usable_until(now)


def _key_line(status: Status, fingerprint: str | None, file: Path, problem: str | None,
              until: datetime | None) -> None:
    help_expiry = "When encrypting to the staff key stops working (Unix time; +Inf: never)"
    help_usable = "1 when the relay can encrypt to the staff key now"
    if fingerprint is None:  # the file itself: it is named, having no fingerprint to go by
        status.say("staff key", f"{_redact(file.name)} {problem}", needs_person=True)
        return
    labels = {"fingerprint": fingerprint}
    if problem is not None:
        status.gauge("staff_key_usable", help_usable, 0, labels)
        status.say("staff key", f"{fingerprint} {problem}", needs_person=True)
        return
    status.gauge("staff_key_usable", help_usable, 1, labels)
    status.gauge("staff_key_expiry_timestamp_seconds", help_expiry, until.timestamp() if until else math.inf, labels)
    if until is None:
        status.say("staff key", f"{fingerprint} never expires")
        return
    left = until - status.now
    soon = left < KEY_WARNING
    text = f"{fingerprint} expires {_when(until)} (in {_how_long(left)})"
    if soon:
        text += ": extend it with its owner, or replace it"
    status.say("staff key", text, needs_person=soon)


# -- Redis and the site-wide ceiling -----------------------------------------------------------

def _redis_and_ceiling(status: Status, environ: Mapping[str, str]) -> None:
    uri, problems = _read(environ, "RELAY_RATELIMIT_STORAGE")
    if not uri or problems:
        status.say("redis", "RELAY_RATELIMIT_STORAGE cannot be used (see the settings lines)", needs_person=True)
        return
    if uri.startswith("memory://"):
        status.say("redis", "not used (memory://): each relay process counts on its own, development only")
        status.say("ceiling", "counted inside the relay's process (memory://): not visible from here")
        return
    place = _place(uri)
    rules_text, _ = _read(environ, "RELAY_RATELIMIT_SITE")
    try:
        store = RedisStore(uri)
        store._redis.ping()
    except Exception as error:  # redis.RedisError, or a URL redis-py cannot use
        status.gauge("redis_up", "1 when Redis (limits, spent form tokens) answers", 0)
        status.say("redis", f"does not answer at {place} ({type(error).__name__}): limits fail open meanwhile",
                   needs_person=True)
        status.say("ceiling", "unknown while Redis does not answer")
        return
    status.gauge("redis_up", "1 when Redis (limits, spent form tokens) answers", 1)
    status.say("redis", f"answers at {place}")
    try:
        rules = Rule.parse(rules_text)
    except ValueError:
        status.say("ceiling", "RELAY_RATELIMIT_SITE cannot be read (see the settings lines)", needs_person=True)
        return
    # The very key and windows relay.quota counts the site's accepted reports under.
    key = RedisStore.PREFIX + _counter("site", ("all",), rules).read
    now = status.now.timestamp()
    parts, refusing = [], False
    for rule in rules:
        used = int(store._redis.zcount(key, f"({now - rule.seconds!r}", "+inf"))
        labels = {"window_seconds": str(rule.seconds)}
        status.gauge("site_ceiling_used", "Reports accepted site-wide in the ceiling's window", used, labels)
        status.gauge("site_ceiling_limit", "The site-wide ceiling for that window (RELAY_RATELIMIT_SITE)",
                     rule.amount, labels)
        parts.append(f"{used} of {rule.amount} per {_window(rule.seconds)}")
        refusing = refusing or used >= rule.amount
    status.gauge("site_ceiling_refusing", "1 when the site-wide ceiling refuses reports", refusing)
    if refusing:
        status.say("ceiling", f"{', '.join(parts)}: REFUSING reports (a flood, or a real surge: then raise "
                              "RELAY_RATELIMIT_SITE)", needs_person=True)
    else:
        status.say("ceiling", f"{', '.join(parts)}: accepting")


def _place(uri: str) -> str:
    """Where Redis is, without its password (or anything else of the URL)."""
    parts = urlsplit(uri)
    if parts.scheme == "redis+unix":
        return parts.path
    try:
        return f"{parts.hostname}:{parts.port or 6379}"
    except ValueError:
        return str(parts.hostname)


# -- the published site ------------------------------------------------------------------------

def _published(status: Status, environ: Mapping[str, str]) -> None:
    root = Path(environ.get(SITE_ROOT_VARIABLE, "").strip() or SITE_ROOT)
    _newest_commit(status, root)
    current = root / "current"
    if not os.path.lexists(current):
        status.say("published", f"not published by the publisher (no {current})")
        return
    release = current / "release.json"
    try:
        facts = json.loads(release.read_bytes())
    except FileNotFoundError:
        target = os.readlink(current) if current.is_symlink() else str(current)
        status.say("published", f"{current} points to {target}, which has no release.json: nginx may be serving "
                                "nothing", needs_person=True)
        return
    except (OSError, ValueError) as error:
        reason = getattr(error, "strerror", None) or type(error).__name__
        status.say("published", f"{release} cannot be read ({reason})", needs_person=True)
        return
    commit = facts.get("commit") if isinstance(facts, dict) else None
    built = _moment(facts.get("built")) if isinstance(facts, dict) else None
    if not isinstance(commit, str) or not re.fullmatch(r"[0-9a-f]{40}", commit) or built is None:
        status.say("published", f"{release} is not what the publisher writes (commit, built)", needs_person=True)
        return
    status.gauge("published_timestamp_seconds", "When the release the site serves was built", built.timestamp())
    status.gauge("published_info", "The commit the site serves", 1, {"commit": commit})
    subject = _printable(str(facts.get("subject", "")))[:80]
    old = status.now - built > PUBLISHED_MAX_AGE
    text = f"{commit[:12]} \"{subject}\" built {_ago(built.timestamp(), status.now)}"
    if old:
        text += f": over {PUBLISHED_MAX_AGE.days} days, the daily rebuild is failing (journalctl -u safeline-publish)"
    status.say("published", text, needs_person=old)
    _relay_inputs(status, facts.get("relay_inputs"))


def _relay_inputs(status: Status, inputs) -> None:
    """The files the relay read from its own checkout when it started (safeline/release.py,
    RELAY_INPUTS) against the published commit's: while they differ, the form's pages show
    other lines or words than the site (a changed phone number, say), until the relay is
    updated and restarted."""
    if not isinstance(inputs, dict):
        return  # a release of a publisher that did not record them
    differing = []
    for name, digest in sorted(inputs.items()):
        try:
            ours = hashlib.sha256((ROOT / name).read_bytes()).hexdigest()
        except OSError:
            ours = None
        if ours != digest:
            differing.append(str(name))
    status.gauge("relay_behind_published", "1 when the relay's data or catalogs differ from the published site's",
                 int(bool(differing)))
    if differing:
        status.say("relay", f"{', '.join(differing)} in {ROOT} not as in the published commit: the form's pages "
                            "show other lines or words than the site; update the checkout (git pull), then "
                            "systemctl restart safeline-relay", needs_person=True)


def _newest_commit(status: Status, root: Path) -> None:
    """The publisher's last attempt at the branch's newest commit (its state.json), when it
    failed: the editors' to fix (they see it at /published.txt), so no person is called."""
    try:
        state = json.loads((root / "state.json").read_bytes())
    except (OSError, ValueError):
        return  # no publisher here yet, or a state it will write again at its next run
    failed = isinstance(state, dict) and state.get("result") == "failed" and isinstance(state.get("head"), str)
    status.gauge("publish_newest_failed", "1 when the branch's newest commit could not be published", int(failed))
    if failed:
        error = _printable(" ".join(str(state.get("error", "")).split()))[:LINE_TEXT_LIMIT]
        status.say("publisher", f"not published {state['head'][:12]}: {error} (the editors' to fix; "
                                "the site stays as it was)")


def _moment(value) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)


# -- writing the metrics ---------------------------------------------------------------------

def write_metrics(path: Path, text: str) -> None:
    """The metrics file, replaced whole (node_exporter's textfile collector may read it at any
    moment) and readable by the collector, another user, whatever the umask."""
    replace_file(path, text.encode("utf-8"), mode=0o644)


# -- small words -------------------------------------------------------------------------------

_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")
_EMAIL = re.compile(r"[^\s'\"<>()]+@[^\s'\"<>()]+")
_URL = re.compile(r"\b[a-z][a-z0-9+.-]*://\S+", re.IGNORECASE)


def _redact(problem: str) -> str:
    """A problem line of the relay's settings without the values it quotes: a setting may hold
    an address, or a URL with a password."""
    return _URL.sub("…", _EMAIL.sub("…", _QUOTED.sub("'…'", problem)))


def _printable(text: str) -> str:
    """Text read from a file, made one safe line: no control characters, at most a screen wide."""
    text = "".join(char if char.isprintable() else " " for char in text)
    return text if len(text) <= LINE_TEXT_LIMIT else text[:LINE_TEXT_LIMIT - 1] + "…"


def _when(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def _ago(timestamp: float, now: datetime) -> str:
    moment = datetime.fromtimestamp(timestamp, timezone.utc)
    seconds = (now - moment).total_seconds()
    if seconds < 0:
        return f"{_when(moment)} (in the future: check the clocks)"
    return f"{_when(moment)} ({_duration(seconds)} ago)"


def _duration(seconds: float) -> str:
    for size, unit in ((86400, "day"), (3600, "hour"), (60, "min")):
        if seconds >= size:
            count = int(seconds // size)
            return f"{count} {unit}" + ("s" if count != 1 and unit != "min" else "")
    return f"{int(seconds)} s"


def _window(seconds: int) -> str:
    for size, unit in ((86400, "day"), (3600, "hour"), (60, "minute"), (1, "second")):
        if seconds % size == 0:
            count = seconds // size
            return unit if count == 1 else f"{count} {unit}s"
    return f"{seconds} seconds"


def _size(size: int) -> str:
    for limit, unit in ((1 << 20, "MB"), (1 << 10, "KB")):
        if size >= limit:
            return f"{size / limit:.1f} {unit}"
    return f"{size} bytes"


def _number(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if math.isnan(value):
        return "NaN"
    return str(int(value)) if value == int(value) and abs(value) < 1e15 else repr(value)


def _escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _escape_label(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n")

