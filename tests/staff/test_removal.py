"""Removal work through the real command line: a case's addresses, requests, states, next
dates, assignment, what is due; and `show` with all of it and who did what, when."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta

import pytest

from staff.events import new_event
from staff.home import Home
from staff.setup import open_store
from tests.support.staff_records import JAPAN, T0, message_id, report
from tests.support.staffkit import staff_cli

OTHER = "B" * 39 + "1"
HOSTILE_NAME = "Evil\x1b[31m Host\u202e"


@pytest.fixture
def kit(staff_home):
    """A kit with two cases sharing one address; (home, first reference, second reference)."""
    first = report(received_at=T0, urls=["https://a.example/1", "https://b.example/2"])
    second = report(received_at=T0 + timedelta(hours=1), urls=["https://A.EXAMPLE/x/../1"])
    with open_store(staff_home) as store:
        store.add(first, message_id=message_id())
        store.add(second, message_id=message_id())
    return staff_home, first.reference, second.reference


def cli(home: Home, *args: str):
    result = staff_cli("--home", str(home.folder), *args)
    return result


def ok(home: Home, *args: str) -> str:
    result = cli(home, *args)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    return result.stdout


def test_a_request_then_what_became_of_the_address(kit, staff_gnupg):
    home, first, second = kit
    config = home.config()
    config.recheck_days = 10
    home.save_config(config)
    out = ok(home, "request", first, "1", "--target", "host", "--name", HOSTILE_NAME, "--method", "email",
             "--on", "2026-12-02", "--ticket", "T-42")
    assert out == f"{first}: request to hosting provider recorded for https://a.example/1; next: 2026-12-12\n"

    listing = json.loads(ok(home, "urls", second, "--json"))
    assert listing["reference"] == second
    [shared] = listing["urls"]  # the same address, seen from the other case
    assert (shared["url"], shared["state"], shared["state_on"], shared["next_on"]) == (
        "https://a.example/1", "asked", "2026-12-02", "2026-12-12")
    assert shared["cases"] == sorted([first, second])
    [request] = shared["requests"]
    assert (request["target"], request["target_name"], request["method"], request["sent_on"], request["ticket"],
            request["author"], request["case"]) == ("host", HOSTILE_NAME, "email", "2026-12-02", "T-42",
                                                    staff_gnupg.fingerprint, first)

    human = ok(home, "urls", first)
    assert "\x1b" not in human and "\u202e" not in human and "\\x1b" in human
    assert "1. https://a.example/1" in human and "state: asked on 2026-12-02   next: 2026-12-12" in human
    assert f"also in: {second}" in human and "2. https://b.example/2" in human and "not asked yet" in human

    assert json.loads(ok(home, "due", "--on", "2026-12-11", "--json")) == {"on": "2026-12-11", "urls": []}
    due = json.loads(ok(home, "due", "--on", "2026-12-12", "--json"))
    assert [u["url"] for u in due["urls"]] == ["https://a.example/1"]
    listed = ok(home, "due", "--on", "2026-12-12")
    assert "1 address(es) due on or before 2026-12-12" in listed
    # The due list names the cases once, on their own line: no "also in" that repeats them.
    assert listed.count(first) == 1 and "also in" not in listed

    # Refused, to look again later; then removed: no longer due, and no longer open anywhere.
    out = ok(home, "state", second, "https://a.example/1", "refused", "--on", "2026-12-05", "--reason",
             "not illegal there", "--next", "2026-12-20")
    assert out == f"{second}: https://a.example/1 is refused; next: 2026-12-20\n"
    assert ok(home, "due", "--on", "2026-12-12") == "nothing due on or before 2026-12-12\n"
    ok(home, "next", first, "HTTPS://a.example/1", "2026-12-15")
    assert [u["url"] for u in json.loads(ok(home, "due", "--on", "2026-12-15", "--json"))["urls"]] == [
        "https://a.example/1"]
    ok(home, "state", first, "1", "removed", "--on", "2026-12-16")
    assert json.loads(ok(home, "due", "--on", "2027-01-01", "--json"))["urls"] == []
    cases = {c["reference"]: c for c in json.loads(ok(home, "cases", "--json"))["cases"]}
    assert (cases[first]["urls_open"], cases[first]["urls_all"]) == (1, 2)
    assert (cases[second]["urls_open"], cases[second]["urls_all"]) == (0, 1)

    with open_store(home) as store:
        assert [e.type for e in store.pending_events()] == ["request", "url_state", "url_next", "url_state"]
        assert {e.author for e in store.pending_events()} == {staff_gnupg.fingerprint}


def test_a_closed_case_s_addresses_are_not_due(kit):
    home, first, second = kit
    ok(home, "request", first, "2", "--target", "site", "--name", "B", "--method", "form", "--on", "2026-12-01")
    assert len(json.loads(ok(home, "due", "--on", "2026-12-08", "--json"))["urls"]) == 1
    ok(home, "status", first, "closed")
    assert ok(home, "due", "--on", "2026-12-08") == "nothing due on or before 2026-12-08\n"


def test_assign_to_me_to_someone_to_nobody(kit, staff_gnupg):
    home, first, _ = kit
    mine = " ".join(staff_gnupg.fingerprint[i:i + 4] for i in range(0, 40, 4))
    assert ok(home, "assign", first, "--me") == f"{first}: given to {mine} (you)\n"
    assert json.loads(ok(home, "show", first, "--json"))["assignee"] == staff_gnupg.fingerprint
    out = ok(home, "assign", first, "--to", " ".join(OTHER[i:i + 4] for i in range(0, 40, 4)).lower())
    assert out.startswith(f"{first}: given to BBBB ") and "(you)" not in out
    assert ok(home, "assign", first, "--nobody") == f"{first}: given to nobody\n"
    assert json.loads(ok(home, "show", first, "--json"))["assignee"] is None
    bad = cli(home, "assign", first, "--to", "12AB")
    assert bad.returncode == 2 and "fingerprint" in bad.stderr


def test_show_has_the_removal_work_and_who_did_what(kit, staff_gnupg):
    home, first, second = kit
    ok(home, "request", first, "1", "--target", "platform", "--name", "Form", "--method", "form", "--on",
       "2026-12-02")
    ok(home, "note", first, "電話した")
    with open_store(home) as store:  # a teammate's change, arrived by sync
        store.apply(new_event(first, "status", {"status": "waiting"}, author=OTHER,
                              at=datetime(2026, 12, 3, 9, 0, tzinfo=JAPAN)))
    shown = ok(home, "show", first)
    assert "given to:       nobody" in shown
    assert "state: asked on 2026-12-02" in shown and "request sent 2026-12-02 to platform form “Form” by web form" in shown
    who = shown.split("Who did what, when\n", 1)[1]
    lines = who.rstrip("\n").splitlines()
    assert lines[0].startswith("  2026-12-03 09:00  BBBB ") and lines[0].endswith(": status: waiting")
    assert any("(you): request for https://a.example/1 to platform 'Form' by form, sent 2026-12-02" in line
               for line in lines)
    assert any(line.endswith("(you): added a note") for line in lines)
    assert "電話した" not in who  # a note's text is shown once, under Notes


@pytest.mark.parametrize("args, message", [
    (["request", "SL-2345-6789", "1", "--target", "host", "--name", "x", "--method", "form"], "no case"),
    (["request", "{first}", "3", "--target", "host", "--name", "x", "--method", "form"], "a number from 1 to 2"),
    (["request", "{first}", "https://elsewhere.example/", "--target", "host", "--name", "x", "--method", "form"],
     "not one of the case's"),
    (["state", "{first}", "1", "removed", "--reason", "x" * 2001], "reason"),
    (["request", "{first}", "1", "--target", "host", "--name", "x" * 301, "--method", "form"], "target_name"),
])
def test_mistakes_say_what_to_do_in_one_line(kit, args, message):
    home, first, _ = kit
    result = cli(home, *[arg.format(first=first) for arg in args])
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.count("\n") == 1 and message in result.stderr, result.stderr
    assert "x" * 20 not in result.stderr


@pytest.mark.parametrize("args", [
    ["request", "{first}", "1", "--target", "mayor", "--name", "x", "--method", "form"],
    ["request", "{first}", "1", "--target", "host", "--name", "x", "--method", "fax"],
    ["request", "{first}", "1", "--target", "host", "--name", "x", "--method", "form", "--on", "2026-02-30"],
    ["state", "{first}", "1", "gone"],
    ["next", "{first}", "1", "tomorrow"],
    ["due", "--on", "12/01/2026"],
])
def test_argparse_refuses_unknown_choices_and_dates(kit, args):
    home, first, _ = kit
    assert cli(home, *[arg.format(first=first) for arg in args]).returncode == 2


def test_next_none_clears_the_date(kit):
    home, first, _ = kit
    ok(home, "next", first, "2", "2026-12-01")
    assert len(json.loads(ok(home, "due", "--on", "2026-12-01", "--json"))["urls"]) == 1
    assert ok(home, "next", first, "2", "none") == f"{first}: https://b.example/2 next: -\n"
    assert json.loads(ok(home, "due", "--on", "2030-01-01", "--json"))["urls"] == []


def test_due_defaults_to_today_in_japan(kit):
    home, first, _ = kit
    today = datetime.now(JAPAN).date()
    ok(home, "request", first, "1", "--target", "host", "--name", "H", "--method", "form",
       "--on", (today - timedelta(days=7)).isoformat())
    due = json.loads(ok(home, "due", "--json"))
    assert due["on"] == today.isoformat() and [u["next_on"] for u in due["urls"]] == [today.isoformat()]
    assert date.fromisoformat(due["on"]) == today
