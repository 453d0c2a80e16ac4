"""The case store: one SQLite file, encrypted at rest, that holds every case.

SQLite3 Multiple Ciphers through ``apsw-sqlite3mc`` (chosen over SQLCipher's ``sqlcipher3``
because it installs as a wheel on Linux, macOS and Windows with no system library to build
against, and encrypts the main file, its rollback journal and its WAL alike). Its cipher is
ChaCha20-Poly1305, keyed with the random 256-bit store key (``PRAGMA hexkey``; the cipher's
own key derivation runs on it once per opening, some 20 ms). The key comes from
``store-key.asc``, decrypted with the staff member's own OpenPGP key
(``staff.setup.open_store``).

Nothing of a report is written anywhere else: temporary tables and sorts stay in memory
(``temp_store = MEMORY``), search reads the store's own tables (no index outside it), and
deleted rows are overwritten (``secure_delete``), so that a case deleted on request cannot be
read back from free pages by whoever has the key.

The tables (``SCHEMA_V1``, ``_migrate_v2`` and ``SCHEMA_V3`` below; ``PRAGMA user_version``
holds the schema's version, and ``MIGRATIONS`` brings an older file up to date when it is
opened):

- ``cases``: one row per case, the case list's summary kept up to date on every change
  (denormalised so that listing 10,000 cases reads only this table and its indexes), with the
  per-case fields events set (``status``, ``assignee``);
- ``case_text``: per case, the words search looks in, folded (NFKC, case-folded);
- ``records``: each report and addition as it came (its fields as JSON), with its Message-ID
  (a phone case's record: with the id of the ``phone_case`` event that made it);
- ``urls``: one row per distinct address (canonical, ``staff.events.canonical_url``), however
  many cases hold it, with its per-address fields (state, next date, host); ``case_urls``
  links cases and addresses, with when each case first received it;
- ``events``: every event applied here, made here or by the team (``staff.events``), with its
  merge order (``sort_key``) and, for one made here, whether it was sent yet (rows in the
  order they came, found by id through an index: since version 3, when a table ordered by
  the random ids put each new event, signed form and all, on a page of its own, and a sync of
  thousands wrote most of the file again); notes, status
  changes, the requests log of each address and "who did what, when" are read from it. Sync
  keeps with each its signed form (``signed``, as its author signed it) and the Message-ID of
  the mail that carried it (``mail_id``); a delete's or retire's signed form stays in a row
  with no case (``_keep_signed``), so that ``safeline-staff team share`` can give a member who
  joins later the whole history;
- ``other_messages``: mails seen but not stored (a second copy of a report), so that import
  skips them next time;
- ``tombstones``: for a deleted (or retired) case, only keyed HMACs (HMAC-SHA256, key derived
  from the store key) of its Message-IDs and reference: enough to say "deleted" when the same
  mails or events come again, nothing to tell what they held; the Message-IDs of the mails that
  carried its events (``events.mail_id``) are buried the same way, so that the mailbox clean-up
  (staff/retention.py) finds the mails of a case that is gone by their HMAC alone;
- ``retired_cases``, ``retired_urls``: what retention keeps of a retired case and of the
  addresses no other case held: ``staff.facts``'s dates, kinds and counts, no text;
- ``phone_days``: the last phone case number given out per day; ``sync_positions``: how far
  sync read each folder;
- ``legacy_notes``, ``legacy_history``: a store of version 1's notes and status changes,
  until the kit's owner is known (``Store.author``): they then become the owner's events
  (``_adopt``), as if made then, and are sent to the team with the rest; a version-1 phone
  case ``TEL-YYYYMMDD-NNN`` becomes ``TEL-YYYYMMDD-NNN-FFFF`` (the owner's fingerprint's last
  four digits, so that two kits' phone cases never collide), and its old reference still
  finds it.

The merge (every kit reaches the same state from the same records and events, whatever the
order they came in): a per-case field (status, assignee) is the value of the case's event of
that type with the greatest ``Event.order()``; a per-address field likewise among the events
about that address (state: ``request`` and ``url_state``; next date: those and ``url_next``;
host: ``url_host``), whichever case they came through. Each is recomputed from the events
table by one indexed query when an event of its kind arrives, never compared incrementally.
Notes and requests accumulate (keyed by event id: an event applied twice is ``"known"``). An
event for a case the kit has not imported yet makes a case whose report is missing, received
when its earliest event was made, until a mail brings it. ``delete`` removes the case with
every event of it (the addresses' fields are recomputed without them) and buries its
reference: whatever of it comes later is ``"deleted"``. ``retire`` (retention) keeps the
case's facts (computed from what this kit holds when it applies it) and, for addresses other
cases still hold, the events about them; the rest goes as with ``delete``.

Times are stored as ISO 8601 with their offset, with a UTC sort key beside them.

Speed, measured on 10,000 cases (2 shared cores): a page of the case list (100 cases, with or
without a status filter, with its count) takes under 1 ms, read through an index of ``cases``.
Search has no index: it reads every case's folded words once (``instr``, so a Japanese word of
two characters such as 画像 matches as well as a longer one) into an in-memory list of hits,
which the page and its counts then share until the store changes: 7 to 13 ms with descriptions
of 300 characters on average, about 100 ms with 2,000 (more than the page cache holds). A whole
reference is found by its index at once. FTS5's trigram index would find words of three
characters or more without reading everything, but not 画像, and it would keep a second copy
of every word to scrub when a case is deleted: not worth it at this size. Applying an event
is a handful of indexed statements (is it known, is its case buried, its case, its address, the
row, the field it sets recomputed by one ``ORDER BY sort_key DESC LIMIT 1``): 100,000 events
into 10,000 cases in one ``batch()`` take about 10 s here (some 100 µs each; reading their
bytes, ``Event.from_bytes``, some 20 µs each).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import threading
import unicodedata
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import urlsplit

import apsw

from safeline.record import LANGUAGES, REFERENCE_ALPHABET, REFERENCE_LENGTH, ROLES, Record

from .cases import STATUSES, Case, CaseRecord, CaseSummary, CaseUrl, Note, StatusChange, UrlRequest, UrlState
from .events import FINGERPRINT, MAX_NOTE, PHONE_REFERENCE, BadEvent, Event, canonical_url, new_event
from .facts import CaseFacts, Facts, UrlFacts
from .problems import StaffError

__all__ = ["STATUSES", "Leaving", "Store", "StoreError", "SCHEMA_VERSION", "host_of", "JAPAN"]

JAPAN = timezone(timedelta(hours=9), "JST")
KEY_BYTES = 32
CIPHER = "chacha20"
OUTCOMES = ("report", "addition", "duplicate", "deleted")
PHONE_PREFIX = "TEL"

SCHEMA_VERSION = 3
SCHEMA_V1 = """
CREATE TABLE cases (
    id INTEGER PRIMARY KEY,
    reference TEXT NOT NULL UNIQUE,
    ref_key TEXT NOT NULL,           -- the reference in upper case, letters and digits only
    ref_tail TEXT NOT NULL,          -- ref_key without its series (SL, TEL)
    origin TEXT NOT NULL,
    has_report INTEGER NOT NULL,
    received_at TEXT NOT NULL,
    role TEXT,
    email TEXT NOT NULL DEFAULT '',
    contact_safety TEXT NOT NULL DEFAULT '',
    language TEXT NOT NULL DEFAULT 'ja',
    police_referral INTEGER,
    urls_open INTEGER NOT NULL DEFAULT 0,
    urls_all INTEGER NOT NULL DEFAULT 0,
    hosts TEXT NOT NULL DEFAULT '',  -- the hosts of its addresses, folded, one per line
    status TEXT NOT NULL DEFAULT 'new',
    last_activity TEXT NOT NULL,
    activity_key TEXT NOT NULL       -- last_activity in UTC, sortable as text
);
CREATE INDEX cases_by_activity ON cases (activity_key, id);
CREATE INDEX cases_by_status ON cases (status, activity_key, id);
CREATE INDEX cases_by_ref_key ON cases (ref_key);
CREATE TABLE case_text (
    case_id INTEGER PRIMARY KEY,
    text TEXT NOT NULL
);
CREATE TABLE records (
    id INTEGER PRIMARY KEY,
    case_id INTEGER NOT NULL,
    kind TEXT NOT NULL,
    received_at TEXT NOT NULL,
    received_key TEXT NOT NULL,
    message_id TEXT UNIQUE,          -- NULL for a phone case's record
    fields TEXT NOT NULL
);
CREATE INDEX records_of_case ON records (case_id, received_key, id);
CREATE TABLE urls (
    case_id INTEGER NOT NULL,
    url TEXT NOT NULL,
    host TEXT NOT NULL,
    first_received_at TEXT NOT NULL,
    first_key TEXT NOT NULL,
    first_record INTEGER NOT NULL,
    position INTEGER NOT NULL,
    PRIMARY KEY (case_id, url)
);
CREATE TABLE notes (
    id INTEGER PRIMARY KEY,
    case_id INTEGER NOT NULL,
    at TEXT NOT NULL,
    at_key TEXT NOT NULL,
    text TEXT NOT NULL
);
CREATE INDEX notes_of_case ON notes (case_id, at_key, id);
CREATE TABLE history (
    id INTEGER PRIMARY KEY,
    case_id INTEGER NOT NULL,
    at TEXT NOT NULL,
    at_key TEXT NOT NULL,
    status TEXT NOT NULL
);
CREATE INDEX history_of_case ON history (case_id, at_key, id);
CREATE TABLE other_messages (
    message_id TEXT PRIMARY KEY,
    case_id INTEGER NOT NULL
);
CREATE INDEX other_messages_of_case ON other_messages (case_id);
CREATE TABLE tombstones (digest BLOB PRIMARY KEY) WITHOUT ROWID;
CREATE TABLE phone_days (day TEXT PRIMARY KEY, last INTEGER NOT NULL);
"""
SCHEMA_V2 = """
ALTER TABLE cases ADD COLUMN received_key TEXT NOT NULL DEFAULT '';
ALTER TABLE cases ADD COLUMN assignee TEXT;
ALTER TABLE cases ADD COLUMN status_at TEXT;     -- when its winning status event was made
ALTER TABLE records ADD COLUMN event_id TEXT;    -- a phone case's record: its phone_case event
ALTER TABLE urls RENAME TO urls_v1;
ALTER TABLE notes RENAME TO legacy_notes;
ALTER TABLE history RENAME TO legacy_history;
CREATE TABLE urls (
    id INTEGER PRIMARY KEY,
    url TEXT NOT NULL UNIQUE,        -- canonical
    host TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'not_asked',
    state_on TEXT,
    reason TEXT NOT NULL DEFAULT '',
    next_on TEXT,
    host_info TEXT                   -- JSON, or NULL
);
CREATE INDEX urls_by_next ON urls (next_on) WHERE next_on IS NOT NULL;
CREATE TABLE case_urls (
    case_id INTEGER NOT NULL,
    url_id INTEGER NOT NULL,
    first_received_at TEXT NOT NULL,
    first_key TEXT NOT NULL,
    first_mid TEXT NOT NULL,         -- ties broken: 0 for a report, 1 for an addition, and its Message-ID
    position INTEGER NOT NULL,
    PRIMARY KEY (case_id, url_id)
) WITHOUT ROWID;
CREATE INDEX case_urls_of_url ON case_urls (url_id, case_id);
CREATE TABLE events (
    id TEXT PRIMARY KEY,
    case_id INTEGER,                 -- NULL: a delete or retire made here, until sent;
                                     -- 0: kept for an address after its case was retired
    reference TEXT NOT NULL,
    type TEXT NOT NULL,
    url_id INTEGER,
    sort_key TEXT NOT NULL,          -- Event.sort_key: the merge order
    at_key TEXT NOT NULL,            -- at in UTC, sortable
    at TEXT NOT NULL,
    author TEXT NOT NULL,
    data TEXT NOT NULL,
    sent INTEGER NOT NULL,           -- 0: made here, not yet in the team folder
    signed BLOB,                     -- the event as its author signed it (NULL until sealed), so
                                     -- that the history can be shared with a member who joins later
    mail_id TEXT                     -- the Message-ID of the mail that carries it in the events folder
) WITHOUT ROWID;
CREATE INDEX events_of_case ON events (case_id, type, sort_key);
CREATE INDEX events_of_url ON events (url_id, sort_key) WHERE url_id IS NOT NULL;
CREATE INDEX events_to_send ON events (sort_key) WHERE sent = 0;
CREATE TABLE sync_positions (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE retired_cases (
    digest BLOB PRIMARY KEY,         -- the tombstone of its reference
    received_on TEXT NOT NULL,
    origin TEXT NOT NULL,
    role TEXT,
    police_referral INTEGER,
    urls INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE retired_urls (
    id INTEGER PRIMARY KEY,
    case_digest BLOB NOT NULL,       -- the retired case that held it last
    reported_on TEXT NOT NULL,
    overseas INTEGER,
    requests_on TEXT NOT NULL,       -- JSON list of dates
    removed_on TEXT
);
CREATE INDEX retired_urls_of_case ON retired_urls (case_digest);
-- a version-1 phone case's record, until it becomes its owner's event (found without reading every record)
CREATE INDEX records_to_adopt ON records (id) WHERE message_id IS NULL AND event_id IS NULL;
"""


def _migrate_v2(db: apsw.Connection) -> None:
    """Version 1 to 2: addresses become shared (one row per canonical address, linked from
    each case); notes and status changes wait in ``legacy_*`` for the owner (``Store._adopt``)."""
    db.execute(SCHEMA_V2)
    for case_id, received_at in db.execute("SELECT id, received_at FROM cases").fetchall():
        db.execute("UPDATE cases SET received_key = ? WHERE id = ?", (_sort_key(_when(received_at)), case_id))
    rows = db.execute("SELECT u.case_id, u.url, u.first_received_at, u.first_key, "
                      "(CASE r.kind WHEN 'report' THEN '0' ELSE '1' END) || coalesce(r.message_id, ''), "
                      "u.position FROM urls_v1 u LEFT JOIN records r ON r.id = u.first_record").fetchall()
    for case_id, url, at, key, mid, position in rows:
        url_id = _url_row(db, canonical_url(url))
        _link(db, case_id, url_id, at, key, mid, position)
    db.execute("DROP TABLE urls_v1")


def _url_row(db: apsw.Connection, url: str) -> int:
    """The id of the address ``url`` (canonical), its row made when new."""
    row = db.execute("SELECT id FROM urls WHERE url = ?", (url,)).fetchone()
    if row is not None:
        return row[0]
    db.execute("INSERT INTO urls (url, host) VALUES (?, ?)", (url, host_of(url)))
    return db.last_insert_rowid()


def _link(db: apsw.Connection, case_id: int, url_id: int, at: str, key: str, mid: str, position: int) -> None:
    """Link the case and the address, first received at (key, mid, position) unless earlier."""
    row = db.execute("SELECT first_key, first_mid, position FROM case_urls WHERE case_id = ? AND url_id = ?",
                     (case_id, url_id)).fetchone()
    if row is None:
        db.execute("INSERT INTO case_urls (case_id, url_id, first_received_at, first_key, first_mid, position) "
                   "VALUES (?, ?, ?, ?, ?, ?)", (case_id, url_id, at, key, mid, position))
    elif (key, mid, position) < tuple(row):
        # A record received earlier came later (a report after its addition): it is first.
        db.execute("UPDATE case_urls SET first_received_at = ?, first_key = ?, first_mid = ?, position = ? "
                   "WHERE case_id = ? AND url_id = ?", (at, key, mid, position, case_id, url_id))


# Version 2 to 3: the events in a table of their own order (appended), not the ids' (random).
SCHEMA_V3 = """
CREATE TABLE events_v3 (
    id TEXT NOT NULL UNIQUE,
    case_id INTEGER,
    reference TEXT NOT NULL,
    type TEXT NOT NULL,
    url_id INTEGER,
    sort_key TEXT NOT NULL,
    at_key TEXT NOT NULL,
    at TEXT NOT NULL,
    author TEXT NOT NULL,
    data TEXT NOT NULL,
    sent INTEGER NOT NULL,
    signed BLOB,
    mail_id TEXT
);
INSERT INTO events_v3 (id, case_id, reference, type, url_id, sort_key, at_key, at, author, data, sent, signed, mail_id)
    SELECT id, case_id, reference, type, url_id, sort_key, at_key, at, author, data, sent, signed, mail_id
    FROM events ORDER BY sort_key;
DROP TABLE events;
ALTER TABLE events_v3 RENAME TO events;
CREATE INDEX events_of_case ON events (case_id, type, sort_key);
CREATE INDEX events_of_url ON events (url_id, sort_key) WHERE url_id IS NOT NULL;
CREATE INDEX events_to_send ON events (sort_key) WHERE sent = 0;
"""

# MIGRATIONS[n] brings a store of version n - 1 to version n, in one transaction: SQL, or a
# function of the connection.
MIGRATIONS = {1: SCHEMA_V1, 2: _migrate_v2, 3: SCHEMA_V3}
URL_EVENTS = ("request", "url_state", "url_next", "url_host")

_CASE_COLUMNS = ("reference, origin, received_at, role, urls_open, urls_all, police_referral, status, "
                 "last_activity")
_SURROGATE = re.compile("[\ud800-\udfff]")
# A whole reference as reference_key() reduces it: SL and 8 characters, or TEL and 11 digits.
# (a phone case of part 2: TEL-YYYYMMDD-NNN-FFFF; its first part alone, as part 1 wrote it,
# is looked up as the beginning of a reference: it may be several kits' cases).
WHOLE_REFERENCE = re.compile(rf"SL[{REFERENCE_ALPHABET}]{{{REFERENCE_LENGTH}}}|{PHONE_PREFIX}[0-9]{{11}}[0-9A-F]{{4}}")
OLD_PHONE_KEY = re.compile(rf"{PHONE_PREFIX}[0-9]{{11}}")


# How long a write waits for another safeline-staff (an import, the interface) to finish its own.
BUSY_MS = 10_000
BUSY = ("the case store is busy: another safeline-staff (an import, or the interface) kept writing for "
        f"{BUSY_MS // 1000} s; try again when it has finished")

class StoreError(StaffError):
    """The case store cannot be opened or used as asked."""


@dataclass(frozen=True)
class Leaving:
    """What goes with a case that is retired or deleted (``Store.leaving``): counts and dates,
    no text; ``mails`` and ``event_mails`` (Message-IDs, without angle brackets) are for the
    mailbox clean-up to find those mails, never to be shown."""

    reference: str
    closed_on: date | None  # Japan date it was closed, None when it is not closed
    reports: int
    additions: int
    notes: int
    urls: int
    events: int
    mails: tuple[str, ...]  # its reports' and additions' mails (second copies too)
    event_mails: tuple[str, ...]  # the mails that carried its events, where known
    events_unknown: int  # its events whose mail is not known here


# -- small pure helpers ----------------------------------------------------------------------

def _clean(text: str) -> str:
    """``text`` with lone surrogates (which JSON allows and UTF-8 does not) replaced."""
    return _SURROGATE.sub("\ufffd", text)


def fold(text: str) -> str:
    """How search compares words: NFKC (full-width letters, half-width kana) and case-folded."""
    return unicodedata.normalize("NFKC", _clean(text)).casefold()


def reference_key(text: str) -> str:
    """A reference as typed, reduced to what identifies it: upper case, letters and digits."""
    return re.sub(r"[^0-9A-Z]", "", unicodedata.normalize("NFKC", text).upper())


def _reference_tail(reference: str) -> str:
    return reference_key(reference.split("-", 1)[1] if "-" in reference else reference)


def host_of(url: str) -> str:
    """The host of ``url`` in lower case (also of an address typed without ``https://``), or ""."""
    text = _clean(url).strip()
    if "://" not in text:
        text = "//" + text
    try:
        return urlsplit(text).hostname or ""
    except ValueError:
        return ""


def _message_id(message_id: str) -> str:
    """A Message-ID as the store keeps it: without its angle brackets (a header may carry them
    or not), so that ``seen`` finds a mail whichever way it was written."""
    text = _clean(str(message_id or "")).strip()
    if text.startswith("<") and text.endswith(">") and text[1:-1].strip():
        text = text[1:-1].strip()
    if not text:
        raise ValueError("a mail without a Message-ID cannot be stored")
    return text


def _json(fields: dict) -> str:
    """The fields as JSON text, exactly as they came: UTF-8 for compactness, or with ASCII
    escapes when a lone surrogate (which UTF-8 cannot hold) is among them."""
    text = json.dumps(fields, ensure_ascii=False)
    return json.dumps(fields) if _SURROGATE.search(text) else text


def _sort_key(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _bool(value) -> bool | None:
    return None if value is None else bool(value)


# -- the store -------------------------------------------------------------------------------

class Store:
    """The case store in the file ``path``; ``Store.create`` or ``Store.open`` it.

    One connection, usable from several threads (the web interface's): each public method
    holds the store's lock, and every change is one transaction. ``batch()`` makes many
    changes one transaction (the importer's, for speed).
    """

    def __init__(self, db: apsw.Connection, key: bytes, path: Path):
        self._db = db
        self.path = path
        self._lock = threading.RLock()
        self._writing = False  # inside _write's transaction
        self._generation = 0  # counts this connection's changes (search hits follow it)
        self._hits_key: tuple | None = None
        # Tombstones are keyed with a key of their own, derived from the store key, so that
        # an HMAC found in the file says nothing without the store key.
        self._tomb_key = hmac.new(key, b"safeline-staff tombstones v1", hashlib.sha256).digest()
        self._author: str | None = None

    # opening and closing

    @classmethod
    def create(cls, path: Path, key: bytes) -> Store:
        """A new, empty store in ``path`` (which must not exist), encrypted with ``key``."""
        path = Path(path)
        if path.exists() or path.is_symlink():
            raise StoreError(f"{path} exists already: a new case store is never written over a file")
        return cls._ready(cls._connect(path, key, create=True), key, path, new=True)

    @classmethod
    def open(cls, path: Path, key: bytes) -> Store:
        """The store in ``path``; ``StoreError`` when it is missing, the key is wrong or the file
        is not a case store."""
        path = Path(path)
        if not path.is_file():
            raise StoreError(f"no case store at {path}: run `safeline-staff init` first")
        return cls._ready(cls._connect(path, key, create=False), key, path, new=False)

    @classmethod
    def _ready(cls, db: apsw.Connection, key: bytes, path: Path, *, new: bool) -> Store:
        """The store on ``db``, its schema brought up to date; ``db`` closed if that fails."""
        try:
            if not new and db.execute("PRAGMA user_version").fetchone()[0] == 0:
                raise StoreError(f"{path} is not a case store (wrong key or not a case store)")
            cls._migrate(db, path)
        except BaseException:
            db.close()
            raise
        return cls(db, key, path)

    @staticmethod
    def _connect(path: Path, key: bytes, *, create: bool) -> apsw.Connection:
        if not isinstance(key, bytes) or len(key) != KEY_BYTES:
            raise ValueError(f"the store key must be {KEY_BYTES} bytes")
        flags = apsw.SQLITE_OPEN_READWRITE | (apsw.SQLITE_OPEN_CREATE if create else 0)
        try:
            db = apsw.Connection(str(path), flags=flags)
        except apsw.Error as error:
            raise StoreError(f"cannot open the case store {path} ({type(error).__name__}): check the "
                             "folder exists and is yours") from None
        try:
            # The cipher and key before anything reads the file; then prove the key by reading.
            db.execute(f"PRAGMA cipher = '{CIPHER}'")
            db.execute(f"PRAGMA hexkey = '{key.hex()}'")
            db.execute("PRAGMA temp_store = MEMORY")
            db.set_busy_timeout(BUSY_MS)
            db.execute("SELECT count(*) FROM sqlite_master").fetchall()
            # WAL: the interface keeps reading while an import writes, and two writers take
            # turns (the importer writes in short transactions); the WAL is encrypted like
            # the file, and the last connection to close folds it back and removes it.
            db.execute("PRAGMA journal_mode = WAL").fetchall()
            db.execute("PRAGMA secure_delete = ON")
            # Up to 64 MiB of decrypted pages, in memory only: a search of 10,000 cases reads
            # every case's words, and they then stay decrypted in memory, not read again.
            db.execute("PRAGMA cache_size = -65536")
            # The ids (only) of the last search's cases, in memory (temp_store).
            db.execute("CREATE TEMP TABLE search_hits (case_id INTEGER PRIMARY KEY)")
        except apsw.NotADBError:
            db.close()
            raise StoreError(f"{path}: wrong key or not a case store") from None
        except apsw.BusyError:
            db.close()
            raise StoreError(f"{path} is in use by another safeline-staff: close it and try again") from None
        except apsw.Error as error:
            db.close()
            raise StoreError(f"{path}: cannot read the case store ({type(error).__name__})") from None
        return db

    @staticmethod
    def _migrate(db: apsw.Connection, path: Path) -> None:
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise StoreError(f"{path} was written by a newer safeline-staff (store version {version}): "
                             "update safeline-staff")
        if version == SCHEMA_VERSION:
            return
        with db:
            for step in range(version + 1, SCHEMA_VERSION + 1):
                if callable(MIGRATIONS[step]):
                    MIGRATIONS[step](db)
                else:
                    db.execute(MIGRATIONS[step])
                db.execute(f"PRAGMA user_version = {step}")

    @property
    def schema_version(self) -> int:
        with self._lock:
            return self._db.execute("PRAGMA user_version").fetchone()[0]

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @contextmanager
    def batch(self, *, durable: bool = True) -> Iterator[Store]:
        """Many changes in one transaction: ``with store.batch(): store.add(...) …``. An
        exception inside rolls all of them back.

        ``durable=False``: only for changes that come again by themselves if lost (sync's
        received events, saved with the folder position that would bring them back): the
        commit does not wait for the disk (SQLite's ``synchronous = NORMAL`` in WAL mode), so
        a power cut right after may roll back this transaction, whole, never damage the store
        or touch what another transaction committed. On this machine's disk that wait was a
        third of a long sync (BENCHMARKS.md, (g)). The next durable commit makes it durable too."""
        if durable or self._writing:
            with self._write():
                yield self
            return
        with self._lock:  # held until the setting is back: no other change commits meanwhile
            level = int(self._db.execute("PRAGMA synchronous").fetchone()[0])
            self._db.execute("PRAGMA synchronous = NORMAL")
            try:
                with self._write():
                    yield self
            finally:
                self._db.execute(f"PRAGMA synchronous = {level}")

    @contextmanager
    def _change(self) -> Iterator[apsw.Connection]:
        with self._write():
            yield self._db

    @contextmanager
    def _write(self) -> Iterator[None]:
        """A write transaction; inside another, a savepoint of it.

        The outermost takes the write lock at once (BEGIN IMMEDIATE), so another safeline-staff
        writing meanwhile (an import, the interface) is waited for, up to BUSY_MS. A deferred
        transaction would read first, and then, if the other one committed in between, fail
        at its first write with no wait at all (WAL's stale snapshot)."""
        with self._lock:
            if self._writing:
                with self._db:
                    yield
                return
            try:
                self._db.execute("BEGIN IMMEDIATE")
            except apsw.BusyError:
                raise StoreError(BUSY) from None
            self._writing = True
            try:
                yield
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            else:
                self._db.execute("COMMIT")
            finally:
                self._writing = False
                self._generation += 1  # committed or rolled back: search hits are stale

    def _one(self, sql: str, params: Iterable = ()):
        return self._db.execute(sql, tuple(params)).fetchone()

    # the importer's side

    def _digest(self, kind: str, value: str) -> bytes:
        return hmac.new(self._tomb_key, kind.encode() + b"\0" + value.encode("utf-8"), hashlib.sha256).digest()

    def _buried(self, kind: str, value: str) -> bool:
        return self._one("SELECT 1 FROM tombstones WHERE digest = ?", (self._digest(kind, value),)) is not None

    def _bury(self, kind: str, value: str) -> None:
        self._db.execute("INSERT OR IGNORE INTO tombstones (digest) VALUES (?)", (self._digest(kind, value),))

    def _known(self, message_id: str) -> bool:
        return (self._one("SELECT 1 FROM records WHERE message_id = ?", (message_id,)) is not None
                or self._one("SELECT 1 FROM other_messages WHERE message_id = ?", (message_id,)) is not None)

    def seen(self, message_id: str) -> bool:
        """Whether the mail ``message_id`` was imported already (or belonged to a deleted case):
        the importer need not decrypt it again."""
        mid = _message_id(message_id)
        with self._lock:
            return self._known(mid) or self._buried("message-id", mid)

    def add(self, record: Record, *, message_id: str) -> str:
        """Store ``record``, which came in the mail ``message_id``. Returns what happened:
        ``"report"`` or ``"addition"`` (stored), ``"duplicate"`` (that mail, or a report for
        that reference, is in the store already: nothing stored), ``"deleted"`` (its case was
        deleted on request: it never comes back)."""
        if record.kind not in ("report", "addition"):
            raise ValueError(f"a record of kind {record.kind!r}")
        mid = _message_id(message_id)
        reference = record.reference
        with self._change() as db:
            if self._known(mid):
                return "duplicate"
            if self._buried("message-id", mid):
                return "deleted"
            if self._buried("reference", reference):
                self._bury("message-id", mid)  # so that seen() spares the importer next time
                return "deleted"
            row = self._one("SELECT id, has_report FROM cases WHERE reference = ?", (reference,))
            if row is not None and row[1] and record.kind == "report":
                db.execute("INSERT INTO other_messages (message_id, case_id) VALUES (?, ?)", (mid, row[0]))
                return "duplicate"
            moment = record.received_at
            if row is None:
                case_id = self._new_case(reference, "web", moment, language=record.fields.get("language"))
            else:
                case_id = row[0]
            self._insert_record(case_id, record.kind, moment, mid, record.fields)
            if record.kind == "report":
                self._take_report(case_id, moment, record.fields)
            self._add_urls(case_id, ("0" if record.kind == "report" else "1") + mid, moment,
                           record.fields.get("urls", []))
            self._refresh(case_id)
            return record.kind

    def _new_case(self, reference: str, origin: str, moment: datetime, *, language) -> int:
        at = moment.astimezone(JAPAN).isoformat()
        self._db.execute(
            "INSERT INTO cases (reference, ref_key, ref_tail, origin, has_report, received_at, received_key, "
            "language, last_activity, activity_key) VALUES (?, ?, ?, ?, 0, ?, ?, ?, ?, ?)",
            (reference, reference_key(reference), _reference_tail(reference), origin, at, _sort_key(moment),
             language if language in LANGUAGES else "ja", at, _sort_key(moment)))
        return self._db.last_insert_rowid()

    def _insert_record(self, case_id: int, kind: str, moment: datetime, mid: str | None, fields: dict,
                       event_id: str | None = None) -> int:
        self._db.execute(
            "INSERT INTO records (case_id, kind, received_at, received_key, message_id, fields, event_id) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (case_id, kind, moment.isoformat(), _sort_key(moment), mid, _json(fields), event_id))
        return self._db.last_insert_rowid()

    def _take_report(self, case_id: int, moment: datetime, fields: dict) -> None:
        police = fields.get("police_referral")
        language = fields.get("language")
        self._db.execute(
            "UPDATE cases SET has_report = 1, received_at = ?, received_key = ?, role = ?, email = ?, "
            "contact_safety = ?, language = ?, police_referral = ? WHERE id = ?",
            (moment.isoformat(), _sort_key(moment), _clean(str(fields.get("role", ""))) or None,
             _clean(str(fields.get("email", ""))), _clean(str(fields.get("contact_safety", ""))),
             language if language in LANGUAGES else "ja", None if police is None else int(bool(police)),
             case_id))

    def _add_urls(self, case_id: int, mid: str, moment: datetime, urls: list) -> None:
        key = _sort_key(moment)
        for position, url in enumerate(urls):
            if not isinstance(url, str) or not url.strip():
                continue
            url_id = _url_row(self._db, canonical_url(url))
            _link(self._db, case_id, url_id, moment.isoformat(), key, mid, position)

    def _refresh(self, case_id: int) -> None:
        """Bring the case's summary, hosts and search text up to date with its rows (after a
        mail, a phone case, a migration: not for each event, which updates only what it changes)."""
        db = self._db
        count, open_ = self._one(
            "SELECT count(*), coalesce(sum(u.state != 'removed'), 0) FROM case_urls cu JOIN urls u "
            "ON u.id = cu.url_id WHERE cu.case_id = ?", (case_id,))
        hosts = sorted({fold(row[0]) for row in db.execute(
            "SELECT u.host FROM case_urls cu JOIN urls u ON u.id = cu.url_id WHERE cu.case_id = ?", (case_id,))
            if row[0]})
        if not self._one("SELECT has_report FROM cases WHERE id = ?", (case_id,))[0]:
            # The report is missing: received when its first mail was (or, with none yet, when
            # its first event was made), in the language of that mail.
            first = self._one("SELECT received_at, received_key, fields FROM records WHERE case_id = ? "
                              "ORDER BY received_key, kind = 'addition', message_id LIMIT 1", (case_id,))
            if first is not None:
                language = json.loads(first[2]).get("language")
                db.execute("UPDATE cases SET received_at = ?, received_key = ?, language = ? WHERE id = ?",
                           (first[0], first[1], language if language in LANGUAGES else "ja", case_id))
            else:
                first = self._one("SELECT at, at_key FROM events WHERE case_id = ? ORDER BY at_key LIMIT 1",
                                  (case_id,))
                if first is not None:
                    db.execute("UPDATE cases SET received_at = ?, received_key = ?, language = 'ja' WHERE id = ?",
                               (_japan(first[0]), first[1], case_id))
        latest = self._one(
            "SELECT max(k) FROM (SELECT max(received_key) AS k FROM records WHERE case_id = ?1 "
            "UNION ALL SELECT max(at_key) FROM events WHERE case_id = ?1 "
            "UNION ALL SELECT received_key FROM cases WHERE id = ?1)", (case_id,))[0]
        db.execute("UPDATE cases SET urls_open = ?, urls_all = ?, hosts = ?, last_activity = ?, activity_key = ? "
                   "WHERE id = ?", (open_, count, "\n".join(hosts), _from_key(latest), latest, case_id))
        words = []
        for (fields,) in db.execute("SELECT fields FROM records WHERE case_id = ? ORDER BY id", (case_id,)):
            data = json.loads(fields)
            for name in ("description", "where", "contact_safety", "email"):
                if isinstance(data.get(name), str) and data[name]:
                    words.append(data[name])
            words.extend(url for url in data.get("urls", []) if isinstance(url, str))
        words.extend(json.loads(row[0])["text"] for row in db.execute(
            "SELECT data FROM events WHERE case_id = ? AND type = 'note'", (case_id,)))
        db.execute("INSERT OR REPLACE INTO case_text (case_id, text) VALUES (?, ?)",
                   (case_id, fold("\n".join(words))))

    # cases

    def _where(self, status: str | None, search: str | None) -> tuple[str, list]:
        """The WHERE clause for the filters (with the lock held: it may fill the search's hits)."""
        clauses, params = [], []
        if status is not None:
            if status not in STATUSES:
                raise StoreError(f"unknown status {_clean(str(status))[:40]!r}: one of {', '.join(STATUSES)}")
            clauses.append("c.status = ?")
            params.append(status)
        terms = tuple((search or "").split())
        if terms:
            self._find_hits(terms)
            clauses.append("c.id IN (SELECT case_id FROM temp.search_hits)")
        return (" WHERE " + " AND ".join(clauses)) if clauses else "", params

    def _find_hits(self, terms: tuple[str, ...]) -> None:
        """Fill the in-memory table ``search_hits`` with the ids of the cases that match every
        term, unless it holds them already. Searching reads every case's words; the web list
        asks for one search's page and several counts, which then cost one reading, not six.
        The hits stay valid until the store changes (here, or in another process: data_version)."""
        key = (terms, self._generation, self._one("PRAGMA data_version")[0])
        if key == self._hits_key:
            return
        clauses, params = [], []
        for term in terms:
            # Each word must match: a reference's beginning (typed with or without dashes, any
            # case), part of a host, or part of the words of the case. A whole reference is
            # looked up by its index alone.
            folded, ref = fold(term), reference_key(term)
            if WHOLE_REFERENCE.fullmatch(ref):
                clauses.append("c.ref_key = ?")
                params.append(ref)
                continue
            r, w = f"?{len(params) + 1}", f"?{len(params) + 2}"
            clauses.append(f"(({r} != '' AND (instr(c.ref_key, {r}) = 1 OR instr(c.ref_tail, {r}) = 1)) "
                           f"OR instr(c.hosts, {w}) > 0 "
                           f"OR instr((SELECT text FROM case_text t WHERE t.case_id = c.id), {w}) > 0)")
            params.extend([ref, folded])
        self._hits_key = None
        self._db.execute("DELETE FROM temp.search_hits")
        self._db.execute("INSERT INTO temp.search_hits (case_id) SELECT c.id FROM cases c WHERE "
                         + " AND ".join(clauses), params)
        self._hits_key = key

    def cases(self, *, status: str | None = None, search: str | None = None, limit: int | None = 100,
              offset: int = 0) -> list[CaseSummary]:
        """The cases that match, newest activity first, ``limit`` (None: all) from ``offset``."""
        with self._lock:
            where, params = self._where(status, search)
            sql = (f"SELECT {_CASE_COLUMNS} FROM cases c{where} ORDER BY c.activity_key DESC, c.id DESC "
                   f"LIMIT ? OFFSET ?")
            rows = self._db.execute(sql, (*params, -1 if limit is None else int(limit), int(offset))).fetchall()
        return [self._summary(row) for row in rows]

    def count(self, *, status: str | None = None, search: str | None = None) -> int:
        with self._lock:
            where, params = self._where(status, search)
            return self._one(f"SELECT count(*) FROM cases c{where}", params)[0]

    @staticmethod
    def _summary(row) -> CaseSummary:
        reference, origin, received_at, role, urls_open, urls_all, police, status, last = row
        return CaseSummary(reference=reference, origin=origin, received_at=_when(received_at), role=role,
                           urls_open=urls_open, urls_all=urls_all, police_referral=_bool(police),
                           status=status, last_activity=_when(last))

    def _find(self, reference: str) -> tuple[int, str] | None:
        """The case's id and reference, for a reference typed exactly or loosely (any case, with
        or without dashes; a version-1 phone reference finds the case it became)."""
        row = self._one("SELECT id, reference FROM cases WHERE reference = ?", (reference,))
        if row is None:
            key = reference_key(reference)
            rows = self._db.execute("SELECT id, reference FROM cases WHERE ref_key = ?", (key,)).fetchall()
            if not rows and OLD_PHONE_KEY.fullmatch(key):
                rows = self._db.execute("SELECT id, reference FROM cases WHERE ref_key > ? AND ref_key < ? "
                                        "AND length(ref_key) = ?", (key, key + "~", len(key) + 4)).fetchall()
            rows = rows if key else []
            row = rows[0] if len(rows) == 1 else None
        return None if row is None else (row[0], row[1])

    def _need(self, reference: str) -> tuple[int, str]:
        found = self._find(reference)
        if found is None:
            raise StoreError(f"no case {_clean(reference)[:40]!r} in the store: check the reference "
                             "(`safeline-staff cases --search …`)")
        return found

    def case(self, reference: str) -> Case | None:
        """Everything about the case ``reference`` (typed loosely: any case, dashes or not)."""
        with self._lock:
            found = self._find(reference)
            if found is None:
                return None
            case_id = found[0]
            db = self._db
            row = self._one(f"SELECT {_CASE_COLUMNS}, email, contact_safety, language, assignee FROM cases "
                            "WHERE id = ?", (case_id,))
            records = tuple(
                CaseRecord(kind=kind, received_at=_when(at), message_id=mid, fields=json.loads(fields))
                for kind, at, mid, fields in db.execute(
                    "SELECT kind, received_at, message_id, fields FROM records WHERE case_id = ? "
                    "ORDER BY received_key, kind = 'addition', message_id, id", (case_id,)))
            urls = tuple(
                CaseUrl(url=url, host=host, first_received_at=_when(at), state=state, next_on=_day(next_on))
                for url, host, at, state, next_on in db.execute(
                    "SELECT u.url, u.host, cu.first_received_at, u.state, u.next_on FROM case_urls cu "
                    "JOIN urls u ON u.id = cu.url_id WHERE cu.case_id = ? "
                    "ORDER BY cu.first_key, cu.first_mid, cu.position, u.url", (case_id,)))
            notes = tuple(Note(at=_when(at), text=json.loads(data)["text"], author=author)
                          for at, author, data in db.execute(
                              "SELECT at, author, data FROM events WHERE case_id = ? AND type = 'note' "
                              "ORDER BY sort_key", (case_id,)))
            changes = tuple(StatusChange(at=_when(at), status=json.loads(data)["status"], author=author)
                            for at, author, data in db.execute(
                                "SELECT at, author, data FROM events WHERE case_id = ? AND type = 'status' "
                                "ORDER BY sort_key", (case_id,)))
        summary = self._summary(row[:9])
        # The history starts with "new" when the case was received (the same in every kit,
        # whichever of its mails or events came first).
        history = (StatusChange(at=summary.received_at, status="new"), *changes)
        return Case(**summary.__dict__, email=row[9], contact_safety=row[10], language=row[11], assignee=row[12],
                    records=records, urls=urls, notes=notes, history=history)

    # -- events -----------------------------------------------------------------------------------

    @property
    def author(self) -> str | None:
        """The kit owner's primary key fingerprint: the author of the changes made here.
        Setting it (``staff.setup.open_store`` does) turns a version-1 store's notes, status
        changes and phone cases into the owner's events (``_adopt``)."""
        return self._author

    @author.setter
    def author(self, fingerprint: str | None) -> None:
        if fingerprint is not None:
            fingerprint = str(fingerprint).upper()
            if not FINGERPRINT.fullmatch(fingerprint):
                raise StoreError("the store's author must be a key fingerprint (40 or 64 hex digits)")
        with self._lock:
            self._author = fingerprint
            if fingerprint is not None:
                self._adopt()

    def _need_author(self) -> str:
        if self._author is None:
            raise StoreError("this case store was opened without its owner's key: open it with "
                             "`safeline-staff` (staff.setup.open_store)")
        return self._author

    def _local(self, reference: str, type: str, data: dict, at: datetime | None) -> Event:
        """Make the event of a change made here (author: the owner), apply it and queue it."""
        author = self._need_author()
        if at is not None:
            if at.utcoffset() is None:
                raise ValueError("a time without an offset")
            at = at.astimezone(JAPAN)
        with self._change():
            _, reference = self._need(reference)
            event = new_event(reference, type, data, author=author, at=at)
            self._apply(event, local=True)
        return event

    def apply(self, event: Event, *, signed: bytes | None = None, mail_id: str | None = None) -> str:
        """Apply ``event`` (from the team folder): ``"applied"``, ``"known"`` (it was applied
        before: nothing changes) or ``"deleted"`` (its case was deleted or retired here).
        ``signed``: the event as its author signed it, and ``mail_id``: the Message-ID of the
        mail that carried it, kept with the event (``_keep_signed``); for an event of a case
        deleted here, that Message-ID is buried instead (its HMAC: ``bury_mail``)."""
        if not isinstance(event, Event):
            raise TypeError("apply takes an Event")
        with self._change():
            result = self._apply(event, local=False, signed=signed, mail_id=mail_id)
            if (signed is not None or mail_id is not None) and \
                    (result != "applied" or event.type in ("delete", "retire")):
                self._keep_signed(event, signed, mail_id)  # an applied event's row has them already
            if result == "deleted" and mail_id and event.type not in ("delete", "retire"):
                # Kept nowhere else: so that the mailbox clean-up finds this mail of a case that is gone.
                with suppress(ValueError):  # a Message-ID of nothing but spaces: nothing to find it by
                    self._bury("message-id", _message_id(mail_id))
            return result

    def _apply(self, event: Event, *, local: bool, signed: bytes | None = None, mail_id: str | None = None) -> str:
        db = self._db
        if self._one("SELECT 1 FROM events WHERE id = ?", (event.id,)) is not None:
            return "known"
        if event.type in ("delete", "retire"):
            return self._end(event, local=local)
        row = self._one("SELECT id FROM cases WHERE reference = ?", (event.case,))
        if row is None:
            # A case that is here was never deleted here (deleting buries its reference and
            # takes its row): only a reference without a case can have a tombstone.
            if self._buried("reference", event.case):
                return "deleted"
            origin = "phone" if event.case.startswith(PHONE_PREFIX) else "web"
            case_id = self._new_case(event.case, origin, event.at, language=None)
        else:
            case_id = row[0]
        data = event.data
        url_id = _url_row(db, data["url"]) if event.type in URL_EVENTS else None
        self._insert_event(event, case_id, url_id, local=local, signed=signed, mail_id=mail_id)
        at_key = _sort_key(event.at)
        db.execute("UPDATE cases SET last_activity = ?, activity_key = ? WHERE id = ? AND activity_key < ?",
                   (event.at.astimezone(JAPAN).isoformat(), at_key, case_id, at_key))
        db.execute("UPDATE cases SET received_at = ?, received_key = ? WHERE id = ? AND has_report = 0 "
                   "AND received_key > ? AND NOT EXISTS (SELECT 1 FROM records WHERE case_id = ?)",
                   (event.at.astimezone(JAPAN).isoformat(), at_key, case_id, at_key, case_id))
        kind = event.type
        if kind == "note":
            db.execute("UPDATE case_text SET text = text || ? WHERE case_id = ?", ("\n" + fold(data["text"]), case_id))
            if db.changes() == 0:
                db.execute("INSERT INTO case_text (case_id, text) VALUES (?, ?)", (case_id, fold(data["text"])))
        elif kind in ("status", "assign"):
            # Events mostly come in merge order: then this one is the case's last of its kind and
            # its value wins, with no need to look for the last (index only: no row is read).
            if self._one("SELECT 1 FROM events WHERE case_id = ? AND type = ? AND sort_key > ? LIMIT 1",
                         (case_id, kind, event.sort_key)) is None:
                self._set_case_field(case_id, kind, data, event.at.isoformat(timespec="microseconds"))
        elif kind == "phone_case":
            self._phone_record(event, case_id)
        elif self._one("SELECT 1 FROM events WHERE url_id = ? AND sort_key > ? LIMIT 1",
                       (url_id, event.sort_key)) is None:
            self._set_url_fields(url_id, event)  # the address's last event so far: its values win
        else:
            self._url_fields(url_id, state=kind in ("request", "url_state"),
                             next=kind in ("request", "url_state", "url_next"), host=kind == "url_host")
        return "applied"

    def _insert_event(self, event: Event, case_id: int | None, url_id: int | None, *, local: bool,
                      signed: bytes | None = None, mail_id: str | None = None) -> None:
        self._db.execute(
            "INSERT INTO events (id, case_id, reference, type, url_id, sort_key, at_key, at, author, data, sent, "
            "signed, mail_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (event.id, case_id, event.case, event.type, url_id, event.sort_key, _sort_key(event.at),
             event.at.isoformat(timespec="microseconds"), event.author, _json(event.data), 0 if local else 1,
             signed, mail_id))

    def _set_case_field(self, case_id: int, kind: str, data: dict, at: str) -> None:
        """Status or assignee, from the case's event of that kind that sorts last (its data, its ``at``)."""
        if kind == "status":
            self._db.execute("UPDATE cases SET status = ?, status_at = ? WHERE id = ?", (data["status"], at, case_id))
        else:
            self._db.execute("UPDATE cases SET assignee = ? WHERE id = ?", (data["to"], case_id))

    def _set_url_fields(self, url_id: int, event: Event) -> None:
        """The fields ``event`` sets, from it: for an event that sorts after every other of its address."""
        data, kind = event.data, event.type
        if kind in ("request", "url_state"):
            self._set_state(url_id, ("asked", data["sent_on"], "") if kind == "request"
                            else (data["state"], data["on"], data["reason"]))
        if kind in ("request", "url_state", "url_next"):
            self._db.execute("UPDATE urls SET next_on = ? WHERE id = ?", (data["next_on"], url_id))
        if kind == "url_host":
            self._db.execute("UPDATE urls SET host_info = ? WHERE id = ?", (_json(data["host"]), url_id))

    def _set_state(self, url_id: int, values: tuple) -> None:
        """An address's (state, state_on, reason); its cases' open count follows when it comes down or back."""
        db = self._db
        before = self._one("SELECT state FROM urls WHERE id = ?", (url_id,))[0]
        db.execute("UPDATE urls SET state = ?, state_on = ?, reason = ? WHERE id = ?", (*values, url_id))
        if (before == "removed") != (values[0] == "removed"):
            db.execute("UPDATE cases SET urls_open = (SELECT count(*) FROM case_urls cu JOIN urls u "
                       "ON u.id = cu.url_id WHERE cu.case_id = cases.id AND u.state != 'removed') "
                       "WHERE id IN (SELECT case_id FROM case_urls WHERE url_id = ?)", (url_id,))

    def _url_fields(self, url_id: int, *, state: bool = True, next: bool = True, host: bool = True) -> None:
        """An address's fields, each the value of the last (in merge order) of its events that set it."""
        db = self._db

        def last(types: tuple[str, ...]):
            marks = ", ".join("?" * len(types))
            return self._one(f"SELECT type, data FROM events WHERE url_id = ? AND type IN ({marks}) "
                             "ORDER BY sort_key DESC LIMIT 1", (url_id, *types))

        next_row = last(("request", "url_state", "url_next")) if next else None
        if not state:
            state_row = None
        elif next and (next_row is None or next_row[0] != "url_next"):
            state_row = next_row  # the last to set the next date is also the last request or outcome
        else:
            state_row = last(("request", "url_state"))
        if state:
            row = state_row
            if row is None:
                values = ("not_asked", None, "")
            else:
                data = json.loads(row[1])
                values = (("asked", data["sent_on"], "") if row[0] == "request"
                          else (data["state"], data["on"], data["reason"]))
            self._set_state(url_id, values)
        if next:
            row = next_row
            db.execute("UPDATE urls SET next_on = ? WHERE id = ?",
                       (None if row is None else json.loads(row[1])["next_on"], url_id))
        if host:
            row = last(("url_host",))
            db.execute("UPDATE urls SET host_info = ? WHERE id = ?",
                       (None if row is None else _json(json.loads(row[1])["host"]), url_id))

    def _phone_record(self, event: Event, case_id: int) -> None:
        """A phone case's report from its event. Two phone_case events for one reference (which
        kits never make) keep the first in merge order, in every kit."""
        db = self._db
        row = self._one("SELECT r.id, e.sort_key FROM records r JOIN events e ON e.id = r.event_id "
                        "WHERE r.case_id = ? AND r.message_id IS NULL", (case_id,))
        if row is not None:
            if row[1] < event.sort_key:
                return
            urls = [url_id for (url_id,) in db.execute("SELECT url_id FROM case_urls WHERE case_id = ?", (case_id,))]
            db.execute("DELETE FROM records WHERE id = ?", (row[0],))
            db.execute("DELETE FROM case_urls WHERE case_id = ?", (case_id,))
            self._drop_orphans(urls)
        fields = event.data["fields"]
        moment = event.at.astimezone(JAPAN)
        self._insert_record(case_id, "report", moment, None, fields, event_id=event.id)
        self._take_report(case_id, moment, fields)
        self._add_urls(case_id, "0", moment, fields.get("urls", []))
        self._refresh(case_id)

    def _drop_orphans(self, url_ids: Iterable[int]) -> None:
        for url_id in set(url_ids):
            if (self._one("SELECT 1 FROM case_urls WHERE url_id = ? LIMIT 1", (url_id,)) is None
                    and self._one("SELECT 1 FROM events WHERE url_id = ? LIMIT 1", (url_id,)) is None):
                self._db.execute("DELETE FROM urls WHERE id = ?", (url_id,))

    def _end(self, event: Event, *, local: bool) -> str:
        """``delete`` or ``retire``: the case goes (retire keeps its facts), its reference is
        buried. A delete after a retire removes the facts too (delete beats everything)."""
        db = self._db
        digest = self._digest("reference", event.case)
        buried = self._buried("reference", event.case)
        if event.type == "delete":
            db.execute("DELETE FROM retired_cases WHERE digest = ?", (digest,))
            db.execute("DELETE FROM retired_urls WHERE case_digest = ?", (digest,))
        row = self._one("SELECT id FROM cases WHERE reference = ?", (event.case,))
        if row is not None:
            self._remove(row[0], event.case, keep_facts=event.type == "retire")
        self._bury("reference", event.case)
        if local:  # kept until sent, then forgotten (mark_sent)
            self._insert_event(event, None, None, local=True)
        return "deleted" if buried else "applied"

    def _remove(self, case_id: int, reference: str, *, keep_facts: bool) -> None:
        db = self._db
        digest = self._digest("reference", reference)
        url_ids = {url_id for (url_id,) in db.execute(
            "SELECT url_id FROM case_urls WHERE case_id = ?1 UNION SELECT url_id FROM events "
            "WHERE case_id = ?1 AND url_id IS NOT NULL", (case_id,))}
        if keep_facts:
            facts = self._case_facts(case_id)
            db.execute("INSERT OR REPLACE INTO retired_cases (digest, received_on, origin, role, police_referral, urls) "
                       "VALUES (?, ?, ?, ?, ?, ?)", (digest, facts.received_on.isoformat(), facts.origin, facts.role,
                                                     None if facts.police_referral is None else
                                                     int(facts.police_referral), facts.urls))
            for (url_id,) in db.execute("SELECT url_id FROM case_urls cu WHERE case_id = ? AND NOT EXISTS "
                                        "(SELECT 1 FROM case_urls o WHERE o.url_id = cu.url_id AND o.case_id != "
                                        "cu.case_id)", (case_id,)).fetchall():
                url = self._url_facts(url_id)
                db.execute("INSERT INTO retired_urls (case_digest, reported_on, overseas, requests_on, removed_on) "
                           "VALUES (?, ?, ?, ?, ?)",
                           (digest, url.reported_on.isoformat(), None if url.overseas is None else int(url.overseas),
                            json.dumps([day.isoformat() for day in url.requests_on]),
                            None if url.removed_on is None else url.removed_on.isoformat()))
        for (mid,) in db.execute("SELECT message_id FROM records WHERE case_id = ? AND message_id IS NOT NULL "
                                 "UNION SELECT message_id FROM other_messages WHERE case_id = ?",
                                 (case_id, case_id)).fetchall():
            self._bury("message-id", mid)
        self._bury("reference", reference)
        for table in ("records", "case_urls", "other_messages", "case_text", "legacy_notes", "legacy_history"):
            db.execute(f"DELETE FROM {table} WHERE case_id = ?", (case_id,))
        if keep_facts:
            # What other cases still hold keeps its history (the requests, the state).
            db.execute("UPDATE events SET case_id = 0 WHERE case_id = ?1 AND url_id IN (SELECT url_id FROM case_urls)",
                       (case_id,))
        self._bury_event_mails(case_id)
        db.execute("DELETE FROM events WHERE case_id = ?", (case_id,))
        db.execute("DELETE FROM cases WHERE id = ?", (case_id,))
        for url_id in url_ids:
            if self._one("SELECT 1 FROM urls WHERE id = ?", (url_id,)) is not None:
                self._url_fields(url_id)
        self._drop_orphans(url_ids)

    def pending_events(self) -> list[Event]:
        """The events made here and not yet in the team folder, oldest first."""
        with self._lock:
            rows = self._db.execute("SELECT id, at, author, reference, type, data FROM events WHERE sent = 0 "
                                    "ORDER BY sort_key").fetchall()
        return [_event(row) for row in rows]

    def mark_sent(self, ids: Iterable[str], *, signed: dict[str, bytes] | None = None,
                  mail_ids: dict[str, str] | None = None) -> None:
        """The events ``ids`` are in the team folder now; ``signed`` and ``mail_ids`` (by event
        id): the signed form sync made of each and the Message-ID of its mail. A sent delete or
        retire is forgotten, but for its signed form (``_keep_signed``): its case's tombstone is
        what stays."""
        ids = [str(event_id) for event_id in ids]
        signed, mail_ids = signed or {}, mail_ids or {}
        with self._change() as db:
            for event_id in ids:
                db.execute("UPDATE events SET sent = 1, signed = coalesce(?, signed), mail_id = coalesce(?, mail_id) "
                           "WHERE id = ?", (signed.get(event_id), mail_ids.get(event_id), event_id))
            db.execute("DELETE FROM events WHERE case_id IS NULL AND sent = 1 AND signed IS NULL")

    # -- the signed forms: sharing the history with a member who joins later (staff team share) --

    def _keep_signed(self, event: Event, signed: bytes | None, mail_id: str | None) -> None:
        """Keep an event's signed form and its mail's Message-ID with it (what it had stays).

        An event the store keeps (a case's, an address's) gets them in its row. A ``delete`` or
        ``retire`` is not kept as an event (its case is gone, a tombstone stays): its signed form
        is, in a row of its own with no case (``case_id`` NULL, sent), so that a member who joins
        later gets the deletion too and does not bring the case back from the mailbox. That
        form holds no text of the case (a delete's and a retire's data are empty), but it does
        hold the case's reference and when and by whom it was deleted, which the tombstone alone
        does not. An event not kept (one for a case deleted here) keeps nothing."""
        db = self._db
        db.execute("UPDATE events SET signed = coalesce(signed, ?), mail_id = coalesce(mail_id, ?) WHERE id = ?",
                   (signed, mail_id, event.id))
        if db.changes() == 0 and signed is not None and event.type in ("delete", "retire"):
            db.execute(
                "INSERT INTO events (id, case_id, reference, type, url_id, sort_key, at_key, at, author, data, sent, "
                "signed, mail_id) VALUES (?, NULL, ?, ?, NULL, ?, ?, ?, ?, '{}', 1, ?, ?)",
                (event.id, event.case, event.type, event.sort_key, _sort_key(event.at),
                 event.at.isoformat(timespec="microseconds"), event.author, signed, mail_id))

    def signed_events(self, chunk: int = 500) -> Iterator[bytes]:
        """Every signed form the store holds, oldest event first (``safeline-staff team share``)."""
        with self._lock:
            ids = [event_id for (event_id,) in self._db.execute(
                "SELECT id FROM events WHERE signed IS NOT NULL ORDER BY sort_key")]
        for start in range(0, len(ids), chunk):
            part = ids[start:start + chunk]
            with self._lock:
                marks = ", ".join("?" * len(part))
                rows = dict(self._db.execute(f"SELECT id, signed FROM events WHERE id IN ({marks})", part).fetchall())
            for event_id in part:
                if event_id in rows:  # (deleted meanwhile)
                    yield bytes(rows[event_id])

    def signed_counts(self) -> dict[str, int]:
        """How many events the store holds: ``signed`` (with their signed form), ``unsigned``
        (without: received or made before the store kept them), ``pending`` (made here, not sent)."""
        with self._lock:
            row = self._one("SELECT count(*) FILTER (WHERE signed IS NOT NULL), "
                            "count(*) FILTER (WHERE signed IS NULL AND sent = 1), "
                            "count(*) FILTER (WHERE sent = 0) FROM events")
        return {"signed": row[0], "unsigned": row[1], "pending": row[2]}

    def sync_position(self, name: str) -> str | None:
        with self._lock:
            row = self._one("SELECT value FROM sync_positions WHERE name = ?", (str(name),))
        return None if row is None else row[0]

    def set_sync_position(self, name: str, value: str) -> None:
        with self._change() as db:
            db.execute("INSERT OR REPLACE INTO sync_positions (name, value) VALUES (?, ?)", (str(name), str(value)))

    def events(self, reference: str) -> list[Event]:
        """The case's events in merge order: who did what, when."""
        with self._lock:
            found = self._find(reference)
            if found is None:
                return []
            rows = self._db.execute("SELECT id, at, author, reference, type, data FROM events WHERE case_id = ? "
                                    "ORDER BY sort_key", (found[0],)).fetchall()
        return [_event(row) for row in rows]

    # -- local changes: each an event of the owner ------------------------------------------------

    def set_status(self, reference: str, status: str, *, at: datetime | None = None) -> None:
        """Change the case's status (an event: kept in its history with the time); the same
        status again changes nothing."""
        if status not in STATUSES:
            raise StoreError(f"unknown status {_clean(status)[:40]!r}: one of {', '.join(STATUSES)}")
        with self._change():
            case_id, _ = self._need(reference)
            if self._one("SELECT status FROM cases WHERE id = ?", (case_id,))[0] == status:
                return
            self._local(reference, "status", {"status": status}, at)

    def add_note(self, reference: str, text: str, *, at: datetime | None = None) -> None:
        """Add staff's note ``text`` to the case, with the time."""
        text = _clean(text).strip()
        if not text:
            raise StoreError("an empty note: write what to keep")
        self._local(reference, "note", {"text": text}, at)

    def assign(self, reference: str, fingerprint: str | None, *, at: datetime | None = None) -> None:
        """Give the case to the staff member ``fingerprint`` (None: to nobody)."""
        if fingerprint is not None:
            fingerprint = str(fingerprint).replace(" ", "").upper()
            if not FINGERPRINT.fullmatch(fingerprint):
                raise StoreError("assign to a key fingerprint (40 or 64 hex digits)")
        self._local(reference, "assign", {"to": fingerprint}, at)

    def _case_url(self, reference: str, url: str) -> tuple[str, str]:
        """The case's reference and ``url`` canonical, which must be one of its addresses."""
        case_id, reference = self._need(reference)
        canonical = canonical_url(url)
        if self._one("SELECT 1 FROM case_urls cu JOIN urls u ON u.id = cu.url_id WHERE cu.case_id = ? AND u.url = ?",
                     (case_id, canonical)) is None:
            raise StoreError("that address is not one of the case's: see `safeline-staff urls REFERENCE`")
        return reference, canonical

    def add_request(self, reference: str, url: str, *, target: str, target_name: str, method: str,
                    sent_on: date, ticket: str = "", recheck_days: int, at: datetime | None = None) -> str:
        """A removal request sent for one of the case's addresses; its id. The address is then
        "asked", and due again ``recheck_days`` after ``sent_on``."""
        sent_on = _date_arg(sent_on, "sent_on")
        with self._change():
            reference, url = self._case_url(reference, url)
            data = {"url": url, "target": target, "target_name": _clean(target_name).strip(), "method": method,
                    "sent_on": sent_on, "ticket": _clean(ticket).strip(),
                    "next_on": sent_on + timedelta(days=int(recheck_days))}
            return self._local_checked(reference, "request", data, at).id

    def set_url_state(self, reference: str, url: str, state: str, *, on: date, reason: str = "",
                      next_on: date | None = None, at: datetime | None = None) -> None:
        """What became of the address (removed, refused, no answer…) on ``on``; its next date."""
        with self._change():
            reference, url = self._case_url(reference, url)
            self._local_checked(reference, "url_state", {
                "url": url, "state": state, "on": _date_arg(on, "on"), "reason": _clean(reason).strip(),
                "next_on": None if next_on is None else _date_arg(next_on, "next_on")}, at)

    def set_url_next(self, reference: str, url: str, next_on: date | None, *, at: datetime | None = None) -> None:
        with self._change():
            reference, url = self._case_url(reference, url)
            self._local_checked(reference, "url_next", {
                "url": url, "next_on": None if next_on is None else _date_arg(next_on, "next_on")}, at)

    def set_url_host(self, reference: str, url: str, host: dict, *, at: datetime | None = None) -> None:
        """What a staff member confirmed of who hosts the address (``staff.hosting``'s dict)."""
        with self._change():
            reference, url = self._case_url(reference, url)
            self._local_checked(reference, "url_host", {"url": url, "host": dict(host)}, at)

    def _local_checked(self, reference: str, type: str, data: dict, at: datetime | None) -> Event:
        try:
            return self._local(reference, type, data, at)
        except BadEvent as error:
            raise StoreError(str(error).replace("event field data.", "")) from None

    def add_phone_case(self, *, role: str, description: str, urls: Iterable[str] = (), email: str = "",
                       contact_safety: str = "", police_referral: bool = False, language: str = "ja",
                       where: str = "", at: datetime | None = None) -> str:
        """A case from a phone call; returns its reference ``TEL-YYYYMMDD-NNN-FFFF`` (the Japan
        date of ``at``, numbered from 001 each day by this kit, and the last four hex digits of
        the owner's fingerprint, so that two kits never make the same one)."""
        author = self._need_author()
        if role not in ROLES:
            raise StoreError(f"unknown role {_clean(str(role))[:40]!r}: one of {', '.join(ROLES)}")
        if language not in LANGUAGES:
            raise StoreError(f"unknown language {_clean(str(language))[:40]!r}: one of {', '.join(LANGUAGES)}")
        urls = [_clean(url).strip() for url in urls if url.strip()]
        if at is None:
            at = datetime.now(JAPAN)
        elif at.utcoffset() is None:
            raise ValueError("a time without an offset")
        at = at.astimezone(JAPAN)
        fields = {"role": role, "email": _clean(email).strip(), "contact_safety": _clean(contact_safety).strip(),
                  "urls": urls, "where": _clean(where).strip(), "description": _clean(description).strip(),
                  "police_referral": bool(police_referral), "language": language}
        day = at.astimezone(JAPAN).strftime("%Y%m%d")
        with self._change() as db:
            while True:
                db.execute("INSERT INTO phone_days (day, last) VALUES (?, 1) "
                           "ON CONFLICT (day) DO UPDATE SET last = last + 1", (day,))
                number = self._one("SELECT last FROM phone_days WHERE day = ?", (day,))[0]
                reference = f"{PHONE_PREFIX}-{day}-{number:03d}-{author[-4:]}"
                if (self._one("SELECT 1 FROM cases WHERE reference = ?", (reference,)) is None
                        and not self._buried("reference", reference)):
                    break
            try:
                event = new_event(reference, "phone_case", {"fields": fields}, author=author, at=at)
            except BadEvent as error:
                raise StoreError(str(error).replace("event field data.fields.", "")) from None
            self._apply(event, local=True)
        return reference

    def delete(self, reference: str) -> bool:
        """Delete the case with its records, notes, requests and history, in every kit of the
        team (an event); False when there is none. Only keyed HMACs of its Message-IDs and
        reference stay, so that its mails and events coming again are skipped ("deleted")
        instead of bringing the case back."""
        author = self._need_author()
        with self._change():
            found = self._find(reference)
            if found is None:
                return False
            self._apply(new_event(found[1], "delete", {}, author=author), local=True)
        return True

    def retire(self, reference: str, *, at: datetime | None = None) -> None:
        """Retention: the case's text goes, in every kit (an event); its facts stay."""
        self._local(reference, "retire", {}, at)

    # -- addresses --------------------------------------------------------------------------------

    def _url_state(self, url_id: int) -> UrlState:
        db = self._db
        url, host, state, state_on, reason, next_on, host_info = self._one(
            "SELECT url, host, state, state_on, reason, next_on, host_info FROM urls WHERE id = ?", (url_id,))
        requests = []
        for event_id, at, author, reference, data in db.execute(
                "SELECT id, at, author, reference, data FROM events WHERE url_id = ? AND type = 'request' "
                "ORDER BY sort_key", (url_id,)):
            data = json.loads(data)
            requests.append(UrlRequest(id=event_id, at=_when(at), author=author, target=data["target"],
                                       target_name=data["target_name"], method=data["method"],
                                       sent_on=date.fromisoformat(data["sent_on"]), ticket=data["ticket"],
                                       case=reference))
        cases = tuple(sorted(reference for (reference,) in db.execute(
            "SELECT c.reference FROM case_urls cu JOIN cases c ON c.id = cu.case_id WHERE cu.url_id = ?", (url_id,))))
        first = self._one("SELECT first_received_at FROM case_urls WHERE url_id = ? ORDER BY first_key LIMIT 1",
                          (url_id,))
        return UrlState(url=url, host=host, state=state, state_on=_day(state_on), reason=reason,
                        next_on=_day(next_on), host_info=None if host_info is None else json.loads(host_info),
                        requests=tuple(requests), cases=cases,
                        first_received_at=None if first is None else _when(first[0]))

    def url(self, url: str) -> UrlState | None:
        """The address ``url`` (as typed: made canonical), with its state, next date, host and
        requests, and the cases that hold it."""
        with self._lock:
            row = self._one("SELECT id FROM urls WHERE url = ?", (canonical_url(url),))
            return None if row is None else self._url_state(row[0])

    def urls_of(self, reference: str) -> list[UrlState]:
        """The case's addresses in the order it first received them."""
        with self._lock:
            case_id, _ = self._need(reference)
            ids = [url_id for (url_id,) in self._db.execute(
                "SELECT cu.url_id FROM case_urls cu JOIN urls u ON u.id = cu.url_id WHERE cu.case_id = ? "
                "ORDER BY cu.first_key, cu.first_mid, cu.position, u.url", (case_id,))]
            return [self._url_state(url_id) for url_id in ids]

    def due(self, on: date) -> list[UrlState]:
        """The addresses whose next date is ``on`` or earlier, not removed, held by a case that
        is not closed; earliest first."""
        on = _date_arg(on, "on")
        with self._lock:
            ids = [url_id for (url_id,) in self._db.execute(
                "SELECT u.id FROM urls u WHERE u.next_on IS NOT NULL AND u.next_on <= ? AND u.state != 'removed' "
                "AND EXISTS (SELECT 1 FROM case_urls cu JOIN cases c ON c.id = cu.case_id WHERE cu.url_id = u.id "
                "AND c.status != 'closed') ORDER BY u.next_on, u.url", (on.isoformat(),))]
            return [self._url_state(url_id) for url_id in ids]

    # -- statistics and retention -----------------------------------------------------------------

    def _case_facts(self, case_id: int) -> CaseFacts:
        received_at, origin, role, police, urls = self._one(
            "SELECT received_at, origin, role, police_referral, urls_all FROM cases WHERE id = ?", (case_id,))
        return CaseFacts(received_on=_when(received_at).astimezone(JAPAN).date(), origin=origin, role=role,
                         police_referral=_bool(police), urls=urls)

    def _url_facts(self, url_id: int) -> UrlFacts:
        state, state_on, host_info = self._one("SELECT state, state_on, host_info FROM urls WHERE id = ?", (url_id,))
        first = self._one("SELECT first_received_at FROM case_urls WHERE url_id = ? ORDER BY first_key LIMIT 1",
                          (url_id,))
        overseas = None if host_info is None else json.loads(host_info).get("overseas")
        requests = sorted(date.fromisoformat(data["sent_on"]) for data in (
            json.loads(row[0]) for row in self._db.execute(
                "SELECT data FROM events WHERE url_id = ? AND type = 'request'", (url_id,)))
            if data["target"] != "police")
        return UrlFacts(reported_on=_when(first[0]).astimezone(JAPAN).date(),
                        overseas=overseas if isinstance(overseas, bool) else None, requests_on=tuple(requests),
                        removed_on=_day(state_on) if state == "removed" else None)

    def facts(self) -> Facts:
        """What the statistics count, of live and retired cases alike (no text).

        Set-based: six queries, each one pass over its table, joined here (not one query per
        case and address: 10,000 cases and 15,000 addresses take some 0.1 s, not 1 s). Cases are
        ordered by their facts, then (the same in every kit) a live case by its reference and a
        retired one by the facts of its addresses, so that ``UrlFacts.held_by`` (positions in
        ``cases``) is the same in every kit that holds the same cases."""
        with self._lock:
            db = self._db
            live = db.execute("SELECT id, reference, received_at, origin, role, police_referral, urls_all "
                              "FROM cases").fetchall()
            retired = db.execute("SELECT digest, received_on, origin, role, police_referral, urls "
                                 "FROM retired_cases").fetchall()
            links = db.execute("SELECT url_id, case_id, first_key, first_received_at FROM case_urls").fetchall()
            urls = db.execute(
                "SELECT id, state, state_on, CASE json_type(host_info, '$.overseas') WHEN 'true' THEN 1 "
                "WHEN 'false' THEN 0 END FROM urls").fetchall()
            # Read in the table's order: nearly every event of a store is about an address, and
            # the index on url_id would look each one up again in the table.
            requests = db.execute(
                "SELECT url_id, json_extract(data, '$.sent_on') FROM events NOT INDEXED WHERE type = 'request' "
                "AND url_id IS NOT NULL AND json_extract(data, '$.target') IS NOT 'police'").fetchall()
            retired_urls = db.execute("SELECT case_digest, reported_on, overseas, requests_on, removed_on "
                                      "FROM retired_urls").fetchall()
        return _facts_of(live, retired, links, urls, requests, retired_urls)

    def retirable(self, on: date, days: int) -> list[CaseSummary]:
        """The cases closed for more than ``days`` days on ``on`` (Japan dates), longest closed first."""
        on = _date_arg(on, "on")
        with self._lock:
            rows = self._db.execute(f"SELECT {_CASE_COLUMNS}, status_at FROM cases WHERE status = 'closed' "
                                    "AND status_at IS NOT NULL").fetchall()
        found = [(row[9], row) for row in rows if (on - _when(row[9]).astimezone(JAPAN).date()).days > days]
        return [self._summary(row[:9]) for _, row in sorted(found, key=lambda item: _sort_key(_when(item[0])))]

    def _bury_event_mails(self, case_id: int) -> None:
        """The Message-IDs of the mails that carried the case's events (those about to go),
        buried as the records' are: the mailbox clean-up finds those mails later by their HMAC."""
        for (mail_id,) in self._db.execute("SELECT mail_id FROM events WHERE case_id = ? AND mail_id IS NOT NULL",
                                           (case_id,)).fetchall():
            try:
                self._bury("message-id", _message_id(mail_id))
            except ValueError:
                continue  # an empty mail_id: nothing to find

    def leaving(self, reference: str, *, retire: bool) -> Leaving | None:
        """What a case's retirement (``retire``) or deletion would remove, without its text:
        counts, when it was closed, and (for the mailbox clean-up, never shown) the Message-IDs
        of its mails and of the mails that carried its events. Retirement keeps the events
        about addresses another case holds: those (and their mails) are not counted. None when
        there is no such case."""
        with self._lock:
            found = self._find(reference)
            if found is None:
                return None
            case_id, reference = found
            db = self._db
            status, status_at = self._one("SELECT status, status_at FROM cases WHERE id = ?", (case_id,))
            kinds = dict(db.execute("SELECT kind, count(*) FROM records WHERE case_id = ? GROUP BY kind",
                                    (case_id,)).fetchall())
            mails = [mid for (mid,) in db.execute(
                "SELECT message_id FROM records WHERE case_id = ?1 AND message_id IS NOT NULL "
                "UNION SELECT message_id FROM other_messages WHERE case_id = ?1", (case_id,))]
            kept = ("AND (url_id IS NULL OR url_id NOT IN (SELECT url_id FROM case_urls WHERE case_id != ?1))"
                    if retire else "")
            events = db.execute(f"SELECT type, mail_id, sent FROM events WHERE case_id = ?1 {kept}",
                                (case_id,)).fetchall()
            urls = self._one("SELECT count(*) FROM case_urls WHERE case_id = ?", (case_id,))[0]
        event_mails, unknown = [], 0
        for _, mail_id, sent in events:
            try:
                event_mails.append(_message_id(mail_id))
            except ValueError:
                unknown += bool(sent)  # not yet sent: no mail of it anywhere
        return Leaving(reference=reference,
                       closed_on=(_when(status_at).astimezone(JAPAN).date()
                                  if status == "closed" and status_at else None),
                       reports=kinds.get("report", 0), additions=kinds.get("addition", 0),
                       notes=sum(1 for kind, _, _ in events if kind == "note"), urls=urls, events=len(events),
                       mails=tuple(sorted(mails)), event_mails=tuple(sorted(set(event_mails))),
                       events_unknown=unknown)

    def bury_mail(self, message_id: str) -> None:
        """Remember the mail ``message_id`` as one of a case that is gone (its HMAC only): for
        a mail of the case that the kit learns of some other way than ``apply`` (which buries
        the mail of an event that came after its case was deleted or retired here itself), so
        that the mailbox clean-up finds that mail too."""
        with self._change():
            self._bury("message-id", _message_id(message_id))

    def buried_mails(self, message_ids: Iterable[str]) -> set[str]:
        """Those of ``message_ids`` that belonged to a case deleted or retired here: their keyed
        HMAC is a tombstone (the store keeps no Message-ID of such a case in clear)."""
        found = set()
        with self._lock:
            for message_id in message_ids:
                try:
                    mid = _message_id(message_id)
                except ValueError:
                    continue
                if self._buried("message-id", mid):
                    found.add(message_id)
        return found

    # -- a version-1 store's notes, history and phone cases become the owner's events ---------------

    def _adopt(self) -> None:
        """A version-1 store's phone cases, status changes and notes become events of the owner
        (queued to send), in one transaction, once. A note longer than an event holds becomes
        several notes in a row; a phone case an event cannot hold (a text over its limits)
        stays in this kit only (its record marked ``event_id = ''``)."""
        db = self._db
        waiting = (self._one("SELECT 1 FROM legacy_notes LIMIT 1") or self._one("SELECT 1 FROM legacy_history LIMIT 1")
                   or self._one("SELECT 1 FROM records WHERE message_id IS NULL AND event_id IS NULL LIMIT 1"))
        if not waiting:
            return
        author = self._author
        changed: set[int] = set()
        with self._change():
            for record_id, case_id, at, fields in db.execute(
                    "SELECT id, case_id, received_at, fields FROM records WHERE message_id IS NULL "
                    "AND event_id IS NULL").fetchall():
                changed.add(case_id)
                reference = self._one("SELECT reference FROM cases WHERE id = ?", (case_id,))[0]
                old = PHONE_REFERENCE.fullmatch(reference)
                if old is not None and old.group(3) is None:
                    reference = f"{reference}-{author[-4:]}"
                    db.execute("UPDATE cases SET reference = ?, ref_key = ?, ref_tail = ? WHERE id = ?",
                               (reference, reference_key(reference), _reference_tail(reference), case_id))
                try:
                    event = new_event(reference, "phone_case", {"fields": _phone_fields(json.loads(fields))},
                                      author=author, at=_when(at))
                except BadEvent:
                    db.execute("UPDATE records SET event_id = '' WHERE id = ?", (record_id,))
                    continue
                self._insert_event(event, case_id, None, local=True)
                db.execute("UPDATE records SET event_id = ? WHERE id = ?", (event.id, record_id))
            # Every status change but each case's first row (its "new" when made), and the notes,
            # in their order; two at the same time keep it, a microsecond apart.
            rows = db.execute(
                "SELECT case_id, 'status', at, at_key, id, status FROM legacy_history h WHERE id != (SELECT id "
                "FROM legacy_history f WHERE f.case_id = h.case_id ORDER BY at_key, id LIMIT 1) "
                "UNION ALL SELECT case_id, 'note', at, at_key, id, text FROM legacy_notes "
                "ORDER BY 1, 2, 4, 5").fetchall()
            previous: dict[tuple, datetime] = {}
            for case_id, kind, at, _, _, value in rows:
                changed.add(case_id)
                reference = self._one("SELECT reference FROM cases WHERE id = ?", (case_id,))[0]
                parts = ([{"status": value}] if kind == "status" else
                         [{"text": value[start:start + MAX_NOTE]} for start in range(0, len(value), MAX_NOTE)])
                for data in parts:
                    if kind == "note" and not data["text"].strip():
                        continue
                    moment = _when(at)
                    last = previous.get((case_id, kind))
                    if last is not None and moment <= last:
                        moment = last + timedelta(microseconds=1)
                    previous[(case_id, kind)] = moment
                    self._apply(new_event(reference, kind, data, author=author, at=moment), local=True)
            db.execute("DELETE FROM legacy_notes")
            db.execute("DELETE FROM legacy_history")
            for case_id in changed:
                self._refresh(case_id)


def _phone_fields(fields: dict) -> dict:
    """A version-1 phone record's fields as a phone_case event holds them."""
    names = ("role", "email", "contact_safety", "urls", "where", "description", "police_referral", "language")
    defaults = {"role": "self", "urls": [], "police_referral": False, "language": "ja"}
    return {name: fields.get(name, defaults.get(name, "")) for name in names}


def _event(row) -> Event:
    event_id, at, author, reference, type, data = row
    return Event(id=event_id, at=_when(at), author=author, case=reference, type=type, data=json.loads(data))


def _day(text: str | None) -> date | None:
    return None if text is None else date.fromisoformat(text)


def _date_arg(value, name: str) -> date:
    if isinstance(value, datetime) or not isinstance(value, date):
        try:
            return date.fromisoformat(str(value))
        except ValueError:
            raise StoreError(f"{name} is not a date YYYY-MM-DD") from None
    return value


def _japan(text: str) -> str:
    return _when(text).astimezone(JAPAN).isoformat()


def _from_key(key: str) -> str:
    """A UTC sort key back to the time it stands for, in Japan time."""
    return datetime.strptime(key, "%Y-%m-%dT%H:%M:%S.%f").replace(tzinfo=timezone.utc).astimezone(JAPAN).isoformat()


def _facts_of(live: list, retired: list, links: list, url_rows: list, requests: list, retired_urls: list) -> Facts:
    """``Store.facts()`` from its queries' rows (no database here).

    Cases and addresses are sorted by their facts (as ``_facts_key`` orders them, built from
    the rows rather than read back from the dataclasses, for speed); cases whose facts are the
    same, by reference (live) or by the facts of their addresses (retired)."""
    sent: dict[int, list[date]] = {}
    for url_id, sent_on in requests:
        sent.setdefault(url_id, []).append(date.fromisoformat(sent_on))
    days: dict[str, date] = {}  # the Japan date of each distinct time (many addresses share one)

    def japan_day(text: str) -> date:
        day = days.get(text)
        if day is None:
            day = days[text] = _when(text).astimezone(JAPAN).date()
        return day

    # Each address a case holds: its earliest receipt in any case, and the (live) cases that hold it.
    first: dict[int, tuple[str, str]] = {}
    holders: dict[int, list[int]] = {}
    for url_id, case_id, first_key, first_at in links:
        held = holders.get(url_id)
        if held is None:
            holders[url_id] = [case_id]
            first[url_id] = (first_key, first_at)
        else:
            held.append(case_id)
            if first_key < first[url_id][0]:
                first[url_id] = (first_key, first_at)
    live_urls: dict[int, tuple] = {}
    for url_id, state, state_on, overseas in url_rows:
        if url_id in first:
            live_urls[url_id] = (japan_day(first[url_id][1]), None if overseas is None else bool(overseas),
                                 tuple(sorted(sent.get(url_id, ()))), _day(state_on) if state == "removed" else None)
    # Each retired address: held by its retired case only.
    by_digest: dict[bytes, list[tuple]] = {}
    for digest, on, overseas, requests_on, removed in retired_urls:
        by_digest.setdefault(digest, []).append(
            (date.fromisoformat(on), _bool(overseas), tuple(date.fromisoformat(day) for day in json.loads(requests_on)),
             _day(removed)))
    # The cases, in an order every kit holding the same cases agrees on.
    ordered: list[tuple] = []
    for case_id, reference, received_at, origin, role, police, urls in live:
        police = _bool(police)
        ordered.append((japan_day(received_at), origin, role is None, role or "", police is None, bool(police), urls,
                        0, reference, role, police, case_id))
    for digest, on, origin, role, police, urls in retired:
        police = _bool(police)
        own = sorted(_url_order(*fields, 1, ()) for fields in by_digest.get(digest, ()))
        ordered.append((date.fromisoformat(on), origin, role is None, role or "", police is None, bool(police), urls,
                        1, own, role, police, digest))
    ordered.sort(key=lambda item: item[:9])
    live_place: dict[int, int] = {}
    retired_place: dict[bytes, int] = {}
    for index, item in enumerate(ordered):
        (live_place if item[7] == 0 else retired_place)[item[11]] = index
    made = [(fields, len(holders[url_id]), tuple(sorted(live_place[case_id] for case_id in holders[url_id])))
            for url_id, fields in live_urls.items()]
    for digest, rows in by_digest.items():
        place = retired_place.get(digest)
        made += [(fields, 1, () if place is None else (place,)) for fields in rows]
    made.sort(key=lambda item: _url_order(*item[0], item[1], item[2]))
    return Facts(cases=tuple(CaseFacts(item[0], item[1], item[9], item[10], item[6]) for item in ordered),
                 urls=tuple(UrlFacts(*fields, cases=cases, held_by=held_by) for fields, cases, held_by in made))


def _url_order(reported_on: date, overseas: bool | None, requests_on: tuple, removed_on: date | None, cases: int,
               held_by: tuple) -> tuple:
    """How addresses are sorted (as ``_facts_key`` sorts UrlFacts)."""
    return (reported_on, overseas is None, bool(overseas), requests_on, removed_on is None, removed_on or date.min,
            cases, held_by)


def _facts_key(facts) -> tuple:
    return tuple((value is None, value if value is not None else 0) if not isinstance(value, tuple) else
                 (False, value) for value in facts.__dict__.values())
