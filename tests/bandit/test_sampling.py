"""Seeded sampling replays, matches its pmf, and the floor keeps every variant reachable."""

from __future__ import annotations

import itertools
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from proxy.bandit.sampling import apply_floor, sample, seed_key, uniform


def test_seed_key_is_unambiguous() -> None:
    assert seed_key("ab", "c", 1) != seed_key("a", "bc", 1)
    assert seed_key("s", "hero", 3) == seed_key("s", "hero", "3")


def test_uniform_is_stable_across_processes() -> None:
    # a fixed value: BLAKE2b does not depend on PYTHONHASHSEED or the machine
    assert uniform("x") == int("4adf4367f96e584f", 16) / 2**64
    assert 0.0 <= uniform("y") < 1.0


def test_replay_gives_the_same_choice() -> None:
    pmf = [0.1, 0.2, 0.3, 0.4]
    key = seed_key("session-1", "hero", 7)
    assert sample(pmf, key) == sample(list(pmf), key)
    index, probability = sample(pmf, key)
    assert probability == pmf[index]


def test_frequencies_match_the_pmf() -> None:
    pmf = [0.05, 0.15, 0.3, 0.5]
    n = 20_000
    counts = [0] * len(pmf)
    for i in range(n):
        counts[sample(pmf, seed_key(f"s{i}", "hero", 0))[0]] += 1
    chi2 = sum((c - n * p) ** 2 / (n * p) for c, p in zip(counts, pmf, strict=True))
    assert chi2 < 16.27  # 3 degrees of freedom, p = 0.001; the keys are fixed, so no flakiness


def test_zero_probability_is_never_chosen() -> None:
    pmf = [0.0, 1.0, 0.0]
    assert {sample(pmf, seed_key(str(i), "s", 0))[0] for i in range(200)} == {1}


def test_unnormalised_pmf_is_normalised() -> None:
    _index, probability = sample([2.0, 2.0], seed_key("a", "b", 0))
    assert probability == 0.5


@pytest.mark.parametrize("bad", [[], [0.0, 0.0], [-0.1, 1.1], [math.nan, 1.0], [math.inf, 1.0]])
def test_invalid_pmf_refused(bad: list[float]) -> None:
    with pytest.raises(ValueError):
        sample(bad, "k")


def test_apply_floor_examples() -> None:
    assert apply_floor([0.5, 0.5], 0.1) == [0.5, 0.5]
    assert apply_floor([1.0, 0.0, 0.0, 0.0], 0.05) == pytest.approx([0.85, 0.05, 0.05, 0.05])
    # the ratio of unfloored entries is kept
    out = apply_floor([0.6, 0.3, 0.1, 0.0], 0.1)
    assert out[3] == 0.1 and out[2] == pytest.approx(0.1)
    assert out[0] / out[1] == pytest.approx(2.0)
    assert apply_floor([0.0, 0.0], 0.1) == [0.5, 0.5]
    assert apply_floor([0.7, 0.3], 0.5) == pytest.approx([0.5, 0.5])
    with pytest.raises(ValueError):
        apply_floor([0.5, 0.5], 0.6)


@given(
    st.lists(st.floats(0.0, 1.0), min_size=1, max_size=12),
    st.floats(0.0, 1.0),
)
def test_apply_floor_properties(pmf: list[float], fraction: float) -> None:
    floor = fraction / len(pmf)
    out = apply_floor(pmf, floor)
    assert len(out) == len(pmf)
    assert math.fsum(out) == pytest.approx(1.0)
    assert min(out) >= floor - 1e-12
    total = math.fsum(pmf)
    if total > 0:
        # entries above the floor keep their ratios
        free = [(o, p) for o, p in zip(out, pmf, strict=True) if o > floor + 1e-9]
        for (o1, p1), (o2, p2) in itertools.pairwise(free):
            assert o1 * p2 == pytest.approx(o2 * p1, rel=1e-6, abs=1e-12)
