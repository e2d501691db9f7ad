"""The drop detector: its ratio against scipy's Bernoulli likelihoods, its false alarm rate in
seeded streams that never change, and that it finds a real fall soon after it happens."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from proxy.stats.change import DropDetector, drop_statistics, glr_threshold


def _log_likelihood(values: np.ndarray) -> float:
    """The 0/1 values' log-likelihood at their own mean (scipy's Bernoulli pmf)."""
    mean = float(values.mean())
    if mean in (0.0, 1.0):
        return 0.0
    return float(stats.bernoulli.logpmf(values, mean).sum())


def test_the_statistic_is_the_log_likelihood_ratio_of_a_change_at_each_boundary() -> None:
    rng = np.random.default_rng(5)
    values = np.concatenate([rng.random(300) < 0.2, rng.random(200) < 0.05]).astype(int)
    block = 25
    counts = np.full(len(values) // block, block, dtype=float)
    sums = values.reshape(-1, block).sum(axis=1).astype(float)
    found = drop_statistics(counts, sums)
    whole = _log_likelihood(values)
    for k in range(1, len(counts)):
        before, after = values[: k * block], values[k * block :]
        ratio = _log_likelihood(before) + _log_likelihood(after) - whole
        expected = ratio if after.mean() < before.mean() else 0.0
        assert found[k - 1] == pytest.approx(expected, rel=1e-9, abs=1e-9)


def test_the_threshold_is_the_papers() -> None:
    assert glr_threshold(1000, 0.01) == pytest.approx(math.log(3 * 1000**1.5 / 0.01))


@pytest.mark.parametrize("rate", [0.03, 0.3])
def test_a_stream_that_never_changes_rarely_raises_an_alarm(rate: float) -> None:
    """200 seeded streams of 2,000 values at δ = 0.05: alarms in at most ~δ of them (a binomial
    upper bound, so the check does not fail on its own noise)."""
    rng = np.random.default_rng(17)
    runs, delta = 200, 0.05
    alarmed = 0
    for _ in range(runs):
        detector = DropDetector(false_alarm=delta)
        draws = rng.random(2000) < rate
        alarmed += any(detector.observe(float(x)) is not None for x in draws)
    assert alarmed <= stats.binom.ppf(0.999, runs, delta)


def test_a_rising_stream_raises_no_alarm() -> None:
    """A learning bandit's rewards rise: one-sided, that is no fall."""
    rng = np.random.default_rng(3)
    detector = DropDetector(false_alarm=0.05)
    rates = np.linspace(0.02, 0.3, 6000)
    assert all(detector.observe(float(rng.random() < p)) is None for p in rates)


def test_a_fall_is_found_soon_after_it_and_located() -> None:
    rng = np.random.default_rng(11)
    detector = DropDetector(false_alarm=1e-3)
    values = np.concatenate([rng.random(2000) < 0.18, rng.random(2000) < 0.04])
    drops = [(i, d) for i, x in enumerate(values) if (d := detector.observe(float(x)))]
    assert drops, "the fall was not found"
    index, drop = drops[0]
    assert 2000 <= index < 2600  # ln(3 t^1.5 / δ) ≈ 20 nats at ~0.07 nats per value
    assert abs(drop.at - 2000) <= 200
    assert drop.before == pytest.approx(0.18, abs=0.03)
    assert drop.after == pytest.approx(0.04, abs=0.03)
    assert drop.statistic > drop.threshold


def test_memory_stays_bounded_and_old_blocks_merge() -> None:
    detector = DropDetector(block=10, max_blocks=8)
    for _ in range(500):
        detector.observe(0.5)
    assert len(detector._counts) == 8
    assert sum(detector._counts) == 500 == detector.seen


def test_restart_forgets() -> None:
    detector = DropDetector(block=5)
    for _ in range(50):
        detector.observe(1.0)
    detector.restart()
    assert detector.seen == 0
    assert all(detector.observe(0.0) is None for _ in range(50))


@pytest.mark.parametrize("kwargs", [{"false_alarm": 0.0}, {"false_alarm": 1.0}, {"block": 0}])
def test_bad_settings_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        DropDetector(**kwargs)  # type: ignore[arg-type]
