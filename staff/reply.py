"""A reply to the reporter, drafted in the language of their form, for their own mail client.

The kit never sends mail: a draft is a ``mailto:`` link (RFC 6068) that opens the staff
member's own mail client with the address, subject and body filled in; they read it, change
it and send it from the hotline's mailbox as any mail, or not at all.

The templates are in the staff catalogs (``staff/translations``): a short, calm message that
names the reference and says staff received the report and are working on it, or asks what
is needed. They say nothing about the images, hold no URL and repeat nothing of the
description: a mail can be read by someone else (a shared computer, a partner's phone), and
the contact-safety notes the reporter gave are shown beside the link for that reason. The
subject names neither the hotline nor a report ("your inquiry" and the reference): it shows in
mailbox lists and on a locked phone's notifications, where the body does not.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

from staff.translations import N_, translate

# (subject, body) of each kind of draft, in English as msgids; the reporter's language is
# looked up when the draft is made. %(reference)s is the case's reference.
TEMPLATES = {
    "received": (
        N_("Your inquiry %(reference)s"),
        N_("Hello,\n\n"
           "This is Safeline's staff. We have received your report (reference number %(reference)s), "
           "and we are working on it.\n\n"
           "We will write to you again from this address when there is news.\n\n"
           "Safeline"),
    ),
    "question": (
        N_("A question about your inquiry %(reference)s"),
        N_("Hello,\n\n"
           "This is Safeline's staff, about your report (reference number %(reference)s).\n\n"
           "To go on with it, we need to know the following:\n\n"
           "[write the question here]\n\n"
           "You can answer by replying to this e-mail.\n\n"
           "Safeline"),
    ),
}
KINDS = tuple(TEMPLATES)
KIND_LABELS = {"received": N_("We received your report and are working on it"),
               "question": N_("A question to the reporter")}
LANGUAGES = ("ja", "en")


@dataclass(frozen=True)
class Draft:
    kind: str
    language: str  # the reporter's form's language: the draft's, not the interface's
    to: str
    subject: str
    body: str

    @property
    def mailto(self) -> str:
        return mailto(self.to, self.subject, self.body)


def reply_language(case) -> str:
    """The language of the reporter's form (the report's ``language``), Japanese if unknown."""
    language = getattr(case, "language", None)
    return language if language in LANGUAGES else "ja"


def draft(case, kind: str) -> Draft:
    """The draft of ``kind`` (one of ``KINDS``) for ``case``, in the reporter's language."""
    subject, body = TEMPLATES[kind]
    language = reply_language(case)
    values = {"reference": case.reference}
    return Draft(kind=kind, language=language, to=case.email or "",
                 subject=translate(language, subject) % values, body=translate(language, body) % values)


def drafts(case) -> list[Draft]:
    return [draft(case, kind) for kind in KINDS]


def mailto(to: str, subject: str, body: str) -> str:
    """``mailto:TO?subject=…&body=…`` as RFC 6068 wants: UTF-8, every character that is not
    unreserved percent-encoded (so ``&``, ``=``, ``#``, ``%`` and spaces in the text cannot
    end a field), line breaks as ``%0D%0A``, and ``@`` kept in the address."""
    body = "\r\n".join(body.splitlines())
    return (f"mailto:{quote(to, safe='@', encoding='utf-8')}"
            f"?subject={quote(subject, safe='', encoding='utf-8')}&body={quote(body, safe='', encoding='utf-8')}")
