"""A case from a phone call: the same facts as a web report, written down by staff.

It gets its own reference series (``TEL-YYYYMMDD-NNN-FFFF``, made by the store). What the caller
said is kept as text, like every report.
"""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request

from .access import store
from .i18n import _, link

bp = Blueprint("phone", __name__)

MAX_TEXT = 20_000
MAX_URLS = 100
MAX_EMAIL = 254
ROLES = ("self", "guardian")
LANGUAGES = ("ja", "en")
# In the order of the form (how to contact them safely before their address, as on a case's
# page): the error summary lists problems in the same order.
FIELDS = ("role", "language", "description", "where", "urls", "contact_safety", "email")


def _read(form) -> tuple[dict, dict]:
    values = {
        "role": form.get("role", ""),
        "language": form.get("language", ""),
        "description": form.get("description", "").strip(),
        "where": form.get("where", "").strip(),
        "urls": form.get("urls", ""),
        "email": form.get("email", "").strip(),
        "contact_safety": form.get("contact_safety", "").strip(),
        "police_referral": form.get("police_referral") == "yes",
    }
    errors: dict[str, list[str]] = {}
    if values["role"] not in ROLES:
        errors["role"] = [_("Choose who called.")]
    if values["language"] not in LANGUAGES:
        errors["language"] = [_("Choose the language to write to them in.")]
    if not values["description"]:
        errors["description"] = [_("Write what the caller described.")]
    elif len(values["description"]) > MAX_TEXT:
        errors["description"] = [
            _("The description is too long: use at most %(count)s characters.") % {"count": MAX_TEXT}]
    if len(values["where"]) > MAX_TEXT:
        errors["where"] = [_("This is too long: use at most %(count)s characters.") % {"count": MAX_TEXT}]
    urls = [line.strip() for line in values["urls"].splitlines() if line.strip()]
    if len(urls) > MAX_URLS:
        errors["urls"] = [_("Give at most %(count)s addresses.") % {"count": MAX_URLS}]
    elif any(len(url) > 4000 or any(char.isspace() for char in url) for url in urls):
        errors["urls"] = [_("Give one address per line, without spaces.")]
    email = values["email"]
    if email and (len(email) > MAX_EMAIL or email.count("@") != 1 or any(char.isspace() for char in email)
                  or email.startswith("@") or email.endswith("@")):
        errors["email"] = [_("Give an e-mail address like name@example.jp, or leave it empty.")]
    if len(values["contact_safety"]) > MAX_TEXT:
        errors["contact_safety"] = [
            _("The notes are too long: use at most %(count)s characters.") % {"count": MAX_TEXT}]
    values["url_list"] = urls
    return values, errors


def _render(values, errors, status=200):
    return render_template("phone.html", values=values, errors=errors, fields=FIELDS), status


@bp.get("/phone")
def phone_form():
    return _render({"language": "ja", "police_referral": False}, {})


@bp.post("/phone")
def add_phone_case():
    values, errors = _read(request.form)
    if errors:
        return _render(values, errors, 422)
    reference = store().add_phone_case(
        role=values["role"], description=values["description"], urls=values["url_list"], email=values["email"],
        contact_safety=values["contact_safety"], where=values["where"], police_referral=values["police_referral"],
        language=values["language"])
    return redirect(link("cases.case_page", reference=reference), 303)
