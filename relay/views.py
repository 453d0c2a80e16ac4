"""The relay's routes: every URL it answers, written out, each with its view.

GET shows a form, POST sends it (relay.submit), ``sent/`` below a form is its confirmation
(relay.confirmation), ``report/other/`` tells someone who may not report what they can do.
The paths are the site's URL rule (``safeline.site.page_path``) for each language, written
out so that a reader finds a view by its URL; ``make_blueprint`` refuses a table that
disagrees with the rule.  What every response gets (headers, error pages, the check before a
POST is read) is installed on the app by ``create_app`` (relay.responses).
"""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, request
from flask_limiter import Limiter

from safeline.site import LANGUAGES, lang_of_path, page_path

from . import abuse
from .config import Settings
from .confirmation import sent_page
from .forms import MORE, OTHER, REPORT
from .pages import other_page, render_form
from .submit import submit


def make_blueprint(settings: Settings, limiter: Limiter) -> Blueprint:
    """The report flow, with the limit on POSTs of ``settings``.

    The limit is applied twice, under the client's pseudonym for today and for tomorrow, in
    one scope: at midnight tomorrow's already holds the last hours' posts (relay.abuse).
    Accepted reports are counted by ``relay.quota`` inside ``submit``.
    """
    bp = Blueprint("report", __name__)
    routed: set[str] = set()

    def route(*paths: str, method: str) -> Callable:
        def register(view: Callable) -> Callable:
            for path in paths:
                bp.add_url_rule(path, view.__name__, view, methods=[method])
            routed.update(paths)
            return view
        return register

    def limited(view: Callable) -> Callable:
        # One scope: the POSTs of both forms count together.  (Flask-Limiter files a view's
        # limits under its name, so each form's view has its own.)
        view = limiter.limit(settings.ratelimit_posts, key_func=abuse.client_key, scope="posts")(view)
        return limiter.limit(settings.ratelimit_posts, key_func=abuse.client_key_tomorrow, scope="posts")(view)

    @route("/report/", "/en/report/", method="GET")
    def show_report():
        return render_form(REPORT, lang_of_path(request.path))

    @route("/report/", "/en/report/", method="POST")
    @limited
    def submit_report():
        return submit(REPORT)

    @route("/report/sent/", "/en/report/sent/", method="GET")
    def sent_report():
        return sent_page(REPORT)

    @route("/report/more/", "/en/report/more/", method="GET")
    def show_report_more():
        return render_form(MORE, lang_of_path(request.path))

    @route("/report/more/", "/en/report/more/", method="POST")
    @limited
    def submit_report_more():
        return submit(MORE)

    @route("/report/more/sent/", "/en/report/more/sent/", method="GET")
    def sent_report_more():
        return sent_page(MORE)

    @route("/report/other/", "/en/report/other/", method="GET")
    def other():
        return other_page(lang_of_path(request.path))

    rule = {form.path(lang) + tail for form in (REPORT, MORE) for tail in ("", "sent/") for lang in LANGUAGES}
    rule |= {"/" + page_path(OTHER, lang) for lang in LANGUAGES}
    if routed != rule:
        raise RuntimeError(f"relay.views: the routes {sorted(routed ^ rule)} disagree with the site's URL rule")
    return bp
