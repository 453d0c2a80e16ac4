"""The confirmation's address: what its page must say, sealed so that the address says nothing.

After a report is stored, the browser is sent to ``…/sent/?r=VALUE``, and that address stays in
the browser's history, where someone else may look later.  VALUE is therefore encrypted, not
only signed (itsdangerous signs: its payload is base64 that anyone can read): AES-GCM with a
key derived from RELAY_SECRET_KEY, one key per form, so that nothing in the address can be
read, changed or moved to the other form's page.  It carries the reference number and what
the page says about the report (whether the police box was ticked, whether any address was
given), and it is good for an hour; after that, or when it was changed, the page shows the
general confirmation without numbers.

Encryption rather than an id kept in the token store: any gunicorn worker can open it, and it
needs no Redis (a report accepted while Redis is down still gets its numbers).
"""

from __future__ import annotations

import base64
import binascii
import os
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from .report import REFERENCE

MAX_AGE = 3600  # seconds: the numbers are shown for an hour after sending
NONCE = 12
_HEAD = struct.Struct(">QB")  # when it was made (Unix seconds), flags; then the reference
_POLICE, _NO_ADDRESS = 1, 2
_LONGEST = 200  # characters: a real value has 66; anything longer is not decoded at all


@dataclass(frozen=True)
class Receipt:
    """What the confirmation of one report (or addition) shows."""

    reference: str
    police: bool = False  # the reporter asked to be introduced to the police consultation desk
    no_address: bool = False  # no web address was given, only where the images are


class Receipts:
    """Seals a ``Receipt`` into the confirmation's address and opens it again, within MAX_AGE."""

    def __init__(self, secret_key: str, *, clock: Callable[[], float] = time.time, max_age: int = MAX_AGE):
        self.secret = secret_key.encode("utf-8")
        self.clock = clock
        self.max_age = max_age
        self._ciphers: dict[str, AESGCM] = {}

    def _cipher(self, purpose: str) -> AESGCM:
        # One key per purpose (the form's page): derived once, not on every redirect.
        if purpose not in self._ciphers:
            key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                       info=b"safeline relay confirmation " + purpose.encode("utf-8")).derive(self.secret)
            self._ciphers[purpose] = AESGCM(key)
        return self._ciphers[purpose]

    def seal(self, purpose: str, receipt: Receipt) -> str:
        flags = (_POLICE if receipt.police else 0) | (_NO_ADDRESS if receipt.no_address else 0)
        plain = _HEAD.pack(int(self.clock()), flags) + receipt.reference.encode("ascii")
        nonce = os.urandom(NONCE)
        sealed = nonce + self._cipher(purpose).encrypt(nonce, plain, purpose.encode("utf-8"))
        return base64.urlsafe_b64encode(sealed).rstrip(b"=").decode("ascii")

    def open(self, purpose: str, value: str) -> Receipt | None:
        """The receipt sealed in ``value``, or None when it is old, changed or not one at all."""
        if not value or len(value) > _LONGEST:
            return None
        try:
            sealed = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
        except (binascii.Error, ValueError):
            return None
        if len(sealed) <= NONCE + _HEAD.size:
            return None
        try:
            plain = self._cipher(purpose).decrypt(sealed[:NONCE], sealed[NONCE:], purpose.encode("utf-8"))
        except InvalidTag:
            return None
        made, flags = _HEAD.unpack_from(plain)
        reference = plain[_HEAD.size:].decode("ascii", "replace")
        age = self.clock() - made
        if not -60 <= age <= self.max_age or not REFERENCE.fullmatch(reference):
            return None  # a minute's grace for workers whose clocks differ slightly
        return Receipt(reference, police=bool(flags & _POLICE), no_address=bool(flags & _NO_ADDRESS))
