"""Follow-up codes and Message-IDs: worked out from a report's reference, nothing stored.

The confirmation shows the reference and its follow-up code; together they let the reporter
add to the same report later (``/report/more/``, relay.views).  The code is an HMAC of the
reference under the server's secret, cut to a few digits: the relay keeps no list of reports,
and the same secret gives the same code after any restart.  The Message-ID of a report's mail
is worked out the same way, so that an addition can name it (In-Reply-To, References) and
staff's mail client shows the two together.

So ``RELAY_SECRET_KEY`` must stay the same: a new one makes earlier codes wrong and breaks
the threading of later additions (README, runbook).
"""

from __future__ import annotations

import hashlib
import hmac
import uuid

from .report import CODE_DIGITS


class FollowUps:
    def __init__(self, secret: str, domain: str):
        """``domain``: the right-hand side of every Message-ID (the mail_domain of the settings)."""
        self._code_key = hmac.new(secret.encode(), b"relay.followup-code", hashlib.sha256).digest()
        self._id_key = hmac.new(secret.encode(), b"relay.message-id", hashlib.sha256).digest()
        self.domain = domain

    def code(self, reference: str) -> str:
        digest = hmac.new(self._code_key, reference.encode(), hashlib.sha256).digest()
        return f"{int.from_bytes(digest[:8], 'big') % 10 ** CODE_DIGITS:0{CODE_DIGITS}d}"

    def matches(self, reference: str, code: str) -> bool:
        # Bytes: compare_digest refuses str with non-ASCII characters (a full-width digit).
        return hmac.compare_digest(self.code(reference).encode(), code.encode())

    def message_id(self, reference: str) -> str:
        """The Message-ID of the mail that carries ``reference``: fixed, so a retry after a crash
        is recognisably the same mail, and an addition can point at it."""
        return self._message_id(hmac.new(self._id_key, reference.encode(), hashlib.sha256).hexdigest()[:32], reference)

    def addition_id(self, reference: str) -> str:
        """A new Message-ID for an addition to the report ``reference``: one of its own, since
        several additions may follow one report."""
        return self._message_id(uuid.uuid4().hex, reference)

    def _message_id(self, unique: str, reference: str) -> str:
        # The reference is in the outer Subject already; in the Message-ID it tells no more.
        return f"<{unique}.{reference}@{self.domain}>"
