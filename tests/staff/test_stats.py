"""Statistics: counted by hand, at the period's edges, with small numbers hidden so that no
subtraction gives them back, medians of odd and even counts, and the CSV read back."""

from __future__ import annotations

import csv
import io
import math
import random
from dataclasses import replace
from datetime import date, datetime, timedelta

import pytest

from staff.facts import CaseFacts, Facts, UrlFacts
from staff.problems import StaffError
from staff.stats import HIDDEN, LABELS, NOTHING, SUMS, URL_STATS, compute, run_stats, suppress

D = date
APRIL = (D(2026, 4, 1), D(2026, 4, 30))

# -- the hand-counted set: April 2026 ----------------------------------------------------------

CASES = (
    # C1: the period's first day: web, the person herself, police asked, 2 URLs
    CaseFacts(D(2026, 4, 1), "web", "self", True, 2),
    # C2: the period's last day: web, a guardian, police not asked, 1 URL
    CaseFacts(D(2026, 4, 30), "web", "guardian", False, 1),
    # C3: the day before the period: not counted
    CaseFacts(D(2026, 3, 31), "web", "self", True, 1),
    # C4: the day after the period: not counted
    CaseFacts(D(2026, 5, 1), "phone", "self", False, 0),
    # C5: phone, the person herself, police not asked, no URL
    CaseFacts(D(2026, 4, 15), "phone", "self", False, 0),
    # C6: web, its report still missing (an addition came first): role and police unknown, 1 URL
    CaseFacts(D(2026, 4, 10), "web", None, None, 1),
    # C7: phone, a guardian, police asked, 3 URLs
    CaseFacts(D(2026, 4, 20), "phone", "guardian", True, 3),
)
URLS = (
    # U1: in Japan; reported 4/1, asked 4/2 and 4/9, removed 4/12: days 1 to the first request,
    # 11 to removal, 10 from the first request to removal
    UrlFacts(D(2026, 4, 1), False, (D(2026, 4, 2), D(2026, 4, 9)), D(2026, 4, 12)),
    # U2: abroad; reported 4/1, asked 4/3, not removed: 2 days to the first request
    UrlFacts(D(2026, 4, 1), True, (D(2026, 4, 3),), None),
    # U3: abroad; reported 3/20 and first asked 3/25 (before the period), asked again 4/5, removed
    # 4/6: its removal and its second request count, it is not among the first asked; 17 days to
    # removal, 12 from the first request
    UrlFacts(D(2026, 3, 20), True, (D(2026, 3, 25), D(2026, 4, 5)), D(2026, 4, 6)),
    # U4: host unknown; reported 4/20, nothing else
    UrlFacts(D(2026, 4, 20), None, (), None),
    # U5: abroad; reported 4/25, asked 4/28, removed 5/3 (after the period): not removed by the
    # period's end; 3 days to the first request
    UrlFacts(D(2026, 4, 25), True, (D(2026, 4, 28),), D(2026, 5, 3)),
    # U6: in Japan; reported 4/10, asked and removed on the period's last day: 20 days to the
    # first request and to removal, 0 from the request to removal
    UrlFacts(D(2026, 4, 10), False, (D(2026, 4, 30),), D(2026, 4, 30)),
    # U7: host unknown; reported 4/21, asked 5/1 (the day after): no request in the period
    UrlFacts(D(2026, 4, 21), None, (D(2026, 5, 1),), None),
    # U8: abroad; reported 4/2, found removed 4/4 without a request: 2 days to removal, not in
    # the medians that start at a request
    UrlFacts(D(2026, 4, 2), True, (), D(2026, 4, 4)),
    # U9: abroad; reported 4/5, asked 4/6, 4/13 and 4/20, not removed: 1 day to the first request
    UrlFacts(D(2026, 4, 5), True, (D(2026, 4, 6), D(2026, 4, 13), D(2026, 4, 20)), None),
)
HAND_SET = Facts(CASES, URLS)

# Counted by hand from the comments above (threshold 1: nothing hidden).
EXPECTED = {
    # reports C1, C2, C5, C6, C7
    "reports": "5",
    "reports.web": "3", "reports.phone": "2",  # C1 C2 C6 | C5 C7
    "reports.self": "2", "reports.guardian": "2", "reports.role_unknown": "1",  # C1 C5 | C2 C7 | C6
    "reports.with_url": "4", "reports.without_url": "1",  # C1 C2 C6 C7 | C5
    "police.asked": "2", "police.not_asked": "2", "police.unknown": "1",  # C1 C7 | C2 C5 | C6
    # reported in April: U1 U6 | U2 U5 U8 U9 | U4 U7
    "urls_reported": "8", "urls_reported.domestic": "2", "urls_reported.overseas": "4",
    "urls_reported.unknown": "2",
    # requests in April: U1×2 U6 | U2 U3 U5 U9×3
    "requests": "9", "requests.domestic": "3", "requests.overseas": "6", "requests.unknown": "0",
    # removed in April: U1 U6 | U3 U8
    "urls_removed": "4", "urls_removed.domestic": "2", "urls_removed.overseas": "2", "urls_removed.unknown": "0",
    # first asked in April: U1 U6 | U2 U5 U9
    "first_asked": "5", "first_asked.domestic": "2", "first_asked.overseas": "3", "first_asked.unknown": "0",
    "first_asked_removed": "2", "first_asked_removed.domestic": "2", "first_asked_removed.overseas": "0",
    "first_asked_removed.unknown": "0",
    "first_asked_not_removed": "3", "first_asked_not_removed.domestic": "0",
    "first_asked_not_removed.overseas": "3", "first_asked_not_removed.unknown": "0",
    "removal_rate": "40%", "removal_rate.domestic": "100%", "removal_rate.overseas": "0%",
    "removal_rate.unknown": NOTHING,
    # to the first request: U1 1, U2 2, U5 3, U6 20, U9 1 → 1 1 2 3 20; in Japan 1 20; abroad 1 2 3
    "days_to_first_request": "2", "days_to_first_request.domestic": "10.5",
    "days_to_first_request.overseas": "2", "days_to_first_request.unknown": NOTHING,
    # to removal: U1 11, U3 17, U6 20, U8 2 → 2 11 17 20; in Japan 11 20; abroad 2 17
    "days_to_removal": "14", "days_to_removal.domestic": "15.5", "days_to_removal.overseas": "9.5",
    "days_to_removal.unknown": NOTHING,
    # first request to removal: U1 10, U3 12, U6 0 (U8 had no request) → 0 10 12; in Japan 0 10
    "days_request_to_removal": "10", "days_request_to_removal.domestic": "5",
    "days_request_to_removal.overseas": "12", "days_request_to_removal.unknown": NOTHING,
}


def test_the_hand_counted_set_gives_the_numbers_counted_by_hand():
    result = compute(HAND_SET, *APRIL, threshold=1)
    assert {row.key: row.shown for row in result.rows} == EXPECTED
    assert result.row("removal_rate").value == pytest.approx(0.4)
    assert result.row("days_to_removal.overseas").value == 9.5
    assert result.row("reports.web").value == 3


def test_every_row_has_a_label_in_japanese_and_english():
    result = compute(HAND_SET, *APRIL, threshold=1)
    for row in result.rows:
        assert row.label("ja") and row.label("en") and row.label("ja") != row.label("en")
    assert set(LABELS) == {row.key for row in result.rows}
    assert [row.level for row in result.rows if row.key.startswith("reports")][:2] == [0, 1]


# -- the period's edges ------------------------------------------------------------------------

def _one_case(day: date) -> Facts:
    return Facts((CaseFacts(day, "web", "self", False, 1),), (UrlFacts(day, False, (day,), day),))


@pytest.mark.parametrize(("day", "counted"), [
    (D(2026, 4, 1), True), (D(2026, 4, 30), True), (D(2026, 3, 31), False), (D(2026, 5, 1), False)])
def test_a_day_counts_when_it_falls_in_the_period_both_ends_included(day, counted):
    result = compute(_one_case(day), *APRIL, threshold=1)
    for key in ("reports", "urls_reported", "requests", "urls_removed", "first_asked", "first_asked_removed"):
        assert result.shown(key) == ("1" if counted else "0"), key


def test_a_period_of_one_day():
    result = compute(_one_case(D(2026, 4, 7)), D(2026, 4, 7), D(2026, 4, 7), threshold=1)
    assert result.shown("reports") == "1" and result.shown("removal_rate") == "100%"
    assert compute(_one_case(D(2026, 4, 7)), D(2026, 4, 8), D(2026, 4, 8), threshold=1).shown("reports") == "0"


def test_a_removal_after_the_period_does_not_count_for_the_urls_asked_in_it():
    facts = Facts((), (UrlFacts(D(2026, 4, 1), True, (D(2026, 4, 2),), D(2026, 5, 1)),))
    april = compute(facts, *APRIL, threshold=1)
    assert (april.shown("first_asked"), april.shown("first_asked_removed"), april.shown("urls_removed")) == \
        ("1", "0", "0")
    # The same URL counted over two months: asked and removed.
    spring = compute(facts, D(2026, 4, 1), D(2026, 5, 31), threshold=1)
    assert (spring.shown("first_asked_removed"), spring.shown("urls_removed")) == ("1", "1")


def test_a_period_that_ends_before_it_starts_is_refused():
    with pytest.raises(StaffError, match="--from"):
        compute(HAND_SET, D(2026, 5, 1), D(2026, 4, 30))


# -- small numbers -----------------------------------------------------------------------------

def _cases(web: int, phone: int, day: date = D(2026, 4, 3)) -> tuple[CaseFacts, ...]:
    return (CaseFacts(day, "web", "self", False, 1),) * web + (CaseFacts(day, "phone", "self", False, 0),) * phone


def test_a_count_under_the_threshold_is_shown_as_under_it_in_the_table_and_the_csv():
    result = compute(Facts(_cases(7, 3), ()), *APRIL, threshold=5)
    assert result.shown("reports") == "10"
    assert result.shown("reports.phone") == "<5" and result.row("reports.phone").value is None
    assert result.shown("reports.without_url") == "<5"
    assert result.shown("police.not_asked") == "10"
    assert "<5" in result.table("en") and "<5" in result.table("ja")
    rows = {row[0]: row[3] for row in csv.reader(io.StringIO(result.csv_bytes().decode("utf-8-sig")))}
    assert rows["reports.phone"] == "<5" and rows["threshold"] == "5"
    # The threshold is the setting's: with 3 nothing is hidden; zero is shown.
    lower = compute(Facts(_cases(7, 3), ()), *APRIL, threshold=3)
    assert lower.shown("reports.phone") == "3" and lower.shown("reports.role_unknown") == "0"


def test_the_other_part_is_hidden_too_so_that_a_subtraction_does_not_give_it_back():
    result = compute(Facts(_cases(7, 3), ()), *APRIL, threshold=5)
    # 10 reports, 3 by phone: "7 from the web form" would give the 3 back.
    assert result.shown("reports.web") == HIDDEN and result.row("reports.web").value is None
    assert result.shown("reports.with_url") == HIDDEN


def test_two_small_parts_beside_a_large_one_hide_it_when_their_sum_would_tell_them():
    # self 1, guardian 1, unknown 20: shown 22 and 20 would say the two "<5" are 1 and 1.
    counts = {"t": 22, "a": 1, "b": 1, "c": 20}
    assert suppress(counts, 5, [("t", ("a", "b", "c"))]) == {"a": "<5", "b": "<5", "c": HIDDEN}
    # 3 and 4 beside 20: 7 left for two "<5": 3+4 or 4+3, not told apart; nothing more hidden.
    counts = {"t": 27, "a": 3, "b": 4, "c": 20}
    assert suppress(counts, 5, [("t", ("a", "b", "c"))]) == {"a": "<5", "b": "<5"}


def test_a_part_of_one_beside_one_of_exactly_the_threshold_hides_both_as_x():
    # 6 = 1 + 5: "<5" beside an "x" (5 or more) could only be 1: both show x.
    assert suppress({"t": 6, "a": 1, "b": 5}, 5, [("t", ("a", "b"))]) == {"a": HIDDEN, "b": HIDDEN}
    # 7 = 2 + 5: the hidden pair's 7 leaves the "<5" 1 or 2.
    assert suppress({"t": 7, "a": 2, "b": 5}, 5, [("t", ("a", "b"))]) == {"a": "<5", "b": HIDDEN}


def test_a_total_shown_from_its_parts_is_hidden_with_another_part():
    # A total hidden (it is a part of another sum) whose parts are all shown would be their sum.
    counts = {"all": 30, "x1": 3, "x2": 27, "y1": 10, "y2": 17}
    sums = [("all", ("x1", "x2")), ("x2", ("y1", "y2"))]
    hidden = suppress(counts, 5, sums)
    assert hidden["x1"] == "<5" and hidden["x2"] == HIDDEN and ("y1" in hidden or "y2" in hidden)


def _intervals(result, threshold: int) -> dict[str, tuple[float, float]]:
    """What a reader can work out from the shown numbers, the sums and the rule: each hidden
    count's least and greatest possible value, narrowed through every sum until nothing
    changes ("<k": 1 to k-1; "x": k or more, unless that makes a sum impossible: then any)."""
    k = threshold
    shown = {row.key: row.shown for row in result.rows if row.kind == "count"}
    relaxed: set[str] = set()
    while True:
        bounds = {}
        for key, text in shown.items():
            if text == f"<{k}":
                bounds[key] = (1, k - 1)
            elif text == HIDDEN:
                bounds[key] = (1 if key in relaxed else k, math.inf)
            else:
                bounds[key] = (int(text), int(text))
        impossible = None
        changed = True
        while changed and impossible is None:
            changed = False
            for total, parts in SUMS:
                cells = (total, *parts)
                for cell in cells:
                    others = [other for other in parts if other != cell]
                    if cell == total:
                        low = sum(bounds[o][0] for o in parts)
                        high = sum(bounds[o][1] for o in parts)
                    else:
                        low = bounds[total][0] - sum(bounds[o][1] for o in others)
                        high = bounds[total][1] - sum(bounds[o][0] for o in others)
                    new = (max(bounds[cell][0], low), min(bounds[cell][1], high))
                    if new[0] > new[1]:
                        impossible = cells
                        break
                    if new != bounds[cell]:
                        bounds[cell], changed = new, True
                if impossible:
                    break
        if impossible is None:
            return {key: bounds[key] for key, text in shown.items() if text in (f"<{k}", HIDDEN)}
        # An "x" read as k or more made a sum impossible: that sum's (or, when it has none, every)
        # "x" may be less.
        more = ({cell for cell in impossible if shown[cell] == HIDDEN} - relaxed
                or {cell for cell, text in shown.items() if text == HIDDEN} - relaxed)
        assert more, "the shown numbers contradict each other"
        relaxed |= more


def _random_facts(rng: random.Random) -> Facts:
    start = D(2026, 4, 1)

    def day(spread: int = 40) -> date:
        return start + timedelta(days=rng.randrange(-5, spread))

    cases = tuple(CaseFacts(day(), rng.choice(("web", "web", "phone")),
                            rng.choice(("self", "self", "guardian", None)),
                            rng.choice((True, False, False, None)), rng.randrange(0, 3))
                  for _ in range(rng.randrange(0, 25)))
    urls = []
    for _ in range(rng.randrange(0, 40)):
        reported = day()
        requests = tuple(sorted(reported + timedelta(days=rng.randrange(0, 20)) for _ in range(rng.randrange(0, 3))))
        removed = (requests[-1] if requests else reported) + timedelta(days=rng.randrange(0, 15))
        urls.append(UrlFacts(reported, rng.choice((True, True, False, None)), requests,
                             removed if rng.random() < 0.6 else None))
    return Facts(cases, tuple(urls))


@pytest.mark.parametrize("threshold", [3, 5, 10])
def test_no_small_number_can_be_worked_out_from_the_others(threshold):
    # Random sets: for each, a reader narrowing every hidden count through every sum the result
    # shows (and the rule that an "x" is k or more) still has two values or more for each "<k".
    rng = random.Random(threshold)
    checked = 0
    for _ in range(300):
        result = compute(_random_facts(rng), *APRIL, threshold=threshold)
        for key, (low, high) in _intervals(result, threshold).items():
            if result.shown(key) == f"<{threshold}":
                assert high > low, (key, low, high, [(row.key, row.shown) for row in result.rows])
                checked += 1
    assert checked > 100


@pytest.mark.parametrize("threshold", [3, 5])
def test_every_sum_shown_adds_up_and_none_hides_one_number_alone(threshold):
    rng = random.Random(100 + threshold)
    for _ in range(200):
        result = compute(_random_facts(rng), *APRIL, threshold=threshold)
        for total, parts in SUMS:
            values = [result.row(key).value for key in (total, *parts)]
            if None not in values:
                assert values[0] == sum(values[1:]), total
            assert values.count(None) != 1, (total, [result.shown(key) for key in (total, *parts)])


def test_a_rate_or_median_of_a_small_group_is_not_shown():
    # 3 URLs asked abroad, 2 removed: a rate over 3 URLs tells about a person.
    urls = tuple(UrlFacts(D(2026, 4, 1), True, (D(2026, 4, 2),), D(2026, 4, 5) if i < 2 else None)
                 for i in range(3))
    result = compute(Facts((), urls), *APRIL, threshold=5)
    assert result.shown("removal_rate.overseas") == HIDDEN and result.row("removal_rate.overseas").value is None
    assert result.shown("removal_rate") == HIDDEN
    assert result.shown("days_to_removal") == HIDDEN and result.shown("days_to_first_request") == HIDDEN
    assert result.shown("removal_rate.domestic") == NOTHING and result.shown("days_to_removal.domestic") == NOTHING
    # The same with the threshold at 1: shown.
    shown = compute(Facts((), urls), *APRIL, threshold=1)
    assert shown.shown("removal_rate.overseas") == "67%" and shown.shown("days_to_removal") == "4"


def test_a_rate_is_hidden_when_a_count_it_is_made_from_is():
    # 20 asked, 18 removed: 90% of 20 would give back the 2 not removed.
    urls = tuple(UrlFacts(D(2026, 4, 1), True, (D(2026, 4, 2),), D(2026, 4, 9) if i < 18 else None)
                 for i in range(20))
    result = compute(Facts((), urls), *APRIL, threshold=5)
    assert result.shown("first_asked_not_removed") == "<5" and result.shown("first_asked_removed") == HIDDEN
    assert result.shown("removal_rate") == HIDDEN and result.shown("removal_rate.overseas") == HIDDEN
    # 20 asked, 15 removed: both counts shown, and the rate.
    urls = urls[:15] + tuple(UrlFacts(D(2026, 4, 1), True, (D(2026, 4, 2),), None) for _ in range(5))
    result = compute(Facts((), urls), *APRIL, threshold=5)
    assert (result.shown("removal_rate"), result.shown("removal_rate.overseas")) == ("75%", "75%")
    # The median of 20 is shown: no count hides in it.
    assert result.shown("days_to_first_request") == "1"


# -- groups of addresses from few cases ----------------------------------------------------------

def _one_reporter_and_many(held: bool = True) -> Facts:
    """Case 0 reported 300 addresses abroad, asked and removed; 20 cases one address each in Japan
    (asked, 15 removed). ``held``: the addresses say which case holds them."""
    day = D(2026, 4, 1)
    cases = tuple(CaseFacts(day, "web", "self", False, 300 if n == 0 else 1) for n in range(21))
    many = tuple(UrlFacts(day, True, (D(2026, 4, 2),), D(2026, 4, 6), 1, (0,) if held else ())
                 for _ in range(300))
    each = tuple(UrlFacts(day, False, (D(2026, 4, 3),), D(2026, 4, 10) if n <= 15 else None, 1,
                          (n,) if held else ()) for n in range(1, 21))
    return Facts(cases, many + each)


def test_a_group_of_addresses_from_fewer_cases_than_the_threshold_is_hidden():
    # SIA's 2017 report: one reporter's hundreds of URLs moved the published rate. Here 300
    # addresses abroad from one case: their counts, rate and medians are hidden, and so is what
    # would give them back by subtraction from a total.
    result = compute(_one_reporter_and_many(), *APRIL, threshold=5)
    for stat in ("urls_reported", "requests", "urls_removed", "first_asked", "first_asked_removed"):
        assert result.shown(f"{stat}.overseas") == HIDDEN and result.row(f"{stat}.overseas").value is None, stat
        assert result.row(stat).value is None or result.row(f"{stat}.domestic").value is None, stat
    for stat in ("removal_rate", "days_to_first_request", "days_to_removal", "days_request_to_removal"):
        assert result.shown(f"{stat}.overseas") == HIDDEN, stat
    # The 20 in Japan (from 20 cases) are hidden too, the total shown: 320 less 20 would be the 300.
    assert (result.shown("urls_reported"), result.shown("urls_reported.domestic")) == ("320", HIDDEN)
    assert result.shown("reports") == "21"  # cases: one reporter is one report
    assert result.shown("first_asked_not_removed.overseas") == "0"  # zero tells about no one
    # No hidden count can be narrowed to one value by a reader.
    for key, (low, high) in _intervals(result, 5).items():
        assert high > low, key


def test_the_same_addresses_from_as_many_cases_are_shown():
    facts = _one_reporter_and_many()
    spread = Facts(facts.cases, tuple(replace(url, held_by=(number % 21,)) if url.overseas else url
                                      for number, url in enumerate(facts.urls)))
    result = compute(spread, *APRIL, threshold=5)
    assert (result.shown("urls_reported.overseas"), result.shown("urls_reported")) == ("300", "320")
    assert (result.shown("removal_rate.overseas"), result.shown("days_to_removal.overseas")) == ("100%", "5")
    # Addresses that do not say which case holds them count as a case each (facts made by hand).
    assert compute(_one_reporter_and_many(held=False), *APRIL, threshold=5).shown("urls_reported.overseas") == "300"
    # Four cases are fewer than five; five are not.
    for holders, shown in ((4, HIDDEN), (5, "300")):
        few = Facts(facts.cases, tuple(replace(url, held_by=(number % holders,)) if url.overseas else url
                                       for number, url in enumerate(facts.urls)))
        assert compute(few, *APRIL, threshold=5).shown("urls_reported.overseas") == shown, holders


@pytest.mark.parametrize("threshold", [3, 5])
def test_no_count_from_few_cases_is_shown_or_can_be_worked_out(threshold):
    rng = random.Random(7 * threshold)
    checked = 0
    for _ in range(150):
        facts = _random_facts(rng)
        cases = rng.randrange(1, 12)
        facts = Facts(facts.cases, tuple(replace(url, held_by=tuple(sorted(rng.sample(range(cases), rng.choice(
            (1, 1, 2))) if cases > 1 else (0,)))) for url in facts.urls * rng.randrange(1, 4)))
        result = compute(facts, *APRIL, threshold=threshold)
        bounds = _intervals(result, threshold)
        for stat, (kind, *_labels) in URL_STATS.items():
            for key in (stat, *(f"{stat}.{place}" for place in ("domestic", "overseas", "unknown"))):
                value = _count_of(facts, key)
                if kind != "count" or value is None:
                    continue
                number, holders = value
                if number >= threshold and len(holders) < threshold:
                    assert result.shown(key) == HIDDEN, key
                    assert bounds[key][1] > bounds[key][0], (key, bounds[key])
                    checked += 1
    assert checked > 50


def _count_of(facts: Facts, key: str) -> tuple[int, set] | None:
    """A URL count of April counted again, by hand, with the cases its addresses come from."""
    stat, _, place = key.partition(".")
    number, holders = 0, set()
    for url in facts.urls:
        where = "unknown" if url.overseas is None else ("overseas" if url.overseas else "domestic")
        if place and where != place:
            continue
        inside = [day for day in url.requests_on if APRIL[0] <= day <= APRIL[1]]
        first = url.requests_on[0] if url.requests_on else None
        asked = first is not None and APRIL[0] <= first <= APRIL[1]
        removed_by_end = url.removed_on is not None and url.removed_on <= APRIL[1]
        amount = {"urls_reported": int(APRIL[0] <= url.reported_on <= APRIL[1]), "requests": len(inside),
                  "urls_removed": int(url.removed_on is not None and APRIL[0] <= url.removed_on <= APRIL[1]),
                  "first_asked": int(asked), "first_asked_removed": int(asked and removed_by_end),
                  "first_asked_not_removed": int(asked and not removed_by_end)}.get(stat)
        if amount is None:
            return None
        if amount:
            number += amount
            holders.update(url.held_by)
    return number, holders


# -- medians -----------------------------------------------------------------------------------

def _removed_after(days: list[int]) -> Facts:
    start = D(2026, 4, 1)
    return Facts((), tuple(UrlFacts(start, False, (start,), start + timedelta(days=n)) for n in days))


@pytest.mark.parametrize(("days", "shown"), [
    ([9, 1, 5, 3, 7], "5"),  # odd: the middle one
    ([9, 1, 5, 3, 7, 4], "4.5"),  # even: the mean of the two middle ones
    ([2, 2, 6, 6, 1, 8], "4"),  # even, a whole mean: no ".0"
    ([0, 0, 0, 0, 29], "0"),  # removed the day it was asked
])
def test_medians_of_odd_and_even_counts(days, shown):
    result = compute(_removed_after(days), D(2026, 4, 1), D(2026, 5, 31), threshold=5)
    assert result.shown("days_request_to_removal") == shown == result.shown("days_to_removal")
    assert result.shown("days_request_to_removal.domestic") == shown


def test_rates_are_whole_percents_rounded_half_up():
    # 1 of 8 removed: 12.5% → 13%.
    urls = tuple(UrlFacts(D(2026, 4, 1), False, (D(2026, 4, 1),), D(2026, 4, 2) if i == 0 else None)
                 for i in range(8))
    assert compute(Facts((), urls), *APRIL, threshold=1).shown("removal_rate") == "13%"


# -- the CSV and the table ---------------------------------------------------------------------

def test_the_csv_reads_back_as_the_rows_with_a_byte_order_mark_for_excel():
    result = compute(HAND_SET, *APRIL, threshold=5)
    raw = result.csv_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and b"\r\n" in raw and b"\n" not in raw.replace(b"\r\n", b"")
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline="")))
    assert rows[0] == ["key", "label_ja", "label_en", "value"]
    assert rows[1:4] == [["period.from", "期間（から）", "period from", "2026-04-01"],
                         ["period.to", "期間（まで）", "period to", "2026-04-30"],
                         ["threshold", "この数未満は非表示", "numbers under this are hidden", "5"]]
    assert rows[4:] == [[row.key, row.label("ja"), row.label("en"), row.shown] for row in result.rows]
    assert {row[3] for row in rows[4:]} >= {"<5", "5"}


def test_the_table_shows_every_number_in_either_language():
    result = compute(HAND_SET, *APRIL, threshold=1)
    for lang in ("en", "ja"):
        table = result.table(lang)
        for row in result.rows:
            if row.level == 0 or row.key.startswith(("reports.", "police.")):
                assert row.label(lang) in table
        assert "2026-04-01" in table and "2026-04-30" in table
    line = next(line for line in result.table("en").splitlines() if line.startswith("Median days from report to "
                                                                                  "removal"))
    assert line.split()[-4:] == ["14", "15.5", "9.5", NOTHING]
    line = next(line for line in result.table("ja").splitlines() if line.startswith("削除率"))
    assert line.split()[-4:] == ["40%", "100%", "0%", NOTHING]


class _Store:
    def __init__(self, facts: Facts):
        self._facts = facts

    def facts(self) -> Facts:
        return self._facts


def test_the_command_prints_the_table_or_writes_the_csv():
    out = io.StringIO()
    assert run_stats(_Store(HAND_SET), start="2026-04-01", end="2026-04-30", threshold=5, out=out) == 0
    assert "Reports received" in out.getvalue() and "<5" in out.getvalue()
    binary = io.BytesIO()
    assert run_stats(_Store(HAND_SET), start="2026-04-01", end="2026-04-30", threshold=5, as_csv=True,
                     binary=binary) == 0
    assert binary.getvalue() == compute(HAND_SET, *APRIL, threshold=5).csv_bytes()
    with pytest.raises(StaffError, match="YYYY-MM-DD"):
        run_stats(_Store(HAND_SET), start="2026-4-1x", end="2026-04-30", threshold=5, out=out)


def test_with_a_threshold_of_two_a_single_one_is_shown_as_under_two_and_not_subtracted():
    result = compute(Facts(_cases(7, 1), ()), *APRIL, threshold=2)
    assert (result.shown("reports.phone"), result.shown("reports.web"), result.shown("reports")) == ("<2", HIDDEN, "8")
    assert result.shown("police.not_asked") == "8"


# -- the command line --------------------------------------------------------------------------

class _Opened(_Store):
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return None


@pytest.fixture
def cli(tmp_path, monkeypatch, capsysbinary):
    """``safeline-staff --home … stats …`` through the kit's own ``main``, on a staff folder whose
    config.json sets the threshold, with the store's opening replaced by the hand-counted set."""
    from staff import casework
    from staff.cli import main
    from staff.home import Config, Home

    home = Home(tmp_path / "home")
    home.save_config(Config(key="0" * 40, stats_threshold=3))
    home.store_key_file.write_bytes(b"not used: the store is not opened")
    monkeypatch.setattr(casework, "_open", lambda args: _Opened(HAND_SET))

    def staff(*argv: str) -> tuple[int, bytes, str]:
        with pytest.raises(SystemExit) as exit:
            main(["--home", str(home.folder), "stats", *argv])
        captured = capsysbinary.readouterr()
        return exit.value.code, captured.out, captured.err.decode("utf-8")
    return staff


def test_the_stats_command_uses_the_threshold_of_the_settings(cli):
    status, out, err = cli("--from", "2026-04-01", "--to", "2026-04-30")
    assert status == 0 and err == ""
    assert out.decode("utf-8") == compute(HAND_SET, *APRIL, threshold=3).table("en")
    status, out, _err = cli("--from", "2026-04-01", "--to", "2026-04-30", "--lang", "ja")
    assert out.decode("utf-8").startswith("統計 2026-04-01")


def test_the_stats_command_writes_the_csv_bytes(cli):
    status, out, _err = cli("--from", "2026-04-01", "--to", "2026-04-30", "--csv")
    assert status == 0 and out == compute(HAND_SET, *APRIL, threshold=3).csv_bytes()


@pytest.mark.parametrize(("argv", "said"), [
    (("--from", "2026/04/01", "--to", "2026-04-30"), "--from takes a date written YYYY-MM-DD"),
    (("--from", "2026-04-01", "--to", "april"), "--to takes a date written YYYY-MM-DD"),
    (("--from", "2026-05-01", "--to", "2026-04-30"), "the period ends before it starts"),
])
def test_the_stats_command_says_what_is_wrong_in_one_line(cli, monkeypatch, argv, said):
    from staff import casework

    monkeypatch.setattr(casework, "_open", lambda args: pytest.fail("the store is opened for a wrong period"))
    status, out, err = cli(*argv)
    assert status == 1 and out == b""
    assert err.startswith("safeline-staff: ") and said in err and err.count("\n") == 1


# -- end to end: the real store and the command line ----------------------------------------------

def test_statistics_from_the_real_store_through_the_command_line(staff_home, capsysbinary):
    from staff.cli import main
    from staff.setup import open_store
    from staff.store import JAPAN

    def staff(*argv: str) -> bytes:
        with pytest.raises(SystemExit) as exit:
            main(["--home", str(staff_home.folder), *argv])
        captured = capsysbinary.readouterr()
        assert exit.value.code == 0, captured.err.decode()
        return captured.out

    def threshold(k: int) -> None:
        config = staff_home.config()
        config.stats_threshold = k
        staff_home.save_config(config)

    # Three phone calls: the same address in the first two is one URL.
    one = staff("phone", "--role", "self", "--description", "電話の相談", "--url", "https://a.example/1",
                "--url", "https://b.example/2", "--police-referral").decode().strip()
    two = staff("phone", "--role", "guardian", "--description", "電話の相談", "--url", "https://a.example/1"
                ).decode().strip()
    three = staff("phone", "--role", "self", "--description", "電話の相談").decode().strip()
    today = datetime.now(JAPAN).date()
    later = (today + timedelta(days=2)).isoformat()
    # a: asked from both cases today, removed today; b: the police asked today (not a removal
    # request), the site asked in two days (after the period).
    staff("request", one, "https://a.example/1", "--target", "site", "--name", "A", "--method", "form",
          "--on", today.isoformat())
    staff("request", two, "https://a.example/1", "--target", "host", "--name", "H", "--method", "email",
          "--on", today.isoformat())
    staff("request", one, "https://b.example/2", "--target", "police", "--name", "P", "--method", "post",
          "--on", today.isoformat())
    staff("request", one, "https://b.example/2", "--target", "site", "--name", "B", "--method", "form",
          "--on", later)
    staff("state", one, "https://a.example/1", "removed", "--on", today.isoformat())
    with open_store(staff_home) as store:
        store.set_url_host(one, "https://a.example/1", {"overseas": True})
        store.set_url_host(one, "https://b.example/2", {"overseas": False})
    period = ("--from", (today - timedelta(days=1)).isoformat(), "--to", (today + timedelta(days=1)).isoformat())

    threshold(1)
    counted = {
        "reports": "3", "reports.web": "0", "reports.phone": "3", "reports.self": "2", "reports.guardian": "1",
        "reports.role_unknown": "0", "reports.with_url": "2", "reports.without_url": "1",
        "police.asked": "1", "police.not_asked": "2", "police.unknown": "0",
        "urls_reported": "2", "urls_reported.domestic": "1", "urls_reported.overseas": "1",
        "requests": "2", "requests.overseas": "2", "requests.domestic": "0",
        "urls_removed": "1", "urls_removed.overseas": "1", "first_asked": "1", "first_asked.domestic": "0",
        "first_asked_removed.overseas": "1", "removal_rate": "100%", "removal_rate.domestic": NOTHING,
        "days_to_first_request": "0", "days_to_removal": "0", "days_request_to_removal": "0",
    }
    raw = staff("stats", *period, "--csv")
    rows = {row[0]: row[3] for row in csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline=""))}
    assert {key: rows[key] for key in counted} == counted
    table = staff("stats", *period).decode()
    assert table.startswith("Statistics ") and "Reports received" in table
    for secret in ("a.example", "b.example", "電話の相談", one, two, three):
        assert secret not in table and secret.encode() not in raw

    # Retention: a case's text goes, its facts stay, and so do the numbers.
    with open_store(staff_home) as store:
        store.retire(two)
        store.retire(three)
        assert store.case(two) is None and store.case(three) is None
    assert staff("stats", *period, "--csv") == raw

    threshold(5)
    raw = staff("stats", *period, "--csv")
    rows = {row[0]: row[3] for row in csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline=""))}
    assert rows["reports"] == rows["reports.phone"] == rows["police.asked"] == "<5"
    assert rows["removal_rate"] == HIDDEN and rows["days_to_removal"] == HIDDEN and rows["threshold"] == "5"
    assert "<5" in staff("stats", *period, "--lang", "ja").decode()
