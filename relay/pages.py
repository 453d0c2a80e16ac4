"""The relay's pages, rendered with the theme's templates: the forms (within their page
budget), what someone else can do, and the error pages.

Whatever happens, the reporter gets the same form back with everything they typed, and a
message in their language that says what to do; never a traceback.  When a report cannot be
taken now (429, 503), the page says so in its heading and lists the consultation lines open
at that moment (relay.open_now).
"""

from __future__ import annotations

from flask import request

from safeline.site import LANGUAGES, N_, page_path

from .forms import MORE, NOT_NOW, NOTICES, OTHER, REPORT, Form, form_at
from .frame import Page
from .report import MAX_CONTACT_SAFETY, MAX_DESCRIPTION, MAX_URLS, MAX_WHERE
from .services import services

# The language staff write in (RELAY_STAFF_LANGUAGE), said on the pages of the other languages.
STAFF_WRITE_IN = {
    "ja": N_("Staff will write to you in Japanese."),
    "en": N_("Staff will write to you in English."),
}
PAGE_BUDGET = 100_000  # bytes: the largest form page the relay sends back
NOT_SHOWN = N_("What was entered here was far longer than the form allows, so it is not shown again. Please enter it again, shorter.")
ERRORS = {
    400: (N_("The request could not be understood"), N_("Please go back to the form and send it again.")),
    403: (N_("The form must be sent from this site"), N_("Please open the form on this site and send it from there.")),
    404: (N_("Page not found"), N_("The page you asked for does not exist.")),
    405: (N_("This page cannot do that"), N_("Please go back to the form and send it again.")),
    413: (N_("The form is too large"), N_("What was sent is larger than the form allows. Please shorten the description or send fewer addresses at once.")),
    429: (N_("Please wait"), N_("Please wait an hour and try again.")),
    500: (N_("Something went wrong on our side"), N_("Please try again in a few minutes.")),
    503: (N_("We cannot take reports just now"), N_("Please try again in an hour.")),
}
WAIT = (429, 503)  # the error pages that also list the lines open now


def page_for(lang: str, slug: str, title: str, summary: str = "") -> Page:
    """A page of the relay as the shared templates read one, with its twin in each language."""
    gettext = services().frame.gettext
    versions = [Page(lang=each, title=gettext(each)(title), url=page_path(slug, each), slug=slug,
                     summary=gettext(each)(summary) if summary else "")
                for each in LANGUAGES]
    page = next(version for version in versions if version.lang == lang)
    page.translations = [version for version in versions if version is not page]
    return page


def staff_language_note(lang: str) -> str | None:
    """On a page in another language than staff write in: which one they write in."""
    relay = services()
    staff = relay.settings.staff_language
    return relay.frame.gettext(lang)(STAFF_WRITE_IN[staff]) if staff != lang else None


def open_now(lang: str):
    relay = services()
    return relay.lines.open_now(relay.frame.gettext(lang), lang)


def render_form(form: Form, lang: str, *, values=None, errors=None, notice=None, token=None, status=200):
    relay = services()
    frame = relay.frame
    gettext = frame.gettext(lang)
    values = dict(values or {})
    rendered = {field: [problem.render(gettext) for problem in problems] for field, problems in (errors or {}).items()}
    context = dict(
        page=page_for(lang, form.slug, form.title, form.summary),
        fields=form.fields,
        anchors=form.anchors,
        max_urls=MAX_URLS,
        max_description=f"{MAX_DESCRIPTION:,}",
        max_contact_safety=f"{MAX_CONTACT_SAFETY:,}",
        max_where=f"{MAX_WHERE:,}",
        report_path=REPORT.path(lang),
        other_path="/" + page_path(OTHER, lang),
        values=values,
        errors=rendered,
        notice=gettext(NOTICES[notice]) if notice else None,
        heading=gettext(NOT_NOW[notice]) if notice in NOT_NOW else None,
        open_now=open_now(lang) if notice in NOT_NOW else None,
        lost_code=form is MORE and notice in NOT_NOW,  # waiting may not help one who lost the code
        staff_language=staff_language_note(lang),
        token=token or relay.tokens.issue(),
    )
    html = frame.render(form.template, **context)
    # What was typed comes back escaped, and escaping can make a character five bytes: a
    # pasted flood of '&' or '"' would make a page of several hundred KB.  Only such floods
    # pass the budget, so the largest field is then left empty, with a word why, until the
    # page fits; anything a person typed within the form's limits always comes back.
    while len(html.encode("utf-8")) > PAGE_BUDGET:
        field = max(form.echoed, key=lambda name: len(values.get(name, "")))
        if not values.get(field):
            break
        values[field] = ""
        rendered.setdefault(field, []).append(gettext(NOT_SHOWN))
        html = frame.render(form.template, **context)
    return html, status


def error_page(lang: str, status: int):
    frame = services().frame
    title, message = ERRORS.get(status, ERRORS[400])
    form = form_at(request.path)
    page = page_for(lang, form.slug, title, message)
    return frame.render("error.html", page=page, message=frame.gettext(lang)(message), form_path=form.path(lang),
                        open_now=open_now(lang) if status in WAIT else None,
                        lost_code=form is MORE and status in WAIT, report_path=REPORT.path(lang)), status


def other_page(lang: str):
    """For someone who is neither the person shown nor a guardian: what they can do."""
    frame = services().frame
    page = page_for(lang, OTHER, N_("Reporting for someone else"),
                    N_("If the images are of someone else, such as a friend, here is what you can do to help."))
    return frame.render("report-other.html", page=page, report_path=REPORT.path(lang),
                        posted=request.method == "POST"), 200
