"""What the relay's views work with, made once by ``create_app``: one typed home on the app.

A view reaches them with ``services()`` (the current app's), a test or a tool with
``services(app)``; each is an ordinary attribute, so a reader and a type checker can follow
it to its class.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from flask import Flask, current_app

if TYPE_CHECKING:
    from .abuse import Pseudonyms
    from .config import Settings
    from .followup import FollowUps
    from .frame import Frame
    from .intake import Intake
    from .keys import StaffKeys
    from .open_now import Lines
    from .outbox import Outbox
    from .quota import Quota
    from .receipt import Receipts
    from .token import FormTokens

_EXTENSION = "relay"  # where Flask keeps them: app.extensions, the place for an app's own objects


@dataclass(frozen=True)
class Services:
    settings: Settings
    frame: Frame  # the theme's templates and catalogs
    lines: Lines  # the consultation lines open now, for the 429 and 503 pages
    receipts: Receipts  # the confirmation's sealed address
    tokens: FormTokens  # form tokens, and the ones already spent
    followups: FollowUps  # follow-up codes and Message-IDs
    intake: Intake  # seal and store what was accepted
    staff_keys: StaffKeys
    outbox: Outbox
    pseudonyms: Pseudonyms  # the daily names of clients, for every limit
    quota: Quota  # the limits on accepted reports

    def install(self, app: Flask) -> None:
        app.extensions[_EXTENSION] = self


def services(app: Flask | None = None) -> Services:
    """The services of ``app``, by default of the app handling the current request."""
    return (app if app is not None else current_app).extensions[_EXTENSION]
