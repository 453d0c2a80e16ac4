"""A report in the tests, as a person sends it and as staff read it.

- the form: ``VALID`` (a report that passes every check), ``submit`` (POST it as a browser
  would, with a fresh token), ``get_token``, ``sent_reference`` (the number on the
  confirmation page);
- the relay's pages: ``parse(response)`` → ``RelayPage``, whose elements a test can find by
  tag, class, id or attribute, with the error summary's heading and the lines open now;
- the sealed mail: ``OUTER_HEADERS`` (all that is readable outside the encryption) and
  ``decrypt_mail`` (its protected subject, text part and JSON part).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from email import message_from_bytes, policy
from html.parser import HTMLParser

from devtools.mailbox import unseal

REFERENCE = re.compile(r"^SL-[2-9A-HJKMNP-TV-Z]{4}-[2-9A-HJKMNP-TV-Z]{4}$")
FORM_PATHS = {"ja": "/report/", "en": "/en/report/"}
MORE_PATHS = {"ja": "/report/more/", "en": "/en/report/more/"}
OTHER_PATHS = {"ja": "/report/other/", "en": "/en/report/other/"}
# A sealed mail's outer headers: all of it that can be read without a staff key.
OUTER_HEADERS = ["From", "To", "Date", "Message-ID", "Subject", "MIME-Version", "Content-Type"]
# An addition to a report names the report's mail, and nothing more.
OUTER_REPLY_HEADERS = [*OUTER_HEADERS, "In-Reply-To", "References"]

# A report that passes every check; tests change the fields they are about.
VALID = {
    "role": "self",
    "email": "hanako@example.jp",
    "urls": "https://images.example.com/p/1",
    "description": "知らないうちに写真が投稿されました。",
    "consent": "yes",
}


# The heading of the error summary when a report cannot be taken now (relay.forms.NOT_NOW).
PLEASE_WAIT = {"ja": "しばらくお待ちください", "en": "Please wait"}
NOT_NOW = {"ja": "いまは通報を受け付けられません", "en": "We cannot take reports just now"}
# Lines open around the clock, whatever the hour: 110 apart, then #8103 (data/hotlines.yaml).
ALWAYS_OPEN = ["tel:110", "tel:%238103"]


# -- the form ----------------------------------------------------------------------------

def get_token(client, lang: str = "ja", paths: dict[str, str] = FORM_PATHS) -> str:
    """The form token of a freshly served form."""
    response = client.get(paths[lang])
    assert response.status_code == 200
    return re.search(r'name="token" value="([^"]+)"', response.get_data(as_text=True))[1]


def submit(client, *, lang: str = "ja", headers: dict | None = None, **fields):
    """POST the form as a browser would: a fresh token, ``VALID`` changed by ``fields``.

    A field given as ``None`` is left out of the body.  The response is not followed.
    """
    data = dict(VALID)
    if "token" not in fields:
        data["token"] = get_token(client, lang)
    data.update(fields)
    data = {name: value for name, value in data.items() if value is not None}
    return client.post(FORM_PATHS[lang], data=data, headers=headers or {})


def sent_reference(client, response) -> str:
    """Follow a 303 to the confirmation page and read the reference number there."""
    assert response.status_code == 303, response.status_code
    page = parse(client.get(response.headers["Location"]))
    return page.find(class_="reference").text.strip()


def sent_codes(client, response) -> tuple[str, str]:
    """Follow a 303 to the confirmation page: the reference number and the follow-up code."""
    assert response.status_code == 303, response.status_code
    page = parse(client.get(response.headers["Location"]))
    return page.by_id("reference").text.strip(), page.by_id("followup-code").text.strip()


def submit_more(client, *, lang: str = "ja", headers: dict | None = None, **fields):
    """POST the form that adds to a report, as a browser would: a fresh token and ``fields``
    (``None`` leaves a field out).  The response is not followed."""
    data = {"reference": "", "code": "", "urls": "https://more.example.com/p/2", "description": ""}
    if "token" not in fields:
        data["token"] = get_token(client, lang, MORE_PATHS)
    data.update(fields)
    data = {name: value for name, value in data.items() if value is not None}
    return client.post(MORE_PATHS[lang], data=data, headers=headers or {})


# -- reading the pages -----------------------------------------------------------------------

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


@dataclass
class Element:
    tag: str
    attrs: dict[str, str | None]
    text: str = ""
    parent: "Element | None" = None

    def get(self, name: str, default=None):
        return self.attrs.get(name, default)

    @property
    def classes(self) -> list[str]:
        return (self.attrs.get("class") or "").split()

    def ancestors(self):
        node = self.parent
        while node is not None:
            yield node
            node = node.parent


class RelayPage(HTMLParser):
    """A relay page parsed into a flat list of elements, each with its whole text."""

    def __init__(self, html: str, status: int | None = None):
        super().__init__(convert_charrefs=True)
        self.html = html
        self.status = status
        self.elements: list[Element] = []
        self._open: list[Element] = []
        self.feed(html)
        self.close()

    def handle_starttag(self, tag, attrs):
        element = Element(tag, dict(attrs), parent=self._open[-1] if self._open else None)
        self.elements.append(element)
        if tag not in VOID:
            self._open.append(element)

    def handle_startendtag(self, tag, attrs):
        self.elements.append(Element(tag, dict(attrs), parent=self._open[-1] if self._open else None))

    def handle_endtag(self, tag):
        for depth in range(len(self._open) - 1, -1, -1):
            if self._open[depth].tag == tag:
                del self._open[depth:]
                break

    def handle_data(self, data):
        for element in self._open:
            element.text += data

    # -- questions the tests ask ------------------------------------------------------------

    def find_all(self, tag: str | None = None, *, class_: str | None = None, **attrs) -> list[Element]:
        found = []
        for element in self.elements:
            if tag is not None and element.tag != tag:
                continue
            if class_ is not None and class_ not in element.classes:
                continue
            if any(element.attrs.get(name.rstrip("_").replace("_", "-")) != value for name, value in attrs.items()):
                continue
            found.append(element)
        return found

    def find(self, tag: str | None = None, **criteria) -> Element:
        found = self.find_all(tag, **criteria)
        assert found, f"no {tag or 'element'} with {criteria}"
        return found[0]

    def by_id(self, element_id: str) -> Element:
        found = [element for element in self.elements if element.attrs.get("id") == element_id]
        assert len(found) == 1, f"{len(found)} elements with id {element_id!r}"
        return found[0]

    def has_id(self, element_id: str) -> bool:
        return any(element.attrs.get("id") == element_id for element in self.elements)

    @property
    def lang(self) -> str | None:
        return self.find("html").get("lang")

    @property
    def title(self) -> str:
        return self.find("title").text.strip()

    @property
    def text(self) -> str:
        """The visible text of <body>, white space folded."""
        return " ".join(self.find("body").text.split())

    def value(self, name: str) -> str | None:
        """What the form shows for a field: a textarea's text, an input's value, the checked choice."""
        # Form controls only: <meta name="description"> shares its name with a field.
        controls = [c for c in self.find_all(name=name) if c.tag in ("input", "textarea", "select")]
        assert controls, f"no control named {name!r}"
        control = controls[0]
        if control.tag == "textarea":
            return control.text
        if control.get("type") in ("radio", "checkbox"):
            checked = [c.get("value") for c in controls if "checked" in c.attrs]
            return checked[0] if checked else None
        return control.get("value")

    def described_by(self, element_id: str) -> list[str]:
        return (self.by_id(element_id).get("aria-describedby") or "").split()

    def lines_open_now(self) -> list[str]:
        """The phone links (tel:) of the block of lines open now (lines-now.html), in order."""
        block = self.find("section", class_="lines-now")
        return [a.get("href") for a in self.find_all("a")
                if block in list(a.ancestors()) and (a.get("href") or "").startswith("tel:")]

    def summary_heading(self) -> str:
        return " ".join(self.by_id("error-summary-title").text.split())

    def summary_links(self) -> list[tuple[str, str]]:
        """(href, text) of each link of the error summary."""
        summary = self.find(class_="error-summary")
        return [(a.get("href"), " ".join(a.text.split())) for a in self.find_all("a")
                if summary in list(a.ancestors())]


def parse(response) -> RelayPage:
    return RelayPage(response.get_data(as_text=True), response.status_code)


# -- the sealed mail --------------------------------------------------------------------------

def decrypt_mail(mail: bytes, secret_key: bytes) -> tuple[str, str, dict]:
    """The protected Subject, the text part and the JSON part of a sealed mail."""
    assert message_from_bytes(mail, policy=policy.default).get_content_type() == "multipart/encrypted"
    inner = unseal(mail, secret_key)
    text = record = None
    for part in inner.walk():
        if part.get_content_type() == "text/plain":
            text = part.get_content()
        elif part.get_content_type() == "application/json":
            record = json.loads(part.get_payload(decode=True).decode("utf-8"))
    assert text is not None and record is not None
    return str(inner["Subject"]), text, record
