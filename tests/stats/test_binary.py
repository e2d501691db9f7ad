"""The binary-metric statistics against independent references: Evan Miller's closed form for
P(B > A), Monte Carlo for P(best) and expected loss, published Fisher tables, the chi-square
contingency test for the z-test, and seeded simulations for interval coverage."""

from __future__ import annotations

import math
import tracemalloc

import numpy as np
import pytest
from scipy import special, stats

from proxy.stats.binary import (
    chance_to_be_best,
    chance_to_beat,
    expected_loss,
    fisher_p,
    lift,
    posterior,
    sample_size,
    small_counts,
    z_test_p,
)


def miller_beat(a: tuple[int, int], b: tuple[int, int]) -> float:
    """P(p_B > p_A) for Beta(a) and Beta(b) with integer parameters (Evan Miller, 2015)."""
    alpha_a, beta_a = a
    alpha_b, beta_b = b
    total = 0.0
    for i in range(alpha_b):
        total += math.exp(
            special.betaln(alpha_a + i, beta_a + beta_b)
            - math.log(beta_b + i)
            - special.betaln(1 + i, beta_b)
            - special.betaln(alpha_a, beta_a)
        )
    return total


@pytest.mark.parametrize(
    ("control", "variant"), [((10, 100), (15, 100)), ((120, 5000), (150, 5000)), ((0, 3), (1, 3))]
)
def test_chance_to_beat_matches_the_closed_form(
    control: tuple[int, int], variant: tuple[int, int]
) -> None:
    pc, pv = posterior(*control), posterior(*variant)
    expected = miller_beat((int(pc.alpha), int(pc.beta)), (int(pv.alpha), int(pv.beta)))
    assert chance_to_beat(pv, pc) == pytest.approx(expected, abs=1e-6)


def test_credible_interval_is_the_beta_quantiles() -> None:
    p = posterior(30, 200)
    low, high = p.interval()
    assert p.alpha == 31 and p.beta == 171
    assert special.betainc(31, 171, low) == pytest.approx(0.025, abs=1e-9)
    assert special.betainc(31, 171, high) == pytest.approx(0.975, abs=1e-9)


def test_chance_to_be_best_and_expected_loss_match_monte_carlo() -> None:
    arms = [posterior(40, 1000), posterior(52, 1000), posterior(47, 1000)]
    rng = np.random.default_rng(7)
    draws = np.stack([rng.beta(p.alpha, p.beta, 400_000) for p in arms])
    best = np.bincount(draws.argmax(axis=0), minlength=3) / draws.shape[1]
    loss = (draws.max(axis=0) - draws).mean(axis=1)
    assert chance_to_be_best(arms) == pytest.approx(list(best), abs=0.004)
    assert expected_loss(arms) == pytest.approx(list(loss), abs=2e-5)
    assert sum(chance_to_be_best(arms)) == pytest.approx(1.0)


def test_fisher_matches_published_tables() -> None:
    # Fisher's tea-tasting experiment (Fisher 1935): p = 0.4857 two-sided
    assert fisher_p(3, 4, 1, 4) == pytest.approx(0.4857, abs=1e-4)
    # Wikipedia, "Fisher's exact test": men 1 of 10 studying, women 11 of 14: p = 0.002759
    assert fisher_p(1, 10, 11, 14) == pytest.approx(0.002759, abs=1e-6)


def test_z_test_equals_the_uncorrected_chi_square() -> None:
    table = [[120, 5000 - 120], [160, 5000 - 160]]
    reference = stats.chi2_contingency(table, correction=False).pvalue
    assert z_test_p(120, 5000, 160, 5000) == pytest.approx(reference, rel=1e-9)


def test_small_counts_choose_fisher() -> None:
    assert small_counts(1, 10, 3, 10)
    assert not small_counts(100, 1000, 120, 1000)
    assert lift(1, 10, 3, 10).test == "fisher"
    assert lift(100, 1000, 120, 1000).test == "z"


def test_lift_intervals_cover_the_truth() -> None:
    rng = np.random.default_rng(11)
    rate_c, rate_v, n = 0.05, 0.06, 20_000
    covered_abs = covered_rel = 0
    runs = 2000
    for _ in range(runs):
        result = lift(int(rng.binomial(n, rate_c)), n, int(rng.binomial(n, rate_v)), n)
        assert result.absolute_ci is not None and result.relative_ci is not None
        covered_abs += result.absolute_ci[0] <= rate_v - rate_c <= result.absolute_ci[1]
        covered_rel += result.relative_ci[0] <= rate_v / rate_c - 1 <= result.relative_ci[1]
    assert 0.93 <= covered_abs / runs <= 0.97
    assert 0.93 <= covered_rel / runs <= 0.97


def test_lift_without_data_has_no_rates() -> None:
    result = lift(0, 0, 0, 0)
    assert result.absolute is None and result.relative is None and result.p_value == 1.0


def test_sample_size_gives_the_power_asked() -> None:
    n = sample_size(0.05, 0.2)
    assert n is not None
    p1, p2 = 0.05, 0.06

    def power(k: int) -> float:
        # the exact power of the pooled z-test at k per arm, from binomial sums (scipy)
        z = stats.norm.isf(0.025)
        se0 = math.sqrt(2 * 0.055 * 0.945 / k)
        se1 = math.sqrt((p1 * (1 - p1) + p2 * (1 - p2)) / k)
        return float(stats.norm.sf((z * se0 - (p2 - p1)) / se1))

    assert power(n) >= 0.8 > power(n - 10)
    assert sample_size(0.0, 0.2) is None


def test_posterior_rejects_impossible_counts() -> None:
    with pytest.raises(ValueError, match="successes"):
        posterior(5, 3)


def test_fisher_matches_scipy_on_random_tables() -> None:
    rng = np.random.default_rng(13)
    for i in range(300):  # half with unrelated rates, half with the same rate (p near 1)
        trials_a, trials_b = (int(n) for n in rng.integers(1, 3000, size=2))
        successes_a = int(rng.integers(0, trials_a + 1))
        rate = successes_a / trials_a if i % 2 else rng.random()
        successes_b = int(rng.binomial(trials_b, rate))
        table = [[successes_a, trials_a - successes_a], [successes_b, trials_b - successes_b]]
        reference = stats.fisher_exact(table, alternative="two-sided").pvalue
        found = fisher_p(successes_a, trials_a, successes_b, trials_b)
        assert found == pytest.approx(reference, rel=1e-6, abs=1e-300)
    assert fisher_p(0, 0, 3, 5) == 1.0 and fisher_p(0, 10, 0, 10) == 1.0


@pytest.mark.parametrize(
    "table",
    [
        (100_000_000, 2_000_000_000, 100_010_000, 2_000_000_000),  # an outside tester's: 9.5 GB
        (5_000_000, 100_000_000, 5_003_000, 100_000_000),
        (5_000_000, 100_000_000, 5_030_000, 100_000_000),  # p ~ 1e-21
        (3, 100_000_000, 9, 100_000_000),  # a Poisson-like tail
        (0, 100_000_000, 40, 100_000_000),
    ],
)
def test_fisher_on_huge_counts_matches_scipy_in_little_memory(
    table: tuple[int, int, int, int],
) -> None:
    successes_a, trials_a, successes_b, trials_b = table
    reference = stats.fisher_exact(
        [[successes_a, trials_a - successes_a], [successes_b, trials_b - successes_b]]
    ).pvalue
    tracemalloc.start()
    try:
        found = fisher_p(*table)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # log-gamma of arguments near 4e9 leaves ~1e-5 of the p (as before the support was cut)
    assert found == pytest.approx(reference, rel=1e-4, abs=1e-300)
    assert peak < 50_000_000


def test_fisher_far_beyond_the_mean_is_zero_where_scipy_is_negligible() -> None:
    near = (1_000, 100_000, 2_000, 100_000)  # ~18 standard deviations: summed, p ~ 1e-76
    far = (1_000, 100_000, 5_000, 100_000)  # ~70: past the cut, 0 as scipy finds too
    for successes_a, trials_a, successes_b, trials_b in (near, far):
        reference = stats.fisher_exact(
            [[successes_a, trials_a - successes_a], [successes_b, trials_b - successes_b]]
        ).pvalue
        assert fisher_p(successes_a, trials_a, successes_b, trials_b) == pytest.approx(
            reference, rel=1e-6, abs=1e-250
        )
