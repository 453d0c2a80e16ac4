"""The in-memory store of spent form tokens: single use, remembered for two hours, then gone."""

from __future__ import annotations

from relay.token import MAX_AGE, PENDING, MemorySpentTokens


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


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
