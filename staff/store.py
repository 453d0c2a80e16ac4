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

The tables (``SCHEMA`` below; ``PRAGMA user_version`` holds the schema's version, and
``MIGRATIONS`` brings an older file up to date when it is opened):

- ``cases``: one row per case, the case list's summary kept up to date on every change
  (denormalised so that listing 10,000 cases reads only this table and its indexes);
- ``case_text``: per case, the words search looks in, folded (NFKC, case-folded);
- ``records``: each report and addition as it came (its fields as JSON), with its Message-ID;
- ``urls``: each case's distinct addresses with their host, in order of first receipt (part 2
  of the kit adds removal requests per address: a new table and ``urls_open``'s count);
- ``notes``, ``history``: staff's notes and the status changes, with their times;
- ``other_messages``: mails seen but not stored (a second copy of a report), so that import
  skips them next time;
- ``tombstones``: for a deleted case, only keyed HMACs (HMAC-SHA256, key derived from the store
  key) of its Message-IDs and reference: enough to say "deleted" when the same mails are
  imported again, nothing to tell what they held;
- ``phone_days``: the last phone case number given out per day.

Times are stored as ISO 8601 with their offset, with a UTC sort key beside them.

Speed, measured on 10,000 cases (2 shared cores): a page of the case list (100 cases, with or
without a status filter, with its count) takes under 1 ms, read through an index of ``cases``.
Search has no index: it reads every case's folded words once (``instr``, so a Japanese word of
two characters such as 画像 matches as well as a longer one) into an in-memory list of hits,
which the page and its counts then share until the store changes: 7 to 13 ms with descriptions
of 300 characters on average, about 100 ms with 2,000 (more than the page cache holds). A whole
reference is found by its index at once. FTS5's trigram index would find words of three
characters or more without reading everything, but not 画像, and it would keep a second copy
of every word to scrub when a case is deleted: not worth it at this size.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import threading
import unicodedata
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import urlsplit

import apsw

from safeline.record import LANGUAGES, REFERENCE_ALPHABET, REFERENCE_LENGTH, ROLES, Record

from .cases import STATUSES, Case, CaseRecord, CaseSummary, CaseUrl, Note, StatusChange
from .problems import StaffError

__all__ = ["STATUSES", "Store", "StoreError", "SCHEMA_VERSION", "host_of", "JAPAN"]

JAPAN = timezone(timedelta(hours=9), "JST")
KEY_BYTES = 32
CIPHER = "chacha20"
OUTCOMES = ("report", "addition", "duplicate", "deleted")
PHONE_PREFIX = "TEL"

SCHEMA_VERSION = 1
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
# MIGRATIONS[n] brings a store of version n - 1 to version n, in one transaction.
MIGRATIONS = {1: SCHEMA_V1}

_CASE_COLUMNS = ("reference, origin, received_at, role, urls_open, urls_all, police_referral, status, "
                 "last_activity")
_SURROGATE = re.compile("[\ud800-\udfff]")
# A whole reference as reference_key() reduces it: SL and 8 characters, or TEL and 11 digits.
WHOLE_REFERENCE = re.compile(rf"SL[{REFERENCE_ALPHABET}]{{{REFERENCE_LENGTH}}}|{PHONE_PREFIX}[0-9]{{11}}")


# How long a write waits for another safeline-staff (an import, the interface) to finish its own.
BUSY_MS = 10_000
BUSY = ("the case store is busy: another safeline-staff (an import, or the interface) kept writing for "
        f"{BUSY_MS // 1000} s; try again when it has finished")

class StoreError(StaffError):
    """The case store cannot be opened or used as asked."""


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


def _moment(at: datetime | None) -> datetime:
    if at is None:
        return datetime.now(JAPAN).replace(microsecond=0)
    if at.utcoffset() is None:
        raise ValueError("a time without an offset")
    return at.astimezone(JAPAN)


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
    def batch(self) -> Iterator[Store]:
        """Many changes in one transaction: ``with store.batch(): store.add(...) …``. An
        exception inside rolls all of them back."""
        with self._write():
            yield self

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
            record_id = self._insert_record(case_id, record.kind, moment, mid, record.fields)
            if record.kind == "report":
                self._take_report(case_id, moment, record.fields)
            self._add_urls(case_id, record_id, moment, record.fields.get("urls", []))
            self._refresh(case_id)
            return record.kind

    def _new_case(self, reference: str, origin: str, moment: datetime, *, language) -> int:
        at = moment.isoformat()
        self._db.execute(
            "INSERT INTO cases (reference, ref_key, ref_tail, origin, has_report, received_at, language, "
            "last_activity, activity_key) VALUES (?, ?, ?, ?, 0, ?, ?, ?, ?)",
            (reference, reference_key(reference), _reference_tail(reference), origin, at,
             language if language in LANGUAGES else "ja", at, _sort_key(moment)))
        case_id = self._db.last_insert_rowid()
        self._db.execute("INSERT INTO history (case_id, at, at_key, status) VALUES (?, ?, ?, 'new')",
                         (case_id, at, _sort_key(moment)))
        return case_id

    def _insert_record(self, case_id: int, kind: str, moment: datetime, mid: str | None, fields: dict) -> int:
        self._db.execute(
            "INSERT INTO records (case_id, kind, received_at, received_key, message_id, fields) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (case_id, kind, moment.isoformat(), _sort_key(moment), mid, _json(fields)))
        return self._db.last_insert_rowid()

    def _take_report(self, case_id: int, moment: datetime, fields: dict) -> None:
        police = fields.get("police_referral")
        language = fields.get("language")
        self._db.execute(
            "UPDATE cases SET has_report = 1, received_at = ?, role = ?, email = ?, contact_safety = ?, "
            "language = ?, police_referral = ? WHERE id = ?",
            (moment.isoformat(), _clean(str(fields.get("role", ""))) or None,
             _clean(str(fields.get("email", ""))), _clean(str(fields.get("contact_safety", ""))),
             language if language in LANGUAGES else "ja", None if police is None else int(bool(police)),
             case_id))

    def _add_urls(self, case_id: int, record_id: int, moment: datetime, urls: list) -> None:
        key = _sort_key(moment)
        for position, url in enumerate(urls):
            if not isinstance(url, str):
                continue
            url = _clean(url)
            row = self._one("SELECT first_key, first_record FROM urls WHERE case_id = ? AND url = ?",
                            (case_id, url))
            if row is None:
                self._db.execute(
                    "INSERT INTO urls (case_id, url, host, first_received_at, first_key, first_record, position) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (case_id, url, host_of(url), moment.isoformat(), key, record_id, position))
            elif (key, record_id) < (row[0], row[1]):
                # A record received earlier came later (a report after its addition): it is first.
                self._db.execute(
                    "UPDATE urls SET first_received_at = ?, first_key = ?, first_record = ?, position = ? "
                    "WHERE case_id = ? AND url = ?",
                    (moment.isoformat(), key, record_id, position, case_id, url))

    def _refresh(self, case_id: int) -> None:
        """Bring the case's summary, hosts and search text up to date with its rows."""
        db = self._db
        count = self._one("SELECT count(*) FROM urls WHERE case_id = ?", (case_id,))[0]
        hosts = sorted({fold(row[0]) for row in db.execute("SELECT host FROM urls WHERE case_id = ?", (case_id,))
                        if row[0]})
        if not self._one("SELECT has_report FROM cases WHERE id = ?", (case_id,))[0]:
            first = self._one("SELECT received_at FROM records WHERE case_id = ? ORDER BY received_key, id LIMIT 1",
                              (case_id,))
            if first is not None:
                db.execute("UPDATE cases SET received_at = ? WHERE id = ?", (first[0], case_id))
        latest = self._one(
            "SELECT at, k FROM (SELECT received_at AS at, received_key AS k FROM records WHERE case_id = ?1 "
            "UNION ALL SELECT at, at_key FROM notes WHERE case_id = ?1 "
            "UNION ALL SELECT at, at_key FROM history WHERE case_id = ?1) ORDER BY k DESC LIMIT 1", (case_id,))
        db.execute("UPDATE cases SET urls_open = ?, urls_all = ?, hosts = ?, last_activity = ?, activity_key = ? "
                   "WHERE id = ?", (count, count, "\n".join(hosts), latest[0], latest[1], case_id))
        words = []
        for (fields,) in db.execute("SELECT fields FROM records WHERE case_id = ? ORDER BY id", (case_id,)):
            data = json.loads(fields)
            for name in ("description", "where", "contact_safety", "email"):
                if isinstance(data.get(name), str) and data[name]:
                    words.append(data[name])
            words.extend(url for url in data.get("urls", []) if isinstance(url, str))
        words.extend(row[0] for row in db.execute("SELECT text FROM notes WHERE case_id = ?", (case_id,)))
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
        or without dashes)."""
        row = self._one("SELECT id, reference FROM cases WHERE reference = ?", (reference,))
        if row is None:
            key = reference_key(reference)
            rows = self._db.execute("SELECT id, reference FROM cases WHERE ref_key = ?", (key,)).fetchall()
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
            row = self._one(f"SELECT {_CASE_COLUMNS}, email, contact_safety, language FROM cases WHERE id = ?",
                            (case_id,))
            records = tuple(
                CaseRecord(kind=kind, received_at=_when(at), message_id=mid, fields=json.loads(fields))
                for kind, at, mid, fields in db.execute(
                    "SELECT kind, received_at, message_id, fields FROM records WHERE case_id = ? "
                    "ORDER BY received_key, id", (case_id,)))
            urls = tuple(
                CaseUrl(url=url, host=host, first_received_at=_when(at))
                for url, host, at in db.execute(
                    "SELECT url, host, first_received_at FROM urls WHERE case_id = ? "
                    "ORDER BY first_key, first_record, position", (case_id,)))
            notes = tuple(Note(at=_when(at), text=text) for at, text in db.execute(
                "SELECT at, text FROM notes WHERE case_id = ? ORDER BY at_key, id", (case_id,)))
            history = tuple(StatusChange(at=_when(at), status=status) for at, status in db.execute(
                "SELECT at, status FROM history WHERE case_id = ? ORDER BY at_key, id", (case_id,)))
        summary = self._summary(row[:9])
        return Case(**summary.__dict__, email=row[9], contact_safety=row[10], language=row[11],
                    records=records, urls=urls, notes=notes, history=history)

    def set_status(self, reference: str, status: str, *, at: datetime | None = None) -> None:
        """Change the case's status (recorded in its history with the time); the same status
        again changes nothing."""
        if status not in STATUSES:
            raise StoreError(f"unknown status {_clean(status)[:40]!r}: one of {', '.join(STATUSES)}")
        moment = _moment(at)
        with self._change() as db:
            case_id, _ = self._need(reference)
            if self._one("SELECT status FROM cases WHERE id = ?", (case_id,))[0] == status:
                return
            db.execute("INSERT INTO history (case_id, at, at_key, status) VALUES (?, ?, ?, ?)",
                       (case_id, moment.isoformat(), _sort_key(moment), status))
            db.execute("UPDATE cases SET status = ? WHERE id = ?", (status, case_id))
            self._refresh(case_id)

    def add_note(self, reference: str, text: str, *, at: datetime | None = None) -> None:
        """Add staff's note ``text`` to the case, with the time."""
        text = _clean(text).strip()
        if not text:
            raise StoreError("an empty note: write what to keep")
        moment = _moment(at)
        with self._change() as db:
            case_id, _ = self._need(reference)
            db.execute("INSERT INTO notes (case_id, at, at_key, text) VALUES (?, ?, ?, ?)",
                       (case_id, moment.isoformat(), _sort_key(moment), text))
            self._refresh(case_id)

    def add_phone_case(self, *, role: str, description: str, urls: Iterable[str] = (), email: str = "",
                       contact_safety: str = "", police_referral: bool = False, language: str = "ja",
                       where: str = "", at: datetime | None = None) -> str:
        """A case from a phone call; returns its reference ``TEL-YYYYMMDD-NNN`` (the Japan date
        of ``at``, numbered from 001 each day)."""
        if role not in ROLES:
            raise StoreError(f"unknown role {_clean(str(role))[:40]!r}: one of {', '.join(ROLES)}")
        if language not in LANGUAGES:
            raise StoreError(f"unknown language {_clean(str(language))[:40]!r}: one of {', '.join(LANGUAGES)}")
        urls = [_clean(url).strip() for url in urls if url.strip()]
        moment = _moment(at)
        fields = {"role": role, "email": _clean(email).strip(), "contact_safety": _clean(contact_safety).strip(),
                  "urls": urls, "where": _clean(where).strip(), "description": _clean(description).strip(),
                  "police_referral": bool(police_referral), "language": language}
        day = moment.strftime("%Y%m%d")
        with self._change() as db:
            db.execute("INSERT INTO phone_days (day, last) VALUES (?, 1) "
                       "ON CONFLICT (day) DO UPDATE SET last = last + 1", (day,))
            number = self._one("SELECT last FROM phone_days WHERE day = ?", (day,))[0]
            reference = f"{PHONE_PREFIX}-{day}-{number:03d}"
            case_id = self._new_case(reference, "phone", moment, language=language)
            record_id = self._insert_record(case_id, "report", moment, None, fields)
            self._take_report(case_id, moment, fields)
            self._add_urls(case_id, record_id, moment, urls)
            self._refresh(case_id)
        return reference

    def delete(self, reference: str) -> bool:
        """Delete the case with its records, notes and history; False when there is none. Only
        keyed HMACs of its Message-IDs and reference stay, so that importing the same mails
        again skips them ("deleted") instead of bringing the case back."""
        with self._change() as db:
            found = self._find(reference)
            if found is None:
                return False
            case_id, reference = found
            for (mid,) in db.execute("SELECT message_id FROM records WHERE case_id = ? AND message_id IS NOT NULL "
                                     "UNION SELECT message_id FROM other_messages WHERE case_id = ?",
                                     (case_id, case_id)).fetchall():
                self._bury("message-id", mid)
            self._bury("reference", reference)
            for table in ("records", "urls", "notes", "history", "other_messages", "case_text"):
                db.execute(f"DELETE FROM {table} WHERE case_id = ?", (case_id,))
            db.execute("DELETE FROM cases WHERE id = ?", (case_id,))
        return True
