"""The relay's routes: every URL it answers, in one table, each with its view.

GET shows a form, POST sends it (relay.submit), ``sent/`` below a form is its confirmation
(relay.confirmation), ``report/other/`` tells someone who may not report what they can do.
The paths are the site's URL rule (``safeline.site.page_path``) for each language, written
out so that a reader finds a view by its URL; ``make_blueprint`` refuses a table that
disagrees with the rule.  What every response gets (headers, error pages, the check before a
POST is read) is installed on the app by ``create_app`` (relay.responses).
"""

from __future__ import annotations

from flask import Blueprint, request
from flask_limiter import Limiter

from safeline.site import LANGUAGES, lang_of_path, page_path

from . import abuse
from .config import Settings
from .confirmation import sent_page
from .forms import MORE, OTHER, REPORT, form_at
from .pages import other_page, render_form
from .submit import submit


def show_form():
    return render_form(form_at(request.path), lang_of_path(request.path))


def send_form():
    """A POST of a form; make_blueprint puts the limit on POSTs around it."""
    return submit(form_at(request.path))


def show_sent():
    return sent_page(form_at(request.path))


def show_other():
    return other_page(lang_of_path(request.path))


# Every URL of the relay: its paths (Japanese, English), method, endpoint and view.  A view
# knows its form by the path (relay.forms.form_at: /report/more/… is the addition's).
ROUTES = (
    (("/report/", "/en/report/"), "GET", "show_report", show_form),
    (("/report/", "/en/report/"), "POST", "submit_report", send_form),
    (("/report/sent/", "/en/report/sent/"), "GET", "sent_report", show_sent),
    (("/report/more/", "/en/report/more/"), "GET", "show_report_more", show_form),
    (("/report/more/", "/en/report/more/"), "POST", "submit_report_more", send_form),
    (("/report/more/sent/", "/en/report/more/sent/"), "GET", "sent_report_more", show_sent),
    (("/report/other/", "/en/report/other/"), "GET", "other", show_other),
)


def make_blueprint(settings: Settings, limiter: Limiter) -> Blueprint:
    """The report flow, with the limit on POSTs of ``settings``.

    The limit is applied twice, under the client's pseudonym for today and for tomorrow, in
    one scope: at midnight tomorrow's already holds the last hours' posts (relay.abuse).  One
    scope for both forms: their POSTs count together.  Accepted reports are counted by
    ``relay.quota`` inside ``submit``.
    """
    limited = limiter.limit(settings.ratelimit_posts, key_func=abuse.client_key, scope="posts")(send_form)
    limited = limiter.limit(settings.ratelimit_posts, key_func=abuse.client_key_tomorrow, scope="posts")(limited)
    bp = Blueprint("report", __name__)
    for paths, method, endpoint, view in ROUTES:
        for path in paths:
            bp.add_url_rule(path, endpoint, limited if view is send_form else view, methods=[method])
    routed = {path for paths, *_ in ROUTES for path in paths}
    rule = {form.path(lang) + tail for form in (REPORT, MORE) for tail in ("", "sent/") for lang in LANGUAGES}
    rule |= {"/" + page_path(OTHER, lang) for lang in LANGUAGES}
    if routed != rule:
        raise RuntimeError(f"relay.views: the routes {sorted(routed ^ rule)} disagree with the site's URL rule")
    return bp
