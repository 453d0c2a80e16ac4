"""The form token (signed, timestamped) at its exact limits, and the in-memory store of spent
tokens: single use, remembered for two hours, then gone."""

from __future__ import annotations

import math

import pytest

from relay.token import MAX_AGE, PENDING, FormTokens, MemorySpentTokens, TokenProblem

SECRET = "form-token-test-secret-not-used-elsewhere-0000"
# What the pages promise ("this form expires after two hours"), stated on its own rather than read
# from relay.token.MAX_AGE, so that a changed limit fails here until the words change too.
TWO_HOURS = 2 * 60 * 60
MIN_FILL = 3.0  # RELAY_MIN_FILL_SECONDS's default

# A clock may count from any epoch: the wall clock (time.time, the relay's) or the machine's boot
# (as time.monotonic does).  Both are exact binary fractions, so each age below is exact.
EPOCHS = {"wall clock": 1_700_000_000.5, "since boot": 1000.0}


class Clock:
    def __init__(self, now: float = 1000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


def form_tokens(clock: Clock) -> FormTokens:
    return FormTokens(SECRET, min_fill_seconds=MIN_FILL, spent=MemorySpentTokens(clock=clock), clock=clock)


def problem(tokens: FormTokens, token: str) -> str | None:
    try:
        tokens.check(token)
    except TokenProblem as refused:
        return refused.kind
    return None


@pytest.mark.parametrize("epoch", EPOCHS.values(), ids=EPOCHS)
def test_a_form_sent_exactly_the_minimum_fill_time_after_it_was_served_is_accepted(epoch):
    """README: the token "refuses a form sent *sooner* than RELAY_MIN_FILL_SECONDS after it was
    served": at exactly that age the form is not sooner, so it is accepted; the float just
    before is too fast."""
    clock = Clock(epoch)
    tokens = form_tokens(clock)
    token = tokens.issue()
    clock.now = epoch + MIN_FILL
    assert problem(tokens, token) is None
    clock.now = math.nextafter(epoch + MIN_FILL, -math.inf)
    assert problem(tokens, token) == "too_fast"


@pytest.mark.parametrize("epoch", EPOCHS.values(), ids=EPOCHS)
def test_a_form_exactly_two_hours_old_is_accepted_and_a_moment_later_expired(epoch):
    """The pages: "this form expires *after* two hours": at exactly two hours it still works;
    the float just after, it has expired.  On a clock counting from boot too: the age is
    the time between issue and check, whatever the clock's epoch."""
    clock = Clock(epoch)
    tokens = form_tokens(clock)
    token = tokens.issue()
    clock.now = epoch + TWO_HOURS
    assert problem(tokens, token) is None
    clock.now = math.nextafter(epoch + TWO_HOURS, math.inf)
    assert problem(tokens, token) == "expired"
    clock.now = epoch + 3 * TWO_HOURS
    assert problem(tokens, token) == "expired"


def test_a_token_keeps_the_millisecond_it_was_served_rounded_down():
    """The issue time is kept to the millisecond, not the second: a form served at …00.92 and sent
    at …03.4 is too fast, though a whole-second issue time would make it 3.4 s old.  Rounded
    down, never up, so that a form checked at once is never "from the future"."""
    clock = Clock(1_700_000_000.9237)
    tokens = form_tokens(clock)
    token = tokens.issue()
    clock.now = 1_700_000_003.4
    assert problem(tokens, token) == "too_fast"
    clock.now = 1_700_000_003.923
    assert tokens.check(token).issued_at == 1_700_000_000.923


def test_a_token_is_claimed_once_and_remembers_its_report():
    spent = MemorySpentTokens(clock=Clock())
    assert spent.claim("a") is None
    assert spent.claim("a") == PENDING
    spent.settle("a", "SL-AAAA-BBBB")
    assert spent.claim("a") == spent.lookup("a") == "SL-AAAA-BBBB"
    spent.release("b")  # unknown: nothing happens
    spent.claim("b")
    spent.release("b")
    assert spent.claim("b") is None  # released after a failure: usable again


def test_entries_expire_in_the_order_they_were_last_written():
    clock = Clock()
    spent = MemorySpentTokens(clock=clock)
    for number in range(1000):
        spent.claim(f"n{number}")
        clock.now += 1
    clock.now += 10
    spent.settle("n0", "SL-2222-3333")  # written again: lives MAX_AGE from now
    clock.now += MAX_AGE - 500
    spent.claim("late")
    # n1…n509 were written more than MAX_AGE ago; n0 was settled later, and "late" is new.
    assert len(spent) == 490 + 2
    assert spent.lookup("n0") == "SL-2222-3333"
    assert spent.lookup("n509") is None and spent.lookup("n510") == PENDING
    clock.now += MAX_AGE + 1
    spent.claim("last")
    assert len(spent) == 1


def test_lookup_forgets_an_expired_entry_before_any_claim_sweeps_it():
    """A lookup (the "already sent" check) never sweeps: it must itself refuse an entry past its
    two hours, yet still see one at exactly two hours (as long as the token itself lives)."""
    clock = Clock(1000.0)
    spent = MemorySpentTokens(clock=clock)
    spent.claim("a")
    spent.settle("a", "SL-AAAA-BBBB")
    clock.now = 1000.0 + MAX_AGE
    assert spent.lookup("a") == "SL-AAAA-BBBB"
    clock.now = math.nextafter(1000.0 + MAX_AGE, math.inf)
    assert spent.lookup("a") is None
    assert len(spent) == 1  # still stored: only the lookup's own check hid it
