"""The relay's two forms: what each asks, how it is checked and accepted, what it may say.

Two forms, each a ``Form`` below: the report (the page ``report`` of each language,
``/report/`` and ``/en/report/``: the site's URL rule, ``safeline.site.page_path``) and the
addition to a report already sent (``report/more``), each with ``…/sent/`` below it for its
confirmation; ``report/other`` tells someone who may not report what they can do.

An addition is taken only with the follow-up code of its reference (relay.followup).  A wrong
pair is counted by the limits on accepted reports as if it were one, so that guessing a code
costs as much as sending reports: a client can try a few codes a day, out of 10**8.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from flask import request

from safeline.site import LANGUAGES, N_, page_path

from .report import ADDITION_FIELDS, FIELDS, ROLES, validate, validate_addition

HONEYPOT = "website"  # the field only a program fills in (theme/templates/form.html, honeypot())
WRONG_PAIR = N_("This reference number and follow-up code do not belong together, so nothing was sent. Check both against what you noted when you sent the report.")
NOTICES = {
    "invalid": N_("This form could not be checked. Please send it again: what you typed is still here."),
    "too_fast": N_("The form was sent very quickly after it opened. Please check what you typed and send it again."),
    "expired": N_("For your safety this form expires after two hours. What you typed is still here: please send it again."),
    "pending": N_("This report is already being sent. If you do not see a reference number in a moment, send it again."),
    "honeypot": N_("The form could not be sent. Please check what you typed and send it again."),
    "unavailable": N_("Your report could not be received just now, and nothing was sent. What you typed is still here: please try again in a few minutes."),
    "busy": N_("We cannot take reports just now, and nothing was sent. What you typed is still here: please try again in an hour."),
    "ratelimited": N_("Many reports have been sent from this connection. Please wait an hour and send again: what you typed is still here."),
    "already_sent": N_("This form was already sent, and that report arrived. To send another report, fill in the form again."),
}
# Notices that mean the report cannot be taken now: the summary's heading says what happened
# (not "there is a problem" with what was typed), and the page lists the lines open now.
NOT_NOW = {
    "ratelimited": N_("Please wait"),
    "busy": N_("We cannot take reports just now"),
    "unavailable": N_("We cannot take reports just now"),
}


@dataclass(frozen=True)
class Form:
    """One form of the relay: its page, what it asks, how it is checked and accepted."""

    slug: str  # its page in the site's URL rule; the confirmation is at sent/ below it
    title: str
    template: str
    fields: tuple[str, ...]  # in the form's order
    echoed: tuple[str, ...]  # the fields whose text comes back in the page
    validate: Callable
    accept: str  # the method of relay.intake.Intake that stores what was checked
    sent_title: str
    sent_template: str
    summary: str = ""  # the pages' <meta name="description">, for the form and its confirmation
    sent_summary: str = ""

    @property
    def anchors(self) -> dict[str, str]:
        """Where the error summary leads for each field: its control, or a group's first choice."""
        return {name: f"{name}-{ROLES[0]}" if name == "role" else name for name in self.fields}

    def path(self, lang: str) -> str:
        return "/" + page_path(self.slug, lang)


REPORT = Form("report", N_("Report form"), "report.html", FIELDS,
              ("email", "contact_safety", "urls", "where", "description"), validate, "accept",
              N_("Report received"), "report-sent.html",
              summary=N_("Tell us where intimate images or videos shared without consent can be found. We will ask the websites to remove them, free of charge."),
              sent_summary=N_("Your report has reached us: what happens next, and how to add to it."))
MORE = Form("report/more", N_("Add to a report you sent"), "report-more.html", ADDITION_FIELDS,
            ("reference", "code", "urls", "where", "description"), validate_addition, "accept_addition",
            N_("Added to your report"), "report-more-sent.html",
            summary=N_("Add more addresses or details to a report you already sent, with its reference number and follow-up code."),
            sent_summary=N_("What you added has reached us and is handled with your earlier report."))
FORMS = {REPORT.path(lang): REPORT for lang in LANGUAGES} | {MORE.path(lang): MORE for lang in LANGUAGES}
OTHER = "report/other"  # for someone who is neither the person shown nor a guardian


def form_at(path: str) -> Form:
    """The form a request is about: the one whose page holds ``path`` (the report's otherwise)."""
    for prefix in sorted(FORMS, key=len, reverse=True):
        if path.startswith(prefix):
            return FORMS[prefix]
    return REPORT


def form_values(form: Form) -> dict[str, str]:
    """The first value of each field we know; anything else in the body is ignored."""
    return {name: request.form.get(name, "") for name in (*form.fields, "token", HONEYPOT)}
