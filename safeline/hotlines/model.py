"""The consultation lines of ``data/hotlines.yaml``: one model, shared by the build and the tests.

Editors are not programmers, so a mistake in the file must come back as one line per
problem, ``data/hotlines.yaml:LINE:COL path.to.field: what to fix``, all problems at once,
and never as a traceback.  Pydantic checks the shape; the cross-field rules (references,
duplicates, overlapping hours) are checked here after it, and every error path is mapped
back to the YAML node it came from with ``yaml.compose``.

PyYAML follows YAML 1.1, where an unquoted ``9:00`` is the integer 540 and ``0120`` is 80.
Models are strict, so such values are refused with a hint to quote them instead of being
quietly converted.
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
)

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
Day = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
Audience = Literal["women", "men", "children", "anyone"]

# A closing time of "24:00": the end of the day (the last instant before midnight).  A line
# open around the clock is written "00:00" to "24:00" on every day.
END_OF_DAY = datetime.time.max

STALE_AFTER_DAYS = 365  # ./run check warns when a line was last checked longer ago than this


class DataError(SystemExit):
    """Raised with every problem found; exits with status 1 and prints only the lines.

    A ``SystemExit`` so that Pelican, which logs other exceptions with a traceback, lets
    it through untouched.
    """

    def __init__(self, lines: list[str]):
        self.lines = lines
        super().__init__("\n".join(lines))


def _quoted(kind: str, example: str):
    def check(value: Any) -> Any:
        if isinstance(value, str):
            return value
        if isinstance(value, bool):
            shown = "true/false (yes/no/on/off)"
        elif isinstance(value, datetime.date):
            shown = f"the date {value.isoformat()}"
        else:
            shown = f"the number {value!r}"
        raise ValueError(
            f'write the {kind} in double quotes, e.g. "{example}" '
            f"(without quotes YAML reads it as {shown})"
        )

    return check


def _clock(value: str) -> datetime.time:
    match = re.fullmatch(r"([01]\d|2[0-3]):([0-5]\d)", value)
    if not match:
        raise ValueError(f'a time must be "HH:MM" with two digits each, e.g. "09:00", not "{value}"')
    return datetime.time(int(match[1]), int(match[2]))


def _closing_clock(value: str) -> datetime.time:
    """A closing time: "HH:MM", or "24:00" for the end of the day."""
    if value == "24:00":
        return END_OF_DAY
    return _clock(value)


def _month_day(value: str) -> tuple[int, int]:
    match = re.fullmatch(r"(\d\d)-(\d\d)", value)
    if match:
        month, day = int(match[1]), int(match[2])
        try:
            datetime.date(2024, month, day)  # a leap year, so 02-29 is allowed
            return month, day
        except ValueError:
            pass
    raise ValueError(f'a yearly date must be "MM-DD", e.g. "12-29", not "{value}"')


def _date(value: str) -> datetime.date:
    match = re.fullmatch(r"(\d{4})-(\d\d)-(\d\d)", value)
    if match:
        try:
            return datetime.date(int(match[1]), int(match[2]), int(match[3]))
        except ValueError:
            pass
    raise ValueError(f'a date must be "YYYY-MM-DD", e.g. "2027-05-06", not "{value}"')


EMERGENCY_NUMBERS = ("110", "119")  # the police and the fire brigade/ambulance


def _phone(value: str) -> str:
    if re.fullmatch(r"#\d{4}", value) or value in EMERGENCY_NUMBERS:  # nationwide short numbers
        return value
    if not re.fullmatch(r"0\d{1,4}-\d{1,4}-\d{3,5}", value) or len(value.replace("-", "")) not in (10, 11):
        raise ValueError(
            f'a phone number must be written with hyphens as dialled in Japan, e.g. "03-5467-2455" '
            f'(or a short number such as "#9110"), not "{value}"'
        )
    return value


def _web_url(value: str) -> str:
    if not re.fullmatch(r"https?://[^\s/]+\.[^\s]+", value):
        raise ValueError(f'a web address must start with http:// or https://, not "{value}"')
    return value


# Safeline's own earlier page, the seed of this site: a line may name it as its source only
# while no official page states the number and hours, and must then say so (source_note).
SEED_HOSTS = ("www.safe-line.jp", "safe-line.jp")


def _source_url(value: str) -> str:
    if not re.fullmatch(r"https://[^\s/?#]+\.[^\s/?#]+(/\S*)?", value):
        raise ValueError(
            "write the https:// address of the official page that states this number and its hours, "
            f'e.g. "https://www.moj.go.jp/JINKEN/jinken20.html", not "{value}"'
        )
    return value


def _checked_date(value: str) -> datetime.date:
    """The day the entry was last compared with its source: a real date, not in the future."""
    try:
        day = _date(value)
    except ValueError:
        raise ValueError(
            f'write the day you compared this line with its source as "YYYY-MM-DD", e.g. "2026-12-02", not "{value}"'
        ) from None
    today = _tokyo_today()
    if day > today:
        raise ValueError(
            f"the date {day.isoformat()} is in the future (today is {today.isoformat()} in Tokyo); "
            "write the day you last compared this line with its source"
        )
    return day


def _tokyo_today() -> datetime.date:
    from zoneinfo import ZoneInfo

    return datetime.datetime.now(ZoneInfo("Asia/Tokyo")).date()


def _area(value: Any) -> Any:
    """``area:`` names a place in both languages; a bare word (``area: tokyo``) gets a hint."""
    if value is None or isinstance(value, dict):
        return value
    raise ValueError(
        "write the area where callers must live, study or work in both languages, on two lines "
        "below area:, e.g. ja: 東京都 and en: Tokyo (leave area: out for a line anyone in Japan can call)"
    )


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("this text must not be empty")
    return value.strip()


Text = Annotated[str, BeforeValidator(_quoted("text", "…")), AfterValidator(_not_blank)]
Clock = Annotated[datetime.time, BeforeValidator(lambda v: _clock(_quoted("time", "09:00")(v)))]
ClosingClock = Annotated[datetime.time, BeforeValidator(lambda v: _closing_clock(_quoted("time", "21:00")(v)))]
MonthDay = Annotated[tuple[int, int], BeforeValidator(lambda v: _month_day(_quoted("date", "12-29")(v)))]
Date = Annotated[datetime.date, BeforeValidator(lambda v: _date(_quoted("date", "2027-05-06")(v)))]
Phone = Annotated[str, BeforeValidator(_quoted("phone number", "03-5467-2455")), AfterValidator(_phone)]
WebUrl = Annotated[str, BeforeValidator(_quoted("web address", "https://…")), AfterValidator(_web_url)]
SourceUrl = Annotated[str, BeforeValidator(_quoted("web address", "https://…")), AfterValidator(_source_url)]
Checked = Annotated[datetime.date, BeforeValidator(lambda v: _checked_date(_quoted("date", "2026-12-02")(v)))]
Slug = Annotated[
    str,
    BeforeValidator(_quoted("id", "tokyo-womens-plaza")),
    Field(pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$"),
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class Localized(_Strict):
    """Human text in both languages of the site; neither may be missing."""

    ja: Text
    en: Text

    def __getitem__(self, lang: str) -> str:
        return getattr(self, lang)


class Block(_Strict):
    """One weekly opening: the same hours on each of ``days``."""

    days: list[Day] = Field(min_length=1)
    open: Clock
    close: ClosingClock

    @property
    def all_day(self) -> bool:
        return self.open == datetime.time(0, 0) and self.close == END_OF_DAY


class ExtraOpening(_Strict):
    """A day the line is open with these hours instead of its usual ones, even on a holiday."""

    date: Date
    open: Clock
    close: ClosingClock


class ClosedPeriod(_Strict):
    """A period closed every year, e.g. the New Year holidays; may run over the new year.

    ``assumed`` says, in both languages, what was assumed about the dates when the sources
    name the period only in words (「年末年始」): the page then shows the name alone, as the
    sources do, the badge still uses ``from``/``to``, and ./run check lists the assumption."""

    name: Localized
    from_: MonthDay = Field(alias="from")
    to: MonthDay
    assumed: Localized | None = None


class WebLink(_Strict):
    label: Localized
    url: WebUrl


# The fields that describe regular hours; a line with ``hours_note`` instead has none of them.
REGULAR_HOURS_FIELDS = ("closed_on_holidays", "closed_periods", "closed_dates", "extra_openings")


class Line(_Strict):
    """A phone line.  Its hours are either regular (``hours`` and the fields that go with them:
    the schedule engine and the live badge use them) or, when they differ from place to place,
    only in words (``hours_note``).  ``source`` and ``checked`` say where the number and the
    hours were read, and when."""

    id: Slug
    name: Localized
    audience: Audience
    emergency: bool = False  # 110: shown apart from the lines for advice ("in danger now")
    # Only for callers in one area (e.g. Tokyo); None: anyone in Japan.  Pages list these lines last.
    area: Annotated[Localized | None, BeforeValidator(_area)] = None
    phone: Phone
    hours: list[Block] = []  # required unless hours_note is given (checked below)
    hours_note: Localized | None = None
    closed_on_holidays: bool = False  # required with hours (checked below)
    closed_periods: list[Slug] = []
    closed_dates: list[Date] = []  # one-off closures, e.g. ["2027-05-06"]
    extra_openings: list[ExtraOpening] = []  # one-off openings, e.g. on a holiday
    eligibility: Localized
    note: Localized | None = None
    source: SourceUrl
    source_note: Localized | None = None  # required when source is the seed page (checked below)
    checked: Checked

    @property
    def seed_only(self) -> bool:
        """The only source at hand is Safeline's own earlier page: to be confirmed by phone."""
        return urlsplit(self.source).hostname in SEED_HOSTS

    @property
    def regular(self) -> bool:
        """Regular weekly hours: the schedule engine and the live badge apply."""
        return bool(self.hours)

    @property
    def short_number(self) -> bool:
        """A nationwide short number such as #9110, or an emergency number (110)."""
        return self.phone.startswith("#") or self.phone in EMERGENCY_NUMBERS

    @property
    def tel(self) -> str:
        """The ``tel:`` URI; digits only, as dialled inside Japan (# written %23)."""
        return "tel:" + self.phone.replace("-", "").replace("#", "%23")

    @property
    def phone_international(self) -> str:
        """E.g. +81-3-5467-2455, as schema.org's ``telephone`` prefers; a short number as it is."""
        return self.phone if self.short_number else "+81-" + self.phone[1:]


class Organisation(_Strict):
    id: Slug
    name: Localized
    description: Localized | None = None
    referral: Localized | None = None
    lines: list[Line] = Field(min_length=1)
    web: list[WebLink] = []


class Directory(_Strict):
    closed_periods: dict[Slug, ClosedPeriod] = {}
    organisations: list[Organisation] = Field(min_length=1)

    @property
    def lines(self) -> list[Line]:
        return [line for org in self.organisations for line in org.lines]

    def closures(self, line: Line) -> list[ClosedPeriod]:
        return [self.closed_periods[name] for name in line.closed_periods]


# -- loading -----------------------------------------------------------------------------

Loc = tuple[int | str, ...]


@dataclass(frozen=True)
class Problem:
    loc: Loc
    message: str
    at_key: bool = False  # point at the key of the last path element, not at its value
    mark: yaml.Mark | None = None  # where it is, when the path alone cannot tell (a repeated key)


_MESSAGES = {
    "missing": "this field is required but missing",
    "extra_forbidden": "unknown field; check the spelling (allowed fields are listed in README.md)",
    "literal_error": None,  # pydantic's own text lists the allowed values
    "bool_type": "write true or false",
    "list_type": "this must be a list (lines starting with '- ', or [a, b])",
    "model_type": "this must be a group of 'name: value' lines",
    "model_attributes_type": "this must be a group of 'name: value' lines",
    "dict_type": "this must be a group of 'name: value' lines",
    "too_short": "this list must not be empty",
    "string_pattern_mismatch": "use only lowercase letters a-z, digits and single hyphens, e.g. tokyo-womens-plaza",
}


_MISSING = {
    "source": "this field is required but missing: add source: with the https:// address of the official "
              "page that states this number and its hours",
    "checked": 'this field is required but missing: add checked: with the day you compared this line with '
               'its source, in double quotes, e.g. "2026-12-02"',
}


def _message(error: dict) -> str:
    kind = error["type"]
    if kind == "missing" and error["loc"] and error["loc"][-1] in _MISSING:
        return _MISSING[error["loc"][-1]]
    if kind == "value_error":
        return str(error["ctx"]["error"])
    if kind == "literal_error":
        return f"must be one of {error['ctx']['expected']}, not {error['input']!r}"
    return _MESSAGES.get(kind) or error["msg"]


def _pydantic_loc(loc: tuple) -> Loc:
    # "from" is stored under the Python name "from_"; tagged unions and validators add no steps here.
    return tuple("from" if part == "from_" else part for part in loc)


def _semantic_problems(directory: Directory) -> list[Problem]:
    problems: list[Problem] = []
    seen: dict[str, Loc] = {}
    for o, org in enumerate(directory.organisations):
        ids = [((("organisations", o, "id")), org.id)]
        ids += [(("organisations", o, "lines", n, "id"), line.id) for n, line in enumerate(org.lines)]
        for loc, ident in ids:
            if ident in seen:
                problems.append(Problem(loc, f'the id "{ident}" is already used at {".".join(map(str, seen[ident]))}; ids must be unique'))
            else:
                seen[ident] = loc
        for n, line in enumerate(org.lines):
            here = ("organisations", o, "lines", n)
            problems += _hours_kind_problems(line, here)
            problems += _source_note_problems(line, here)
            for c, name in enumerate(line.closed_periods):
                if name not in directory.closed_periods:
                    known = ", ".join(directory.closed_periods) or "none defined"
                    problems.append(Problem(here + ("closed_periods", c), f'no closed period named "{name}" (defined: {known})'))
            taken: dict[str, list[tuple[int, Block]]] = {}
            for b, block in enumerate(line.hours):
                loc = here + ("hours", b)
                if block.close <= block.open:
                    problems.append(Problem(loc + ("close",), f"closing time {block.close:%H:%M} must be after opening time {block.open:%H:%M}"))
                if len(set(block.days)) != len(block.days):
                    problems.append(Problem(loc + ("days",), "a day is listed twice"))
                for day in dict.fromkeys(block.days):
                    for other_index, other in taken.get(day, []):
                        if block.open < other.close and other.open < block.close:
                            problems.append(Problem(loc, f"on {day} these hours overlap hours.{other_index}; merge them into one block"))
                    taken.setdefault(day, []).append((b, block))
            problems += _one_off_problems(line, here)
    return problems


def _source_note_problems(line: Line, here: Loc) -> list[Problem]:
    """A line sourced only to the seed page says so in words; no other line has that note."""
    if line.seed_only and line.source_note is None:
        return [Problem(here + ("source",), "this source is Safeline's own earlier page, not an official one: add "
                        "source_note: in both languages (ja, en) saying so, and list the line in README.md under "
                        "「電話で確かめること」 (to confirm by phone)")]
    if not line.seed_only and line.source_note is not None:
        return [Problem(here + ("source_note",), "source_note is only for a line whose source is Safeline's own earlier "
                        "page (https://www.safe-line.jp/); this line has an official source: remove source_note",
                        at_key=True)]
    return []


def _hours_kind_problems(line: Line, here: Loc) -> list[Problem]:
    """Regular ``hours`` (with ``closed_on_holidays``) or ``hours_note`` in words: one of the two.

    An emergency line (110) may have neither: no official page we could read states its hours,
    and promise 8 says a page states no hour without one, so its card shows none."""
    given = line.model_fields_set
    if line.hours and line.hours_note is not None:
        return [Problem(here + ("hours_note",), "write either hours (regular weekly hours) or hours_note "
                        "(hours in words, when they differ from place to place), not both", at_key=True)]
    if not line.hours and line.hours_note is None:
        if line.emergency:  # 110: its sources give no hours, so the page states none
            return [Problem(here + (name,), f"{name} is only for lines with regular hours", at_key=True)
                    for name in REGULAR_HOURS_FIELDS if name in given]
        return [Problem(here + ("hours",), "this field is required but missing: write hours (regular weekly hours), "
                        "or hours_note in both languages when the hours differ from place to place")]
    if line.hours_note is not None:
        return [Problem(here + (name,), f"{name} is only for lines with regular hours; with hours_note, say it in words",
                        at_key=True) for name in REGULAR_HOURS_FIELDS if name in given]
    if "closed_on_holidays" not in given:
        return [Problem(here + ("closed_on_holidays",), "this field is required but missing")]
    return []


def _one_off_problems(line: Line, here: Loc) -> list[Problem]:
    """One-off closures and openings: no date twice, no day both closed and open, no overlap."""
    problems: list[Problem] = []
    closed: dict[datetime.date, int] = {}
    for c, day in enumerate(line.closed_dates):
        if day in closed:
            problems.append(Problem(here + ("closed_dates", c), f"the date {day.isoformat()} is listed twice (closed_dates.{closed[day]}); keep one"))
        else:
            closed[day] = c
    opened: dict[datetime.date, list[tuple[int, ExtraOpening]]] = {}
    for e, extra in enumerate(line.extra_openings):
        loc = here + ("extra_openings", e)
        if extra.close <= extra.open:
            problems.append(Problem(loc + ("close",), f"closing time {extra.close:%H:%M} must be after opening time {extra.open:%H:%M}"))
        if extra.date in closed:
            problems.append(Problem(loc + ("date",), f"{extra.date.isoformat()} is also in closed_dates.{closed[extra.date]}; a day is either closed or open: remove one of them"))
        for other_index, other in opened.get(extra.date, []):
            if extra.open < other.close and other.open < extra.close:
                problems.append(Problem(loc, f"on {extra.date.isoformat()} these hours overlap extra_openings.{other_index}; merge them into one"))
        opened.setdefault(extra.date, []).append((e, extra))
    return problems


def _node_at(root: yaml.Node, loc: Loc, at_key: bool) -> yaml.Node:
    """The deepest YAML node along ``loc``; for a missing field, the mapping that lacks it."""
    node = root
    for i, part in enumerate(loc):
        last = i == len(loc) - 1
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if key.value == part:
                    node = key if (last and at_key) else value
                    break
            else:
                return node
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
        else:
            return node
    return node


def _duplicate_keys(node: yaml.Node, loc: Loc = ()) -> list[Problem]:
    """PyYAML keeps the last of two equal keys without a word; an editor needs to know."""
    problems: list[Problem] = []
    if isinstance(node, yaml.MappingNode):
        seen = set()
        for key, value in node.value:
            if key.value in seen:
                problems.append(Problem(loc + (key.value,), f'"{key.value}" is written twice here; keep one', mark=key.start_mark))
            seen.add(key.value)
            problems += _duplicate_keys(value, loc + (key.value,))
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            problems += _duplicate_keys(item, loc + (i,))
    return problems


def _format(path: str, root: yaml.Node | None, problem: Problem) -> str:
    dotted = ".".join(str(p) for p in problem.loc) or "(top level)"
    if root is None:
        return f"{path}:1:1 {dotted}: {problem.message}"
    mark = problem.mark or _node_at(root, problem.loc, problem.at_key).start_mark
    return f"{path}:{mark.line + 1}:{mark.column + 1} {dotted}: {problem.message}"


def load(path: str | Path, shown_as: str | None = None) -> Directory:
    """Read and check the file; raise ``DataError`` listing every problem.

    ``shown_as`` is the name used in messages (by default the path as given).
    """
    path = Path(path)
    name = shown_as or str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DataError([f"{name}:1:1 (file): the file does not exist"]) from None
    except UnicodeDecodeError as error:
        raise DataError([f"{name}:1:1 (file): the file must be saved as UTF-8 ({error.reason})"]) from None
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        where = f"{mark.line + 1}:{mark.column + 1}" if mark else "1:1"
        raise DataError([f"{name}:{where} (syntax): {error.problem or error}; check the indentation and quotes on this line and the one above"]) from None
    if not isinstance(data, dict):
        raise DataError([_format(name, root, Problem((), "the file must start with 'closed_periods:' and 'organisations:'"))])

    problems = _duplicate_keys(root)
    directory = None
    try:
        directory = Directory.model_validate(data)
    except ValidationError as error:
        problems += [Problem(_pydantic_loc(e["loc"]), _message(e), at_key=e["type"] == "extra_forbidden") for e in error.errors()]
    if directory is not None:
        problems += _semantic_problems(directory)
    if problems:
        lines = [_format(name, root, p) for p in problems]
        lines.sort(key=lambda text: [int(n) for n in text[len(name) + 1 :].split(" ", 1)[0].split(":")[:2]])
        raise DataError(lines)
    return directory


def stale_checks(path: str | Path, shown_as: str | None = None, today: datetime.date | None = None,
                 max_days: int = STALE_AFTER_DAYS) -> list[str]:
    """One line per line of the file whose ``checked`` is more than ``max_days`` ago (a year by
    default), ``file:LINE:COL path.checked: …`` like the errors; an empty list when all are recent.

    These are warnings, not errors: the number may well still be right, but someone should
    open the source page and compare it again.
    """
    path = Path(path)
    name = shown_as or str(path)
    directory = load(path, shown_as=name)
    root = yaml.compose(path.read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
    today = today or _tokyo_today()
    warnings = []
    for o, org in enumerate(directory.organisations):
        for n, line in enumerate(org.lines):
            age = (today - line.checked).days
            if age > max_days:
                problem = Problem(("organisations", o, "lines", n, "checked"),
                                  f"{line.id} was last compared with its source on {line.checked.isoformat()}, "
                                  f"{age} days ago (more than a year): open {line.source}, compare the number "
                                  "and the hours, correct them if needed, then write today's date here")
                warnings.append(_format(name, root, problem))
    return warnings


def assumptions(path: str | Path, shown_as: str | None = None) -> list[tuple[str, str]]:
    """What the data assumes rather than knows, one line each, ``file:LINE:COL path: …`` like
    the errors: closed periods whose dates the sources do not give (``assumed``), and lines
    whose only source is the seed page (``source_note``), as ``(kind, line)`` with kind
    "assumed" or "seed".  ./run check prints them; they are reminders to confirm, never failures."""
    path = Path(path)
    name = shown_as or str(path)
    directory = load(path, shown_as=name)
    root = yaml.compose(path.read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
    found = []
    for key, period in directory.closed_periods.items():
        if period.assumed is not None:
            (m1, d1), (m2, d2) = period.from_, period.to
            problem = Problem(("closed_periods", key, "assumed"),
                              f"the dates of {period.name.en} ({m1:02d}-{d1:02d} to {m2:02d}-{d2:02d}) are assumed: "
                              f"{period.assumed.en}")
            found.append(("assumed", _format(name, root, problem)))
    for o, org in enumerate(directory.organisations):
        for n, line in enumerate(org.lines):
            if line.source_note is not None:
                problem = Problem(("organisations", o, "lines", n, "source_note"),
                                  f"{line.id} ({line.phone}) has no official source yet: {line.source_note.en}")
                found.append(("seed", _format(name, root, problem)))
    return found
