"""bench/lighthouse.py calibrates Lighthouse's CPU slowdown to the host as Lighthouse's own
calculator does, and is never stricter nor looser than stock Lighthouse on its reference desktop."""

import pytest

from bench.lighthouse import DEFAULT_SLOWDOWN, cpu_slowdown


@pytest.mark.parametrize(("index", "slowdown"), [
    (100, 1.0), (150, 1.0), (475, 1.5), (800, 2.0), (924, 2.25), (1050, 2.5), (1300, 3.0),
    (1533, 4.0),  # Lighthouse's reference desktop gets Lighthouse's default
    (2000, 4.0),  # a faster host is not judged more harshly than stock Lighthouse would
])
def test_the_multiplier_follows_lighthouses_calculator(index, slowdown):
    assert cpu_slowdown(index) == pytest.approx(slowdown, abs=0.01)


def test_a_slower_host_never_gets_a_larger_multiplier():
    values = [cpu_slowdown(index) for index in range(0, 2500, 10)]
    assert values == sorted(values) and max(values) == DEFAULT_SLOWDOWN
