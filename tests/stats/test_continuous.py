"""Welch, the delta method and CUPED against scipy on raw samples and seeded simulations."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from proxy.stats.continuous import Moments, cuped, cuped_theta, ratio_variance, welch


def moments(values: np.ndarray) -> Moments:
    return Moments(float(len(values)), float(values.sum()), float((values**2).sum()))


def test_welch_matches_scipy_on_the_raw_values() -> None:
    rng = np.random.default_rng(3)
    a = rng.exponential(30.0, 400)
    b = rng.exponential(34.0, 350)
    result = welch(moments(a), moments(b))
    reference = stats.ttest_ind(b, a, equal_var=False)
    assert result is not None
    assert result.p_value == pytest.approx(reference.pvalue, rel=1e-6)
    assert result.difference == pytest.approx(b.mean() - a.mean())
    low, high = reference.confidence_interval(0.95)
    assert result.interval == pytest.approx((low, high), rel=1e-6)


def test_welch_needs_two_values_per_group() -> None:
    assert welch(Moments(1, 2.0, 4.0), Moments(5, 10.0, 30.0)) is None


def test_ratio_variance_matches_simulation() -> None:
    rng = np.random.default_rng(5)
    n, runs = 2000, 3000
    ratios = []
    for _ in range(runs):
        x = rng.poisson(3.0, n) + 1.0  # page views per visitor
        y = rng.binomial(x.astype(int), 0.1).astype(float)  # clicks per visitor
        ratios.append(y.sum() / x.sum())
    x = rng.poisson(3.0, n) + 1.0
    y = rng.binomial(x.astype(int), 0.1).astype(float)
    cov = float(np.cov(y, x)[0, 1])
    predicted = ratio_variance(y.mean(), x.mean(), y.var(ddof=1), x.var(ddof=1), cov, n)
    assert predicted == pytest.approx(float(np.var(ratios, ddof=1)), rel=0.1)


def test_cuped_theta_is_the_least_squares_slope_and_reduces_variance() -> None:
    rng = np.random.default_rng(9)
    x = rng.normal(10.0, 3.0, 5000)
    y = 2.0 + 0.8 * x + rng.normal(0.0, 1.5, 5000)
    sum_xy = float((x * y).sum())
    theta = cuped_theta(moments(y), moments(x), sum_xy)
    assert theta is not None
    assert theta == pytest.approx(np.polyfit(x, y, 1)[0], rel=1e-9)
    adjusted = cuped(moments(y), moments(x), sum_xy, theta, float(x.mean()))
    assert adjusted is not None
    assert adjusted.adjusted_mean == pytest.approx(y.mean())
    reference = np.var(y - theta * (x - x.mean()), ddof=1)
    assert adjusted.adjusted_variance == pytest.approx(reference, rel=1e-9)
    assert adjusted.adjusted_variance < 0.3 * y.var(ddof=1)
