"""The case store: records in, cases out; encrypted at rest; idempotent import; deletion."""

from __future__ import annotations

import json
import secrets
from datetime import datetime, timedelta, timezone

import apsw
import pytest

from safeline.record import parse
from staff.cases import Case, CaseSummary
from staff.problems import StaffError
from staff.store import SCHEMA_VERSION, STATUSES, Store, StoreError
from tests.support.staff_records import AUTHOR, JAPAN, T0, addition, message_id, new_reference, new_store, report


@pytest.fixture
def store(tmp_path):
    made, _ = new_store(tmp_path)
    with made:
        yield made


def hours(n: float) -> timedelta:
    return timedelta(hours=n)


# -- records in, cases out ---------------------------------------------------------------------

def test_a_report_and_its_additions_make_one_case_in_time_order(store):
    first = report(received_at=T0, role="guardian", email="mother@example.jp", police_referral=True,
                   contact_safety="平日の昼だけ", urls=["https://a.example.com/1", "https://b.example.org/2"])
    ref = first.reference
    assert store.add(addition(ref, received_at=T0 + hours(2), urls=["https://c.example.net/3"]),
                     message_id=message_id()) == "addition"
    assert store.add(first, message_id="<r@relay>") == "report"
    assert store.add(addition(ref, received_at=T0 + hours(1), urls=["https://a.example.com/1", "https://d.example/4"]),
                     message_id=message_id()) == "addition"

    case = store.case(ref)
    assert isinstance(case, Case)
    assert (case.reference, case.origin, case.role, case.police_referral) == (ref, "web", "guardian", True)
    assert (case.email, case.contact_safety, case.language, case.status) == ("mother@example.jp", "平日の昼だけ", "ja", "new")
    assert case.received_at == T0
    assert case.last_activity == T0 + hours(2)
    assert [r.kind for r in case.records] == ["report", "addition", "addition"]
    assert [r.received_at for r in case.records] == [T0, T0 + hours(1), T0 + hours(2)]
    assert case.records[0].message_id == "r@relay"
    assert case.records[0].fields == first.fields
    assert [(u.url, u.host) for u in case.urls] == [
        ("https://a.example.com/1", "a.example.com"), ("https://b.example.org/2", "b.example.org"),
        ("https://d.example/4", "d.example"), ("https://c.example.net/3", "c.example.net")]
    assert (case.urls_open, case.urls_all) == (4, 4)
    # Its history starts with "new" when it was received (whichever mail came first: every kit
    # of the team shows the same).
    assert [(h.status, h.at) for h in case.history] == [("new", T0)]

    [summary] = store.cases()
    assert summary == case.summary
    assert isinstance(summary, CaseSummary) and not isinstance(summary, Case)


def test_an_addition_before_its_report_makes_a_case_whose_report_is_missing(store):
    ref = new_reference()
    store.add(addition(ref, received_at=T0 + hours(3), urls=["https://late.example/1"], lang="en"),
              message_id=message_id())
    waiting = store.case(ref)
    assert (waiting.role, waiting.police_referral, waiting.email) == (None, None, "")
    assert waiting.received_at == T0 + hours(3)
    assert waiting.language == "en"
    assert waiting.to_json()["role"] is None

    store.add(report(ref, received_at=T0, urls=["https://first.example/0", "https://late.example/1"]),
              message_id=message_id())
    case = store.case(ref)
    assert (case.role, case.police_referral, case.received_at) == ("self", False, T0)
    assert [u.url for u in case.urls] == ["https://first.example/0", "https://late.example/1"]
    assert case.urls[1].first_received_at == T0
    assert [r.kind for r in case.records] == ["report", "addition"]


def test_json_forms_have_the_documented_fields(store):
    ref = new_reference()
    store.add(report(ref), message_id=message_id())
    store.add_note(ref, "memo", at=T0 + hours(1))
    case = store.case(ref)
    data = json.loads(json.dumps(case.to_json()))
    summary_fields = ["reference", "origin", "received_at", "role", "urls_open", "urls_all", "police_referral",
                      "status", "last_activity"]
    assert list(case.summary.to_json()) == summary_fields
    assert list(data) == summary_fields + ["email", "contact_safety", "language", "assignee", "records", "urls",
                                           "notes", "history"]
    assert list(data["records"][0]) == ["kind", "received_at", "message_id", "fields"]
    assert list(data["urls"][0]) == ["url", "host", "first_received_at", "state", "next_on"]
    assert data["notes"] == [{"at": "2026-12-01T11:00:00+09:00", "text": "memo", "author": AUTHOR}]
    assert list(data["history"][0]) == ["at", "status", "author"]
    assert data["received_at"] == "2026-12-01T10:00:00+09:00"
    import staff.cases

    for name in set(data) | {"kind", "message_id", "fields", "url", "host", "first_received_at", "at", "text",
                             "state", "next_on", "author"}:
        assert f"``{name}``" in staff.cases.__doc__ or f'"{name}"' in staff.cases.__doc__, name


# -- idempotence -------------------------------------------------------------------------------

def test_importing_the_same_mail_again_stores_nothing(store):
    first, mid = report(), message_id()
    assert not store.seen(mid)
    assert store.add(first, message_id=mid) == "report"
    assert store.seen(mid) and store.seen(mid.strip("<>"))
    assert store.add(first, message_id=mid) == "duplicate"
    more, more_mid = addition(first.reference), message_id()
    assert store.add(more, message_id=more_mid) == "addition"
    assert store.add(more, message_id=more_mid) == "duplicate"
    assert len(store.case(first.reference).records) == 2
    assert store.count() == 1


def test_a_second_report_for_the_same_reference_is_a_duplicate_and_is_seen_afterwards(store):
    first = report()
    store.add(first, message_id=message_id())
    copy_mid = message_id()
    assert store.add(report(first.reference, description="別の文"), message_id=copy_mid) == "duplicate"
    assert store.seen(copy_mid)
    assert [r.fields["description"] for r in store.case(first.reference).records] == [first.fields["description"]]


def test_a_batch_is_one_transaction(store):
    records = [report(received_at=T0 + hours(i)) for i in range(5)]
    with store.batch():
        for record in records:
            assert store.add(record, message_id=message_id()) == "report"
    assert store.count() == 5
    with pytest.raises(RuntimeError), store.batch():
        store.add(report(), message_id=message_id())
        raise RuntimeError("the import stopped")
    assert store.count() == 5


def test_a_batch_that_need_not_wait_for_the_disk_is_one_transaction_too(store):
    """``batch(durable=False)`` (sync's received events): the commit does not wait for the disk,
    and every other change still does, before and after, even when the batch failed."""
    def level():
        return store._db.execute("PRAGMA synchronous").fetchone()[0]

    durable = level()
    assert durable == 2  # FULL: every commit waits for the disk
    seen = []
    with store.batch(durable=False):
        seen.append(level())
        for hour in range(3):
            store.add(report(received_at=T0 + hours(hour)), message_id=message_id())
        with store.batch():  # inside: the same transaction
            store.add(report(), message_id=message_id())
    assert (seen, level(), store.count()) == ([1], durable, 4)
    with pytest.raises(RuntimeError), store.batch(durable=False):
        store.add(report(), message_id=message_id())
        raise RuntimeError("sync stopped")
    assert (level(), store.count()) == (durable, 4)
    with store.batch(), store.batch(durable=False):  # inside a durable one: durable
        seen.append(level())
    assert seen == [1, durable]


# -- deletion ----------------------------------------------------------------------------------

def all_values(store: Store) -> list:
    """Every value in every table of the store, read with its key."""
    db = store._db
    values = []
    for (table,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall():
        for row in db.execute(f"SELECT * FROM {table}").fetchall():
            values.extend(row)
    return values


def test_a_deleted_case_leaves_only_keyed_digests_and_never_comes_back(store):
    keep = report(description="残す通報")
    store.add(keep, message_id=message_id())
    gone = report(email="gone@example.jp", description="消す通報の本文", urls=["https://gone.example/x"])
    ref, report_mid, addition_mid, copy_mid = gone.reference, message_id(), message_id(), message_id()
    store.add(gone, message_id=report_mid)
    store.add(addition(ref), message_id=addition_mid)
    store.add(report(ref), message_id=copy_mid)  # a duplicate: seen, not stored
    store.add_note(ref, "電話した")
    store.set_status(ref, "waiting")

    assert store.delete(ref.lower()) is True
    assert store.case(ref) is None
    assert store.count() == 1
    assert store.delete(ref) is False
    for mid in (report_mid, addition_mid, copy_mid):
        assert store.seen(mid)
        assert store.add(gone, message_id=mid) == "deleted"
    later_mid = message_id()
    assert store.add(addition(ref), message_id=later_mid) == "deleted"
    assert store.seen(later_mid)
    assert store.add(report(ref), message_id=message_id()) == "deleted"
    assert store.case(ref) is None and store.count() == 1

    # The deletion waits to be sent to the team (its event names the case); once sent, only
    # digests stay.
    [pending] = store.pending_events()
    assert (pending.type, pending.case) == ("delete", ref)
    store.mark_sent([pending.id])
    assert store.pending_events() == []
    text = "\n".join(str(value) for value in all_values(store) if not isinstance(value, bytes))
    for clear in (ref, ref.replace("-", ""), report_mid.strip("<>"), addition_mid.strip("<>"), copy_mid.strip("<>"),
                  "gone@example.jp", "消す通報", "gone.example", "電話した"):
        assert clear not in text
    assert "残す通報" in text
    assert not any(isinstance(value, bytes) and ref.encode() in value for value in all_values(store))


def test_a_deleted_case_is_gone_from_every_page_of_the_file(tmp_path):
    """Not only from the tables: from free pages and free space in pages too (secure_delete),
    as whoever holds the key would see the file decrypted."""
    made, key = new_store(tmp_path)
    keep = report(email="keep@example.jp", description="残す通報")
    gone = report(email="gone@example.jp", description="消す通報", urls=["https://gone.example/x"],
                  contact_safety="昼だけ連絡可")
    with made:
        made.add(keep, message_id=message_id())
        made.add(gone, message_id=message_id())
        made.add(addition(gone.reference, description="追加の言葉"), message_id=message_id())
        made.add_note(gone.reference, "電話した")
        made.delete(gone.reference)
        made.mark_sent(event.id for event in made.pending_events())  # the deletion reached the team
    clear_copy = tmp_path / "clear.sqlite3"
    clear_copy.write_bytes(made.path.read_bytes())
    db = apsw.Connection(str(clear_copy))
    db.execute(f"PRAGMA hexkey = '{key.hex()}'")
    db.execute("PRAGMA rekey = ''")  # decrypt every page in place
    db.close()
    data = clear_copy.read_bytes()
    assert data.startswith(b"SQLite format 3") and "keep@example.jp".encode() in data and "残す通報".encode() in data
    for word in ("gone@example.jp", "消す通報", "gone.example", "昼だけ連絡可", "追加の言葉", "電話した", gone.reference):
        assert word.encode() not in data, word
        assert json.dumps(word)[1:-1].encode() not in data, word


def test_tombstones_depend_on_the_store_key(tmp_path):
    gone, mid = report(), message_id()
    digests = []
    for name in ("one", "two"):
        (tmp_path / name).mkdir()
        made, _ = new_store(tmp_path / name)
        with made:
            made.add(gone, message_id=mid)
            made.delete(gone.reference)
            digests.append({row[0] for row in made._db.execute("SELECT digest FROM tombstones")})
    assert len(digests[0]) == 2 and not digests[0] & digests[1]


# -- phone cases -------------------------------------------------------------------------------

def test_phone_cases_are_numbered_per_japan_day(store):
    late_evening_utc = datetime(2026, 12, 1, 16, 30, tzinfo=timezone.utc)  # 01:30 on 2 December in Japan
    first = store.add_phone_case(role="guardian", description="電話で相談", at=late_evening_utc,
                                 urls=["https://tel.example/a", " "], email="caller@example.jp",
                                 contact_safety="携帯のみ", police_referral=True, language="en")
    second = store.add_phone_case(role="self", description="二件目", at=late_evening_utc + hours(1))
    next_day = store.add_phone_case(role="self", description="翌日", at=late_evening_utc + hours(24))
    assert (first, second, next_day) == ("TEL-20261202-001-CAFE", "TEL-20261202-002-CAFE",
                                          "TEL-20261203-001-CAFE")
    case = store.case(first)
    assert (case.origin, case.role, case.police_referral, case.language) == ("phone", "guardian", True, "en")
    assert (case.email, case.contact_safety) == ("caller@example.jp", "携帯のみ")
    assert case.received_at == late_evening_utc
    assert case.received_at.utcoffset() == timedelta(hours=9)
    assert [u.url for u in case.urls] == ["https://tel.example/a"]
    [record] = case.records
    assert (record.kind, record.message_id, record.fields["description"]) == ("report", None, "電話で相談")
    assert store.cases(search="tel20261202")[-1].reference == first
    store.delete(second)
    assert store.add_phone_case(role="self", description="三件目", at=late_evening_utc) == "TEL-20261202-003-CAFE"


def test_a_phone_case_needs_a_known_role_and_language(store):
    with pytest.raises(StoreError):
        store.add_phone_case(role="friend", description="x")
    with pytest.raises(StoreError):
        store.add_phone_case(role="self", description="x", language="fr")
    assert store.count() == 0


# -- status, notes, history --------------------------------------------------------------------

def test_status_changes_and_notes_are_kept_with_their_time(store):
    ref = new_reference()
    store.add(report(ref, received_at=T0), message_id=message_id())
    store.set_status(ref, "in_progress", at=T0 + hours(1))
    store.set_status(ref, "in_progress", at=T0 + hours(2))  # no change: not recorded
    store.add_note(ref, "  連絡は夜  ", at=T0 + hours(3))
    store.set_status(ref.replace("-", "").lower(), "closed", at=T0 + hours(4))
    case = store.case(ref)
    assert [(h.status, h.at) for h in case.history] == [
        ("new", T0), ("in_progress", T0 + hours(1)), ("closed", T0 + hours(4))]
    assert [(n.text, n.at) for n in case.notes] == [("連絡は夜", T0 + hours(3))]
    assert case.status == "closed"
    assert case.last_activity == T0 + hours(4)
    with pytest.raises(StoreError):
        store.set_status(ref, "done")
    with pytest.raises(StoreError):
        store.add_note(ref, "   ")
    with pytest.raises(StoreError):
        store.add_note("SL-2222-2222", "text")
    assert issubclass(StoreError, StaffError)


def test_the_list_is_newest_activity_first_filtered_by_status_and_paged(store):
    refs = [new_reference() for _ in range(7)]
    for i, ref in enumerate(refs):
        store.add(report(ref, received_at=T0 + hours(i)), message_id=message_id())
    store.add_note(refs[0], "today", at=T0 + hours(100))
    store.set_status(refs[1], "waiting", at=T0 + hours(50))
    store.set_status(refs[2], "waiting", at=T0 + hours(60))
    assert [c.reference for c in store.cases()] == [refs[0], refs[2], refs[1], *reversed(refs[3:])]
    assert [c.reference for c in store.cases(status="waiting")] == [refs[2], refs[1]]
    assert store.count(status="waiting") == 2 and store.count(status="new") == 5 and store.count() == 7
    assert [c.reference for c in store.cases(limit=2, offset=2)] == [refs[1], refs[6]]
    assert store.cases(status="closed") == []
    with pytest.raises(StoreError):
        store.cases(status="open")
    assert STATUSES == ("new", "in_progress", "waiting", "closed")


# -- search ------------------------------------------------------------------------------------

def test_search_by_reference_host_and_words(store):
    photo = report(description="元交際相手が画像を投稿しました", urls=["https://img.Photos.example.com/a"])
    video = report(description="A video was posted without consent", where="ＳＮＳのアカウント",
                   urls=["https://clips.example.org/v"], contact_safety="no calls after 9pm")
    for record in (photo, video):
        store.add(record, message_id=message_id())
    store.add_note(video.reference, "警察に相談済み")

    def found(text):
        return {c.reference for c in store.cases(search=text)}

    both = {photo.reference, video.reference}
    assert found("画像") == {photo.reference}  # a two-character Japanese word
    assert found("投稿") == {photo.reference}
    assert found("警察") == {video.reference}  # notes
    assert found("sns") == {video.reference}  # full-width letters match
    assert found("VIDEO") == {video.reference}  # any case
    assert found("9pm") == {video.reference}  # contact safety
    assert found("photos.example") == {photo.reference}  # part of a host, any case
    assert found("example") == both
    assert found(photo.reference) == {photo.reference}
    assert found(photo.reference.lower().replace("-", "")) == {photo.reference}  # typed without dashes
    assert found(photo.reference[:7].lower()) <= both and photo.reference in found(photo.reference[:7])
    assert found(photo.reference[3:].replace("-", "")) == {photo.reference}  # without the series
    assert found("画像 clips") == set()  # every word must match
    assert found("画像 img") == {photo.reference}
    assert found("見つからない") == set()
    assert found("%") == set() and found("_") == set()  # no wildcards
    assert store.count(search="example") == 2
    assert found("") == both


def test_search_finds_two_character_words_among_many_cases(store):
    with store.batch():
        for i in range(300):
            store.add(report(received_at=T0 + timedelta(minutes=i), description=f"写真{i}件目"),
                      message_id=message_id())
        target = report(received_at=T0, description="動画も画像もある")
        store.add(target, message_id=message_id())
    assert [c.reference for c in store.cases(search="画像")] == [target.reference]
    assert store.count(search="写真") == 300
    assert len(store.cases(search="写真", limit=100, offset=250)) == 50


# -- at rest -----------------------------------------------------------------------------------

def test_the_file_reads_as_noise(tmp_path):
    made, _ = new_store(tmp_path)
    path = made.path
    records = [report(email=f"person{i}@example.jp", description=f"秘密の説明{i} secretword{i}",
                      urls=[f"https://leak{i}.example.com/img"], contact_safety=f"safety{i}")
               for i in range(5)]
    journal_seen = []
    with made:
        with made.batch():
            for record in records:
                made.add(record, message_id=f"<mid{record.reference}@relay>")
            made.add_note(records[0].reference, "ノートの言葉")
            # Mid-transaction, whatever journal SQLite keeps beside the file is encrypted too.
            for sibling in tmp_path.iterdir():
                if sibling != path:
                    journal_seen.append(sibling.read_bytes())
        made.add_phone_case(role="self", description="電話の言葉", email="tel@example.jp")
    assert journal_seen, "no journal to look into"
    assert [p.name for p in tmp_path.iterdir()] == [path.name]
    data = path.read_bytes()
    assert not data.startswith(b"SQLite format 3")
    clear = ["ノートの言葉", "電話の言葉", "tel@example.jp", "TEL-"]
    for record in records:
        clear += [record.reference, record.reference.replace("-", ""), record.fields["email"],
                  record.fields["description"], record.fields["contact_safety"], record.fields["urls"][0],
                  record.fields["urls"][0].split("/")[2], f"mid{record.reference}",
                  "secretword"]
    for blob in [data, *journal_seen]:
        for word in clear:
            for encoding in ("utf-8", "utf-16-le", "utf-16-be"):
                assert word.encode(encoding) not in blob, word
            # JSON's ASCII escapes of the Japanese words, too.
            assert json.dumps(word).strip('"').encode() not in blob, word


def test_a_wrong_key_or_a_foreign_file_is_a_store_error(tmp_path):
    made, key = new_store(tmp_path)
    made.add(report(), message_id=message_id())
    made.close()
    with pytest.raises(StoreError, match="wrong key or not a case store"):
        Store.open(made.path, secrets.token_bytes(32))
    Store.open(made.path, key).close()  # the right key still opens it

    noise = tmp_path / "noise.sqlite3"
    noise.write_bytes(secrets.token_bytes(8192))
    with pytest.raises(StoreError):
        Store.open(noise, key)
    plain = tmp_path / "plain.sqlite3"
    db = apsw.Connection(str(plain))
    db.execute("CREATE TABLE t (x)")
    db.close()
    with pytest.raises(StoreError):
        Store.open(plain, key)
    with pytest.raises(StoreError, match="init"):
        Store.open(tmp_path / "missing.sqlite3", key)
    with pytest.raises(StoreError, match="exists"):
        Store.create(made.path, key)
    with pytest.raises(ValueError):
        Store.create(tmp_path / "short.sqlite3", b"short")


def test_the_schema_has_a_version_and_a_newer_store_is_refused(tmp_path):
    made, key = new_store(tmp_path)
    assert made.schema_version == SCHEMA_VERSION >= 1
    made._db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    made.close()
    with pytest.raises(StoreError, match="newer"):
        Store.open(made.path, key)


def test_an_older_store_is_migrated_when_opened(tmp_path, monkeypatch):
    import staff.store as store_module

    made, key = new_store(tmp_path)
    ref = new_reference()
    made.add(report(ref), message_id=message_id())
    made.close()
    later = SCHEMA_VERSION + 1
    monkeypatch.setattr(store_module, "SCHEMA_VERSION", later)
    monkeypatch.setitem(store_module.MIGRATIONS, later, "CREATE TABLE removals (url_id INTEGER, at TEXT);")
    with Store.open(made.path, key) as reopened:
        assert reopened.schema_version == later
        assert reopened.case(ref).reference == ref
        assert reopened._db.execute("SELECT count(*) FROM removals").fetchone() == (0,)


def test_a_version_2_store_keeps_its_events_in_their_order(tmp_path):
    """Version 3 keeps the events in a table of their own order: each one, its signed form and
    Message-ID, found by id as before, and an id still applied once."""
    from staff.events import new_event
    from staff.store import CIPHER, SCHEMA_V1, _migrate_v2

    path, key = tmp_path / "cases.sqlite3", secrets.token_bytes(32)
    with Store.create(tmp_path / "made.sqlite3", key) as made:  # events as version 2 kept them
        made.author = AUTHOR
        ref = made.add_phone_case(role="self", description="電話", urls=["https://a.example.com/1"], at=T0)
        made.add_note(ref, "折り返した", at=T0 + hours(1))
        made.add_request(ref, "https://a.example.com/1", target="site", target_name="Example", method="form",
                         sent_on=T0.date(), recheck_days=7, at=T0 + hours(2))
        made.mark_sent([event.id for event in made.pending_events()],
                       signed={event.id: b"signed " + event.id.encode() for event in made.pending_events()},
                       mail_ids={event.id: f"<{event.id}@kit>" for event in made.pending_events()})
        columns = "id, case_id, reference, type, url_id, sort_key, at_key, at, author, data, sent, signed, mail_id"
        rows = made._db.execute(f"SELECT {columns} FROM events ORDER BY sort_key").fetchall()
        cases = made._db.execute("SELECT * FROM cases").fetchall()
        urls = made._db.execute("SELECT * FROM urls").fetchall()
        links = made._db.execute("SELECT * FROM case_urls").fetchall()
        records = made._db.execute("SELECT * FROM records").fetchall()
        expected = [event.to_bytes() for event in made.events(ref)]
    db = apsw.Connection(str(path))
    db.execute(f"PRAGMA cipher = '{CIPHER}'")
    db.execute(f"PRAGMA hexkey = '{key.hex()}'")
    with db:
        db.execute(SCHEMA_V1)
        _migrate_v2(db)
        db.execute("PRAGMA user_version = 2")
        for table, values in (("cases", cases), ("urls", urls), ("case_urls", links), ("records", records),
                              ("events", rows)):
            for row in values:
                db.execute(f"INSERT INTO {table} VALUES ({', '.join('?' * len(row))})", row)
    assert "WITHOUT ROWID" in db.execute("SELECT sql FROM sqlite_master WHERE name = 'events'").fetchone()[0]
    db.close()
    with Store.open(path, key) as store:
        assert store.schema_version == 3
        assert "WITHOUT ROWID" not in store._db.execute("SELECT sql FROM sqlite_master WHERE name = 'events'"
                                                        ).fetchone()[0]
        assert [event.to_bytes() for event in store.events(ref)] == expected
        assert list(store.signed_events()) == [row[11] for row in rows]
        assert store.case(ref).notes[0].text == "折り返した"
        assert store.urls_of(ref)[0].state == "asked"
        first = new_event(ref, "note", {"text": "x"}, author=AUTHOR)
        assert store.apply(first) == "applied" and store.apply(first) == "known"
        with pytest.raises(apsw.ConstraintError):
            store._db.execute(f"INSERT INTO events ({columns}) VALUES ({', '.join('?' * 13)})", rows[0])


def _v1_store(path, key: bytes) -> dict:
    """A store of version 1 as part 1 of the kit wrote it: a web case with an addition, a note
    and two status changes, a phone case, a deleted case's tombstone. What it holds, by name."""
    from staff.store import CIPHER, SCHEMA_V1

    db = apsw.Connection(str(path))
    db.execute(f"PRAGMA cipher = '{CIPHER}'")
    db.execute(f"PRAGMA hexkey = '{key.hex()}'")
    db.execute(SCHEMA_V1)
    db.execute("PRAGMA user_version = 1")
    web = report(received_at=T0, urls=["https://A.example.com/x/../1", "https://b.example.org/2"])
    more = addition(web.reference, received_at=T0 + hours(1), urls=["https://a.example.com/1", "https://c.example/3"])
    iso, key_of = (lambda moment: moment.isoformat()), (lambda moment: moment.astimezone(timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%S.%f"))
    rows = [
        (1, web.reference, web.reference.replace("-", ""), web.reference[3:].replace("-", ""), "web", T0, "self", 3),
        (2, "TEL-20261201-001", "TEL20261201001", "20261201001", "phone", T0 + hours(3), "guardian", 1),
    ]
    for case_id, ref, ref_key, tail, origin, moment, role, urls in rows:
        db.execute("INSERT INTO cases (id, reference, ref_key, ref_tail, origin, has_report, received_at, role, "
                   "urls_open, urls_all, hosts, status, last_activity, activity_key) "
                   "VALUES (?, ?, ?, ?, ?, 1, ?, ?, ?, ?, '', 'new', ?, ?)",
                   (case_id, ref, ref_key, tail, origin, iso(moment), role, urls, urls, iso(moment), key_of(moment)))
        db.execute("INSERT INTO case_text (case_id, text) VALUES (?, '')", (case_id,))
        db.execute("INSERT INTO history (case_id, at, at_key, status) VALUES (?, ?, ?, 'new')",
                   (case_id, iso(moment), key_of(moment)))
    db.execute("INSERT INTO records VALUES (1, 1, 'report', ?, ?, 'r1@relay', ?)",
               (iso(T0), key_of(T0), json.dumps(web.fields)))
    db.execute("INSERT INTO records VALUES (2, 1, 'addition', ?, ?, 'a1@relay', ?)",
               (iso(T0 + hours(1)), key_of(T0 + hours(1)), json.dumps(more.fields)))
    phone = {"role": "guardian", "email": "", "contact_safety": "", "urls": ["https://tel.example/9"], "where": "",
             "description": "電話の相談", "police_referral": True, "language": "ja"}
    db.execute("INSERT INTO records VALUES (3, 2, 'report', ?, ?, NULL, ?)",
               (iso(T0 + hours(3)), key_of(T0 + hours(3)), json.dumps(phone)))
    for case_id, url, moment, record, position in [
            (1, "https://A.example.com/x/../1", T0, 1, 0), (1, "https://b.example.org/2", T0, 1, 1),
            (1, "https://a.example.com/1", T0 + hours(1), 2, 0), (1, "https://c.example/3", T0 + hours(1), 2, 1),
            (2, "https://tel.example/9", T0 + hours(3), 3, 0)]:
        db.execute("INSERT INTO urls VALUES (?, ?, ?, ?, ?, ?, ?)",
                   (case_id, url, url.split("/")[2].lower(), iso(moment), key_of(moment), record, position))
    for case_id, moment, status in [(1, T0 + hours(4), "in_progress"), (1, T0 + hours(4), "waiting"),
                                    (2, T0 + hours(5), "closed")]:
        db.execute("INSERT INTO history (case_id, at, at_key, status) VALUES (?, ?, ?, ?)",
                   (case_id, iso(moment), key_of(moment), status))
        db.execute("UPDATE cases SET status = ? WHERE id = ?", (status, case_id))
    db.execute("INSERT INTO notes (case_id, at, at_key, text) VALUES (1, ?, ?, '電話した')",
               (iso(T0 + hours(2)), key_of(T0 + hours(2))))
    # a note longer than an event holds (part 1 had no limit)
    db.execute("INSERT INTO notes (case_id, at, at_key, text) VALUES (1, ?, ?, ?)",
               (iso(T0 + hours(6)), key_of(T0 + hours(6)), "長" * 20_000 + "末尾"))
    db.execute("INSERT INTO phone_days VALUES ('20261201', 1)")
    db.close()
    return {"web": web.reference, "more": more}


def test_a_version_1_store_keeps_its_cases_notes_and_history_as_the_owner_s_events(tmp_path):
    path, key = tmp_path / "cases.sqlite3", secrets.token_bytes(32)
    made = _v1_store(path, key)
    ref = made["web"]
    with Store.open(path, key) as store:
        assert store.schema_version == SCHEMA_VERSION == 3
        case = store.case(ref)
        # Addresses are shared and canonical: two spellings of one address are one.
        assert [(u.url, u.first_received_at) for u in case.urls] == [
            ("https://a.example.com/1", T0), ("https://b.example.org/2", T0), ("https://c.example/3", T0 + hours(1))]
        assert (case.urls_open, case.urls_all, case.status) == (3, 3, "waiting")
        assert store.pending_events() == []  # nothing is anyone's event before the owner is known
        store.author = AUTHOR
        case = store.case(ref)
        assert case.status == "waiting"
        assert [(h.status, h.at, h.author) for h in case.history] == [
            ("new", T0, None), ("in_progress", T0 + hours(4), AUTHOR),
            ("waiting", T0 + hours(4, ) + timedelta(microseconds=1), AUTHOR)]
        assert [(n.text[-2:], n.at, n.author) for n in case.notes] == [
            ("した", T0 + hours(2), AUTHOR), ("長長", T0 + hours(6), AUTHOR),
            ("末尾", T0 + hours(6) + timedelta(microseconds=1), AUTHOR)]
        assert "".join(n.text for n in case.notes[1:]) == "長" * 20_000 + "末尾"
        assert store.cases(search="電話した")[0].reference == ref
        # The phone case keeps its old reference as a name, and takes the owner's four digits.
        phone = store.case("TEL-20261201-001")
        assert phone.reference == "TEL-20261201-001-CAFE" and store.case("tel20261201001").reference == phone.reference
        assert [c.reference for c in store.cases(search="TEL-20261201-001")] == [phone.reference]
        assert [c.reference for c in store.cases(search="tel-20261201-001-cafe")] == [phone.reference]
        assert (phone.status, phone.role, [u.url for u in phone.urls]) == ("closed", "guardian", ["https://tel.example/9"])
        pending = store.pending_events()
        assert sorted(e.type for e in pending) == ["note"] * 3 + ["phone_case"] + ["status"] * 3
        assert {e.author for e in pending} == {AUTHOR}
        assert [e.data["fields"]["description"] for e in pending if e.type == "phone_case"] == ["電話の相談"]
        assert store._db.execute("SELECT count(*) FROM legacy_notes").fetchone() == (0,)
        # the next phone case of that day does not take the number again
        assert store.add_phone_case(role="self", description="x", at=T0) == "TEL-20261201-002-CAFE"
    with Store.open(path, key) as again:
        again.author = AUTHOR  # adopted once only
        assert len(again.pending_events()) == 8
        assert again.add(made["more"], message_id="<a1@relay>") == "duplicate"


def test_a_version_1_phone_case_an_event_cannot_hold_stays_in_this_kit(tmp_path):
    path, key = tmp_path / "cases.sqlite3", secrets.token_bytes(32)
    _v1_store(path, key)
    db = apsw.Connection(str(path))
    db.execute(f"PRAGMA hexkey = '{key.hex()}'")
    fields = json.loads(db.execute("SELECT fields FROM records WHERE id = 3").fetchone()[0])
    db.execute("UPDATE records SET fields = ? WHERE id = 3",
               (json.dumps({**fields, "description": "長" * 20_001}),))
    db.close()
    with Store.open(path, key) as store:
        store.author = AUTHOR
        phone = store.case("TEL-20261201-001")
        assert phone.reference == "TEL-20261201-001-CAFE" and len(phone.records[0].fields["description"]) == 20_001
        assert "phone_case" not in {e.type for e in store.pending_events()}
        assert [e.type for e in store.events(phone.reference)] == ["status"]  # its status still is shared
    with Store.open(path, key) as again:
        again.author = AUTHOR
        assert len(again.pending_events()) == 6


# -- odd input ---------------------------------------------------------------------------------

def test_text_json_allows_but_utf8_does_not_is_kept(store):
    ref = new_reference()
    data = json.dumps({"format": 1, "kind": "report", "reference": ref, "received_at": T0.isoformat(),
                       "role": "self", "email": "x@example.jp", "contact_safety": "\ud800",
                       "urls": ["https://odd.example/\udfff"], "where": "", "description": "lone \udc80 half\u0000",
                       "police_referral": False, "consent": True, "language": "xx"})
    record = parse(data.encode())
    assert store.add(record, message_id="<odd\udcff@relay>") == "report"
    case = store.case(ref)
    assert case.records[0].fields == record.fields  # exactly as they came
    assert case.contact_safety == "\ufffd" and case.language == "ja"
    assert [c.reference for c in store.cases(search="half")] == [ref]
    assert store.seen("<odd\udcff@relay>")


def test_times_are_stored_with_their_offset(store):
    ref = new_reference()
    utc_time = datetime(2026, 12, 1, 1, 0, tzinfo=timezone.utc)
    store.add(report(ref, received_at=utc_time), message_id=message_id())
    store.add_note(ref, "n", at=utc_time)
    case = store.case(ref)
    assert case.received_at == utc_time and case.received_at.utcoffset() == timedelta(hours=9)
    assert case.notes[0].at.isoformat() == "2026-12-01T10:00:00+09:00"
    with pytest.raises(ValueError):
        store.add_note(ref, "naive", at=datetime(2026, 12, 1))
    assert JAPAN.utcoffset(None) == timedelta(hours=9)


def test_message_ids_are_compared_without_their_brackets(store):
    first = report()
    assert store.add(first, message_id="  <a@relay>  ") == "report"
    assert store.seen("a@relay") and store.seen("<a@relay>")
    assert store.add(addition(first.reference), message_id="<>") == "addition"  # odd, but a Message-ID
    assert store.seen("<>") and not store.seen("<b@relay>")
    with pytest.raises(ValueError):
        store.add(addition(first.reference), message_id=" ")


# -- speed by design ---------------------------------------------------------------------------

@pytest.mark.parametrize("status", [None, "waiting"])
def test_a_page_of_the_case_list_is_read_by_index_without_sorting(store, status):
    """The case list of 10,000 cases stays fast because a page is read in index order and
    the scan stops after it: no sort of the whole table, no temporary b-tree."""
    where, params = store._where(status, None)
    sql = f"SELECT reference FROM cases c{where} ORDER BY c.activity_key DESC, c.id DESC LIMIT ? OFFSET ?"
    plan = " | ".join(row[3] for row in store._db.execute("EXPLAIN QUERY PLAN " + sql, (*params, 100, 0)))
    assert ("cases_by_status" if status else "cases_by_activity") in plan and "TEMP B-TREE" not in plan, plan
    count_sql = f"EXPLAIN QUERY PLAN SELECT count(*) FROM cases c{where}"
    count_plan = " | ".join(row[3] for row in store._db.execute(count_sql, params))
    assert "COVERING INDEX" in count_plan, count_plan


def test_the_store_serves_several_threads(store):
    import threading

    problems = []

    def write():
        try:
            for i in range(50):
                store.add(report(received_at=T0 + hours(i)), message_id=message_id())
        except Exception as error:  # noqa: BLE001 -- reported below
            problems.append(error)

    def read():
        try:
            for _ in range(50):
                store.cases(search="写真")
                store.count(status="new")
        except Exception as error:  # noqa: BLE001
            problems.append(error)

    threads = [threading.Thread(target=target) for target in (write, read, read)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert problems == [] and store.count() == 50


def test_a_search_sees_every_change_made_since_the_last(tmp_path):
    """Search results are kept between calls (the web list asks for a page and its counts);
    any change, here or through another connection to the file, makes them read again."""
    store, key = new_store(tmp_path)
    with store, Store.open(store.path, key) as other:
        other.author = AUTHOR
        assert store.count(search="紫陽花") == 0
        first = report(description="紫陽花の写真")
        store.add(first, message_id=message_id())
        assert [c.reference for c in store.cases(search="紫陽花")] == [first.reference]
        second = report(description="紫陽花がまた")
        other.add(second, message_id=message_id())
        assert store.count(search="紫陽花") == 2
        store.set_status(first.reference, "closed")
        assert store.count(status="closed", search="紫陽花") == 1
        store.add_note(second.reference, "ヤマアラシ")
        assert store.count(search="ヤマアラシ") == 1
        with pytest.raises(RuntimeError), store.batch():
            store.add(report(description="紫陽花の三件目"), message_id=message_id())
            assert store.count(search="紫陽花") == 3
            raise RuntimeError("rolled back")
        assert store.count(search="紫陽花") == 2
        other.delete(first.reference)
        assert [c.reference for c in store.cases(search="紫陽花")] == [second.reference]


def test_an_address_written_down_without_its_scheme_still_has_its_host(store):
    # Staff write down what a caller reads out: often "example.com/…", with no https://.
    reference = store.add_phone_case(role="self", description="電話", urls=["Images.Example.COM/p/1", "https://a.example/x"])
    assert [(u.url, u.host) for u in store.case(reference).urls] == [("Images.Example.COM/p/1", "images.example.com"),
                                                                     ("https://a.example/x", "a.example")]
    assert [c.reference for c in store.cases(search="images.example")] == [reference]


def test_an_encrypted_database_that_is_not_a_case_store_is_refused_not_made_into_one(tmp_path):
    # Another program's SQLite file under the same key (or one left empty): opening it must
    # not quietly turn it into a store.
    key = secrets.token_bytes(32)
    other = tmp_path / "other.sqlite3"
    db = apsw.Connection(str(other))
    db.execute("PRAGMA cipher = 'chacha20'").fetchall()  # apsw runs a statement as its rows are read
    db.execute(f"PRAGMA hexkey = '{key.hex()}'").fetchall()
    db.execute("CREATE TABLE notes_of_another_program (x)")
    db.close()
    with pytest.raises(StoreError, match="is not a case store"):
        Store.open(other, key)
    db = apsw.Connection(str(other))
    db.execute("PRAGMA cipher = 'chacha20'").fetchall()  # apsw runs a statement as its rows are read
    db.execute(f"PRAGMA hexkey = '{key.hex()}'").fetchall()
    assert [row[0] for row in db.execute("SELECT name FROM sqlite_master")] == ["notes_of_another_program"]
    db.close()


def test_the_case_list_gives_100_cases_unless_told_otherwise(store):
    with store.batch():
        for n in range(101):
            store.add(report(received_at=T0 + timedelta(minutes=n)), message_id=message_id())
    assert len(store.cases()) == 100 and store.count() == 101
    assert len(store.cases(limit=None)) == 101


def test_a_case_without_its_report_is_received_when_its_earliest_addition_was(store):
    # Additions can arrive out of order, and before their report: until the report comes, the
    # case was received when the earliest of them was.
    reference = new_reference()
    store.add(addition(reference, received_at=T0 + hours(2)), message_id=message_id())
    store.add(addition(reference, received_at=T0 + hours(1)), message_id=message_id())
    assert store.case(reference).received_at == T0 + hours(1)
    assert store.cases()[0].received_at == T0 + hours(1)
    store.add(report(reference, received_at=T0 + hours(3)), message_id=message_id())
    assert store.case(reference).received_at == T0 + hours(3)  # the report's time, once it is here
