"""The confirmation of a form that was accepted, and the link that leads to it.

The reference number reaches the confirmation page encrypted and short-lived (relay.receipt):
nothing readable goes into a URL, neither what the reporter typed nor the reference.  The link
works for an hour: the device may be someone else's to look at later, and its history then
shows the page without the numbers.
"""

from __future__ import annotations

from flask import request

from safeline.site import lang_of_path

from .forms import MORE, REPORT, Form
from .pages import page_for, staff_language_note
from .receipt import Receipt
from .report import Addition, Report
from .services import services


def receipt_of(reference: str, item: Report | Addition | None) -> Receipt:
    """What the confirmation says of ``item``, accepted under ``reference``."""
    if item is None:
        return Receipt(reference)
    return Receipt(reference, police=getattr(item, "police_referral", False), no_address=not item.urls)


def sent_url(form: Form, lang: str, receipt: Receipt) -> str:
    return f"{form.path(lang)}sent/?r={services().receipts.seal(form.slug, receipt)}"


def sent_page(form: Form):
    """The confirmation page of ``form``, with the numbers while its link is fresh."""
    relay = services()
    lang = lang_of_path(request.path)
    # An old, changed or copied link: say the general things, without a number.
    receipt = relay.receipts.open(form.slug, request.args.get("r", ""))
    page = page_for(lang, f"{form.slug}/sent", form.sent_title, form.sent_summary)
    reference = receipt.reference if receipt else None
    code = relay.followups.code(reference) if reference and form is REPORT else None
    return relay.frame.render(form.sent_template, page=page, reference=reference, code=code,
                              police=bool(receipt and receipt.police), no_address=bool(receipt and receipt.no_address),
                              more_path=MORE.path(lang), report_path=REPORT.path(lang),
                              staff_language=staff_language_note(lang))
