"""Follow-up codes and Message-IDs stay what they were: known answers, pinned.

Nothing is stored (relay.followup): a reporter's code and the Message-ID an addition points at
are worked out again from the reference whenever they are needed, possibly by a newer version
of the relay than the one that gave the code out.  A change in how they are derived would make
every code already given to a reporter wrong and break the threading of later additions, as a
new RELAY_SECRET_KEY does.  So the derivation is a promise, and these vectors (made with this
version) pin it; a deliberate change needs a migration, not a new vector.
"""

from __future__ import annotations

import pytest

from relay.followup import FollowUps

SECRET = "a fixed secret for the known-answer test, 32+ chars"
VECTORS = [
    # (reference, follow-up code, Message-ID)
    ("SL-7K3F-Q9XD", "66097666", "<19c429fcfbc2aafacb47fea2ad90ccc0.SL-7K3F-Q9XD@safeline.test>"),
    ("SL-AAAA-2222", "19206658", "<472f673d109a878b507b780ab31fa16c.SL-AAAA-2222@safeline.test>"),
]


@pytest.mark.parametrize(("reference", "code", "message_id"), VECTORS)
def test_a_code_given_out_earlier_still_matches(reference, code, message_id):
    followups = FollowUps(SECRET, "safeline.test")
    assert followups.code(reference) == code
    assert followups.matches(reference, code)
    assert followups.message_id(reference) == message_id


def test_codes_use_the_whole_range_of_eight_digits():
    """Guessing stays one chance in 10**8 only if every code is as likely as any other."""
    followups = FollowUps(SECRET, "safeline.test")
    codes = [int(followups.code(f"SL-TEST-{n:04d}")) for n in range(4000)]
    assert len(set(codes)) > 3990  # almost no two alike
    for tenth in range(10):  # about 400 in each tenth of the range
        assert 300 < sum(tenth * 10**7 <= code < (tenth + 1) * 10**7 for code in codes) < 500, tenth
