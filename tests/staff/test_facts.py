"""``Store.facts()``: what the statistics count, read set-based, the same as reading case by case.

The reference is round 1's implementation (one query per case and per address), kept here as
``facts_case_by_case``: on a varied store (reports and additions sharing addresses, phone
cases, requests to every target with the police among them, states, hosts abroad and at home,
a retired case and a deleted one) both give the same cases and addresses; the new facts add
how many cases hold each address and which.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from datetime import date, timedelta

import pytest

from staff.events import new_event
from staff.facts import CaseFacts, UrlFacts
from staff.store import JAPAN, _bool, _day, _when
from tests.support.staff_records import AUTHOR, T0, addition, message_id, new_reference, new_store, report


def facts_case_by_case(store) -> tuple[list[CaseFacts], list[UrlFacts]]:
    """Round 1's ``Store.facts()`` (commit 1452884), without its helpers' sharing."""
    db = store._db
    cases = []
    for received_at, origin, role, police, urls in db.execute(
            "SELECT received_at, origin, role, police_referral, urls_all FROM cases").fetchall():
        cases.append(CaseFacts(_when(received_at).astimezone(JAPAN).date(), origin, role, _bool(police), urls))
    cases += [CaseFacts(date.fromisoformat(on), origin, role, _bool(police), urls)
              for on, origin, role, police, urls in db.execute(
                  "SELECT received_on, origin, role, police_referral, urls FROM retired_cases")]
    urls = []
    for (url_id,) in db.execute("SELECT id FROM urls u WHERE EXISTS (SELECT 1 FROM case_urls cu "
                                "WHERE cu.url_id = u.id)").fetchall():
        state, state_on, host_info = db.execute("SELECT state, state_on, host_info FROM urls WHERE id = ?",
                                                (url_id,)).fetchone()
        first = db.execute("SELECT first_received_at FROM case_urls WHERE url_id = ? ORDER BY first_key LIMIT 1",
                           (url_id,)).fetchone()
        overseas = None if host_info is None else json.loads(host_info).get("overseas")
        requests = sorted(date.fromisoformat(data["sent_on"]) for data in (
            json.loads(row[0]) for row in db.execute(
                "SELECT data FROM events WHERE url_id = ? AND type = 'request'", (url_id,)))
            if data["target"] != "police")
        urls.append(UrlFacts(_when(first[0]).astimezone(JAPAN).date(),
                             overseas if isinstance(overseas, bool) else None, tuple(requests),
                             _day(state_on) if state == "removed" else None))
    urls += [UrlFacts(date.fromisoformat(on), _bool(overseas),
                      tuple(date.fromisoformat(day) for day in json.loads(requests)), _day(removed))
             for on, overseas, requests, removed in db.execute(
                 "SELECT reported_on, overseas, requests_on, removed_on FROM retired_urls")]
    return cases, urls


def without_links(url: UrlFacts) -> tuple:
    return (url.reported_on, url.overseas, url.requests_on, url.removed_on)


def fill(store, rng: random.Random, count: int) -> list[str]:
    """``count`` cases: web reports (some with additions) and phone cases, sharing addresses,
    with requests, states and hosts; returns their references."""
    pool = [f"https://site{n % 7}.example/p/{n}" for n in range(3 * count)]
    refs = []
    for n in range(count):
        at = T0 + timedelta(hours=7 * n, minutes=rng.randrange(60))  # some cross midnight in Japan
        urls = rng.sample(pool, rng.randrange(0, 4))
        if n % 5 == 4:
            ref = store.add_phone_case(at=at, role=rng.choice(["self", "guardian"]), email="",
                                       contact_safety="", urls=urls, where="", description="電話",
                                       police_referral=rng.random() < 0.3, language="ja")
        else:
            ref = new_reference()
            if rng.random() < 0.15:  # an addition whose report has not come
                store.add(addition(ref, received_at=at, urls=urls or pool[:1]), message_id=message_id())
            else:
                store.add(report(ref, received_at=at, urls=urls, role=rng.choice(["self", "guardian"]),
                                 police_referral=rng.random() < 0.3), message_id=message_id())
                if rng.random() < 0.3:
                    store.add(addition(ref, received_at=at + timedelta(days=1), urls=rng.sample(pool, 2)),
                              message_id=message_id())
        refs.append(ref)
        for url in store.urls_of(ref):
            day = at.astimezone(JAPAN).date() + timedelta(days=rng.randrange(5))
            for _ in range(rng.randrange(3)):
                store.apply(new_event(ref, "request", {
                    "url": url.url, "target": rng.choice(["site", "host", "police", "search"]),
                    "target_name": "Operator", "method": "form", "sent_on": day.isoformat(), "ticket": "",
                    "next_on": (day + timedelta(days=7)).isoformat()}, author=AUTHOR,
                    at=at + timedelta(days=rng.randrange(5))))
                day += timedelta(days=rng.randrange(1, 9))
            if rng.random() < 0.5:
                store.apply(new_event(ref, "url_state", {
                    "url": url.url, "state": rng.choice(["removed", "refused", "no_answer"]),
                    "on": day.isoformat(), "reason": "", "next_on": None}, author=AUTHOR, at=at + timedelta(days=9)))
            if rng.random() < 0.6:
                store.apply(new_event(ref, "url_host", {"url": url.url, "host": {"overseas": rng.random() < 0.5}},
                                      author=AUTHOR, at=at + timedelta(days=1)))
    return refs


@pytest.fixture
def store(tmp_path):
    made, _ = new_store(tmp_path)
    with made:
        yield made


def test_facts_are_those_read_case_by_case(store):
    refs = fill(store, random.Random(23), 60)
    store.retire(refs[3])
    store.retire(refs[10])
    store.delete(refs[20])
    facts = store.facts()
    cases, urls = facts_case_by_case(store)
    assert len(facts.cases) == 59 and len(facts.urls) > 60
    assert Counter(facts.cases) == Counter(cases)
    assert Counter(without_links(url) for url in facts.urls) == Counter(without_links(url) for url in urls)
    assert store.facts() == facts  # the same order every time


def test_each_address_says_how_many_cases_hold_it_and_which(store):
    first, second, alone = new_reference(), new_reference(), new_reference()
    shared, own = "https://shared.example/1", "https://own.example/2"
    store.add(report(first, urls=[shared], role="guardian"), message_id=message_id())
    store.add(report(second, received_at=T0 + timedelta(days=3), urls=[shared, own]), message_id=message_id())
    store.add(report(alone, urls=[], police_referral=True), message_id=message_id())
    facts = store.facts()
    by_day = {url.reported_on: url for url in facts.urls}
    held = by_day[T0.date()]  # the shared address: first reported with the first case
    assert held.cases == 2 and sorted(facts.cases[place].role for place in held.held_by) == ["guardian", "self"]
    mine = by_day[T0.date() + timedelta(days=3)]
    assert mine.cases == 1 and facts.cases[mine.held_by[0]].received_on == T0.date() + timedelta(days=3)
    # retired: the case's own address stays held by it (the shared one now by the other case only)
    store.retire(second)
    facts = store.facts()
    assert len(facts.cases) == 3 and len(facts.urls) == 2
    for url in facts.urls:
        assert url.cases == 1 and len(url.held_by) == 1
        assert facts.cases[url.held_by[0]].urls == (2 if url.reported_on != T0.date() else 1)


def test_an_address_s_facts_made_by_hand_say_one_case_holds_it_and_not_which():
    url = UrlFacts(date(2026, 4, 1), None, (), None)
    assert (url.cases, url.held_by) == (1, ())
