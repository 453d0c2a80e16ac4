"""The reply page of a case: the drafts, as ``mailto:`` links, beside the contact-safety notes.

The notes and the police-referral request come first on the page, before any way to contact
the reporter: how (or whether) it is safe to write is the reporter's to say.
"""

from __future__ import annotations

from flask import Blueprint, render_template

from staff import reply

from .cases import case_or_404

bp = Blueprint("reply", __name__)


@bp.get("/case/<reference>/reply")
def reply_page(reference):
    case = case_or_404(reference)
    drafts = reply.drafts(case) if case.email else []
    return render_template("reply.html", case=case, drafts=drafts, kind_labels=reply.KIND_LABELS)
