"""A report as the form sends it: checked field by field, without Flask.

``validate(form, lang)`` returns either a ``Report`` or the errors per field; every error is a
message id of the catalogs (``theme/translations``), translated by the view in the page's
language.  Values are normalised here (URLs, white space, Unicode NFC, e-mail addresses
NFKC), so what is sealed is what staff should see.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from dataclasses import dataclass
from typing import Literal
from urllib.parse import parse_qsl, quote, urlsplit, urlunsplit

from email_validator import EmailNotValidError, validate_email

Role = Literal["self", "guardian"]
Lang = Literal["ja", "en"]


@dataclass(frozen=True)
class Report:
    """What a victim, or the guardian of a child victim, tells the hotline."""

    role: Role
    email: str
    urls: tuple[str, ...]
    description: str
    lang: Lang  # the language of the form they used

    def fields(self) -> dict:
        """The report's own fields, JSON-ready, in form order."""
        return {
            "role": self.role,
            "email": self.email,
            "urls": list(self.urls),
            "description": self.description,
            "consent": True,
            "language": self.lang,
        }


# -- checking the form ---------------------------------------------------------------------



def N_(message: str) -> str:
    """Marks a message for the catalogs; the view translates it in the page's language."""
    return message


MAX_URLS = 30
MAX_URL_LENGTH = 2048
MAX_DESCRIPTION = 4000
MAX_EMAIL = 254
ROLES = ("self", "guardian", "other")
FIELDS = ("role", "email", "urls", "description", "consent")


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


def normalise_url(raw: str) -> tuple[str | None, Problem | None]:
    """One line of the URL field → a normalised http(s) URL, or what to tell the reporter."""
    text = raw.strip().strip("<>\"'「」『』")
    if len(text) > MAX_URL_LENGTH:
        return None, Problem(N_("Line {line}: this address is longer than {max} characters. Copy it again from the address bar."), (("max", f"{MAX_URL_LENGTH:,}"),))
    if LOCAL_PATH.match(text) or text.lower().startswith("file:"):
        return None, Problem(N_("Line {line}: this is a file on your device, not a web page. Give the address of the page where the image appears. Never send the image itself."))
    if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", text) and not re.match(r"^https?://", text, re.I):
        if re.match(r"^(www\.|[^/:\s]+\.[a-z]{2,}[:/])", text, re.I):
            pass  # "example.com:8080/x" looks like a scheme but is a host
        else:
            return None, Problem(N_("Line {line}: only web addresses starting with http:// or https:// can be checked. Open the page in a browser and copy the address from the address bar."))
    if not re.match(r"^https?://", text, re.I):
        text = "https://" + text  # people often copy the address without its scheme
    if re.search(r"\s", text):
        return None, Problem(N_("Line {line}: an address cannot contain spaces. Put each address on its own line."))
    try:
        parts = urlsplit(text)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return None, Problem(N_("Line {line}: this does not look like a web address. Copy it again from the address bar."))
    if not _valid_host(host):
        return None, Problem(N_("Line {line}: this does not look like a web address. Copy it again from the address bar."))
    if SEARCH_HOSTS.search(host) and (SEARCH_PATHS.search(parts.path or "/") and any(k in SEARCH_QUERY_KEYS for k, _ in parse_qsl(parts.query))):
        return None, Problem(N_("Line {line}: this is a page of search results. Open the result and give the address of the page where the image appears."))
    try:
        ascii_host = host.encode("idna").decode("ascii") if not _is_ip(host) else host
    except UnicodeError:
        return None, Problem(N_("Line {line}: this does not look like a web address. Copy it again from the address bar."))
    # IDNA maps some characters to others: "¨" to a space and an accent, "⑴" to "(1)".
    if not _is_ip(host) and not HOST_NAME.fullmatch(ascii_host):
        return None, Problem(N_("Line {line}: this does not look like a web address. Copy it again from the address bar."))
    scheme = parts.scheme.lower()
    netloc = ascii_host if ":" not in ascii_host else f"[{ascii_host}]"
    if port and not (scheme == "http" and port == 80 or scheme == "https" and port == 443):
        netloc += f":{port}"
    path = quote(parts.path or "/", safe="/%:@!$&'()*+,;=-._~")
    query = quote(parts.query, safe="=&%:@!$'()*+,;/?-._~")
    url = urlunsplit((scheme, netloc, path, query, ""))  # the fragment never reaches the server
    if len(url) > MAX_URL_LENGTH:
        return None, Problem(N_("Line {line}: this address is longer than {max} characters. Copy it again from the address bar."), (("max", f"{MAX_URL_LENGTH:,}"),))
    return url, None


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        return False


def _valid_host(host: str) -> bool:
    if _is_ip(host):
        address = ipaddress.ip_address(host)
        return address.is_global
    labels = host.rstrip(".").split(".")
    return len(labels) >= 2 and all(labels) and not labels[-1].isdigit() and len(host) <= 253


def validate(form, lang: str) -> tuple[Report | None, Errors]:
    """``form`` maps field names to strings (first value of each).  Role ``other`` is not an
    error: the view explains it before calling this."""
    errors: Errors = {}

    def add(field: str, message: str, *params) -> None:
        errors.setdefault(field, []).append(Problem(message, tuple(params)))

    role = form.get("role", "")
    if role not in ("self", "guardian"):
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

    urls: list[str] = []
    lines = clean_text(form.get("urls", "")).split("\n")
    entered = [(number, line) for number, line in enumerate(lines, start=1) if line.strip()]
    if not entered:
        add("urls", N_("Enter the address (URL) of at least one page where the images appear."))
    for number, line in entered:
        url, problem = normalise_url(line)
        if problem:
            errors.setdefault("urls", []).append(Problem(problem.message, (("line", number), *problem.params)))
        elif url not in urls:
            urls.append(url)
    if len(urls) > MAX_URLS:
        add("urls", N_("Enter at most {max} addresses. If there are more, send them in a second report."), ("max", MAX_URLS))

    description = clean_text(form.get("description", ""))
    if not description:
        add("description", N_("Describe the images, so that we can find the right ones."))
    elif len(description) > MAX_DESCRIPTION:
        add("description", N_("Shorten the description to {max} characters or fewer (it has {count})."), ("max", f"{MAX_DESCRIPTION:,}"), ("count", f"{len(description):,}"))

    if form.get("consent") != "yes":
        add("consent", N_("Confirm that you have read “Before you report” and the questions and answers."))

    if errors:
        return None, errors
    return Report(role=role, email=email, urls=tuple(urls), description=description, lang=lang), {}
