"""Removal request drafts: a template per kind of target, filled for chosen addresses of a case.

``safeline-staff draft REFERENCE --target TARGET [--lang ja|en] [--url URL …] [--to ADDRESS]``
prints a request's subject and body, to copy into a site's web form, and a ``mailto:`` link
(RFC 6068) that opens the staff member's own mail client with them filled in. The kit sends
nothing. ``--sent`` records that the request went out (a ``request`` event, see
``staff.events``), with ``--target-name``, ``--method`` and ``--ticket``.

The templates
-------------

Plain text files in the kit's folder, ``request-templates/`` (``Home.folder``), one per kind
of target and language: ``TARGET.LANG.txt`` (``site.ja.txt``, ``host.en.txt``…), where TARGET
is one of ``site`` (the site's operator), ``host`` (its hosting provider), ``registrar`` (the
domain's registrar), ``search`` (a search engine: remove from its results), ``platform`` (a
platform's report form: short). ``safeline-staff drafts init`` copies the shipped defaults
(``staff/request_templates/``) there; staff edit them with any text editor. A file missing
from the folder is read from the shipped defaults.

There is no default for ``police``: telling the police is not a removal request, and what the
police are told is about the person in the images and what was done to them, with their
consent: words a draft about addresses must not hold. A team that wants a text for it may write
``police.ja.txt`` / ``police.en.txt`` themselves; the kit then uses and checks it like the others.

A template file, UTF-8 (a byte order mark is ignored)::

    # comment lines (starting with #) may come before the subject
    件名: 画像の削除のお願い（{hosts}）       <- or "Subject: …"
                                             <- an empty line
    {target_name}                             <- the body, to the end of the file
    ご担当者様
    …
    {url_number}. {url}                       <- a line with {url}: once per chosen address

A placeholder is a name in half-width braces. ``{{`` and ``}}`` stand for a brace itself.
A line of the body in which every placeholder is empty (no ticket yet, no e-mail address
in ``sender.txt``…) is left out of the draft, so optional lines need no special syntax.

The placeholders (``PLACEHOLDERS``; the folder's README lists them in Japanese and English):

- ``{url}``: a chosen address; its line is repeated once for each, in the case's order.
- ``{url_number}``: 1, 2, 3… (only on a line with ``{url}``).
- ``{url_host}``: that address's host name (only on a line with ``{url}``).
- ``{url_count}``: how many addresses the draft names.
- ``{hosts}``: their host names, each once ("a.example, b.example" / "a.example、b.example").
- ``{today}``: today's date in Japan ("2026年12月6日" / "6 December 2026").
- ``{next_date}``: the date the kit will check again: today + ``recheck_days`` (config.json).
- ``{previous_date}``: when the last request to the same kind of target about these
  addresses was sent ("" for a first request).
- ``{ticket}``: the target's own ticket number for this matter (``--ticket``, else the
  latest one recorded with an earlier request to the same kind of target; "" if none).
- ``{target_name}``: the recipient's name (``--target-name``; "" when not given).
- ``{sender_name}``, ``{sender_organisation}``, ``{sender_email}``, ``{sender_phone}``,
  ``{sender_website}``, ``{sender_address}``, ``{staff_name}``: from ``sender.txt``.

Nothing in a draft comes from the report: not the reference (the reporter knows it), not the
e-mail address, the description, the contact notes or the dates of the report. Only the
addresses themselves and their hosts. Whatever staff want to add about the person, they add.

``sender.txt``
--------------

The hotline's name and contact, one ``KEY: VALUE`` a line (``#`` starts a comment): ``name``,
``organisation``, ``email``, ``phone``, ``website``, ``address``, ``staff_name``, each also as
``KEY_ja`` / ``KEY_en`` for one language only (that one wins). The shipped file holds what
Safeline's own pages say (the name セーフライン / Safeline, its operator 一般社団法人
セーファーインターネット協会 / Safer Internet Association (SIA) and that association's
website); the e-mail address, phone, postal address and the staff member's name are empty
until staff fill them in.

Checking and updating
---------------------

``safeline-staff drafts check`` reads every template and ``sender.txt`` and names, for each
problem, the file, the line and what to fix (an unknown placeholder with the nearest known
one, a brace without its pair, a missing subject, a body that never names the addresses).
``draft`` refuses a broken template with the same message.

``drafts init`` never overwrites a file staff edited. It remembers what it copied (a SHA-256
of each file, in ``.shipped``): when a later version of the kit ships a changed default,
``drafts init`` again replaces the files nobody edited, copies new ones, and for an edited
file writes the new default beside it as ``NAME.new`` for staff to compare (never read as a
template).

The ``mailto:`` link
--------------------

Encoded as ``staff.reply.mailto`` does (RFC 6068: UTF-8, percent-encoded, CRLF line breaks).
Browsers and mail clients cut or refuse long links: on Windows, Chromium does not open an
external (``mailto:``) link longer than 2,048 characters (``platform_util_win.cc``, after
Mozilla's own limit, "2K is safe"), and Internet Explorer's URLs stopped at 2,083. A Japanese
character takes 9 once encoded, so a request of a few hundred characters passes that. Above
``MAILTO_LIMIT`` the link carries the address and subject only, and the kit says to paste the
body, which it printed above (``--long-link`` prints the whole link anyway, for clients that
take it).
"""

from __future__ import annotations

import argparse
import difflib
import hashlib
import re
import sys
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import TextIO

from .events import METHODS, TARGETS, canonical_url
from .problems import StaffError
from .reply import mailto

DEFAULT_TARGETS = ("site", "host", "registrar", "search", "platform")  # police: see the docstring
LANGUAGES = ("ja", "en")
FOLDER_NAME = "request-templates"
SENDER_FILE = "sender.txt"
README_FILE = "README.md"
SHIPPED_FILE = ".shipped"
MAILTO_LIMIT = 2000

# name: (English, Japanese) — what each placeholder becomes. The folder's README says the same.
PLACEHOLDERS = {
    "url": ("a chosen address; its line is repeated once for each",
            "選んだURL。この行はURLごとにくり返されます"),
    "url_number": ("1, 2, 3… (only on a line with {url})", "1, 2, 3…の番号({url} のある行だけ)"),
    "url_host": ("that address's host name (only on a line with {url})",
                 "そのURLのホスト名({url} のある行だけ)"),
    "url_count": ("how many addresses the draft names", "下書きに載せるURLの数"),
    "hosts": ("their host names, each once", "URLのホスト名(重複なし)"),
    "today": ("today's date (Japan)", "今日の日付(日本時間)"),
    "next_date": ("the date the kit will check again (today + recheck_days)",
                  "次に確認する日(今日+recheck_days日)"),
    "previous_date": ("when the last request to the same kind of target was sent (empty for a first request)",
                      "同じ種類の依頼先へ前回依頼した日(初回は空)"),
    "ticket": ("the target's ticket number (--ticket, or the one recorded with an earlier request)",
               "依頼先の受付番号(--ticket、または前回の依頼で記録した番号)"),
    "target_name": ("the recipient's name (--target-name)", "依頼先の名前(--target-name)"),
    "sender_name": ("the hotline's name (sender.txt: name)", "窓口の名前(sender.txt の name)"),
    "sender_organisation": ("its operator (sender.txt: organisation)", "運営団体(sender.txt の organisation)"),
    "sender_email": ("its e-mail address (sender.txt: email)", "メールアドレス(sender.txt の email)"),
    "sender_phone": ("its phone number (sender.txt: phone)", "電話番号(sender.txt の phone)"),
    "sender_website": ("its website (sender.txt: website)", "ウェブサイト(sender.txt の website)"),
    "sender_address": ("its postal address (sender.txt: address)", "住所(sender.txt の address)"),
    "staff_name": ("the staff member's name (sender.txt: staff_name)", "担当者の名前(sender.txt の staff_name)"),
}
URL_PLACEHOLDERS = ("url", "url_number", "url_host")
SENDER_KEYS = {"name": "sender_name", "organisation": "sender_organisation", "email": "sender_email",
               "phone": "sender_phone", "website": "sender_website", "address": "sender_address",
               "staff_name": "staff_name"}
SUBJECT_LABELS = ("件名", "subject")
_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December")
_TOKEN = re.compile(r"\{\{|\}\}|\{([^{}\n]*)\}|[{}]")
_FULL_WIDTH = re.compile(r"｛([^｛｝\n]*)｝")
_NAME = re.compile(r"([a-z]+)\.([a-z]+)\.txt")


class TemplateError(StaffError):
    """A template or sender.txt that cannot be used; the message names file, line and fix."""


# -- where the templates are -------------------------------------------------------------------

def shipped() -> Path:
    """The folder of the shipped defaults (inside the installed package)."""
    return Path(str(resources.files("staff") / "request_templates"))


def folder_of(home) -> Path:
    """The kit's own templates folder (it may not exist yet)."""
    return Path(home.folder) / FOLDER_NAME


def template_name(target: str, language: str) -> str:
    return f"{target}.{language}.txt"


def _source(folder: Path | None, name: str) -> Path | None:
    """The file ``name`` in ``folder`` when present, else the shipped default, else None."""
    for base in ([folder] if folder else []) + [shipped()]:
        path = base / name
        if path.is_file():
            return path
    return None


# -- reading templates ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Template:
    path: Path
    subject: str
    subject_line: int
    body: tuple[tuple[int, str], ...]  # (line number in the file, text)


def _read_text(path: Path) -> str:
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise TemplateError(f"{path}: cannot be read ({error.strerror or 'error'})") from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise TemplateError(f"{path}: is not UTF-8 text: save it as UTF-8 (in Notepad: Save as, Encoding UTF-8)") \
            from None


def _placeholders(path: Path, number: int, text: str) -> list[str]:
    """The placeholder names in one line, or a TemplateError naming what is wrong."""
    names = []
    for match in _FULL_WIDTH.finditer(text):
        name = unicodedata.normalize("NFKC", match.group(1)).strip()
        if name in PLACEHOLDERS:
            raise TemplateError(f"{path}:{number}: ｛{match.group(1)}｝ has full-width braces: write {{{name}}} "
                                "with half-width { }")
    for match in _TOKEN.finditer(text):
        token = match.group(0)
        if token in ("{{", "}}"):
            continue
        if match.group(1) is None:
            pair = "}" if token == "{" else "{"
            raise TemplateError(f"{path}:{number}: a {token} without its {pair}: a placeholder is written "
                                f"{{name}}; for a brace itself write {token}{token}")
        name = match.group(1)
        if name not in PLACEHOLDERS:
            close = difflib.get_close_matches(unicodedata.normalize("NFKC", name).strip().lower(),
                                              list(PLACEHOLDERS), n=1, cutoff=0.6)
            hint = f"did you mean {{{close[0]}}}? " if close else ""
            raise TemplateError(f"{path}:{number}: unknown placeholder {{{name}}}: {hint}the placeholders are "
                                f"listed in {README_FILE}")
        names.append(name)
    return names


def parse_template(text: str, path: Path) -> Template:
    """A template file's text → ``Template``; ``TemplateError`` ("FILE:LINE: what to fix")."""
    lines = text.splitlines()
    number = 0
    while number < len(lines) and (not lines[number].strip() or lines[number].lstrip().startswith("#")):
        number += 1
    if number == len(lines):
        raise TemplateError(f"{path}:1: the file has no subject: begin it with a line "
                            "\"件名: …\" (or \"Subject: …\")")
    first = unicodedata.normalize("NFKC", lines[number])
    label, colon, subject = first.partition(":")
    if not colon or label.strip().lower() not in SUBJECT_LABELS:
        raise TemplateError(f"{path}:{number + 1}: the first line (after # comments) must be the subject: "
                            "\"件名: …\" or \"Subject: …\"")
    # The subject as typed, after its label and colon (NFKC only found them).
    subject = re.split(r"[:：]", lines[number], maxsplit=1)[1].strip()
    subject_line = number + 1
    if not subject:
        raise TemplateError(f"{path}:{subject_line}: the subject is empty: write it after \"件名:\"")
    for name in _placeholders(path, subject_line, subject):
        if name in URL_PLACEHOLDERS:
            raise TemplateError(f"{path}:{subject_line}: {{{name}}} cannot be in the subject (it is one line): "
                                "use {hosts} or {url_count}")
    body = [(index + 1, lines[index].rstrip()) for index in range(number + 1, len(lines))]
    while body and not body[0][1].strip():
        body.pop(0)
    while body and not body[-1][1].strip():
        body.pop()
    if not body:
        raise TemplateError(f"{path}:{subject_line + 1}: the body is empty: write it after the subject and an "
                            "empty line")
    has_url = False
    for line_number, line in body:
        names = _placeholders(path, line_number, line)
        if "url" in names:
            has_url = True
        elif any(name in URL_PLACEHOLDERS for name in names):
            wrong = next(name for name in names if name in URL_PLACEHOLDERS)
            raise TemplateError(f"{path}:{line_number}: {{{wrong}}} only works on a line that also has {{url}}")
    if not has_url:
        raise TemplateError(f"{path}:{subject_line}: the body never names the addresses: add a line with {{url}} "
                            "(it is repeated for each address)")
    return Template(path=path, subject=subject, subject_line=subject_line, body=tuple(body))


def read_template(path: Path) -> Template:
    return parse_template(_read_text(path), path)


def load_template(folder: Path | None, target: str, language: str) -> Template:
    """The template for ``target`` in ``language``: the folder's, else the shipped default."""
    if target not in TARGETS:
        raise TemplateError(f"no such target: one of {', '.join(TARGETS)}")
    if language not in LANGUAGES:
        raise TemplateError(f"no such language: one of {', '.join(LANGUAGES)}")
    path = _source(folder, template_name(target, language))
    if path is None:
        if target == "police":
            raise TemplateError("the kit has no draft for the police: telling the police is not a removal request "
                                "and is about the person, with their consent. Write police.ja.txt / police.en.txt "
                                f"in {folder or FOLDER_NAME} if the team wants one")
        raise TemplateError(f"no template {template_name(target, language)}: run `safeline-staff drafts init`")
    return read_template(path)


# -- sender.txt ---------------------------------------------------------------------------------

def parse_sender(text: str, path: Path) -> dict[str, dict[str, str]]:
    """sender.txt → {language or "": {placeholder: value}}."""
    values: dict[str, dict[str, str]] = {"": {}, "ja": {}, "en": {}}
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        parts = re.split(r"[:：]", stripped, maxsplit=1)
        if len(parts) < 2:
            raise TemplateError(f"{path}:{number}: write \"KEY: VALUE\" (for example \"email: …\"), or start the "
                                "line with # for a comment")
        key, value = unicodedata.normalize("NFKC", parts[0]).strip().lower(), parts[1]
        language = ""
        base = key
        for suffix in LANGUAGES:
            if key.endswith("_" + suffix):
                base, language = key[: -len(suffix) - 1], suffix
        if base not in SENDER_KEYS:
            close = difflib.get_close_matches(base, list(SENDER_KEYS), n=1, cutoff=0.6)
            hint = f"did you mean {close[0]}? " if close else ""
            raise TemplateError(f"{path}:{number}: unknown key {key}: {hint}the keys are "
                                f"{', '.join(SENDER_KEYS)} (each also with _ja or _en)")
        values[language][SENDER_KEYS[base]] = value.strip()
    return values


def load_sender(folder: Path | None, language: str) -> dict[str, str]:
    """The sender placeholders for ``language`` ("" for any not given)."""
    path = _source(folder, SENDER_FILE)
    by_language = parse_sender(_read_text(path), path) if path else {"": {}, "ja": {}, "en": {}}
    result = {name: "" for name in SENDER_KEYS.values()}
    result.update({name: value for name, value in by_language[""].items()})
    result.update({name: value for name, value in by_language[language].items()})
    return result


# -- filling ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Draft:
    target: str
    language: str
    urls: tuple[str, ...]
    subject: str
    body: str
    to: str = ""
    template: Path | None = None

    @property
    def mailto(self) -> str:
        return mailto(self.to, self.subject, self.body)

    @property
    def mailto_fits(self) -> bool:
        return len(self.mailto) <= MAILTO_LIMIT

    @property
    def short_mailto(self) -> str:
        """The link to open: with the body when it fits ``MAILTO_LIMIT``, else address and subject."""
        if self.mailto_fits:
            return self.mailto
        return mailto(self.to, self.subject, "")[: -len("&body=")]


def format_date(day: date | None, language: str) -> str:
    if day is None:
        return ""
    if language == "ja":
        return f"{day.year}年{day.month}月{day.day}日"
    return f"{day.day} {_MONTHS[day.month - 1]} {day.year}"


def _one_line(value: str) -> str:
    """A value as one line of visible text (an address typed by anyone: no control characters)."""
    from .casework import terminal_text

    return terminal_text(value)


def host_of(url: str) -> str:
    from .store import host_of as store_host_of

    return store_host_of(url).lower()


def _substitute(text: str, values: dict[str, str]) -> str:
    def replace(match: re.Match) -> str:
        token = match.group(0)
        if token == "{{":
            return "{"
        if token == "}}":
            return "}"
        return values[match.group(1)]
    return _TOKEN.sub(replace, text)


def fill(template: Template, *, urls: Sequence[str], language: str, today: date, recheck_days: int = 7,
         target: str = "", target_name: str = "", ticket: str = "", previous_date: date | None = None,
         sender: dict[str, str] | None = None, hosts: Sequence[str] | None = None, to: str = "") -> Draft:
    """``template`` filled for ``urls`` → ``Draft``. Only these values go in: nothing of a report."""
    if not urls:
        raise StaffError("no address to ask about: give --url, or the case has none")
    urls = tuple(_one_line(url) for url in urls)
    url_hosts = [_one_line(host) for host in (hosts if hosts is not None else [host_of(url) for url in urls])]
    distinct = list(dict.fromkeys(host for host in url_hosts if host))
    values = {name: "" for name in PLACEHOLDERS}
    values.update({name: _one_line(value) for name, value in (sender or {}).items() if name in PLACEHOLDERS})
    values.update({
        "url_count": str(len(urls)),
        "hosts": ("、" if language == "ja" else ", ").join(distinct),
        "today": format_date(today, language),
        "next_date": format_date(today + timedelta(days=recheck_days), language),
        "previous_date": format_date(previous_date, language),
        "ticket": _one_line(ticket.strip()),
        "target_name": _one_line(target_name.strip()),
    })
    # Brackets around a value that is empty (an address without a host name) go too.
    subject = " ".join(re.sub(r"[(（]\s*[)）]", "", _substitute(template.subject, values)).split())
    lines: list[str] = []
    dropped = False
    for _, line in template.body:
        names = [match.group(1) for match in _TOKEN.finditer(line) if match.group(1)]
        if "url" in names:
            for number, (url, host) in enumerate(zip(urls, url_hosts), start=1):
                lines.append(_substitute(line, {**values, "url": url, "url_number": str(number), "url_host": host}))
        elif names and all(not values[name].strip() for name in names):
            dropped = True
        else:
            lines.append(_substitute(line, values))
    if dropped:  # a paragraph that was only an empty line leaves no double gap
        lines = [line for index, line in enumerate(lines)
                 if line.strip() or index == 0 or lines[index - 1].strip()]
    return Draft(target=target, language=language, urls=urls, subject=subject, body="\n".join(lines).strip("\n"),
                 to=to.strip(), template=template.path)


# -- the folder: init and check -----------------------------------------------------------------

def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _read_shipped_record(folder: Path) -> dict[str, str]:
    record = {}
    try:
        text = (folder / SHIPPED_FILE).read_text(encoding="utf-8")
    except OSError:
        return record
    for line in text.splitlines():
        digest, _, name = line.partition("  ")
        if len(digest) == 64 and name:
            record[name] = digest
    return record


@dataclass
class InitReport:
    copied: list[str] = field(default_factory=list)    # new in the folder
    updated: list[str] = field(default_factory=list)   # unedited, replaced by a newer default
    kept: list[str] = field(default_factory=list)      # edited: kept, the new default beside it as .new
    unchanged: list[str] = field(default_factory=list)


def init_folder(folder: Path) -> InitReport:
    """Copy the shipped defaults into ``folder``, never over a file staff edited."""
    report = InitReport()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise StaffError(f"cannot make {folder} ({error.strerror or 'error'}): check that the kit's folder "
                         "can be written") from None
    record = _read_shipped_record(folder)
    source = shipped()
    for path in sorted(source.iterdir()):
        if not path.is_file() or path.name.startswith("."):
            continue
        data = path.read_bytes()
        target = folder / path.name
        new_default = folder / (path.name + ".new")
        if not target.exists():
            target.write_bytes(data)
            report.copied.append(path.name)
        else:
            current = target.read_bytes()
            if current == data:
                report.unchanged.append(path.name)
            elif record.get(path.name) == _digest(current):
                target.write_bytes(data)  # nobody edited it since it was copied: the new default replaces it
                report.updated.append(path.name)
            else:
                if not new_default.exists() or new_default.read_bytes() != data:
                    new_default.write_bytes(data)
                report.kept.append(path.name)
                continue
        record[path.name] = _digest(data)
        if new_default.exists():
            new_default.unlink()
    (folder / SHIPPED_FILE).write_text(
        "# What `safeline-staff drafts init` copied here (SHA-256): a file that still matches was not edited.\n"
        + "".join(f"{digest}  {name}\n" for name, digest in sorted(record.items())), encoding="utf-8")
    return report


def check_folder(folder: Path | None) -> tuple[list[str], list[str], int]:
    """(problems, notes, templates read): every template and sender.txt of ``folder`` (and the
    shipped defaults it does not replace)."""
    problems: list[str] = []
    notes: list[str] = []
    names: set[str] = {path.name for path in shipped().iterdir() if _NAME.fullmatch(path.name)}
    if folder is not None and folder.is_dir():
        for path in sorted(folder.iterdir()):
            if not path.is_file() or path.suffix != ".txt" or path.name == SENDER_FILE:
                continue
            match = _NAME.fullmatch(path.name)
            if not match or match.group(1) not in TARGETS or match.group(2) not in LANGUAGES:
                problems.append(f"{path}: not a template name: name it TARGET.LANG.txt, TARGET one of "
                                f"{', '.join(TARGETS)}, LANG ja or en")
                continue
            names.add(path.name)
    count = 0
    for name in sorted(names):
        path = _source(folder, name)
        try:
            read_template(path)
            count += 1
        except TemplateError as error:
            problems.append(str(error))
    for target in DEFAULT_TARGETS:
        for language in LANGUAGES:
            if template_name(target, language) not in names:
                notes.append(f"no template {template_name(target, language)}: `drafts init` copies the default")
    for language in LANGUAGES:
        try:
            sender = load_sender(folder, language)
        except TemplateError as error:
            problems.append(str(error))
            break
        if not sender["sender_email"] and not sender["sender_phone"]:
            notes.append(f"{SENDER_FILE}: no e-mail address or phone ({language}): the lines that show them are "
                         "left out of the drafts")
    return problems, list(dict.fromkeys(notes)), count


# -- a case's draft ------------------------------------------------------------------------------

def choose_urls(case_urls: Sequence[str], wanted: Sequence[str]) -> list[str]:
    """The case's addresses that ``wanted`` names (an address, or its number in `show`), in the
    order given; all of them when ``wanted`` is empty."""
    if not wanted:
        return list(case_urls)
    by_canonical = {canonical_url(url): url for url in case_urls}
    chosen = []
    for index, item in enumerate(wanted, start=1):
        item = item.strip()
        if item.isdigit() and 1 <= int(item) <= len(case_urls):
            url = case_urls[int(item) - 1]
        else:
            url = item if item in case_urls else by_canonical.get(canonical_url(item))
        if url is None:
            raise StaffError(f"--url number {index} is not an address of this case: give the address as "
                             "`safeline-staff urls REFERENCE` lists it, or its number there")
        if url not in chosen:
            chosen.append(url)
    return chosen


def _url_states(store, urls: Sequence[str]) -> list:
    """Each address's state in the store (``UrlState``: its requests, its host)."""
    return [state for state in (store.url(url) for url in urls) if state is not None]


def _history(states: Sequence, target: str) -> tuple[date | None, str]:
    """(date of the last request to ``target`` about these addresses, its latest ticket)."""
    latest: date | None = None
    ticket, ticket_on = "", None
    for state in states:
        for request in state.requests:
            if request.target != target:
                continue
            if latest is None or request.sent_on > latest:
                latest = request.sent_on
            if request.ticket and (ticket_on is None or request.sent_on >= ticket_on):
                ticket, ticket_on = request.ticket, request.sent_on
    return latest, ticket


def default_language(states: Sequence) -> str:
    """English when every address's confirmed host is overseas, else Japanese."""
    infos = [state.host_info for state in states]
    if infos and all(isinstance(info, dict) and info.get("overseas") is True for info in infos):
        return "en"
    return "ja"


def case_draft(store, reference: str, *, target: str, language: str | None = None, urls: Sequence[str] = (),
               to: str = "", target_name: str = "", ticket: str = "", folder: Path | None = None,
               today: date | None = None, recheck_days: int = 7) -> Draft:
    """The draft of a request to ``target`` about ``urls`` of the case ``reference`` (by default
    every address of the case not yet removed)."""
    from .store import JAPAN

    case = store.case(reference)
    if case is None:
        raise StaffError("no such case: see `safeline-staff cases --search TEXT`")
    chosen = choose_urls([url.url for url in case.urls], urls)
    if not urls:  # all of them: but not those already removed
        removed = {state.url for state in _url_states(store, chosen) if state.state == "removed"}
        chosen = [url for url in chosen if url not in removed]
    if not chosen:
        raise StaffError("no address of this case is left to ask about (all removed?): give --url to choose one")
    states = _url_states(store, chosen)
    language = language or default_language(states)
    template = load_template(folder, target, language)
    previous, recorded_ticket = _history(states, target)
    hosts_by_url = {url.url: url.host for url in case.urls}
    return fill(template, urls=chosen, hosts=[hosts_by_url.get(url) or host_of(url) for url in chosen],
                language=language, today=today or datetime.now(JAPAN).date(), recheck_days=recheck_days,
                target=target, target_name=target_name, ticket=ticket or recorded_ticket, previous_date=previous,
                sender=load_sender(folder, language), to=to)


def print_draft(draft: Draft, out: TextIO, *, long_link: bool = False) -> None:
    from .casework import terminal_text

    write = lambda *parts: print(*parts, file=out)  # noqa: E731
    write(f"Subject: {terminal_text(draft.subject)}")
    write("")
    write(terminal_text(draft.body, multiline=True))
    write("")
    write("-" * 40)
    if draft.mailto_fits or long_link:
        write("Open in your mail client (address, subject and body):")
        write(draft.mailto)
        return
    write(f"The body is too long for a mailto: link ({len(draft.mailto)} characters encoded; some mail clients "
          f"and browsers take {MAILTO_LIMIT} at most): this link fills the address and subject; paste the body "
          "from above (or use --long-link).")
    write(draft.short_mailto)


def record_sent(store, reference: str, draft: Draft, *, target_name: str, method: str, ticket: str,
                sent_on: date, recheck_days: int) -> list[str]:
    """``--sent``: one request event per address (STORE's ``add_request``)."""
    case = store.case(reference)
    return [store.add_request(case.reference, url, target=draft.target, target_name=target_name, method=method,
                sent_on=sent_on, ticket=ticket, recheck_days=recheck_days) for url in draft.urls]


# -- the command line -----------------------------------------------------------------------------

def _home(args):
    from .home import Home

    return Home(args.home)


def run_draft(args: argparse.Namespace) -> int:
    from .casework import _stdout
    from .setup import open_store
    from .store import JAPAN

    home = _home(args)
    config = home.config()
    folder = folder_of(home)
    out = _stdout()
    today = datetime.now(JAPAN).date()
    if args.sent and not args.target_name.strip():
        raise StaffError("--sent needs --target-name: to whom the request went (e.g. the site's or company's name)")
    with open_store(home) as store:
        draft = case_draft(store, args.reference, target=args.target, language=args.lang, urls=args.urls,
                           to=args.to or "", target_name=args.target_name, ticket=args.ticket, folder=folder,
                           today=today, recheck_days=config.recheck_days)
        print_draft(draft, out, long_link=args.long_link)
        if args.sent:
            method = args.method or ("email" if args.to else "form")
            ids = record_sent(store, args.reference, draft, target_name=args.target_name.strip(), method=method,
                              ticket=args.ticket.strip(), sent_on=today, recheck_days=config.recheck_days)
            print(f"recorded: {len(ids)} request(s) sent today by {method}; next date "
                  f"{today + timedelta(days=config.recheck_days)}", file=out)
    return 0


def run_init(args: argparse.Namespace) -> int:
    home = _home(args)
    if not Path(home.folder).is_dir():
        raise StaffError("no staff kit folder yet: run `safeline-staff init` first")
    folder = folder_of(home)
    report = init_folder(folder)
    print(f"templates in {folder}", file=sys.stdout)
    for label, names in (("copied", report.copied), ("updated (not edited, a newer default)", report.updated),
                         ("kept (edited; the new default is beside it as NAME.new)", report.kept)):
        if names:
            print(f"  {label}: {', '.join(names)}")
    if not (report.copied or report.updated or report.kept):
        print("  already up to date")
    return 0


def run_check(args: argparse.Namespace) -> int:
    folder = folder_of(_home(args))
    problems, notes, count = check_folder(folder if folder.is_dir() else None)
    for note in notes:
        print(f"note: {note}")
    for problem in problems:
        print(problem, file=sys.stderr)
    where = folder if folder.is_dir() else "the shipped defaults"
    if problems:
        print(f"{len(problems)} problem(s) in {where}: fix each line named above", file=sys.stderr)
        return 1
    print(f"ok: {count} templates and {SENDER_FILE} in {where}")
    return 0


def run_placeholders(args: argparse.Namespace) -> int:
    width = max(len(name) for name in PLACEHOLDERS) + 2
    for name, (english, japanese) in PLACEHOLDERS.items():
        print(f"{{{name}}}".ljust(width + 1), english)
        print(" " * (width + 1), japanese)
    return 0


def register(commands) -> None:
    parser = commands.add_parser(
        "draft", help="draft a removal request for a case's addresses",
        description="Print a removal request for addresses of a case, from the templates in the kit's "
        f"{FOLDER_NAME}/ folder: the subject and body to copy into a web form, and a mailto: link for your "
        "mail client. Nothing is sent. The draft holds the addresses and the hotline's name, nothing of the "
        "report or the reporter.")
    parser.add_argument("reference", metavar="REFERENCE")
    parser.add_argument("--target", required=True, choices=TARGETS,
                        help="to whom: site (its operator), host (hosting provider), registrar, search (a search "
                        "engine), platform (a report form), police (only with a template the team wrote)")
    parser.add_argument("--lang", choices=LANGUAGES, help="the request's language (default: en when every "
                        "address's confirmed host is overseas, else ja)")
    parser.add_argument("--url", action="append", default=[], dest="urls", metavar="URL",
                        help="an address of the case, or its number in `urls` or `show` (again for each; "
                        "default: all not yet removed)")
    parser.add_argument("--to", metavar="ADDRESS", help="the e-mail address the request goes to (for the "
                        "mailto: link)")
    parser.add_argument("--target-name", "--name", default="", metavar="NAME", help="the recipient's name "
                        "({target_name}; as `request --name`)")
    parser.add_argument("--ticket", default="", metavar="TEXT", help="the target's ticket number ({ticket}; "
                        "default: the one recorded with an earlier request)")
    parser.add_argument("--sent", action="store_true", help="record that you sent this request today (one "
                        "request per address; needs --target-name)")
    parser.add_argument("--method", choices=METHODS, help="with --sent: how it was sent (default: email with "
                        "--to, else form)")
    parser.add_argument("--long-link", action="store_true", help=f"print the whole mailto: link even when it is "
                        f"longer than {MAILTO_LIMIT} characters (some mail clients and browsers refuse such links)")
    parser.set_defaults(func=run_draft)

    parser = commands.add_parser("drafts", help="the request templates: copy, check, list placeholders",
                                 description=f"The removal request templates in the kit's {FOLDER_NAME}/ folder.")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    action = actions.add_parser("init", help="copy the shipped templates into the kit's folder; never overwrites "
                                "an edited file (the new default goes beside it as NAME.new)")
    action.set_defaults(func=run_init)
    action = actions.add_parser("check", help="check every template and sender.txt: names file, line and fix")
    action.set_defaults(func=run_check)
    action = actions.add_parser("placeholders", help="list the placeholders a template may use")
    action.set_defaults(func=run_placeholders)
