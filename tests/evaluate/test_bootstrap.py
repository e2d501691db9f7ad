"""The streaming bootstrap against scipy's ordinary bootstrap of the same data."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from proxy.evaluate.bootstrap import StreamingBootstrap, percentile_interval, percentile_intervals


def streamed_means(data: np.ndarray, block: int, resamples: int = 2000) -> np.ndarray:
    boot = StreamingBootstrap(2, resamples=resamples, seed=3)
    rows = np.column_stack([np.ones_like(data), data])
    for start in range(0, len(data), block):
        boot.add(rows[start : start + block])
    assert boot.rows == len(data)
    means: np.ndarray = boot.sums[:, 1] / boot.sums[:, 0]
    return means


@pytest.mark.parametrize("block", [1000, 97])
def test_percentile_interval_matches_scipy(block: int) -> None:
    """The 95 % percentile interval of a mean agrees with scipy.stats.bootstrap's (resampling
    with replacement) to within a quarter of a standard error: both approximate the same
    sampling distribution, each endpoint with a Monte Carlo error of about 0.06 standard errors
    (2,000 resamples each)."""
    data = np.random.default_rng(11).exponential(size=1000)
    se = data.std(ddof=1) / np.sqrt(len(data))
    low, high = percentile_interval(streamed_means(data, block), 0.95)
    reference = stats.bootstrap(
        (data,), np.mean, n_resamples=2000, method="percentile", random_state=5
    ).confidence_interval
    assert low == pytest.approx(reference.low, abs=0.25 * se)
    assert high == pytest.approx(reference.high, abs=0.25 * se)


def test_replicates_spread_like_the_standard_error() -> None:
    data = np.random.default_rng(12).normal(size=4000)
    means = streamed_means(data, 512)
    assert means.std(ddof=1) == pytest.approx(data.std(ddof=1) / np.sqrt(len(data)), rel=0.06)


def test_seeded_and_degenerate_cases() -> None:
    data = np.arange(10.0)
    assert np.array_equal(streamed_means(data, 4), streamed_means(data, 4))
    assert percentile_interval(np.array([np.nan, np.inf]), 0.95) == (-np.inf, np.inf)
    with pytest.raises(ValueError, match="resamples"):
        StreamingBootstrap(1, resamples=1)
    boot = StreamingBootstrap(1, resamples=2)
    boot.add(np.zeros((0, 1)))
    assert boot.rows == 0


def test_every_columns_interval_at_once_is_each_columns_alone() -> None:
    replicates = np.random.default_rng(13).normal(size=(200, 5))
    replicates[3, 1] = np.inf  # a resample with no weight: left out of its column only
    replicates[:, 4] = np.nan
    found = percentile_intervals(replicates, 0.9)
    for column in range(5):
        assert tuple(found[column]) == percentile_interval(replicates[:, column], 0.9)
