"""Accepting a checked report: give it a reference, seal it, store it durably.

Once ``accept`` returns, the report exists only as ciphertext in the outbox, fsynced; that
is the moment the reporter may be told it arrived.  The delivery worker takes it from
there.  The Message-ID is fixed here, so that a retry after a crash is recognisably the
same report.
"""

from __future__ import annotations

import datetime
import secrets
import uuid

from .report import Report
from .seal import seal

# Crockford-like: no 0/O, 1/I/L or U, so a number read out on the phone is not misheard.
ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_reference() -> str:
    chars = "".join(secrets.choice(ALPHABET) for _ in range(8))
    return f"SL-{chars[:4]}-{chars[4:]}"


class Intake:
    def __init__(self, *, keys, outbox, mail_from: str, mail_to: tuple[str, ...]):
        self.keys = keys
        self.outbox = outbox
        self.mail_from = mail_from
        self.mail_to = list(mail_to)
        self.domain = mail_from.rsplit("@", 1)[-1]

    def accept(self, report: Report) -> tuple[str, int]:
        """Seal and store; return the reference and the sealed size, or raise (nothing stored)."""
        reference = new_reference()
        received_at = datetime.datetime.now(datetime.timezone.utc)
        message_id = f"<{uuid.uuid4().hex}.{reference}@{self.domain}>"
        sealed = seal(
            report,
            reference=reference,
            message_id=message_id,
            received_at=received_at,
            keys=self.keys,
            mail_from=self.mail_from,
            mail_to=self.mail_to,
        )
        self.outbox.put(sealed, f"{received_at:%Y%m%dT%H%M%S%fZ}-{reference}.eml")
        return reference, len(sealed)
