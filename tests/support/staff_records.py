"""Records for the staff kit's tests, made as the relay makes them, without the mail around them.

``report(...)`` and ``addition(...)`` build the relay's own ``Report`` / ``Addition``, turn it
into the JSON part with the relay's ``report_record`` and the bytes it puts in the mail, and
read those back with the contract (``safeline.record.parse``): what the staff kit's importer
hands to the store after decrypting. ``new_reference`` gives a fresh SL- reference,
``message_id`` a fresh Message-ID, ``new_store`` a Store on a random key in a folder, whose
author (the kit's owner) is ``AUTHOR``.
"""

from __future__ import annotations

import itertools
import json
import secrets
from datetime import datetime, timedelta, timezone
from pathlib import Path

from relay.report import Addition, Report
from relay.seal import report_record
from safeline.record import REFERENCE_ALPHABET, Record, parse

JAPAN = timezone(timedelta(hours=9))
T0 = datetime(2026, 12, 1, 10, 0, 0, tzinfo=JAPAN)
AUTHOR = "0123456789ABCDEF0123456789ABCDEF0123CAFE"  # the fingerprint of the test stores' owner
_counter = itertools.count(1)


def new_reference() -> str:
    pick = lambda: "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(4))  # noqa: E731
    return f"SL-{pick()}-{pick()}"


def message_id() -> str:
    return f"<{next(_counter)}.{secrets.token_hex(8)}@relay.safeline.example>"


def _record(made, reference: str, received_at: datetime) -> Record:
    data = json.dumps(report_record(made, reference=reference, received_at=received_at),
                      ensure_ascii=False, indent=2).encode("utf-8") + b"\n"
    return parse(data)


def report(reference: str | None = None, *, received_at: datetime = T0, role: str = "self",
           email: str = "hanako@example.jp", urls=("https://images.example.com/p/1",),
           description: str = "知らないうちに写真が投稿されました。", lang: str = "ja",
           police_referral: bool = False, contact_safety: str = "", where: str = "") -> Record:
    made = Report(role=role, email=email, urls=tuple(urls), description=description, lang=lang,
                  police_referral=police_referral, contact_safety=contact_safety, where=where)
    return _record(made, reference or new_reference(), received_at)


def addition(reference: str, *, received_at: datetime = T0 + timedelta(hours=1),
             urls=("https://more.example.net/q/2",), description: str = "もう一つ見つけました。",
             lang: str = "ja", where: str = "") -> Record:
    made = Addition(reference=reference, urls=tuple(urls), description=description, lang=lang, where=where)
    return _record(made, reference, received_at)


def new_store(folder: Path):
    """A fresh store in ``folder`` and its key."""
    from staff.store import Store

    key = secrets.token_bytes(32)
    store = Store.create(Path(folder) / "cases.sqlite3", key)
    store.author = AUTHOR
    return store, key
