"""Heterogeneity and empirical-Bayes shrinkage against a published meta-analysis and scipy."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate, stats

from proxy.stats.heterogeneity import heterogeneity

# The BCG vaccine trials (Colditz et al. 1994), the worked example of R's metafor (dat.bcg):
# (vaccinated TB+, TB-, control TB+, TB-) of 13 trials.
BCG = (
    (4, 119, 11, 128),
    (6, 300, 29, 274),
    (3, 228, 11, 209),
    (62, 13536, 248, 12619),
    (33, 5036, 47, 5761),
    (180, 1361, 372, 1079),
    (8, 2537, 10, 619),
    (505, 87886, 499, 87892),
    (29, 7470, 45, 7232),
    (17, 1699, 65, 1600),
    (186, 50448, 141, 27197),
    (5, 2493, 3, 2338),
    (27, 16886, 29, 17825),
)


def log_risk_ratios() -> tuple[list[float], list[float]]:
    """metafor's escalc(measure="RR"): log risk ratios and their variances."""
    ys, vs = [], []
    for tpos, tneg, cpos, cneg in BCG:
        ys.append(math.log((tpos / (tpos + tneg)) / (cpos / (cpos + cneg))))
        vs.append(1 / tpos - 1 / (tpos + tneg) + 1 / cpos - 1 / (cpos + cneg))
    return ys, vs


def test_the_bcg_trials_match_metafor_dersimonian_laird() -> None:
    # rma(yi, vi, data=dat, method="DL"): estimate -0.7141 (se 0.1787), tau^2 0.3088,
    # I^2 92.12 %, Q(df = 12) = 152.2330, p < .0001 (metafor's documentation and Viechtbauer 2010)
    ys, vs = log_risk_ratios()
    found = heterogeneity(ys, vs)
    assert found.q == pytest.approx(152.2330, abs=5e-4)
    assert found.df == 12
    assert found.tau2 == pytest.approx(0.3088, abs=5e-5)
    assert found.mu == pytest.approx(-0.7141, abs=5e-5)
    assert found.mu_se == pytest.approx(0.1787, abs=5e-5)
    assert found.i2 == pytest.approx(0.9212, abs=5e-5)
    assert found.p_value == pytest.approx(stats.chi2.sf(152.2330, 12), rel=1e-3)


def test_shrunk_effects_are_the_posterior_means_by_numerical_integration() -> None:
    """Independently: the posterior of theta given y ~ N(theta, v), theta ~ N(mu, tau^2),
    integrated numerically with scipy, for every trial."""
    ys, vs = log_risk_ratios()
    found = heterogeneity(ys, vs)
    prior = stats.norm(found.mu, math.sqrt(found.tau2))
    for y, v, shrunk, sd in zip(ys, vs, found.shrunk, found.shrunk_sd, strict=True):

        def density(t: float, y: float = y, v: float = v) -> float:
            return float(prior.pdf(t) * stats.norm(t, math.sqrt(v)).pdf(y))

        lo, hi = found.mu - 10, found.mu + 10
        mass = integrate.quad(density, lo, hi, points=[y], limit=200)[0]
        mean = integrate.quad(lambda t: t * density(t), lo, hi, points=[y], limit=200)[0] / mass
        second = integrate.quad(lambda t: t * t * density(t), lo, hi, points=[y], limit=200)[0]
        assert shrunk == pytest.approx(mean, abs=1e-6)
        # the spread with mu known; the reported one adds mu's own uncertainty (next test)
        assert sd >= math.sqrt(second / mass - mean**2) - 1e-9
        # a shrunk effect lies between the segment's own and the overall one
        assert min(y, found.mu) - 1e-12 <= shrunk <= max(y, found.mu) + 1e-12


def test_shrunk_sds_are_the_gaussian_posterior_with_mu_unknown() -> None:
    """Independently, by linear algebra: theta ~ N(mu 1, tau^2 I), y ~ N(theta, diag v), mu
    with a flat prior; the posterior of (mu, theta) in information form, inverted by numpy."""
    ys, vs = log_risk_ratios()
    found = heterogeneity(ys, vs)
    k, tau2 = len(ys), found.tau2
    precision = np.zeros((k + 1, k + 1))  # over (mu, theta_1..k)
    precision[0, 0] = k / tau2
    precision[0, 1:] = precision[1:, 0] = -1 / tau2
    precision[1:, 1:] = np.eye(k) / tau2 + np.diag(1 / np.array(vs))
    covariance = np.linalg.inv(precision)
    mean = covariance @ np.concatenate(([0.0], np.array(ys) / np.array(vs)))
    assert found.shrunk == pytest.approx(mean[1:], abs=1e-9)
    assert found.shrunk_sd == pytest.approx(np.sqrt(np.diag(covariance)[1:]), rel=1e-9)


def test_without_spread_a_segment_is_as_uncertain_as_the_overall_effect() -> None:
    """tau^2 = 0: every theta is mu, whose posterior sd is 1 / sqrt(sum 1/v); never 0 (an
    outside tester's report printed "+0.0270 (0.0000)")."""
    ys, vs = [0.10, 0.11, 0.09], [0.01, 0.02, 0.01]
    found = heterogeneity(ys, vs)
    assert found.tau2 == 0.0
    assert found.shrunk_sd == pytest.approx([1 / math.sqrt(sum(1 / v for v in vs))] * 3)


def test_no_spread_shrinks_every_segment_to_the_pooled_effect() -> None:
    ys, vs = [0.10, 0.11, 0.09], [0.01, 0.02, 0.01]
    found = heterogeneity(ys, vs)
    assert found.tau2 == 0.0 and found.i2 == 0.0
    fixed = float(np.average(ys, weights=[1 / v for v in vs]))
    assert found.mu == pytest.approx(fixed)
    assert found.shrunk == pytest.approx((fixed,) * 3)
    assert found.p_value == pytest.approx(stats.chi2.sf(found.q, 2))


@pytest.mark.parametrize(
    ("effects", "variances", "message"),
    [
        ([0.1], [0.01], "at least two"),
        ([0.1, 0.2], [0.01], "one variance"),
        ([0.1, 0.2], [0.01, 0.0], "finite and > 0"),
    ],
)
def test_bad_input_is_refused(effects: list[float], variances: list[float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        heterogeneity(effects, variances)
