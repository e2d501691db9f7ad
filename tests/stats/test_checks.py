"""SRM and propensity checks against scipy's chisquare and seeded known-answer runs."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from proxy.stats.checks import propensity_p, srm_flagged, srm_p


def test_srm_matches_scipy_chisquare() -> None:
    observed = {"a": 5120.0, "b": 4880.0, "c": 2050.0}
    weights = {"a": 40.0, "b": 40.0, "c": 20.0}
    total = sum(observed.values())
    reference = stats.chisquare([5120, 4880, 2050], [total * 0.4, total * 0.4, total * 0.2])
    assert srm_p(observed, weights) == pytest.approx(reference.pvalue, rel=1e-9)


def test_skewed_split_is_flagged_and_a_fair_one_rarely() -> None:
    rng = np.random.default_rng(13)
    flagged_fair = 0
    for _ in range(500):
        a = int(rng.binomial(20_000, 0.5))
        flagged_fair += srm_flagged(srm_p({"a": a, "b": 20_000 - a}, {"a": 50, "b": 50}))
    assert flagged_fair / 500 <= 0.01
    a = int(rng.binomial(20_000, 0.52))  # a 52/48 split configured as 50/50
    assert srm_flagged(srm_p({"a": a, "b": 20_000 - a}, {"a": 50, "b": 50}))


def test_exposure_of_a_variant_weighted_zero_is_a_mismatch() -> None:
    assert srm_p({"a": 10, "b": 10, "c": 1}, {"a": 1, "b": 1, "c": 0}) == 0.0
    assert srm_p({}, {"a": 1, "b": 1}) is None


def test_propensity_consistency_of_a_drifting_bandit() -> None:
    rng = np.random.default_rng(17)
    served = {"a": 0.0, "b": 0.0}
    expected = {"a": 0.0, "b": 0.0}
    for t in range(20_000):
        p_b = min(0.9, 0.5 + t / 40_000)  # the bandit shifts towards b
        chosen = "b" if rng.random() < p_b else "a"
        served[chosen] += 1
        expected["a"] += 1 - p_b
        expected["b"] += p_b
    p = propensity_p(served, expected)
    assert p is not None and p > 0.001
    biased = {"a": served["a"] * 1.1, "b": served["b"] - served["a"] * 0.1}
    assert srm_flagged(propensity_p(biased, expected))
