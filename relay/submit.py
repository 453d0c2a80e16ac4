"""Sending a form: the checks, then the one transaction that stores it or gives everything back.

A form is checked in this order: the honeypot, the form token, who is reporting, the fields;
then the form token is claimed and the report's place in the limits reserved (relay.quota),
an addition's follow-up code is checked, and the intake seals and stores it.  Until it is
stored, whatever ends the request gives the token and the place back, so the same form can
be sent again.
"""

from __future__ import annotations

import logging
import time

from flask import redirect, request

from safeline.site import lang_of_path

from . import abuse
from .confirmation import receipt_of, sent_url
from .forms import HONEYPOT, MORE, WRONG_PAIR, Form, form_values
from .pages import other_page, render_form
from .quota import Refused
from .report import Problem, normal_code
from .services import services
from .token import PENDING, TokenProblem

log = logging.getLogger("relay.report")


def submit(form: Form):
    started = time.perf_counter()
    relay = services()
    lang = lang_of_path(request.path)
    values = form_values(form)
    tokens = relay.tokens
    if values[HONEYPOT]:
        log.info("refused: honeypot")
        return render_form(form, lang, values=values, notice="honeypot", status=422)
    try:
        ticket = tokens.check(values["token"])
    except TokenProblem as problem:
        log.info("refused: token %s", problem.kind)
        return render_form(form, lang, values=values, notice=problem.kind, status=400)
    if values.get("role") == "other":
        return other_page(lang)

    item, errors = form.validate(values, lang)
    if errors:
        if already_accepted(values["token"]):
            # An earlier, mistaken version of a form that was later sent: the browser's Back
            # button re-posting it.  Show nothing of what was typed then: the device may be
            # someone else's to look at now.
            log.info("refused: form already sent")
            return render_form(form, lang, notice="already_sent", status=409)
        log.info("invalid: fields %s", ",".join(sorted(errors)))
        return render_form(form, lang, values=values, errors=errors, token=values["token"], status=422)

    held = tokens.spent.claim(ticket.nonce)
    if held == PENDING:
        return render_form(form, lang, values=values, notice="pending", status=409)
    if held:  # the same form sent twice: one report
        return redirect(sent_url(form, lang, receipt_of(held, item)), code=303)
    # From here until the report is stored, both the token and the report's place in the
    # limits are held; whatever ends the request without a stored report gives both back,
    # even an exception outside Exception (gunicorn ending a worker that timed out), so the
    # same form can be sent again.  A wrong follow-up code keeps its place in the limits.
    reference = reservation = None
    try:
        names = abuse.names()
        try:
            reservation = relay.quota.reserve(names.client, names.network)
        except Refused as refused:
            return refuse(form, lang, values, refused)
        if form is MORE and not relay.followups.matches(item.reference, normal_code(values["code"])):
            reservation = None  # counted, as an accepted report would be: codes are not guessed
            log.info("refused: follow-up code does not match")
            errors = {"code": [Problem(WRONG_PAIR)]}
            return render_form(form, lang, values=values, errors=errors, token=values["token"], status=422)
        try:
            reference, size = getattr(relay.intake, form.accept)(item)
        except Exception as error:  # noqa: BLE001 - whatever failed, the reporter must know nothing was sent
            log.error("unavailable: %s after %d ms", type(error).__name__, (time.perf_counter() - started) * 1000)
            return render_form(form, lang, values=values, notice="unavailable", token=values["token"], status=503)
    finally:
        if reference is None:
            if reservation is not None:
                reservation.release()
            tokens.spent.release(ticket.nonce)
    tokens.spent.settle(ticket.nonce, reference)
    log.info("accepted %s%s: %d bytes sealed in %d ms", "addition to " if form is MORE else "", reference, size,
             (time.perf_counter() - started) * 1000)
    return redirect(sent_url(form, lang, receipt_of(reference, item)), code=303)


def refuse(form: Form, lang: str, values: dict[str, str], refused: Refused):
    """A limit on accepted reports is reached: the form back, with what to do instead."""
    if refused.counter.name == "site":
        if refused.first_of_window:  # one line per window, across workers: for monitoring
            log.error("refused: site-wide ceiling of accepted reports reached (RELAY_RATELIMIT_SITE)")
        html, status = render_form(form, lang, values=values, notice="busy", token=values["token"], status=503)
        return html, status, {"Retry-After": str(refused.counter.keep)}
    log.info("refused: rate limit (%s)", refused.counter.name)
    return render_form(form, lang, values=values, notice="ratelimited", token=values["token"], status=429)


def already_accepted(token: str) -> str | None:
    """The reference of the report this form token already sent, if any: the one check for
    a form sent again (a double click, Back and resend), wherever it arrives."""
    tokens = services().tokens
    try:
        ticket = tokens.check(token)
    except TokenProblem:
        return None
    held = tokens.spent.lookup(ticket.nonce)
    return held if held and held != PENDING else None
