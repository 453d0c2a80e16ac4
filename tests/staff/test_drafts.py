"""Removal request drafts: the shipped templates, the kit's folder of edited ones, filling them
for a case's addresses, the errors that name file and line, the mailto: link, and that nothing
of the report or the reporter ever gets into a draft."""

from __future__ import annotations

import io
import re
import shutil
import tomllib
from datetime import date, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from staff import drafts
from staff.problems import StaffError
from tests.support.site import ROOT
from tests.support.staff_records import T0, addition, message_id, new_store, report

TODAY = date(2026, 12, 6)
SHIPPED_TEMPLATES = [(target, language) for target in drafts.DEFAULT_TARGETS for language in drafts.LANGUAGES]
# A value for every placeholder that is not per address, each one distinctive.
SENDER = {"sender_name": "ホットラインName", "sender_organisation": "OrgOfHotline",
          "sender_email": "desk@hotline.example", "sender_phone": "00-0000-0000",
          "sender_website": "https://hotline.example/", "sender_address": "PostalPlace 1",
          "staff_name": "StaffPerson"}
URLS = ("https://one.example/a?x=1&y=2", "https://two.example/b", "https://one.example/c#frag")


def parse_mailto(link: str) -> tuple[str, dict[str, list[str]]]:
    """A mailto: link read with urllib.parse as a mail client reads it (RFC 6068)."""
    assert link.startswith("mailto:")
    parts = urlsplit(link)
    return unquote(parts.path), parse_qs(parts.query, keep_blank_values=True, strict_parsing=True,
                                         encoding="utf-8", errors="strict")


def fill_all(template, language="ja", urls=URLS, **values):
    options = dict(urls=urls, language=language, today=TODAY, recheck_days=7, target="site",
                   target_name="TargetCompany", ticket="TICKET-42", previous_date=date(2026, 11, 29),
                   sender=SENDER)
    options.update(values)
    return drafts.fill(template, **options)


def write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    return path


# -- every placeholder -----------------------------------------------------------------------

EVERY = ("件名: {hosts} {url_count} {today} {target_name}\n\n"
         + "\n".join(f"{name}={{{name}}}" for name in drafts.PLACEHOLDERS if name not in drafts.URL_PLACEHOLDERS)
         + "\n{url_number}) {url} @ {url_host}\n{{literal}}\n")


@pytest.mark.parametrize("language", drafts.LANGUAGES)
def test_a_template_with_every_placeholder_fills_each_one(tmp_path, language):
    template = drafts.read_template(write(tmp_path / "site.ja.txt", EVERY))
    draft = fill_all(template, language=language)
    lines = draft.body.splitlines()
    expected_dates = {"ja": ("2026年12月6日", "2026年12月13日", "2026年11月29日"),
                      "en": ("6 December 2026", "13 December 2026", "29 November 2026")}[language]
    joiner = "、" if language == "ja" else ", "
    assert draft.subject == f"one.example{joiner}two.example 3 {expected_dates[0]} TargetCompany"
    values = {"url_count": "3", "hosts": f"one.example{joiner}two.example", "today": expected_dates[0],
              "next_date": expected_dates[1], "previous_date": expected_dates[2], "ticket": "TICKET-42",
              "target_name": "TargetCompany", **SENDER}
    for name in drafts.PLACEHOLDERS:
        if name not in drafts.URL_PLACEHOLDERS:
            assert f"{name}={values[name]}" in lines, name
    assert lines[-4:] == ["1) https://one.example/a?x=1&y=2 @ one.example", "2) https://two.example/b @ two.example",
                          "3) https://one.example/c#frag @ one.example", "{literal}"]
    assert "{" not in draft.body.replace("{literal}", "")


@pytest.mark.parametrize(("target", "language"), SHIPPED_TEMPLATES)
def test_every_shipped_template_fills_with_every_value(target, language):
    template = drafts.load_template(None, target, language)
    draft = fill_all(template, language=language, target=target)
    text = draft.subject + "\n" + draft.body
    assert not re.search(r"\{[a-z_]*\}", text), text
    for url in URLS:
        assert url in draft.body
    assert SENDER["sender_name"] in draft.body and "TICKET-42" in draft.body
    assert draft.subject and "\n" not in draft.subject
    japanese = bool(re.search(r"[\u3040-\u30ff\u4e00-\u9fff]", text.replace(SENDER["sender_name"], "")))
    assert japanese == (language == "ja"), (target, language)


@pytest.mark.parametrize(("target", "language"), SHIPPED_TEMPLATES)
def test_a_first_request_leaves_out_the_lines_of_what_is_not_known(target, language):
    # No ticket, no previous request, no recipient name, and the shipped sender.txt (no e-mail
    # or phone yet): those lines go, and no gap of two empty lines is left behind.
    template = drafts.load_template(None, target, language)
    sender = drafts.load_sender(None, language)
    draft = drafts.fill(template, urls=URLS[:1], language=language, today=TODAY, target=target, sender=sender)
    assert "\n\n\n" not in draft.body and not draft.body.startswith("\n")
    for line in draft.body.splitlines():
        label_only = len(line) <= 25 and re.search(r"[:：]\s*$", line)
        assert not label_only, f"{target}.{language}: a label without its value: {line!r}"
    assert sender["sender_name"] in draft.body and sender["sender_name"] in ("セーフライン", "Safeline")


def test_a_line_whose_placeholders_are_all_empty_is_left_out_and_one_with_a_value_stays(tmp_path):
    template = drafts.read_template(write(tmp_path / "site.ja.txt", (
        "件名: s\n\nA\n\nticket: {ticket}\n\nboth: {ticket} {target_name}\nB\n{url}\n")))
    draft = drafts.fill(template, urls=URLS[:1], language="ja", today=TODAY, target_name="X")
    assert draft.body == f"A\n\nboth:  X\nB\n{URLS[0]}"


def test_an_address_without_a_host_leaves_no_empty_brackets_in_the_subject():
    for target, language in SHIPPED_TEMPLATES:
        draft = drafts.fill(drafts.load_template(None, target, language), urls=["PhotoSphere app @someone"],
                            language=language, today=TODAY)
        assert not re.search(r"[(（]\s*[)）]", draft.subject), draft.subject


def test_values_from_addresses_cannot_break_lines_or_steer_a_terminal(tmp_path):
    template = drafts.read_template(write(tmp_path / "site.ja.txt", "件名: {hosts}\n\n{url}\n"))
    draft = drafts.fill(template, urls=["https://x.example/a\nInjected: line\x1b[31m\u202e"], language="ja",
                        today=TODAY, hosts=["x.example\r\nBcc: y"])
    assert len(draft.body.splitlines()) == 1 and "\x1b" not in draft.body and "\u202e" not in draft.body
    assert "\n" not in draft.subject and "\r" not in draft.subject


# -- the folder: init, edit, check ---------------------------------------------------------------

def test_the_shipped_defaults_pass_check_and_cover_every_target_but_the_police():
    problems, notes, count = drafts.check_folder(None)
    assert problems == [] and count == len(SHIPPED_TEMPLATES)
    names = {path.name for path in drafts.shipped().iterdir()}
    assert {drafts.template_name(target, language) for target, language in SHIPPED_TEMPLATES} <= names
    assert not any(name.startswith("police.") for name in names)
    assert {drafts.SENDER_FILE, drafts.README_FILE} <= names


def test_init_copies_the_defaults_which_pass_check(tmp_path):
    folder = tmp_path / drafts.FOLDER_NAME
    report = drafts.init_folder(folder)
    assert sorted(report.copied) == sorted(path.name for path in drafts.shipped().iterdir() if path.is_file())
    assert drafts.check_folder(folder)[0] == []
    assert drafts.init_folder(folder).copied == [] and drafts.init_folder(folder).kept == []


def test_an_edited_template_is_used_and_init_never_overwrites_it(tmp_path):
    folder = tmp_path / drafts.FOLDER_NAME
    drafts.init_folder(folder)
    edited = "件名: 編集した件名 {url_count}件\n\n編集した本文\n{url}\n"
    write(folder / "site.ja.txt", edited)
    draft = drafts.fill(drafts.load_template(folder, "site", "ja"), urls=URLS[:2], language="ja", today=TODAY)
    assert (draft.subject, draft.body) == ("編集した件名 2件", f"編集した本文\n{URLS[0]}\n{URLS[1]}")
    report = drafts.init_folder(folder)
    assert report.kept == ["site.ja.txt"] and (folder / "site.ja.txt").read_text(encoding="utf-8") == edited
    # The current default sits beside it for comparison, and is never read as a template.
    assert (folder / "site.ja.txt.new").read_bytes() == (drafts.shipped() / "site.ja.txt").read_bytes()
    assert drafts.check_folder(folder)[0] == []
    # A file missing from the folder is read from the shipped defaults.
    (folder / "host.en.txt").unlink()
    assert drafts.load_template(folder, "host", "en").path == drafts.shipped() / "host.en.txt"


def test_a_newer_default_replaces_an_unedited_file_and_waits_beside_an_edited_one(tmp_path, monkeypatch):
    old = tmp_path / "old-defaults"
    shutil.copytree(drafts.shipped(), old)
    folder = tmp_path / drafts.FOLDER_NAME
    monkeypatch.setattr(drafts, "shipped", lambda: old)
    drafts.init_folder(folder)
    write(folder / "host.ja.txt", "件名: 手で直した\n\n{url}\n")
    # A later version of the kit ships changed defaults and a new one.
    new = tmp_path / "new-defaults"
    shutil.copytree(old, new)
    for name in ("site.ja.txt", "host.ja.txt"):
        write(new / name, (new / name).read_text(encoding="utf-8") + "\n新しい行\n")
    write(new / "police.ja.txt", "件名: 新しいひな形\n\n{url}\n")
    monkeypatch.setattr(drafts, "shipped", lambda: new)
    report = drafts.init_folder(folder)
    assert report.updated == ["site.ja.txt"] and report.kept == ["host.ja.txt"] and report.copied == ["police.ja.txt"]
    assert (folder / "site.ja.txt").read_bytes() == (new / "site.ja.txt").read_bytes()
    assert (folder / "host.ja.txt").read_text(encoding="utf-8") == "件名: 手で直した\n\n{url}\n"
    assert (folder / "host.ja.txt.new").read_bytes() == (new / "host.ja.txt").read_bytes()
    # Once staff take the new default as it is, the .new file goes on the next init.
    shutil.copy(new / "host.ja.txt", folder / "host.ja.txt")
    drafts.init_folder(folder)
    assert not (folder / "host.ja.txt.new").exists()


BROKEN = [
    # (file name, content, line, words the message must hold)
    ("site.ja.txt", "件名: s\n\n本文\n{ulr}\n", 4, ["{ulr}", "did you mean {url}"]),
    ("site.ja.txt", "# comment\n件名: {hosts\n\n{url}\n", 2, ["{", "without its }"]),
    ("site.en.txt", "Subject: s\n\nBody }\n{url}\n", 3, ["}", "without its {"]),
    ("host.ja.txt", "件名: s\n\n{url}\n｛ticket｝\n", 4, ["full-width", "{ticket}"]),
    ("host.en.txt", "\n# only a comment\nDear all,\n{url}\n", 3, ["subject"]),
    ("search.ja.txt", "件名:\n\n{url}\n", 1, ["subject is empty"]),
    ("search.en.txt", "Subject: about {url}\n\n{url}\n", 1, ["{url}", "cannot be in the subject"]),
    ("platform.ja.txt", "件名: s\n\n{url_number}. 本文\n{url}\n", 3, ["{url_number}", "also has {url}"]),
    ("platform.en.txt", "Subject: s\n\nno address here\n", 1, ["{url}"]),
    ("registrar.ja.txt", "件名: s\n\n\n", 2, ["body is empty"]),
    ("sender.txt", "# c\nname_ja: x\nemial: a@b.example\n", 3, ["emial", "did you mean email"]),
    ("sender.txt", "name_ja x\n", 1, ["KEY: VALUE"]),
]


@pytest.mark.parametrize(("name", "text", "line", "words"), BROKEN, ids=[f"{i}-{b[0]}" for i, b in enumerate(BROKEN)])
def test_a_broken_file_is_named_with_its_line_and_what_to_fix(tmp_path, name, text, line, words):
    folder = tmp_path / drafts.FOLDER_NAME
    drafts.init_folder(folder)
    path = write(folder / name, text)
    problems, _, _ = drafts.check_folder(folder)
    assert len(problems) == 1, problems
    assert problems[0].startswith(f"{path}:{line}: "), problems[0]
    for word in words:
        assert word in problems[0], problems[0]
    # draft refuses it with the same message.
    target, language = ("site", "ja") if name == drafts.SENDER_FILE else name.split(".")[:2]
    with pytest.raises(drafts.TemplateError) as raised:
        template = drafts.load_template(folder, target, language)
        drafts.load_sender(folder, language)
        drafts.fill(template, urls=URLS, language=language, today=TODAY)
    assert str(raised.value) == problems[0]


def test_a_file_that_is_not_utf8_or_not_a_template_name_is_reported(tmp_path):
    folder = tmp_path / drafts.FOLDER_NAME
    drafts.init_folder(folder)
    shift_jis = write(folder / "site.ja.txt", "件名: 削除\n\n{url}\n".encode("shift_jis"))
    stray = write(folder / "website.txt", "件名: s\n\n{url}\n")
    problems, _, _ = drafts.check_folder(folder)
    assert any(p.startswith(f"{shift_jis}: is not UTF-8") for p in problems), problems
    assert any(p.startswith(f"{stray}: not a template name") for p in problems), problems
    # A byte order mark (Windows Notepad) and CRLF line ends are fine.
    write(folder / "site.ja.txt", "\ufeff件名: 削除\r\n\r\n{url}\r\n".encode("utf-8"))
    stray.unlink()
    assert drafts.check_folder(folder)[0] == []
    assert drafts.load_template(folder, "site", "ja").subject == "削除"


def test_the_police_have_no_template_unless_the_team_writes_one(tmp_path):
    folder = tmp_path / drafts.FOLDER_NAME
    drafts.init_folder(folder)
    with pytest.raises(drafts.TemplateError, match="not a removal request"):
        drafts.load_template(folder, "police", "ja")
    write(folder / "police.ja.txt", "件名: 情報提供\n\n{url}\n")
    assert drafts.load_template(folder, "police", "ja").subject == "情報提供"
    write(folder / "police.en.txt", "Subject: x\n\n{nope}\n")
    problems = drafts.check_folder(folder)[0]
    assert any(p.startswith(f"{folder / 'police.en.txt'}:3: unknown placeholder") for p in problems)


def test_sender_txt_by_language_and_shipped_facts_only():
    ja, en = drafts.load_sender(None, "ja"), drafts.load_sender(None, "en")
    assert ja["sender_name"] == "セーフライン" and en["sender_name"] == "Safeline"
    assert ja["sender_organisation"] == "一般社団法人セーファーインターネット協会"
    assert ja["sender_website"] == en["sender_website"] == "https://www.saferinternet.or.jp/"
    # No invented address, phone or e-mail: staff fill them in.
    for values in (ja, en):
        assert values["sender_email"] == values["sender_phone"] == values["sender_address"] == ""
        assert values["staff_name"] == ""


def test_readme_and_docstring_document_every_placeholder_and_file():
    readme = (drafts.shipped() / drafts.README_FILE).read_text(encoding="utf-8")
    english, japanese = readme.split("## English")[1], readme.split("## English")[0]
    for name in drafts.PLACEHOLDERS:
        assert f"`{{{name}}}`" in english and f"`{{{name}}}`" in japanese, name
        assert f"``{{{name}}}``" in drafts.__doc__, name
    for target, language in SHIPPED_TEMPLATES:
        assert drafts.template_name(target, language) in english and drafts.template_name(target, language) in japanese
    for key in drafts.SENDER_KEYS:
        assert f"`{key}`" in english and f"`{key}`" in japanese


def test_the_templates_travel_in_the_package():
    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["staff"]
    for path in drafts.shipped().iterdir():
        assert any(path.match(pattern) for pattern in patterns), path.name


# -- the mailto: link ------------------------------------------------------------------------------

@pytest.mark.parametrize(("target", "language"), SHIPPED_TEMPLATES)
def test_the_mailto_link_round_trips_through_urllib(target, language):
    draft = drafts.fill(drafts.load_template(None, target, language), urls=URLS, language=language, today=TODAY,
                        to="abuse+jp@host.example", ticket="#7 & 8 = ?", sender=SENDER)
    to, fields = parse_mailto(draft.mailto)
    assert to == "abuse+jp@host.example"
    assert fields == {"subject": [draft.subject], "body": ["\r\n".join(draft.body.splitlines())]}


def test_a_link_too_long_for_mail_clients_keeps_the_address_and_subject(tmp_path):
    many = [f"https://many.example/{number:04d}/長いパス" for number in range(40)]
    draft = drafts.fill(drafts.load_template(None, "site", "ja"), urls=many, language="ja", today=TODAY,
                        to="abuse@many.example")
    assert not draft.mailto_fits and len(draft.short_mailto) <= drafts.MAILTO_LIMIT
    to, fields = parse_mailto(draft.short_mailto)
    assert to == "abuse@many.example" and fields == {"subject": [draft.subject]}
    out = io.StringIO()
    drafts.print_draft(draft, out)
    printed = out.getvalue()
    assert "paste the body" in printed and printed.rstrip().endswith(draft.short_mailto)
    assert all(url in printed for url in many)
    out = io.StringIO()
    drafts.print_draft(draft, out, long_link=True)
    assert out.getvalue().rstrip().endswith(draft.mailto)
    short = drafts.fill(drafts.load_template(None, "platform", "en"), urls=URLS[:1], language="en", today=TODAY)
    assert short.mailto_fits and short.short_mailto == short.mailto


# -- a case's draft ------------------------------------------------------------------------------

# What a reporter typed and what identifies their case: none of it may reach a draft.
REPORTER = {"email": "reporter.Quokka5521@mail.example", "description": "説明ハリネズミ9037 DescriptionZebra",
            "contact_safety": "ContactSafetyOcelot 夜だけ", "where": "WherePangolin アプリ"}


@pytest.fixture
def case_store(tmp_path):
    store, _ = new_store(tmp_path)
    record = report(email=REPORTER["email"], description=REPORTER["description"],
                    contact_safety=REPORTER["contact_safety"], where=REPORTER["where"], police_referral=True,
                    urls=("https://site-one.example/p/1", "https://site-two.example/q/2"), lang="en")
    store.add(record, message_id=message_id())
    store.add(addition(record.reference, urls=("https://site-one.example/p/3",),
                       description="AdditionWords カワウソ"), message_id=message_id())
    store.add_note(record.reference, "NoteWords 秘密のメモ")
    yield store, record.reference
    store.close()


def reporter_traces(reference: str) -> list[str]:
    parts = reference.split("-")
    return [*REPORTER.values(), "Quokka5521", "ハリネズミ", "Ocelot", "Pangolin", "カワウソ", "NoteWords", "秘密",
            reference, "".join(parts), *parts[1:], "reporter.", "mail.example"]


@pytest.mark.parametrize(("target", "language"), SHIPPED_TEMPLATES)
@pytest.mark.parametrize("to", ["abuse@site-one.example", ""])
def test_nothing_of_the_reporter_appears_in_a_draft(case_store, target, language, to):
    store, reference = case_store
    draft = drafts.case_draft(store, reference, target=target, language=language, today=TODAY, to=to)
    assert draft.to == to
    for link in (draft.mailto, draft.short_mailto):
        address, fields = parse_mailto(link)
        assert address == to
        everything = "\n".join([draft.subject, draft.body, link, *fields["subject"], *fields.get("body", [])])
        for trace in reporter_traces(reference):
            assert trace.lower() not in everything.lower(), (target, language, trace)
    assert "https://site-two.example/q/2" in draft.body and "https://site-one.example/p/3" in draft.body


def test_chosen_addresses_by_address_or_number_in_the_cases_order_given(case_store):
    store, reference = case_store
    draft = drafts.case_draft(store, reference, target="site", language="en",
                              urls=["3", "https://site-one.example/p/1"], today=TODAY)
    assert draft.urls == ("https://site-one.example/p/3", "https://site-one.example/p/1")
    assert "site-two" not in draft.body and draft.subject.endswith("(site-one.example)")
    # An address typed as a browser would still read it is the same address.
    again = drafts.case_draft(store, reference, target="site", urls=["HTTPS://Site-Two.EXAMPLE/q/../q/2"], today=TODAY)
    assert again.urls == ("https://site-two.example/q/2",)
    with pytest.raises(StaffError) as raised:
        drafts.case_draft(store, reference, target="site", urls=["https://elsewhere.example/secret-path"])
    assert "secret-path" not in str(raised.value) and "--url number 1" in str(raised.value)
    with pytest.raises(StaffError):
        drafts.case_draft(store, "SL-2222-3333", target="site")
    for number in ("0", "4", "-1"):  # the numbers `show` gives are 1 to 3 here
        with pytest.raises(StaffError, match="--url number 2 is not an address of this case"):
            drafts.case_draft(store, reference, target="site", urls=["2", number], today=TODAY)


def test_the_kits_folder_is_read_when_present(case_store, tmp_path):
    store, reference = case_store
    folder = tmp_path / drafts.FOLDER_NAME
    drafts.init_folder(folder)
    write(folder / "site.en.txt", "Subject: Edited {url_count}\n\nEdited body by {staff_name}\n- {url}\n")
    write(folder / "sender.txt", "staff_name_en: Taro\nstaff_name_ja: 太郎\n")
    draft = drafts.case_draft(store, reference, target="site", language="en", folder=folder, today=TODAY)
    assert draft.subject == "Edited 3" and draft.body.startswith("Edited body by Taro\n- https://site-one.example/p/1")
    assert draft.template == folder / "site.en.txt"


def test_previous_request_ticket_and_language_come_from_the_addresses_log(case_store):
    store, reference = case_store
    one, two, three = "https://site-one.example/p/1", "https://site-two.example/q/2", "https://site-one.example/p/3"

    def sent(url, target, on, ticket=""):
        store.add_request(reference, url, target=target, target_name="Someone", method="email", sent_on=on,
                          ticket=ticket, recheck_days=7)

    # Recorded out of order: the latest date and the latest ticket count, per kind of target.
    sent(one, "site", date(2026, 11, 27), "NEW-2")
    sent(one, "site", date(2026, 11, 20), "OLD-1")
    sent(one, "host", date(2026, 11, 30), "HOST-9")
    sent(two, "site", date(2026, 11, 25))
    for url in (one, two, three):
        store.set_url_host(reference, url, {"overseas": True})
    draft = drafts.case_draft(store, reference, target="site", today=TODAY)
    assert draft.language == "en"  # every address's confirmed host is overseas
    assert "We first wrote to you about this on 27 November 2026." in draft.body
    assert "Your ticket number: NEW-2" in draft.body and "HOST-9" not in draft.body
    assert "TYPED" in drafts.case_draft(store, reference, target="site", ticket="TYPED", today=TODAY).body
    store.set_url_host(reference, three, {"overseas": False})
    first = drafts.case_draft(store, reference, target="search", today=TODAY)
    assert first.language == "ja" and "前回" not in first.body and "受付番号" not in first.body
    # By default an address already removed is left out; chosen by hand, it is there.
    store.set_url_state(reference, one, "removed", on=TODAY)
    assert drafts.case_draft(store, reference, target="site", today=TODAY).urls == (two, three)
    assert drafts.case_draft(store, reference, target="site", urls=["1"], today=TODAY).urls == (one,)


# -- the commands ------------------------------------------------------------------------------

def test_the_commands_init_check_and_draft(staff_home):
    from staff.setup import open_store
    from tests.support.staffkit import staff_cli

    with open_store(staff_home) as store:
        record = report(email=REPORTER["email"], description=REPORTER["description"],
                        urls=("https://cli.example/img/1",), received_at=T0 + timedelta(days=1))
        store.add(record, message_id=message_id())
    home = ["--home", str(staff_home.folder)]
    result = staff_cli(*home, "drafts", "check")
    assert result.returncode == 0 and "ok: 10 templates" in result.stdout and "shipped defaults" in result.stdout
    result = staff_cli(*home, "drafts", "init")
    assert result.returncode == 0 and "copied" in result.stdout
    folder = staff_home.folder / drafts.FOLDER_NAME
    assert (folder / "site.ja.txt").is_file() and (folder / drafts.README_FILE).is_file()
    assert "already up to date" in staff_cli(*home, "drafts", "init").stdout

    result = staff_cli(*home, "draft", record.reference, "--target", "host", "--lang", "en",
                       "--to", "abuse@cli.example", "--long-link")
    assert result.returncode == 0, result.stderr
    assert "Subject: Request to remove images hosted on your service (cli.example)" in result.stdout
    link = result.stdout.strip().splitlines()[-1]
    to, fields = parse_mailto(link)
    assert to == "abuse@cli.example" and "https://cli.example/img/1" in fields["body"][0]
    for trace in ("Quokka5521", "ハリネズミ", record.reference):
        assert trace not in result.stdout

    write(folder / "host.en.txt", "Subject: x\n\n{url}\n{sender_mail}\n")
    result = staff_cli(*home, "drafts", "check")
    assert result.returncode == 1
    assert f"{folder / 'host.en.txt'}:4: unknown placeholder {{sender_mail}}" in result.stderr
    result = staff_cli(*home, "draft", record.reference, "--target", "host", "--lang", "en")
    assert result.returncode == 1 and f"host.en.txt:4: unknown placeholder" in result.stderr
    assert "Traceback" not in result.stderr
    assert "{sender_email}" in staff_cli(*home, "drafts", "placeholders").stdout


def test_sent_records_one_request_per_address_and_the_next_draft_knows_it(staff_home):
    from staff.setup import open_store
    from staff.store import JAPAN
    from tests.support.staffkit import staff_cli

    urls = ("https://sent.example/a/1", "https://sent.example/a/2")
    with open_store(staff_home) as store:
        record = report(urls=urls, email=REPORTER["email"])
        store.add(record, message_id=message_id())
    home = ["--home", str(staff_home.folder)]
    result = staff_cli(*home, "draft", record.reference, "--target", "site", "--lang", "en", "--sent")
    assert result.returncode == 1 and "--target-name" in result.stderr
    result = staff_cli(*home, "draft", record.reference, "--target", "site", "--lang", "en", "--url", "2",
                       "--to", "abuse@sent.example", "--sent", "--target-name", "Sent Example Inc.",
                       "--ticket", "SE-77")
    assert result.returncode == 0, result.stderr
    assert "recorded: 1 request(s) sent today by email" in result.stdout
    today = datetime.now(JAPAN).date()
    with open_store(staff_home) as store:
        state = store.url(urls[1])
        assert [(r.target, r.target_name, r.method, r.ticket) for r in state.requests] == [
            ("site", "Sent Example Inc.", "email", "SE-77")]
        assert state.state == "asked" and state.next_on == today + timedelta(days=7)
        assert not store.url(urls[0]).requests
    result = staff_cli(*home, "draft", record.reference, "--target", "site", "--lang", "en", "--url", "2")
    assert f"We first wrote to you about this on {drafts.format_date(today, 'en')}." in result.stdout
    assert "Your ticket number: SE-77" in result.stdout


def test_a_link_of_2000_characters_is_whole_and_one_more_is_cut_to_address_and_subject():
    template = drafts.load_template(None, "platform", "en")

    def draft_of_length(length: int) -> drafts.Draft:
        base = drafts.fill(template, urls=["https://a.example/"], language="en", today=TODAY, to="abuse@a.example")
        url = "https://a.example/" + "p" * (length - len(base.mailto))  # a letter is one character encoded
        draft = drafts.fill(template, urls=[url], language="en", today=TODAY, to="abuse@a.example")
        assert len(draft.mailto) == length
        return draft

    assert drafts.MAILTO_LIMIT == 2000
    whole = draft_of_length(2000)
    assert whole.mailto_fits and whole.short_mailto == whole.mailto
    cut = draft_of_length(2001)
    assert not cut.mailto_fits
    assert cut.short_mailto == f"mailto:abuse@a.example?subject={cut.mailto.split('subject=')[1].split('&')[0]}"
