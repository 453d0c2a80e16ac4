"""The merge: every kit of the team reaches the same state from the same mails and events,
whatever the order they arrive in (a property test), and what each kind of event does."""

from __future__ import annotations

import hashlib
import json
import tempfile
from dataclasses import replace
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from staff.events import Event, new_event
from staff.problems import StaffError
from tests.support.staff_records import AUTHOR, T0, addition, new_store, report

A, B, C = "A" * 40, "B" * 39 + "1", "C" * 38 + "22"
AUTHORS = (A, B, C)
REFS = ("SL-2345-6789", "SL-ABCD-EFGH", "SL-JKMN-PQRS")
PHONE = "TEL-20261201-001-AAAA"
URLS = ("https://a.example/1", "https://b.example/2", "https://c.example/3", "https://d.example/4")
# Few distinct moments, so that ties (same time, then same author) are common; one of them is
# the same instant written in another offset.
TIMES = (T0, T0 + timedelta(minutes=5), T0 + timedelta(minutes=5, microseconds=1),
         (T0 + timedelta(minutes=5)).astimezone(timezone(timedelta(hours=-5))))

# (record, Message-ID): reports and additions, some received at the same second.
RECORDS = (
    (report(REFS[0], received_at=T0, urls=[URLS[0], URLS[1]], description="最初の通報 alpha"), "<r0@relay>"),
    (addition(REFS[0], received_at=T0 + timedelta(hours=1), urls=[URLS[1], URLS[2]], lang="en"), "<a0@relay>"),
    (report(REFS[1], received_at=T0, urls=[URLS[0]], role="guardian", police_referral=True), "<r1@relay>"),
    (addition(REFS[1], received_at=T0, urls=[URLS[3], URLS[0]]), "<a1@relay>"),
    (addition(REFS[2], received_at=T0 + timedelta(hours=2), urls=[URLS[2]], lang="en"), "<a2@relay>"),
    (report(REFS[2], received_at=T0 + timedelta(minutes=30), urls=[URLS[2], URLS[3]], lang="en"), "<r2@relay>"),
)
DAYS = ("2026-12-01", "2026-12-02", "2026-12-08")
PHONE_FIELDS = {"role": "self", "email": "", "contact_safety": "", "urls": [URLS[3]], "where": "",
                "description": "電話", "police_referral": False, "language": "ja"}


@st.composite
def events(draw) -> Event:
    kind = draw(st.sampled_from(("status", "status", "assign", "note", "note", "request", "request", "url_state",
                                 "url_state", "url_next", "url_host", "delete", "phone_case")))
    ref = PHONE if kind == "phone_case" else draw(st.sampled_from(REFS + (PHONE,)))
    url = draw(st.sampled_from(URLS))
    data = {
        "status": lambda: {"status": draw(st.sampled_from(("new", "in_progress", "waiting", "closed")))},
        "assign": lambda: {"to": draw(st.sampled_from(AUTHORS + (None,)))},
        "note": lambda: {"text": draw(st.sampled_from(("電話した", "mailed them", "待つ")))},
        "request": lambda: {"url": url, "target": draw(st.sampled_from(("site", "host", "police"))),
                            "target_name": "Operator", "method": "form", "sent_on": draw(st.sampled_from(DAYS)),
                            "ticket": "", "next_on": draw(st.sampled_from(DAYS))},
        "url_state": lambda: {"url": url, "state": draw(st.sampled_from(("removed", "refused", "no_answer"))),
                              "on": draw(st.sampled_from(DAYS)), "reason": draw(st.sampled_from(("", "no"))),
                              "next_on": draw(st.sampled_from(DAYS + (None,)))},
        "url_next": lambda: {"url": url, "next_on": draw(st.sampled_from(DAYS + (None,)))},
        "url_host": lambda: {"url": url, "host": {"overseas": draw(st.booleans()), "country": "US"}},
        "delete": lambda: {},
        "phone_case": lambda: {"fields": {**PHONE_FIELDS, "role": draw(st.sampled_from(("self", "guardian")))}},
    }[kind]()
    # A phone case is made under its author's reference (PHONE ends with A's last digits).
    author = A if kind == "phone_case" else draw(st.sampled_from(AUTHORS))
    return new_event(ref, kind, data, author=author, at=draw(st.sampled_from(TIMES)))


def with_ids(made: list[Event]) -> list[Event]:
    """The events with ids fixed by their place (hypothesis replays an example exactly)."""
    return [replace(event, id=hashlib.md5(str(number).encode()).hexdigest()) for number, event in enumerate(made)]


def snapshot(store) -> tuple:
    cases = {ref: (case.to_json() if (case := store.case(ref)) else None) for ref in (*REFS, PHONE)}
    urls = {url: (state.to_json() if (state := store.url(url)) else None) for url in URLS}
    summaries = sorted(json.dumps(summary.to_json(), sort_keys=True) for summary in store.cases(limit=None))
    searches = {word: sorted(summary.reference for summary in store.cases(search=word, limit=None))
                for word in ("電話", "mailed", "alpha", "b.example")}
    due = [state.url for state in store.due(date(2026, 12, 8))]
    return cases, urls, store.facts(), summaries, searches, due


def state_after(items: list) -> tuple:
    with tempfile.TemporaryDirectory() as folder:
        store, _ = new_store(Path(folder))
        with store:
            applied = []
            for kind, item in items:
                if kind == "record":
                    record, mid = RECORDS[item]
                    assert store.add(record, message_id=mid) in ("report", "addition", "duplicate", "deleted")
                else:
                    assert store.apply(item) in ("applied", "known", "deleted")
                    applied.append(item)
            state = snapshot(store)
            # Applying every event again changes nothing.
            assert {store.apply(event) for event in applied} <= {"known", "deleted"}
            assert snapshot(store) == state
            assert store.pending_events() == []
            return state


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(records=st.lists(st.integers(0, len(RECORDS) - 1), max_size=8),
       made=st.lists(events(), max_size=16), twice=st.lists(st.integers(0, 15), max_size=4), data=st.data())
def test_any_order_of_mails_and_events_gives_the_same_state(records, made, twice, data):
    made = with_ids(made)
    items = [("record", number) for number in records] + [("event", event) for event in made]
    items += [("event", made[number]) for number in twice if number < len(made)]  # duplicates
    first = data.draw(st.permutations(items))
    second = data.draw(st.permutations(items))
    assert state_after(first) == state_after(second)


# -- what each event does ---------------------------------------------------------------------------

@pytest.fixture
def store(tmp_path):
    made, _ = new_store(tmp_path)
    with made:
        yield made


def ev(kind: str, data: dict, *, ref: str = REFS[0], author: str = A, at: datetime = T0) -> Event:
    return new_event(ref, kind, data, author=author, at=at)


def test_the_latest_status_wins_then_the_greater_author(store):
    store.add(*RECORDS[0][:1], message_id=RECORDS[0][1])
    later = ev("status", {"status": "waiting"}, at=T0 + timedelta(minutes=1))
    tie_small = ev("status", {"status": "closed"}, author=A, at=T0)
    tie_great = ev("status", {"status": "in_progress"}, author=B, at=T0.astimezone(timezone.utc))
    assert store.apply(later) == "applied"
    assert store.apply(tie_great) == store.apply(tie_small) == "applied"
    case = store.case(REFS[0])
    assert case.status == "waiting"
    assert [(h.status, h.author) for h in case.history] == [
        ("new", None), ("closed", A), ("in_progress", B), ("waiting", A)]
    assert store.apply(later) == "known"
    assert [e.id for e in store.events(REFS[0])] == [tie_small.id, tie_great.id, later.id]


def test_an_event_before_its_report_makes_a_case_that_waits_for_it(store):
    note = ev("note", {"text": "先にメモ"}, at=T0 - timedelta(days=1))
    assert store.apply(note) == "applied"
    waiting = store.case(REFS[0])
    assert (waiting.role, waiting.records, waiting.received_at) == (None, (), T0 - timedelta(days=1))
    assert store.cases(search="先にメモ")[0].reference == REFS[0]
    store.add(RECORDS[0][0], message_id=RECORDS[0][1])
    case = store.case(REFS[0])
    assert (case.role, case.received_at, [n.text for n in case.notes]) == ("self", T0, ["先にメモ"])
    assert case.last_activity == T0


def test_a_request_asks_and_a_later_state_wins_over_it(store):
    store.add(RECORDS[0][0], message_id=RECORDS[0][1])
    store.add(RECORDS[2][0], message_id=RECORDS[2][1])  # another case holding URLS[0]
    request = ev("request", {"url": URLS[0], "target": "host", "target_name": "H", "method": "email",
                             "sent_on": "2026-12-01", "ticket": "T1", "next_on": "2026-12-08"}, at=T0 + timedelta(hours=1))
    removed = ev("url_state", {"url": URLS[0], "state": "removed", "on": "2026-12-03", "reason": "",
                               "next_on": None}, ref=REFS[1], author=B, at=T0 + timedelta(hours=2))
    assert store.apply(removed) == "applied"
    assert store.apply(request) == "applied"
    url = store.url(URLS[0])
    assert (url.state, url.state_on, url.next_on) == ("removed", date(2026, 12, 3), None)
    assert [(r.id, r.case, r.ticket) for r in url.requests] == [(request.id, REFS[0], "T1")]
    assert url.cases == tuple(sorted(REFS[:2]))
    assert [s.urls_open for s in (store.case(REFS[0]), store.case(REFS[1]))] == [1, 0]
    assert store.due(date(2026, 12, 31)) == []
    # the request's own time is later than a refusal: it wins again
    refused = ev("url_state", {"url": URLS[0], "state": "refused", "on": "2026-12-01", "reason": "no",
                               "next_on": "2026-12-05"}, at=T0 + timedelta(minutes=30))
    store.apply(refused)
    assert store.url(URLS[0]).state == "removed"
    assert store.case(REFS[0]).urls[0].state == "removed"


def test_a_delete_beats_everything_before_or_after(store):
    store.add(RECORDS[0][0], message_id=RECORDS[0][1])
    state = ev("url_state", {"url": URLS[1], "state": "refused", "on": "2026-12-01", "reason": "r",
                             "next_on": None})
    store.apply(state)
    assert store.url(URLS[1]).state == "refused"
    delete = ev("delete", {}, author=B, at=T0 - timedelta(days=9))  # its time does not matter
    assert store.apply(delete) == "applied"
    assert store.case(REFS[0]) is None and store.url(URLS[1]) is None
    assert store.apply(delete) == "deleted"
    assert store.apply(ev("note", {"text": "late"}, at=T0 + timedelta(days=9))) == "deleted"
    assert store.add(RECORDS[1][0], message_id=RECORDS[1][1]) == "deleted"
    assert store.case(REFS[0]) is None and store.count() == 0
    assert store.pending_events() == []  # not made here: nothing to send


def test_a_deleted_case_s_events_leave_a_shared_address(store):
    store.add(RECORDS[0][0], message_id=RECORDS[0][1])
    store.add(RECORDS[2][0], message_id=RECORDS[2][1])
    store.apply(ev("url_state", {"url": URLS[0], "state": "removed", "on": "2026-12-01", "reason": "",
                                 "next_on": None}, ref=REFS[0]))
    assert store.case(REFS[1]).urls_open == 0
    store.apply(ev("delete", {}, ref=REFS[0]))
    url = store.url(URLS[0])
    assert (url.state, url.cases) == ("not_asked", (REFS[1],))
    assert store.case(REFS[1]).urls_open == 1


def test_two_phone_case_events_for_one_reference_keep_the_first(store):
    # (a kit restored from an old backup could number a day's phone case again)
    first = ev("phone_case", {"fields": PHONE_FIELDS}, ref=PHONE, at=T0)
    second = ev("phone_case", {"fields": {**PHONE_FIELDS, "role": "guardian", "urls": []}}, ref=PHONE,
                at=T0 + timedelta(seconds=1))
    store.apply(second)
    assert store.case(PHONE).role == "guardian"
    store.apply(first)
    case = store.case(PHONE)
    assert (case.origin, case.role, [u.url for u in case.urls]) == ("phone", "self", [URLS[3]])
    assert store.url(URLS[3]).cases == (PHONE,)


def test_local_changes_are_events_of_the_owner_queued_to_send(store):
    store.add(RECORDS[0][0], message_id=RECORDS[0][1])
    store.add_note(REFS[0], "memo")
    store.set_status(REFS[0], "in_progress")
    store.set_status(REFS[0], "in_progress")  # the same again: no event
    store.assign(REFS[0], B)
    request = store.add_request(REFS[0], "HTTPS://A.example/1", target="site", target_name="S", method="form",
                                sent_on=date(2026, 12, 1), recheck_days=7)
    pending = store.pending_events()
    assert [(e.type, e.author, e.case) for e in pending] == [
        ("note", AUTHOR, REFS[0]), ("status", AUTHOR, REFS[0]), ("assign", AUTHOR, REFS[0]),
        ("request", AUTHOR, REFS[0])]
    assert pending[-1].id == request and pending[-1].data["next_on"] == "2026-12-08"
    assert [Event.from_bytes(e.to_bytes()) for e in pending] == pending
    store.mark_sent([pending[0].id, pending[1].id])
    assert [e.type for e in store.pending_events()] == ["assign", "request"]
    assert store.case(REFS[0]).assignee == B
    assert store.events(REFS[0]) == pending


def test_retire_keeps_the_facts_and_nothing_else(store):
    for record, mid in RECORDS[:4]:
        store.add(record, message_id=mid)
    store.apply(ev("request", {"url": URLS[1], "target": "host", "target_name": "Secret Host Name", "method": "form",
                               "sent_on": "2026-12-02", "ticket": "TICKET-SECRET", "next_on": "2026-12-09"}))
    store.apply(ev("request", {"url": URLS[0], "target": "site", "target_name": "Shared", "method": "form",
                               "sent_on": "2026-12-03", "ticket": "", "next_on": "2026-12-10"}))
    store.apply(ev("note", {"text": "NOTE-SECRET"}))
    before = store.facts()
    assert store.apply(ev("retire", {}, author=B)) == "applied"
    after = store.facts()  # the same, but the address the other case holds is now held by it alone
    assert after.cases == before.cases and sorted(repr(replace(u, cases=1, held_by=())) for u in after.urls) == sorted(
        repr(replace(u, cases=1, held_by=())) for u in before.urls)
    assert sorted(u.cases for u in before.urls) == [1, 1, 1, 2] and {u.cases for u in after.urls} == {1}
    assert store.case(REFS[0]) is None and store.url(URLS[1]) is None and store.url(URLS[2]) is None
    shared = store.url(URLS[0])  # held by the other case: its history stays
    assert (shared.cases, [r.target_name for r in shared.requests]) == ((REFS[1],), ["Shared"])
    assert store.add(RECORDS[1][0], message_id=RECORDS[1][1]) == "deleted"
    dump = "\n".join(str(row) for table in ("events", "records", "urls", "case_text", "cases")
                     for row in store._db.execute(f"SELECT * FROM {table}"))
    for secret in ("TICKET-SECRET", "Secret Host Name", "NOTE-SECRET", "最初の通報", URLS[1], URLS[2]):
        assert secret not in dump
    # a deletion on request later removes even the facts
    assert store.apply(ev("delete", {}, author=C)) == "deleted"
    assert len(store.facts().cases) == 1 and len(store.facts().urls) == 2


def test_retirable_cases_are_those_closed_longer_than_the_days(store):
    for record, mid in RECORDS[:3]:
        store.add(record, message_id=mid)
    closed_at = datetime(2026, 12, 10, 23, 30, tzinfo=timezone.utc)  # 11 December in Japan
    store.set_status(REFS[0], "closed", at=closed_at)
    store.set_status(REFS[1], "closed", at=closed_at - timedelta(days=5))
    store.set_status(REFS[1], "waiting", at=closed_at - timedelta(days=4))  # open again
    assert store.retirable(date(2027, 12, 11), 365) == []
    assert [s.reference for s in store.retirable(date(2027, 12, 12), 365)] == [REFS[0]]
    store.set_status(REFS[1], "closed", at=closed_at - timedelta(days=1))
    assert [s.reference for s in store.retirable(date(2028, 1, 1), 365)] == [REFS[1], REFS[0]]
    store.retire(REFS[0])
    assert [s.reference for s in store.retirable(date(2028, 1, 1), 365)] == [REFS[1]]
    assert [e.case for e in store.pending_events() if e.type == "retire"] == [REFS[0]]


def test_sync_positions_and_hosts(store):
    assert store.sync_position("imaps://team") is None
    store.set_sync_position("imaps://team", "17:42")
    store.set_sync_position("imaps://team", "17:43")
    assert store.sync_position("imaps://team") == "17:43"
    store.add(RECORDS[0][0], message_id=RECORDS[0][1])
    host = {"addresses": ["192.0.2.7"], "holder": "Example Net", "country": "NL", "overseas": True,
            "looked_up_at": "2026-12-02T10:00:00+09:00"}
    store.set_url_host(REFS[0], URLS[1], host)
    assert store.url(URLS[1]).host_info == host
    assert sorted(str(u.overseas) for u in store.facts().urls) == ["None", "True"]
    with pytest.raises(StaffError, match="overseas"):
        store.set_url_host(REFS[0], URLS[1], {"overseas": "yes"})
    with pytest.raises(StaffError, match="not one of the case's"):
        store.set_url_host(REFS[0], URLS[3], host)
    with pytest.raises(StaffError, match="fingerprint"):
        store.assign(REFS[0], "not a key")
    assert [u.url for u in store.urls_of(REFS[0].lower())] == list(URLS[:2])


def test_without_its_owner_a_store_makes_no_event(tmp_path):
    made, key = new_store(tmp_path)
    made.add(RECORDS[0][0], message_id=RECORDS[0][1])
    made.close()
    from staff.store import Store

    with Store.open(made.path, key) as store:
        assert store.author is None
        with pytest.raises(StaffError, match="owner"):
            store.add_note(REFS[0], "x")
        assert store.apply(ev("note", {"text": "from the team"})) == "applied"  # sync needs no owner
        with pytest.raises(StaffError, match="fingerprint"):
            store.author = "nobody"
