"""Error pages in the interface's layout: 400, 403, 404, 405, 413 and 500.

Bad input is a 4xx page with a message, never a 500. A ``StaffError`` raised while answering
(the store could not do what was asked) is shown as its one-line message with 409: it says
what to do. Nothing else is shown or logged of an exception but its type and place: a message
could carry report text.
"""

from __future__ import annotations

import traceback
from pathlib import Path

from flask import Flask, g, render_template
from werkzeug.exceptions import HTTPException

from staff.problems import StaffError
from staff.translations import N_

from .i18n import _


class BadInput(Exception):
    """A request no form of ours makes (a status that does not exist, a page number that is
    not one): a 400 page with ``message``, already in the page's language."""


TITLES = {
    400: N_("This request cannot be answered"),
    403: N_("Not allowed"),
    404: N_("Page not found"),
    405: N_("This request cannot be answered"),
    409: N_("This could not be done"),
    413: N_("Too much text"),
    500: N_("Something went wrong"),
}
MESSAGES = {
    400: N_("The request had something no form of this interface sends. Go back to the case list and try again."),
    404: N_("There is no such page or case. A deleted case is gone for good."),
    405: N_("The request had something no form of this interface sends. Go back to the case list and try again."),
    413: N_("The text sent was too long. Shorten it and send it again."),
    500: N_("The interface could not show this page. Your cases are safe in the store; try again, and if it "
            "goes on, tell whoever looks after the staff kit."),
}
FORBIDDEN = {
    "secret": N_("Open the interface with the link that the command safeline-staff serve printed when it "
                 "started (it ends in ?token=…). Each start makes a new link."),
    "csrf": N_("The form was not sent from this interface, or the interface was started again since the page "
               "was opened. Go back, reload the page and send the form again."),
}


def error_page(status: int, message: str):
    return render_template("error.html", status=status, title=_(TITLES.get(status, TITLES[400])),
                           message=message), status


def install(app: Flask) -> None:
    @app.errorhandler(BadInput)
    def bad_input(error: BadInput):
        return error_page(400, str(error))

    @app.errorhandler(StaffError)
    def staff_error(error: StaffError):
        return error_page(409, str(error))

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        status = error.code or 500
        if status == 403:
            return error_page(403, _(FORBIDDEN[getattr(g, "forbidden_reason", "secret")]))
        if status not in MESSAGES:
            status = 400 if 400 <= status < 500 else 500
        return error_page(status, _(MESSAGES[status]))

    @app.errorhandler(Exception)
    def unexpected(error: Exception):
        # Neither shown nor logged: the exception's message (it could hold report text). The
        # log gets its type and where it was raised, enough to find the bug.
        app.logger.error("error while answering: %s at %s", type(error).__name__, where(error))
        return error_page(500, _(MESSAGES[500]))


def where(error: BaseException) -> str:
    """The innermost frames of ``error``'s traceback as ``file:line function``, no values."""
    frames = traceback.extract_tb(error.__traceback__)[-4:]
    return " < ".join(f"{Path(frame.filename).name}:{frame.lineno} {frame.name}" for frame in reversed(frames))
