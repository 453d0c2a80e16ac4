"""Casework on the command line: the case list, a case, status, notes, phone cases, deletion;
JSON for scripts; hostile text shown as text."""

from __future__ import annotations

import argparse
import io
import json
import re
import unicodedata
from datetime import timedelta

import pytest

from staff import casework
from staff.problems import StaffError
from staff.store import Store
from tests.support.staff_records import AUTHOR, T0, addition, message_id, new_reference, new_store, report

# What must never reach a terminal raw: ESC (ANSI), other C0 and C1 controls, bidi controls,
# line and paragraph separators.
RAW = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029\u061c]")
HOSTILE = ("<script>alert(1)</script>\x1b[31mRED\x1b[0m \x1b]8;;https://evil.example/\x07link\x1b]8;;\x07"
           " \u202egnp.exe\u202c \r fake line \x9b2J \u2028 \x00 \u2067isolated\u2069")


@pytest.fixture
def made(tmp_path):
    store, key = new_store(tmp_path)
    with store:
        yield store, key


@pytest.fixture
def store(made):
    return made[0]


def run(function, *args, **kwargs) -> str:
    out = io.StringIO()
    assert function(*args, out=out, **kwargs) == 0
    return out.getvalue()


def reopen(path, key) -> Store:
    """The store reopened from its file with its owner, as ``staff.setup.open_store`` gives it."""
    store = Store.open(path, key)
    store.author = AUTHOR
    return store


def command(made, monkeypatch, argv: list[str], stdin: str = "") -> tuple[int, str]:
    """Run a casework command as the command line does: parsed by its own subparsers, on the
    store reopened from its file (as ``staff.setup.open_store`` would give it)."""
    store, key = made
    monkeypatch.setattr(casework, "_open", lambda args: reopen(store.path, key))
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    out = io.StringIO()
    monkeypatch.setattr("sys.stdout", out)
    root = argparse.ArgumentParser(prog="safeline-staff")
    root.add_argument("--home")
    casework.register(root.add_subparsers(dest="command", required=True))
    args = root.parse_args(argv)
    return args.func(args), out.getvalue()


# -- the case list ------------------------------------------------------------------------------

def test_the_case_list_is_an_aligned_table_in_japan_time(store):
    police = report(received_at=T0, role="guardian", police_referral=True,
                    urls=["https://a.example/1", "https://b.example/2"])
    store.add(police, message_id=message_id())
    lonely = new_reference()
    store.add(addition(lonely, received_at=T0 + timedelta(days=1)), message_id=message_id())
    phone = store.add_phone_case(role="self", description="電話", at=T0 + timedelta(days=2))
    store.set_status(police.reference, "in_progress", at=T0 + timedelta(days=3))

    lines = run(casework.list_cases, store).splitlines()
    assert lines[0].split("  ")[0] == "REFERENCE"
    assert "RECEIVED (JST)" in lines[0] and "LAST ACTIVITY (JST)" in lines[0]
    assert [line.split()[0] for line in lines[1:4]] == [police.reference, phone, lonely]
    assert lines[-1] == "3 cases"
    starts = [lines[0].index(word) for word in ("ROLE", "URLS", "POLICE", "STATUS")]
    for line in lines[1:4]:
        assert all(line[start - 2:start] == "  " and line[start] != " " for start in starts), line
    first = lines[1]
    assert "2026-12-01 10:00" in first and "2026-12-04 10:00" in first  # received, last activity (JST)
    assert re.search(r"guardian\s+2/2\s+yes\s+in progress", first)
    assert re.search(r"no report yet\s+1/1\s+\?\s+new", lines[3])

    assert run(casework.list_cases, store, status="in_progress").splitlines()[1].startswith(police.reference)
    assert run(casework.list_cases, store, search="電話").splitlines()[1].startswith(phone)
    assert run(casework.list_cases, store, limit=1).splitlines()[-1] == "1 of 3 cases"
    assert run(casework.list_cases, store, status="closed") == "no case matches\n"


def test_an_empty_store_says_how_to_fill_it(store):
    assert "import" in run(casework.list_cases, store)


def test_the_case_list_as_json(made, monkeypatch):
    store = made[0]
    first = report(received_at=T0, police_referral=True)
    store.add(first, message_id=message_id())
    store.add(report(received_at=T0 + timedelta(hours=1)), message_id=message_id())
    status, out = command(made, monkeypatch, ["cases", "--json", "--status", "new"])
    assert status == 0
    data = json.loads(out)
    assert data["count"] == 2
    assert data["cases"][1] == {
        "reference": first.reference, "origin": "web", "received_at": "2026-12-01T10:00:00+09:00", "role": "self",
        "urls_open": 1, "urls_all": 1, "police_referral": True, "status": "new",
        "last_activity": "2026-12-01T10:00:00+09:00"}
    assert out.isascii()


# -- one case -----------------------------------------------------------------------------------

def test_show_puts_contact_safety_and_police_referral_before_the_email(store):
    first = report(received_at=T0, email="hanako@example.jp", contact_safety="夜は家族がいるので昼だけ",
                   police_referral=True, urls=["https://img.example.com/1"], description="一行目\n二行目",
                   where="SNSのアカウント")
    ref = first.reference
    store.add(first, message_id="<first@relay>")
    store.add(addition(ref, received_at=T0 + timedelta(hours=2), urls=["https://more.example.net/2"],
                       description="追加の説明"), message_id="<second@relay>")
    store.add_note(ref, "メールは控える", at=T0 + timedelta(hours=3))
    store.set_status(ref, "waiting", at=T0 + timedelta(hours=4))

    text = run(casework.show_case, store, ref.lower())
    assert text.index("police referral asked: yes") < text.index("夜は家族がいるので昼だけ") \
        < text.index("hanako@example.jp")
    assert text.startswith(f"{ref}  (web case)  status: waiting")
    assert "received:       2026-12-01 10:00 (Japan time)" in text
    assert "1. https://img.example.com/1" in text and "host: img.example.com" in text
    assert "2. https://more.example.net/2" in text and "host: more.example.net" in text
    assert text.index("[1] report  2026-12-01 10:00  Message-ID <first@relay>") \
        < text.index("SNSのアカウント") < text.index("        一行目\n        二行目") \
        < text.index("[2] addition  2026-12-01 12:00") < text.index("追加の説明")
    assert text.index("Notes (1)") < text.index("メールは控える") < text.index("History")
    assert re.search(r"History\n  2026-12-01 10:00  new\n  2026-12-01 14:00  waiting\n\nWho did what, when\n", text)
    assert text.endswith("CAFE (you): status: waiting\n")


def test_show_a_phone_case_and_a_case_without_report(store):
    ref = store.add_phone_case(role="self", description="電話の内容", at=T0)
    text = run(casework.show_case, store, ref)
    assert f"{ref}  (phone case)" in text and "phone call" in text and "e-mail: (none)" in text
    lonely = new_reference()
    store.add(addition(lonely), message_id=message_id())
    text = run(casework.show_case, store, lonely)
    assert "role:           no report yet" in text and "police referral asked: ?" in text


def test_show_as_json_is_the_documented_case(made, monkeypatch):
    store = made[0]
    first = report(received_at=T0)
    store.add(first, message_id=message_id())
    store.add_note(first.reference, "ノート", at=T0)
    status, out = command(made, monkeypatch, ["show", first.reference.replace("-", ""), "--json"])
    assert status == 0
    assert json.loads(out) == json.loads(json.dumps(store.case(first.reference).to_json()))
    assert out.isascii()


def test_an_unknown_reference_is_a_staff_error(store):
    with pytest.raises(StaffError, match="no case"):
        run(casework.show_case, store, "SL-2222-2222")


# -- hostile text -------------------------------------------------------------------------------

def test_hostile_text_is_shown_as_text(store):
    long_description = (HOSTILE + "\n") * 40 + "あ" * 4000
    hostile = report(email=f"x{HOSTILE}@example.jp", contact_safety=HOSTILE, where=HOSTILE,
                     description=long_description[:4000],
                     urls=[f"https://h{i}.example/{HOSTILE}" for i in range(30)])
    store.add(hostile, message_id=f"<{HOSTILE}@relay>")
    store.add_note(hostile.reference, HOSTILE)
    text = run(casework.show_case, store, hostile.reference) + run(casework.list_cases, store)
    assert not RAW.search(text), repr(RAW.search(text))
    assert "\\x1b[31mRED\\x1b[0m" in text
    assert "<script>alert(1)</script>" in text  # as it is: a terminal does not run it
    assert "\\u202egnp.exe\\u202c" in text and "\\u2067isolated\\u2069" in text
    assert "\\x0d fake line" in text and "\\x9b2J" in text and "\\u2028" in text and "\\x00" in text
    assert text.count("host: h") == 30
    text.encode("utf-8")  # nothing a terminal could not encode


def test_hostile_text_in_json_is_escaped(made, monkeypatch):
    store = made[0]
    hostile = report(description=HOSTILE, contact_safety=HOSTILE)
    store.add(hostile, message_id=message_id())
    _, out = command(made, monkeypatch, ["show", hostile.reference, "--json"])
    assert out.isascii() and not RAW.search(out.replace("\n", ""))
    assert json.loads(out)["records"][0]["fields"]["description"] == hostile.fields["description"]


@pytest.mark.parametrize("char", ["\x1b", "\x07", "\x7f", "\x85", "\u202e", "\u2066", "\u200f", "\ufeff",
                                  "\u2028", "\udc80"])
def test_terminal_text_escapes_what_a_terminal_would_obey(char):
    shown = casework.terminal_text(f"a{char}b")
    assert shown.startswith("a\\") and shown.endswith("b") and char not in shown


def test_terminal_text_keeps_what_people_write():
    for text in ("写真と画像", "Ｆｕｌｌ", "👩‍👧", "e\u0301", "<b>&amp;</b>", "مرحبا"):
        assert casework.terminal_text(text) == text
    assert casework.terminal_text("a\r\nb\tc", multiline=True) == "a\nb    c"
    assert casework.terminal_text("a\nb") == "a\\x0ab"
    assert all(unicodedata.category(c) != "Cc" for c in casework.terminal_text("\x1b[2J\x1bc"))


# -- changing a case ----------------------------------------------------------------------------

def test_status_and_notes_from_the_command_line(made, monkeypatch):
    store = made[0]
    first = report()
    store.add(first, message_id=message_id())
    status, out = command(made, monkeypatch, ["status", first.reference.lower(), "In-Progress"])
    assert (status, out) == (0, f"{first.reference}: in progress (was new)\n")
    status, out = command(made, monkeypatch, ["note", first.reference, "-"], stdin="標準入力からの\nノート\n")
    assert (status, out) == (0, f"{first.reference}: note added\n")
    command(made, monkeypatch, ["note", first.reference, "引数のノート"])
    with Store.open(store.path, made[1]) as reopened:
        case = reopened.case(first.reference)
    assert case.status == "in_progress" and [h.status for h in case.history] == ["new", "in_progress"]
    assert [n.text for n in case.notes] == ["標準入力からの\nノート", "引数のノート"]
    with pytest.raises(SystemExit):
        command(made, monkeypatch, ["status", first.reference, "done"])


def test_a_phone_case_from_the_command_line(made, monkeypatch):
    status, out = command(made, monkeypatch, [
        "phone", "--role", "guardian", "--description", "-", "--url", "https://x.example/1", "--url",
        "https://y.example/2", "--email", "caller@example.jp", "--contact-safety", "昼のみ", "--police-referral",
        "--language", "en", "--where", "掲示板"], stdin="子どもの写真\n")
    assert status == 0
    reference = out.strip()
    assert re.fullmatch(r"TEL-\d{8}-001-CAFE", reference)
    with Store.open(made[0].path, made[1]) as reopened:
        case = reopened.case(reference)
    assert (case.origin, case.role, case.email, case.contact_safety, case.police_referral, case.language) == (
        "phone", "guardian", "caller@example.jp", "昼のみ", True, "en")
    assert [u.host for u in case.urls] == ["x.example", "y.example"]
    assert case.records[0].fields["description"] == "子どもの写真"
    assert case.records[0].fields["where"] == "掲示板"


def test_delete_asks_for_the_reference_and_says_the_mails_stay(store):
    first = report()
    store.add(first, message_id=message_id())
    with pytest.raises(StaffError, match="not deleted"):
        run(casework.delete_case, store, first.reference, ask=lambda prompt: "yes")
    assert store.case(first.reference) is not None

    def no_answer(prompt):
        raise EOFError

    with pytest.raises(StaffError, match="not deleted"):
        run(casework.delete_case, store, first.reference, ask=no_answer)
    out = run(casework.delete_case, store, first.reference, ask=lambda prompt: first.reference.lower())
    assert f"deleted {first.reference}" in out and "stay in the mailbox" in out
    assert store.case(first.reference) is None


def test_delete_with_yes_from_the_command_line(made, monkeypatch):
    first = report()
    made[0].add(first, message_id=message_id())
    status, out = command(made, monkeypatch, ["delete", first.reference, "--yes"])
    assert status == 0 and "stay in the mailbox" in out
    with Store.open(made[0].path, made[1]) as reopened:
        assert reopened.count() == 0


# -- end to end: the staff member's folder, the relay's mail, the command line ------------------

def test_the_commands_on_a_real_staff_folder_after_an_import(staff_home, relay_corpus, capsys):
    from staff.cli import main

    def staff(*argv: str) -> str:
        with pytest.raises(SystemExit) as exit:
            main(["--home", str(staff_home.folder), *argv])
        captured = capsys.readouterr()
        assert exit.value.code == 0, captured.err
        return captured.out

    staff("import", "--maildir", str(relay_corpus.maildir))
    listed = json.loads(staff("cases", "--json"))
    assert listed["count"] == relay_corpus.reports
    assert {case["reference"] for case in listed["cases"]} <= set(relay_corpus.references)
    table = staff("cases")
    assert table.splitlines()[-1] == f"{relay_corpus.reports} cases"
    assert not RAW.search(table)
    for case in listed["cases"]:
        shown = staff("show", case["reference"])
        assert shown.startswith(case["reference"]) and not RAW.search(shown)
        assert json.loads(staff("show", case["reference"], "--json"))["reference"] == case["reference"]
    reference = listed["cases"][0]["reference"]
    staff("status", reference, "waiting")
    staff("note", reference, "折り返し電話済み")
    assert [c["reference"] for c in json.loads(staff("cases", "--json", "--search", "折り返し"))["cases"]] == [reference]
    phone = staff("phone", "--role", "self", "--description", "電話の相談").strip()
    assert json.loads(staff("show", phone, "--json"))["origin"] == "phone"
    assert "stay in the mailbox" in staff("delete", reference, "--yes")
    staff("import", "--maildir", str(relay_corpus.maildir))  # the deleted case does not come back
    assert json.loads(staff("cases", "--json"))["count"] == relay_corpus.reports  # one deleted, one phone case
    assert reference not in staff("cases")
