"""Accepting a checked report: give it a reference, seal it, store it durably.

Once ``accept`` returns, the report exists only as ciphertext in the outbox, fsynced; that
is the moment the reporter may be told it arrived.  The delivery worker takes it from
there.  The Message-ID is fixed here, so that a retry after a crash is recognisably the
same report; a report's is worked out from its reference (relay.followup), so that an
addition, accepted by ``accept_addition``, can name it and be threaded under it.
"""

from __future__ import annotations

import datetime
import secrets

from .followup import FollowUps
from .report import REFERENCE_ALPHABET, REFERENCE_LENGTH, Addition, Report, reference_of
from .seal import seal


def new_reference() -> str:
    return reference_of("".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(REFERENCE_LENGTH)))


class Intake:
    def __init__(self, *, keys, outbox, mail_from: str, mail_to: tuple[str, ...], followups: FollowUps):
        self.keys = keys
        self.outbox = outbox
        self.mail_from = mail_from
        self.mail_to = list(mail_to)
        self.followups = followups

    def accept(self, report: Report) -> tuple[str, int]:
        """Seal and store; return the reference and the sealed size, or raise (nothing stored)."""
        reference = new_reference()
        return reference, self._store(report, reference, self.followups.message_id(reference))

    def accept_addition(self, addition: Addition) -> tuple[str, int]:
        """Seal and store an addition to the report it names, as a reply to that report's mail;
        return that reference and the sealed size, or raise (nothing stored).  The follow-up
        code was checked by the caller."""
        reference = addition.reference
        return reference, self._store(addition, reference, self.followups.addition_id(reference),
                                      self.followups.message_id(reference))

    def _store(self, item: Report | Addition, reference: str, message_id: str, replies_to: str | None = None) -> int:
        received_at = datetime.datetime.now(datetime.timezone.utc)
        sealed = seal(
            item,
            reference=reference,
            message_id=message_id,
            received_at=received_at,
            keys=self.keys,
            mail_from=self.mail_from,
            mail_to=self.mail_to,
            replies_to=replies_to,
        )
        # An addition's name differs from its report's: both may wait in the outbox at once.
        suffix = "-more-" + secrets.token_hex(4) if replies_to else ""
        self.outbox.put(sealed, f"{received_at:%Y%m%dT%H%M%S%fZ}-{reference}{suffix}.eml")
        return len(sealed)
