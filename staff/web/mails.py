"""A deleted case's mails, from the interface: the clean-up ``safeline-staff delete`` offers.

The command line lists the case's mails in the report mailbox and the team's events folder
and deletes them there once staff type ``yes`` (``staff.retention``: ``mail_places``,
``clean_mailboxes``). The interface offers the same, in steps, each on a button that says it
contacts the mail server:

1. the confirmation (``delete.html``) deletes the case and then looks for its mails
   (``look``), or deletes the case only;
2. the case is deleted from the store first, for good: nothing that happens with the mail
   server afterwards can undo that; then the page lists, per place, how many mails of this case
   (and of cases deleted or retired before) are there;
3. a second confirmation deletes them (``clean``), found again the same way: after the
   deletion the store knows the case's mails only by the keyed HMACs of their Message-IDs, which
   is all ``clean_mailboxes`` needs.

Where the mails are: config.json's ``imap`` (the report mailbox ``import`` reads by default;
the interface has no ``--maildir``) and ``events``. A password can only come from the system
keyring: the browser cannot be asked for it (as for the sync, ``staff.web.sync``). Before
anything is deleted, ``offer`` says which account's password the keyring lacks, so that staff
can delete from a terminal instead (``safeline-staff delete REFERENCE`` asks for it). A server
out of reach, or a password refused, is said per place, with the command to run later.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field

from staff.problems import StaffError
from staff.retention import EVENTS_FOLDER, REPORT_MAILBOX, Place, clean_mailboxes, mail_places

IMAP_SCHEMES = ("imaps:", "imap:")


class NoPrompt(EOFError):
    """The password prompt: the browser cannot be asked for the IMAP password."""


@dataclass(frozen=True)
class Spot:
    """One place as a page shows it: ``kind`` ("report" or "events"), ``where`` (its address or
    folder), ``imap`` (whether it is on a mail server)."""

    kind: str
    where: str
    imap: bool


@dataclass
class Offer:
    """What the confirmation page can offer: the places, the IMAP accounts whose password the
    keyring lacks, the places not set, and a setting's problem (one line) if any."""

    spots: list[Spot] = field(default_factory=list)
    no_password: list[str] = field(default_factory=list)  # USER@HOST
    not_set: list[str] = field(default_factory=list)  # "report", "events"
    problem: str | None = None

    @property
    def server(self) -> bool:
        return any(spot.imap for spot in self.spots)


@dataclass
class Failure:
    kind: str
    where: str
    detail: str
    account: str | None = None  # USER@HOST when the password was wanted and not in the keyring


@dataclass
class Look:
    """What a look (or a clean-up) found and did, per place kind."""

    spots: list[Spot]
    these: dict[str, int] = field(default_factory=dict)  # of this case (only while its Message-IDs are known)
    before: dict[str, int] = field(default_factory=dict)  # of cases deleted or retired before
    deleted: dict[str, int] = field(default_factory=dict)
    failures: list[Failure] = field(default_factory=list)
    not_set: list[str] = field(default_factory=list)
    unknown_events: int = 0
    knows_case: bool = True  # False when this case's mails are among "before" (a look after the deletion)
    problem: str | None = None

    @property
    def found(self) -> int:
        return sum(self.these.values()) + sum(self.before.values())

    @property
    def looked_spots(self) -> list[Spot]:
        """The places that were looked in (opened and listed)."""
        return [spot for spot in self.spots if spot.kind in self.these or spot.kind in self.before]

    @property
    def deleted_total(self) -> int:
        return sum(self.deleted.values())


def _kind(label: str) -> str:
    return "report" if label == REPORT_MAILBOX else "events"


def _places(config, asked: list[str]) -> tuple[list[Place], list[str]]:
    def no_prompt(question: str) -> str:
        asked.append(question)
        raise NoPrompt

    places, missing = mail_places(config, password_prompt=no_prompt)
    not_set = [kind for kind, label in (("report", REPORT_MAILBOX), ("events", EVENTS_FOLDER))
               if any(label in line for line in missing)]
    return places, not_set


def _spot(place: Place) -> Spot:
    return Spot(_kind(place.label), place.where, place.where.startswith(IMAP_SCHEMES))


def _account(where: str) -> str:
    from staff.imap import parse_address

    return parse_address(where).account


def offer(config) -> Offer:
    """The places to look in, checked without contacting any server (the keyring is asked
    whether it holds each IMAP account's password)."""
    from staff.imap import KEYRING_SERVICE, keyring_password

    result = Offer()
    try:
        places, result.not_set = _places(config, [])
    except StaffError as error:
        result.problem = str(error)
        return result
    result.spots = [_spot(place) for place in places]
    for spot in result.spots:
        if spot.imap:
            account = _account(spot.where)
            if account not in result.no_password and keyring_password(KEYRING_SERVICE, account) is None:
                result.no_password.append(account)
    return result


class _Watched:
    """A place's opened folder, whose failures are noted for the page before
    ``clean_mailboxes`` turns them into its own line."""

    def __init__(self, folder, note):
        self._folder, self._note = folder, note

    def message_ids(self):
        try:
            return list(self._folder.message_ids())
        except StaffError as error:
            self._note(error)
            raise

    def delete(self, keys):
        try:
            return self._folder.delete(keys)
        except StaffError as error:
            self._note(error)
            raise

    def close(self):
        self._folder.close()


def look(store, config, *, known=(), unknown_events: int = 0, delete: bool = False) -> Look:
    """Look for the mails of this case (``known``: its Message-IDs, while they are known) and
    of cases deleted or retired before, in the places of ``config``; with ``delete``, delete
    them. Never raises for a place that cannot be used: each failure is in the result."""
    asked: list[str] = []
    try:
        places, not_set = _places(config, asked)
    except StaffError as error:
        return Look([], problem=str(error))
    result = Look([_spot(place) for place in places], not_set=not_set, unknown_events=unknown_events,
                  knows_case=bool(known))
    watched = []
    for place in places:
        spot = _spot(place)

        def note(error, spot=spot, before=None):
            wanted = before is not None and len(asked) > before
            account = _account(spot.where) if wanted and spot.imap else None
            result.failures.append(Failure(spot.kind, spot.where, str(getattr(error, "strerror", None) or error),
                                           account))

        def opened(place=place, note=note):
            before = len(asked)
            try:
                return _Watched(place.open(), note)
            except (StaffError, OSError) as error:
                note(error, before=before)
                raise

        watched.append(Place(place.label, place.where, opened))
    try:
        cleaning = clean_mailboxes(store, watched, known, whose="this case" if known else None,
                                   unknown_events=unknown_events, yes=delete, ask=lambda question: "",
                                   out=io.StringIO())
    except Exception as error:  # noqa: BLE001 - the case is deleted already: the page must still say so
        # Neither the message (it could carry a server's words) nor a traceback: the type is enough.
        result.problem = f"the mail clean-up failed ({type(error).__name__})"
        return result
    for label, count in cleaning.these.items():
        if known:
            result.these[_kind(label)] = count
    for label, count in cleaning.before.items():
        result.before[_kind(label)] = count
    for label, count in cleaning.deleted.items():
        result.deleted[_kind(label)] = count
    return result
