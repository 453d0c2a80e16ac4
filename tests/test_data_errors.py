"""Mistakes in data/hotlines.yaml stop the build with one clear line each, never a traceback."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.support.site import ROOT, build_site
from safeline.hotlines.model import DataError, load

GOOD = (ROOT / "data" / "hotlines.yaml").read_text(encoding="utf-8")


def mutate(*edits: tuple[str, str]) -> str:
    text = GOOD
    for old, new in edits:
        assert old in text, f"the fixture no longer contains {old!r}"
        text = text.replace(old, new, 1)
    return text


def line_of(text: str, fragment: str) -> int:
    """1-based number of the first line that contains ``fragment``."""
    for number, line in enumerate(text.splitlines(), start=1):
        if fragment in line:
            return number
    raise AssertionError(f"{fragment!r} not in the file")


def errors_for(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "hotlines.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DataError) as caught:
        load(path, shown_as="data/hotlines.yaml")
    assert caught.value.code  # non-zero exit status when it ends the program
    return caught.value.lines


LINE = re.compile(r"^data/hotlines\.yaml:(\d+):(\d+) (\S+): (.+)$")

# (what is wrong, edits, fragment on the line the error must point to, field path, words of the message)
CASES = [
    ("unquoted time", [('open: "09:00"', "open: 9:00")], "open: 9:00",
     "organisations.4.lines.0.hours.0.open", 'double quotes, e.g. "09:00"'),
    ("unquoted phone number", [('phone: "03-5467-2455"', "phone: 0354672455")], "phone: 0354672455",
     "organisations.4.lines.0.phone", "double quotes"),
    ("wrong type", [("closed_on_holidays: false", 'closed_on_holidays: "no"')], 'closed_on_holidays: "no"',
     "organisations.2.lines.1.closed_on_holidays", "true or false"),
    ("missing field", [('        phone: "03-5467-2455"\n', "")], "- id: tokyo-womens-plaza-women",
     "organisations.4.lines.0.phone", "required"),
    ("unknown key", [('phone: "03-5467-2455"', 'phone: "03-5467-2455"\n        fax: "03-5467-2456"')], "fax:",
     "organisations.4.lines.0.fax", "unknown field"),
    ("missing language", [("          en: Line for women\n", "")], "ja: 女性のための相談窓口",
     "organisations.4.lines.0.name.en", "required"),
    ("unknown audience", [("audience: men", "audience: man")], "audience: man",
     "organisations.4.lines.1.audience", "one of 'women', 'men', 'children' or 'anyone'"),
    ("unknown day", [("days: [mon, wed]", "days: [mon, wednesday]")], "days: [mon, wednesday]",
     "organisations.4.lines.1.hours.0.days.1", "one of"),
    ("close before open", [('close: "20:00"', 'close: "16:00"')], 'close: "16:00"',
     "organisations.4.lines.1.hours.0.close", "must be after opening time"),
    ("bad time", [('open: "17:00"', 'open: "17:70"')], 'open: "17:70"',
     "organisations.4.lines.1.hours.0.open", '"HH:MM"'),
    ("unknown closed period", [("closed_periods: [new-year]", "closed_periods: [new-years]")], "closed_periods: [new-years]",
     "organisations.0.lines.0.closed_periods.0", 'no closed period named "new-years"'),
    ("duplicate id", [("id: tokyo-womens-plaza-men", "id: tokyo-womens-plaza-women")], "id: tokyo-womens-plaza-women\n",
     "organisations.4.lines.1.id", "already used"),
    ("duplicate key", [("        audience: women\n", "        audience: women\n        audience: men\n")], "audience: men",
     "organisations.4.lines.0.audience", "written twice"),
    ("bad phone number", [('phone: "03-5467-2455"', 'phone: "03-5467-245"')], 'phone: "03-5467-245"',
     "organisations.4.lines.0.phone", "with hyphens"),
    ("bad web address", [('url: "https://www.jinken.go.jp', 'url: "www.jinken.go.jp')], 'url: "www.jinken.go.jp',
     "organisations.0.web.1.url", "http:// or https://"),
]


# One-off closures and extra openings, added to the first line with a closed period.
AFTER = "        closed_periods: [new-year]\n"


def one_offs(text: str) -> list[tuple[str, str]]:
    return [(AFTER, AFTER + text)]


EXTRA = '        extra_openings:\n          - date: "2027-01-04"\n            open: "10:00"\n            close: "16:00"\n'
CASES += [
    ("unquoted date", one_offs("        closed_dates: [2027-05-06]\n"), "closed_dates: [2027-05-06]",
     "organisations.0.lines.0.closed_dates.0", 'double quotes, e.g. "2027-05-06"'),
    ("impossible date", one_offs('        closed_dates: ["2027-02-30"]\n'), 'closed_dates: ["2027-02-30"]',
     "organisations.0.lines.0.closed_dates.0", '"YYYY-MM-DD"'),
    ("date written twice", one_offs('        closed_dates: ["2027-05-06", "2027-05-06"]\n'), "closed_dates: [",
     "organisations.0.lines.0.closed_dates.1", "listed twice"),
    ("extra opening closes before it opens", one_offs(EXTRA.replace('"16:00"', '"09:00"')), 'close: "09:00"',
     "organisations.0.lines.0.extra_openings.0.close", "must be after opening time"),
    ("closed and open the same day", one_offs('        closed_dates: ["2027-01-04"]\n' + EXTRA), 'date: "2027-01-04"',
     "organisations.0.lines.0.extra_openings.0.date", "either closed or open"),
    ("overlapping extra openings", one_offs(EXTRA + '          - date: "2027-01-04"\n            open: "15:00"\n            close: "17:00"\n'),
     '- date: "2027-01-04"\n', "organisations.0.lines.0.extra_openings.1", "overlap extra_openings.0"),
    ("extra opening without a closing time", one_offs(EXTRA.replace('            close: "16:00"\n', "")), '- date: "2027-01-04"',
     "organisations.0.lines.0.extra_openings.0.close", "required"),
    ("extra opening with an unquoted time", one_offs(EXTRA.replace('open: "10:00"', "open: 10:00")), "open: 10:00",
     "organisations.0.lines.0.extra_openings.0.open", 'double quotes, e.g. "09:00"'),
]


# Where each line's number and hours come from, and when they were last compared (source: Tokyo
# Women's Plaza's first line; checked: the first line of the file).
SOURCE = 'source: "https://www.safe-line.jp/"'
CHECKED = 'checked: "2026-12-02"'
CASES += [
    ("missing source", [("        " + SOURCE + "\n", "")], "- id: tokyo-womens-plaza-women",
     "organisations.4.lines.0.source", "add source: with the https:// address of the official page"),
    ("source over plain http", [(SOURCE, 'source: "http://www.safe-line.jp/"')], 'source: "http://',
     "organisations.4.lines.0.source", "https:// address of the official page"),
    ("source that is no address", [(SOURCE, "source: 東京ウィメンズプラザのページ")], "source: 東京",
     "organisations.4.lines.0.source", "https:// address of the official page"),
    ("missing checked", [("        " + CHECKED + "\n", "")], "- id: moj-minna-no-jinken",
     "organisations.0.lines.0.checked", 'add checked: with the day you compared this line with its source'),
    ("unquoted checked", [(CHECKED, "checked: 2026-12-02")], "checked: 2026-12-02",
     "organisations.0.lines.0.checked", 'double quotes, e.g. "2026-12-02"'),
    ("impossible checked date", [(CHECKED, 'checked: "2026-02-30"')], 'checked: "2026-02-30"',
     "organisations.0.lines.0.checked", '"YYYY-MM-DD"'),
    ("checked in the future", [(CHECKED, 'checked: "2999-01-01"')], 'checked: "2999-01-01"',
     "organisations.0.lines.0.checked", "is in the future"),
    # A line whose only source is the seed says so (source_note); no other line has that note.
    ("seed source without source_note", [("        source_note:\n", "        note:  # was source_note\n")],
     SOURCE, "organisations.4.lines.0.source", "add source_note: in both languages"),
    ("source_note on a line with an official source",
     [('source: "https://www.moj.go.jp/JINKEN/jinken20.html"\n',
       'source: "https://www.moj.go.jp/JINKEN/jinken20.html"\n        source_note:  # official\n          ja: 元の資料\n          en: The seed\n')],
     "source_note:  # official", "organisations.0.lines.0.source_note", "only for a line whose source is Safeline's own earlier page"),
    ("assumed in one language only", [("      en: The sources say only", "      # en: The sources say only")],
     "ja: 情報元は", "closed_periods.new-year.assumed.en", "required"),
    ("a short number that is not one", [('phone: "#8891"', 'phone: "#88"')], 'phone: "#88"',
     "organisations.1.lines.0.phone", 'a short number such as "#9110"'),
    ("both hours and hours_note", [("        closed_on_holidays: false\n        closed_periods: [new-year]\n",
                                    "        closed_on_holidays: false\n        closed_periods: [new-year]\n"
                                    "        hours_note:  # both\n          ja: 毎日\n          en: Every day\n")],
     "hours_note:  # both", "organisations.4.lines.0.hours_note", "not both"),
    ("neither hours nor hours_note", [("        hours_note:\n          ja: 受付時間はセンターごとに違います。つながったセンターの受付時間内に相談できます。\n"
                                       "          en: Each centre has its own hours. You can talk to the centre you reach during its hours.\n", "")],
     "- id: one-stop-8891", "organisations.1.lines.0.hours", "write hours (regular weekly hours), or hours_note"),
    ("a closure with hours_note", [('        phone: "#8891"\n', '        phone: "#8891"\n        closed_on_holidays: true  # with hours_note\n')],
     "closed_on_holidays: true  # with hours_note", "organisations.1.lines.0.closed_on_holidays", "only for lines with regular hours"),
]


@pytest.mark.parametrize(("edits", "fragment", "field", "words"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_one_clear_line_per_mistake(tmp_path, edits, fragment, field, words):
    text = mutate(*edits)
    lines = errors_for(tmp_path, text)
    assert len(lines) == 1, lines
    match = LINE.match(lines[0])
    assert match, lines[0]
    number, _, path, message = match.groups()
    expected_line = line_of(text, fragment.rstrip("\n")) if not fragment.endswith("\n") else _line_exact(text, fragment)
    assert (int(number), path) == (expected_line, field), lines[0]
    assert words in message


def _line_exact(text: str, fragment: str) -> int:
    """The last line with ``fragment``: for a repeated value, where the repetition is."""
    lines = text.splitlines()
    hits = [n for n, line in enumerate(lines, start=1) if fragment.strip() in line]
    return hits[-1]


def test_only_an_emergency_line_may_state_no_hours(tmp_path):
    """110 has neither hours nor hours_note (no source states them); any other line needs one."""
    assert load(ROOT / "data" / "hotlines.yaml").organisations[2].lines[0].emergency
    text = mutate(("        emergency: true\n", ""))
    [line] = errors_for(tmp_path, text)
    assert re.match(r"data/hotlines\.yaml:\d+:\d+ organisations\.2\.lines\.0\.hours: this field is required", line), line


def test_overlapping_hours_are_refused(tmp_path):
    text = mutate(('            close: "20:00"\n', '            close: "20:00"\n          - days: [wed]\n            open: "19:00"\n            close: "21:00"\n'))
    [line] = errors_for(tmp_path, text)
    assert re.match(r"data/hotlines\.yaml:\d+:\d+ organisations\.4\.lines\.1\.hours\.1: on wed these hours overlap hours\.0", line)


def test_all_mistakes_at_once_in_file_order(tmp_path):
    text = mutate(
        ('open: "09:00"', "open: 9:00"),
        ("audience: men", "audience: man"),
        ('phone: "0570-070-810"', 'phone: "0570-070-810"\n        fax: "x"'),
    )
    lines = errors_for(tmp_path, text)
    assert len(lines) == 3
    numbers = [int(LINE.match(line).group(1)) for line in lines]
    assert numbers == sorted(numbers)
    assert numbers == [line_of(text, 'fax: "x"'), line_of(text, "open: 9:00"), line_of(text, "audience: man")]


def test_yaml_syntax_error_names_the_line(tmp_path):
    text = mutate(('      ja: 東京ウィメンズプラザ\n', '      ja: 東京ウィメンズプラザ\n     en: broken indentation\n'))
    [line] = errors_for(tmp_path, text)
    assert line.startswith(f"data/hotlines.yaml:{line_of(text, 'broken indentation')}:")
    assert "(syntax)" in line


def test_missing_file(tmp_path):
    with pytest.raises(DataError) as caught:
        load(tmp_path / "nope.yaml", shown_as="data/hotlines.yaml")
    assert caught.value.lines == ["data/hotlines.yaml:1:1 (file): the file does not exist"]


@pytest.mark.parametrize("case", ["unquoted time", "missing field", "unknown key", "wrong type"])
def test_the_build_stops_without_a_traceback(tmp_path, case):
    """What an editor sees from the real build: the lines, a non-zero exit, nothing else alarming."""
    edits, fragment, field, words = next(c[1:] for c in CASES if c[0] == case)
    path = tmp_path / "hotlines.yaml"
    path.write_text(mutate(*edits), encoding="utf-8")
    result = build_site(tmp_path / "out", ("HOTLINES_DATA", str(path)))
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "Traceback" not in output
    assert re.search(rf"^{re.escape(str(path))}:\d+:\d+ {re.escape(field)}: .*{re.escape(words)}", result.stderr, re.M), output
    assert not (tmp_path / "out" / "support").exists()
