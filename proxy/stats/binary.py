"""Binary metrics: successes out of trials per variant (clicks per exposure, conversions per visitor).

Bayesian: each variant's rate has a Beta(1 + successes, 1 + failures) posterior (a uniform
prior). Chance to beat the control, chance to be best and expected loss are one-dimensional
integrals over the posteriors' densities and distribution functions, computed by Simpson's rule
on a fine grid over the interval where the posteriors have mass: deterministic (no Monte Carlo
seed to explain), vectorised (a 5-variant slot in about a millisecond) and exact to ~1e-8. Frequentist: Fisher's exact test (two-sided, as R's ``fisher.test``)
for small counts, the pooled two-proportion z-test for large ones, Wald intervals on the absolute
lift and delta-method (log-ratio) intervals on the relative lift.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import integrate, special, stats

Z_95 = 1.959963984540054
# Fisher's exact test is used (and reported as the p-value) while any expected cell of the 2x2
# table is below this; above it the z-test's normal approximation is good (Cochran's rule).
SMALL_EXPECTED_CELL = 5.0


@dataclass(frozen=True, slots=True)
class Posterior:
    """A variant's Beta posterior of its rate."""

    alpha: float
    beta: float

    @property
    def mean(self) -> float:
        return self.alpha / (self.alpha + self.beta)

    def interval(self, level: float = 0.95) -> tuple[float, float]:
        """The equal-tailed credible interval."""
        tail = (1.0 - level) / 2
        low, high = stats.beta.ppf([tail, 1.0 - tail], self.alpha, self.beta)
        return float(low), float(high)


def posterior(successes: int, trials: int, prior: tuple[float, float] = (1.0, 1.0)) -> Posterior:
    """The Beta posterior of a rate after ``successes`` of ``trials`` (``ValueError`` if
    ``successes`` is negative or above ``trials``)."""
    if successes < 0 or trials < successes:
        raise ValueError(f"need 0 <= successes <= trials, got {successes} of {trials}")
    return Posterior(prior[0] + successes, prior[1] + trials - successes)


GRID_POINTS = 4001  # Simpson's rule on this many points over the posteriors' support: ~1e-9
CDF_POINTS_PER_SD = 50


def _support(posteriors: Sequence[Posterior]) -> np.ndarray:
    """A grid over where every posterior has all but 1e-12 of its mass: the integrals' range."""
    alphas = np.array([p.alpha for p in posteriors])
    betas = np.array([p.beta for p in posteriors])
    low = float(special.betaincinv(alphas, betas, 1e-12).min())
    high = float(special.betaincinv(alphas, betas, 1.0 - 1e-12).max())
    return np.linspace(low, high, GRID_POINTS)


def _densities(posteriors: Sequence[Posterior], x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each posterior's density and distribution function on ``x`` (rows: posteriors).

    The distribution function is the density integrated along the grid (a fourth-order rule)
    from its exact value at the grid's start, where the grid resolves the posterior with at
    least :data:`CDF_POINTS_PER_SD` points per standard deviation (within 3e-9 of ``betainc``
    then), else ``betainc`` itself: ``betainc`` costs ~1.4 µs a point for counts in the
    thousands [measured: 5.7 ms per 4001-point row], ten times the integration.
    """
    inner = np.clip(x, 1e-300, 1 - 1e-16)
    pdf = np.stack(
        [
            np.exp(
                (p.alpha - 1) * np.log(inner)
                + (p.beta - 1) * np.log1p(-inner)
                - special.betaln(p.alpha, p.beta)
            )
            for p in posteriors
        ]
    )
    step = float(x[1] - x[0])
    rows = []
    for p, density in zip(posteriors, pdf, strict=True):
        n = p.alpha + p.beta
        sd = math.sqrt(p.alpha * p.beta / (n * n * (n + 1)))
        if sd < CDF_POINTS_PER_SD * step:
            rows.append(special.betainc(p.alpha, p.beta, x))
            continue
        start = float(special.betainc(p.alpha, p.beta, x[0]))
        rows.append(np.clip(start + _cumulative_integral(density, step), 0.0, 1.0))
    return pdf, np.stack(rows)


def _cumulative_integral(f: np.ndarray, step: float) -> np.ndarray:
    """∫ f from the first grid point to each: the trapezoid rule with its Euler-Maclaurin end
    correction, -(h²/12)(f'(x) - f'(x0)), which makes it fourth-order like Simpson's (and
    ten times cheaper than ``scipy.integrate.cumulative_simpson``)."""
    trapezoid = np.concatenate(([0.0], np.cumsum((f[1:] + f[:-1]) * (step / 2))))
    slope: np.ndarray = np.gradient(f, step, edge_order=2)
    corrected: np.ndarray = trapezoid - (step * step / 12) * (slope - slope[0])
    return corrected


def chance_to_beat(variant: Posterior, control: Posterior) -> float:
    """P(variant's rate > control's rate) = ∫ f_variant(x) F_control(x) dx."""
    x = _support([variant, control])
    pdf, cdf = _densities([variant, control], x)
    return min(1.0, max(0.0, float(integrate.simpson(pdf[0] * cdf[1], x=x))))


def chance_to_be_best(posteriors: Sequence[Posterior]) -> list[float]:
    """P(variant i has the highest rate), for each i: ∫ f_i(x) ∏_{j≠i} F_j(x) dx."""
    if len(posteriors) < 2:
        return [1.0] * len(posteriors)
    x = _support(posteriors)
    pdf, cdf = _densities(posteriors, x)
    chances = []
    for i in range(len(posteriors)):
        others = np.prod(np.delete(cdf, i, axis=0), axis=0)
        chances.append(max(0.0, float(integrate.simpson(pdf[i] * others, x=x))))
    total = sum(chances)
    return [c / total for c in chances] if total > 0 else [1.0 / len(chances)] * len(chances)


def expected_loss(posteriors: Sequence[Posterior]) -> list[float]:
    """E[max_j p_j − p_i] for each i: the rate given up, on average, by serving i alone.

    E[max_j p_j] = low + ∫_low^high (1 − ∏_j F_j(x)) dx, since below ``low`` every F_j is 0.
    """
    if len(posteriors) < 2:
        return [0.0] * len(posteriors)
    x = _support(posteriors)
    _, cdf = _densities(posteriors, x)
    best = float(x[0]) + float(integrate.simpson(1.0 - np.prod(cdf, axis=0), x=x))
    return [max(0.0, best - p.mean) for p in posteriors]


# how far from the mean Fisher's test sums the support, in the hypergeometric's standard
# deviations (see fisher_p)
FISHER_SDS = 40.0


def fisher_p(successes_a: int, trials_a: int, successes_b: int, trials_b: int) -> float:
    """Two-sided Fisher's exact test of the 2x2 table (successes, failures) x (a, b).

    As R's ``fisher.test`` and ``scipy.stats.fisher_exact``: the probability, under the
    hypergeometric law of ``a``'s successes given the margins, of every table no likelier than
    the observed one (within a relative 1e-7). Summed over the whole support in one vectorised
    step: scipy's search costs ~5 ms a table at counts in the thousands [measured], this ~0.1 ms.
    The support is cut to :data:`FISHER_SDS` standard deviations (and 200 tables) either side of
    the mean: each table beyond is below e^-600 of the likeliest (normal tails: e^-800; Poisson
    ones, the heaviest, e^-650 at worst), too little to move the sum, and the whole support of
    a slot with 10^8 clicks an arm took gigabytes. An observed table beyond it has p = 0.
    """
    n_a, total = trials_a, trials_a + trials_b
    successes = successes_a + successes_b
    if trials_a <= 0 or trials_b <= 0 or successes in (0, total):
        return 1.0
    share = successes / total
    mean = n_a * share
    sd = math.sqrt(n_a * share * (1 - share) * (total - n_a) / max(1, total - 1))
    reach = FISHER_SDS * sd + 200
    if abs(successes_a - mean) > reach:
        return 0.0
    low = max(0, successes - trials_b, math.floor(mean - reach))
    high = min(successes, n_a, math.ceil(mean + reach))
    k = np.arange(low, high + 1, dtype=float)
    log_pmf = (
        _log_choose(successes, k)
        + _log_choose(total - successes, n_a - k)
        - _log_choose(total, np.array(float(n_a)))
    )
    observed = log_pmf[int(successes_a - low)]
    extreme = log_pmf[log_pmf <= observed + math.log1p(1e-7)]
    top = float(extreme.max())
    return min(1.0, math.exp(top) * float(np.exp(extreme - top).sum()))


def _log_choose(n: float, k: np.ndarray) -> np.ndarray:
    logs: np.ndarray = special.gammaln(n + 1) - special.gammaln(k + 1) - special.gammaln(n - k + 1)
    return logs


def z_test_p(successes_a: int, trials_a: int, successes_b: int, trials_b: int) -> float:
    """Two-sided pooled two-proportion z-test; 1.0 when it is undefined (no variance)."""
    if trials_a == 0 or trials_b == 0:
        return 1.0
    pooled = (successes_a + successes_b) / (trials_a + trials_b)
    variance = pooled * (1 - pooled) * (1 / trials_a + 1 / trials_b)
    if variance <= 0:
        return 1.0
    z = (successes_b / trials_b - successes_a / trials_a) / math.sqrt(variance)
    return math.erfc(abs(z) / math.sqrt(2))


def small_counts(successes_a: int, trials_a: int, successes_b: int, trials_b: int) -> bool:
    """Whether an expected cell of the 2x2 table is under :data:`SMALL_EXPECTED_CELL`."""
    total = trials_a + trials_b
    hits = successes_a + successes_b
    if total == 0:
        return True
    cells = [t * h / total for t in (trials_a, trials_b) for h in (hits, total - hits)]
    return min(cells) < SMALL_EXPECTED_CELL


@dataclass(frozen=True, slots=True)
class Lift:
    """A variant against the control: absolute and relative differences with 95 % intervals."""

    absolute: float | None
    absolute_ci: tuple[float, float] | None
    relative: float | None
    relative_ci: tuple[float, float] | None
    p_value: float
    test: str  # fisher | z


def lift(
    successes_control: int, trials_control: int, successes: int, trials: int, z: float = Z_95
) -> Lift:
    """The variant's lift over the control; ``None`` parts where a rate is undefined."""
    if small_counts(successes_control, trials_control, successes, trials):
        p_value, test = fisher_p(successes_control, trials_control, successes, trials), "fisher"
    else:
        p_value, test = z_test_p(successes_control, trials_control, successes, trials), "z"
    if trials_control == 0 or trials == 0:
        return Lift(None, None, None, None, p_value, test)
    rate_c, rate = successes_control / trials_control, successes / trials
    diff = rate - rate_c
    se = math.sqrt(rate_c * (1 - rate_c) / trials_control + rate * (1 - rate) / trials)
    absolute_ci = (diff - z * se, diff + z * se)
    if rate_c == 0 or rate == 0:
        return Lift(diff, absolute_ci, None, None, p_value, test)
    log_ratio = math.log(rate / rate_c)
    log_se = math.sqrt((1 - rate_c) / successes_control + (1 - rate) / successes)
    relative_ci = (math.exp(log_ratio - z * log_se) - 1, math.exp(log_ratio + z * log_se) - 1)
    return Lift(diff, absolute_ci, rate / rate_c - 1, relative_ci, p_value, test)


def sample_size(
    base_rate: float, relative_mde: float, *, alpha: float = 0.05, power: float = 0.8
) -> int | None:
    """Exposures per variant for a two-sided two-proportion test to detect a relative change of
    ``relative_mde`` from ``base_rate`` with ``power`` (``None`` if the rates are not in (0, 1))."""
    p1, p2 = base_rate, base_rate * (1 + relative_mde)
    if not (0 < p1 < 1 and 0 < p2 < 1) or p1 == p2:
        return None
    z_a = float(stats.norm.isf(alpha / 2))
    z_b = float(stats.norm.ppf(power))
    mean = (p1 + p2) / 2
    root = z_a * math.sqrt(2 * mean * (1 - mean)) + z_b * math.sqrt(p1 * (1 - p1) + p2 * (1 - p2))
    return math.ceil(root**2 / (p2 - p1) ** 2)
