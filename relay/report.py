"""A report as the form sends it: checked field by field, without Flask.

``validate(form, lang)`` returns either a ``Report`` or the errors per field; every error is a
message id of the catalogs (``theme/translations``), translated by the view in the page's
language.  Values are normalised here (URLs as a browser reads them, white space, Unicode
NFC, e-mail addresses NFKC), so what is sealed is what staff should see.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from dataclasses import dataclass
from typing import Literal
from urllib.parse import parse_qsl

from ada_url import URL, HostType
from email_validator import EmailNotValidError, validate_email

from safeline.record import REFERENCE, REFERENCE_ALPHABET, REFERENCE_LENGTH, ROLES
from safeline.site import N_, Lang

Role = Literal["self", "guardian"]


@dataclass(frozen=True)
class Report:
    """What a victim, or the guardian of a child victim, tells the hotline."""

    role: Role
    email: str
    urls: tuple[str, ...]
    description: str
    lang: Lang  # the language of the form they used
    police_referral: bool = False  # would like to be introduced to the police consultation desk
    contact_safety: str = ""  # how and when it is safe to contact the reporter
    where: str = ""  # where the images are when there is no web address (service, account)

    def fields(self) -> dict:
        """The report's own fields, JSON-ready, in form order."""
        return {
            "role": self.role,
            "email": self.email,
            "contact_safety": self.contact_safety,
            "urls": list(self.urls),
            "where": self.where,
            "description": self.description,
            "police_referral": self.police_referral,
            "consent": True,
            "language": self.lang,
        }


@dataclass(frozen=True)
class Addition:
    """More addresses (and maybe words) for a report already sent, named by its reference.

    That the follow-up code belongs to the reference is checked by the view, which holds the
    server's secret; here only the shape of what was typed is checked.
    """

    reference: str  # of the report this adds to
    urls: tuple[str, ...]
    description: str
    lang: Lang
    where: str = ""  # as in a report: where the images are when there is no web address

    def fields(self) -> dict:
        """The addition's own fields, JSON-ready; its reference is the report's.  ``where`` was
        added later than the others (format 1 readers ignore a field they do not know)."""
        return {
            "urls": list(self.urls),
            "where": self.where,
            "description": self.description,
            "language": self.lang,
        }


# -- checking the form ---------------------------------------------------------------------

MAX_URLS = 30
SHOWN_LINES = 3  # line problems listed by number; the rest are counted
MAX_URL_LENGTH = 2048
MAX_DESCRIPTION = 4000
MAX_EMAIL = 254
MAX_CONTACT_SAFETY = 500
MAX_WHERE = 1000
# Who may report (ROLES): the person in the images, or the guardian of a child in them.  The form
# also offers "other" (someone else), which the view answers with what else can be done.
FIELDS = ("role", "email", "contact_safety", "urls", "where", "description", "police", "consent")  # in the form's order
ADDITION_FIELDS = ("reference", "code", "urls", "where", "description")  # the form that adds to a report
# What a reporter may type between the groups of a reference or a code: spaces and dashes,
# including the long vowel mark and the dashes a Japanese input method makes.
SEPARATORS = re.compile(r"[\s\-‐‑–—ー―]")


def reference_of(chars: str) -> str:
    """The reference number written with the REFERENCE_LENGTH characters ``chars``."""
    return f"SL-{chars[:4]}-{chars[4:]}"
CODE_DIGITS = 8


@dataclass(frozen=True)
class Problem:
    """One message for one field; ``params`` fill its ``{placeholders}``."""

    message: str
    params: tuple[tuple[str, object], ...] = ()

    def render(self, gettext) -> str:
        return gettext(self.message).format(**dict(self.params))


Errors = dict[str, list[Problem]]

# Hosts whose /search pages are result lists, not the page with the image.
SEARCH_HOSTS = re.compile(
    r"(^|\.)(google\.[a-z.]+|bing\.com|yahoo\.co\.jp|yahoo\.com|duckduckgo\.com|yandex\.[a-z.]+|baidu\.com|naver\.com|ecosia\.org|goo\.ne\.jp)$"
)
SEARCH_PATHS = re.compile(r"(^|/)(search|images|imghp|webhp|s|res)(/|$)|^/$")
SEARCH_QUERY_KEYS = {"q", "p", "query", "wd", "text", "qt"}
HOST_NAME = re.compile(r"[a-z0-9_-]+(\.[a-z0-9_-]+)*\.?", re.I)
LOCAL_PATH = re.compile(r"^([a-zA-Z]:[\\/]|\\\\|/(Users|home|storage|sdcard|private|var|tmp|mnt|Volumes)/|~/|\.{0,2}/)")


# Not category C, yet not "printable" to str.isprintable(): taken out before asking it.
_LINE_AND_SPACES = str.maketrans("", "", "\n\t\u3000\u00a0")


def clean_text(value: str) -> str:
    """NFC, Unix line ends, no control characters but newline and tab, no outer blank space."""
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    # isprintable() is False for every character of category C (and for some spaces), so
    # when it holds there is nothing to drop and the walk through each character is spared.
    if not value.translate(_LINE_AND_SPACES).isprintable():
        value = "".join(ch for ch in value if ch in "\n\t" or unicodedata.category(ch)[0] != "C" or ch == "\u200d")
    # NFC last: a control character dropped between a letter and its accent leaves them to compose.
    return unicodedata.normalize("NFC", value).strip()


SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")
WEB_SCHEME = re.compile(r"^https?:", re.I)
HOST_WITH_PORT = re.compile(r"^(www\.|[^/:\s]+\.[a-z]{2,}[:/])", re.I)


TOO_LONG = Problem(N_("Line {line}: this address is longer than {max} characters. Copy it again from the address bar."), (("max", f"{MAX_URL_LENGTH:,}"),))
NOT_AN_ADDRESS = Problem(N_("Line {line}: this does not look like a web address. Copy it again from the address bar."))


def normalise_url(raw: str) -> tuple[str | None, Problem | None]:
    """One line of the URL field → a normalised http(s) URL, or what to tell the reporter.

    The URL is read by the WHATWG URL standard, as a browser reads it: staff must get the
    host that opening the address leads to.  (urllib reads ``https://a.example\\@b.example/``
    as host b.example, where a browser opens a.example.)
    """
    text = raw.strip().strip("<>\"'「」『』")
    if len(text) > MAX_URL_LENGTH:
        return None, TOO_LONG
    if LOCAL_PATH.match(text) or text.lower().startswith("file:"):
        return None, Problem(N_("Line {line}: this is a file on your device, not a web page. Give the address of the page where the image appears. Never send the image itself."))
    if SCHEME.match(text) and not WEB_SCHEME.match(text) and not HOST_WITH_PORT.match(text):
        # "example.com:8080/x" only looks like a scheme: it is a host.
        return None, Problem(N_("Line {line}: only web addresses starting with http:// or https:// can be checked. Open the page in a browser and copy the address from the address bar."))
    if not WEB_SCHEME.match(text):
        text = "https://" + text  # people often copy the address without its scheme
    # Browsers drop tabs and newlines inside an address; here they more likely part two addresses.
    if re.search(r"\s", text):
        return None, Problem(N_("Line {line}: an address cannot contain spaces. Put each address on its own line."))
    try:
        url = URL(text)
    except ValueError:
        return None, NOT_AN_ADDRESS
    host = url.hostname  # already lower case, IDNA (UTS 46) applied, IP addresses canonical
    if not _valid_host(host, url.host_type):
        return None, NOT_AN_ADDRESS
    if SEARCH_HOSTS.search(host) and SEARCH_PATHS.search(url.pathname) and any(k in SEARCH_QUERY_KEYS for k, _ in parse_qsl(url.search[1:])):
        return None, Problem(N_("Line {line}: this is a page of search results. Open the result and give the address of the page where the image appears."))
    # A password must not travel on to staff; the fragment never reaches the server; "?"
    # alone asks for the same page, and as one address it is one entry.
    url.username = url.password = url.hash = ""
    if not url.search:
        url.search = ""
    href = url.href
    if len(href) > MAX_URL_LENGTH:  # percent-encoding lengthens non-ASCII paths up to nine times
        return None, TOO_LONG
    return href, None


def _valid_host(host: str, kind: HostType) -> bool:
    """A host on the internet, by name or by a global IP address."""
    if kind != HostType.DEFAULT:
        address = ipaddress.ip_address(host.strip("[]"))
        if address.version == 6 and address.ipv4_mapped:
            address = address.ipv4_mapped
        return address.is_global
    # The standard allows characters in a name ("!", "(") that DNS names never have.
    labels = host.rstrip(".").split(".")
    return bool(HOST_NAME.fullmatch(host)) and len(labels) >= 2 and all(labels) and len(host) <= 253


def validate(form, lang: str) -> tuple[Report | None, Errors]:
    """``form`` maps field names to strings (first value of each).  Role ``other`` is not an
    error: the view explains it before calling this."""
    errors: Errors = {}

    def add(field: str, message: str, *params) -> None:
        errors.setdefault(field, []).append(Problem(message, tuple(params)))

    role = form.get("role", "")
    if role not in ROLES:
        add("role", N_("Choose who you are: the person in the images, or the parent or guardian of a child in them."))

    # A Japanese input method easily types full-width letters and ＠ (ｈａｎａｋｏ＠…): NFKC
    # makes them the address they stand for, one that staff can write to.
    email = unicodedata.normalize("NFKC", clean_text(form.get("email", ""))).strip()
    if not email:
        add("email", N_("Enter your e-mail address, so that we can contact you to check the facts."))
    elif len(email) > MAX_EMAIL:
        add("email", N_("This e-mail address is too long. Check it and enter it again."))
    else:
        try:
            email = validate_email(email, check_deliverability=False, allow_smtputf8=True).normalized
        except EmailNotValidError:
            add("email", N_("Enter an e-mail address in the form name@example.jp."))

    contact_safety = clean_text(form.get("contact_safety", ""))
    _check_length(add, "contact_safety", contact_safety, MAX_CONTACT_SAFETY)

    urls, where = check_places(form, errors)

    description = clean_text(form.get("description", ""))
    if not description:
        add("description", N_("Describe the images, so that we can find the right ones."))
    else:
        _check_length(add, "description", description, MAX_DESCRIPTION)

    if form.get("consent") != "yes":
        add("consent", N_("Tick the box to confirm that you understand the points before it."))

    if errors:
        return None, errors
    return Report(role=role, email=email, urls=tuple(urls), description=description, lang=lang,
                  police_referral=form.get("police") == "yes", contact_safety=contact_safety, where=where), {}


def check_places(form, errors: Errors) -> tuple[list[str], str]:
    """Where the images are, by the one rule of the report and the addition: addresses (URLs),
    or, when they have none, words saying where (``where``); one of the two is required.
    Problems go into ``errors``; returns the addresses and the words, checked.

    The seed asks for "the URL and so on": images in an app, a closed group or messages have
    no address, and saying where they are (service, account) is then the way to report.
    """
    where = clean_text(form.get("where", ""))
    urls, problems = check_urls(form.get("urls", ""), missing=None if where else NO_URL_OR_PLACE)
    if problems:
        errors["urls"] = problems
    _check_length(lambda field, message, *params: errors.setdefault(field, []).append(Problem(message, params)),
                  "where", where, MAX_WHERE)
    return urls, where


def validate_addition(form, lang: str) -> tuple[Addition | None, Errors]:
    """The form that adds to a report: its reference, follow-up code, addresses or where the
    images are (one of the two, as in a report: ``check_places``) and words (optional).  Reference and code are taken as people copy them: in any
    case, with spaces or hyphens, in full-width characters."""
    errors: Errors = {}

    def add(field: str, message: str, *params) -> None:
        errors.setdefault(field, []).append(Problem(message, tuple(params)))

    reference = normal_reference(form.get("reference", ""))
    if not REFERENCE.fullmatch(reference):
        add("reference", N_("Enter the reference number shown when you sent the report, for example SL-7K3F-Q9XD."))
    code = normal_code(form.get("code", ""))
    if len(code) != CODE_DIGITS:
        add("code", N_("Enter the follow-up code shown with the reference number: {digits} digits."), ("digits", CODE_DIGITS))

    urls, where = check_places(form, errors)
    description = clean_text(form.get("description", ""))
    _check_length(add, "description", description, MAX_DESCRIPTION)
    if errors:
        return None, errors
    return Addition(reference=reference, urls=tuple(urls), description=description, lang=lang, where=where), {}


def normal_reference(typed: str) -> str:
    """``ｓｌ７ｋ３ｆｑ９ｘｄ`` or `` sl-7k3f q9xd`` → ``SL-7K3F-Q9XD``; anything else as it came."""
    compact = SEPARATORS.sub("", unicodedata.normalize("NFKC", typed)).upper()
    compact = compact.removeprefix("SL")
    if len(compact) == REFERENCE_LENGTH and compact.isalnum():
        return reference_of(compact)
    return unicodedata.normalize("NFKC", typed).strip().upper()


def normal_code(typed: str) -> str:
    """The digits of a follow-up code as typed (full-width too), without spaces or hyphens;
    anything but digits makes it no code."""
    compact = SEPARATORS.sub("", unicodedata.normalize("NFKC", typed))
    return compact if compact.isascii() and compact.isdigit() else ""


SHORTEN = {
    "description": N_("Shorten the description to {max} characters or fewer (it has {count})."),
    "where": N_("Shorten where the images are to {max} characters or fewer (it has {count})."),
    "contact_safety": N_("Shorten how to contact you to {max} characters or fewer (it has {count})."),
}


def _check_length(add, field: str, text: str, limit: int) -> None:
    if len(text) > limit:
        add(field, SHORTEN[field], ("max", f"{limit:,}"), ("count", f"{len(text):,}"))


NO_URL = N_("Enter the address (URL) of at least one page where the images appear.")
NO_URL_OR_PLACE = N_("Enter the address (URL) of at least one page where the images appear. If they have no address (in an app or in messages), say where they are in the next box instead.")


def check_urls(field: str, *, missing: str | None = NO_URL) -> tuple[list[str], list[Problem]]:
    """The URL field, one address per line → its distinct addresses, or what to tell the reporter.

    Blank lines and lines repeated as they are count for nothing.  Past MAX_URLS other lines
    the check stops, before the line over: a pasted flood costs as much as 30 lines, and the
    one thing to do first is to split the list.  Of the lines with a problem, the first few
    are named and the others counted, so the page stays short and the next step clear.
    """
    urls: dict[str, None] = {}  # in the order given, a duplicate found in constant time
    typed_before: set[str] = set()
    checked: set[str] = set()
    problems: list[Problem] = []
    too_many = False
    # Lines are cleaned one by one, not the field as a whole: stripping the field would drop
    # leading blank lines, and "Line 2" must be the second line the reporter sees.
    for number, typed in enumerate(field.replace("\r\n", "\n").replace("\r", "\n").split("\n"), start=1):
        if typed in typed_before:  # a flood of one line costs a look-up per line, no more
            continue
        typed_before.add(typed)
        line = clean_text(typed)
        if not line or line in checked:
            continue
        if len(checked) == MAX_URLS:
            too_many = True
            break
        checked.add(line)
        url, problem = normalise_url(line)
        if problem:
            problems.append(Problem(problem.message, (("line", number), *problem.params)))
        else:
            urls.setdefault(url)

    found: list[Problem] = []
    if too_many:
        found.append(Problem(N_("Enter at most {max} addresses. If there are more, send them in a second report."), (("max", MAX_URLS),)))
    if not checked and missing:
        found.append(Problem(missing))
    # One more line is shown rather than counted: "1 more line" would save no space.
    if len(problems) <= SHOWN_LINES + 1:
        found += problems
    else:
        found += problems[:SHOWN_LINES]
        found.append(Problem(N_("{count} more lines have a problem too. Check each line."), (("count", len(problems) - SHOWN_LINES),)))
    return list(urls), found
