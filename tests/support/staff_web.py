"""The staff kit's web interface in tests: a store with cases, the app, a logged-in client.

- ``filled_store(folder)``: a fresh store (random key) holding a few cases made as the relay
  makes them (tests/support/staff_records.py; ``filled_into(store)`` adds them to any store):
  a report with two additions, a hostile report
  (markup and script in every field, a right-to-left override, 30 URLs, 4,000 characters),
  an English report, an addition whose report has not come, and a phone case. Returns the
  store and ``Cases``, the references by name.
- ``client_for(app)``: a Flask test client at ``http://127.0.0.1:PORT`` that has already opened
  the launch link, so it holds the cookie; ``csrf(app)`` the token a POST form carries.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from staff.web import create_app
from staff.web.guard import csrf_token
from tests.support.staff_records import T0, addition, message_id, new_store, report

PORT = 18765
ORIGIN = f"http://127.0.0.1:{PORT}"
SECRET = "test-secret-" + "x" * 32

HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)><a href="https://evil.example/">click</a>'
RLO = "\u202eexe.txt"  # a right-to-left override: shown isolated, never reorders the page
HOSTILE_URLS = tuple(f"https://h{index}.bad.example/p?q=<b>{index}</b>&x=\"'" for index in range(30))
SPOOF_URL = "https://evil.example/\u202emoc.elgoog"  # shown with a visible U+202E mark
LONG = ("長い説明。" * 800)[:4000]


@dataclass
class Cases:
    plain: str
    hostile: str
    english: str
    orphan: str
    phone: str


def filled_store(folder: Path):
    """A fresh store in ``folder`` (random key) with the cases of ``filled_into``."""
    store, _ = new_store(folder)
    return store, filled_into(store)


def filled_into(store) -> Cases:
    """Adds the test cases to ``store``; their references."""
    plain = report(contact_safety="平日の夜だけメールしてください。夫が見ることがあります。", police_referral=True,
                   email="hanako@example.jp", where="掲示板", received_at=T0)
    store.add(plain, message_id=message_id())
    store.add(addition(plain.reference, received_at=T0 + timedelta(hours=2), description="二つ目を見つけました。"),
              message_id=message_id())
    store.add(addition(plain.reference, received_at=T0 + timedelta(hours=1), description="一つ目の追加です。",
                       urls=("https://more.example.net/q/1",)), message_id=message_id())
    hostile = report(role="guardian", email="a.b+x@example.jp", urls=HOSTILE_URLS,
                     description=HOSTILE + RLO + LONG[: 4000 - len(HOSTILE) - len(RLO)],
                     contact_safety=HOSTILE + RLO, where=HOSTILE, received_at=T0 + timedelta(days=1))
    store.add(hostile, message_id=message_id())
    english = report(email="alex@example.org", lang="en", description="Photos of me were posted.",
                     urls=("https://images.example.com/p/9", SPOOF_URL),
                     contact_safety="Only write after 6 pm.", received_at=T0 + timedelta(days=2))
    store.add(english, message_id=message_id())
    orphan_reference = report().reference
    store.add(addition(orphan_reference, received_at=T0 + timedelta(days=3)), message_id=message_id())
    phone = store.add_phone_case(role="self", description="電話で相談がありました。", urls=["https://phone.example.jp/x"],
                                 at=T0 + timedelta(days=4))
    return Cases(plain=plain.reference, hostile=hostile.reference, english=english.reference,
                        orphan=orphan_reference, phone=phone)


def make_app(store):
    app = create_app(store, secret=SECRET, port=PORT)
    app.testing = False  # errors become pages, as when served
    return app


def client_for(app):
    client = app.test_client()
    client.environ_base["HTTP_HOST"] = f"127.0.0.1:{PORT}"
    response = client.get(f"{ORIGIN}/?token={SECRET}")
    assert response.status_code == 303, response.status_code
    return client


def csrf() -> str:
    return csrf_token(SECRET)
