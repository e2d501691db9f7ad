"""Continuous and ratio metrics from sufficient statistics (count, sum, sum of squares).

The aggregates keep, per variant, ``n``, ``Σx`` and ``Σx²`` of a measure (engaged seconds, scroll
depth, order value), so a mean and its variance are exact without the raw values. Welch's test
compares two means without assuming equal variances; the delta method gives the variance of a
ratio of two means (clicks per visitor when the unit is the visitor); CUPED removes the part of a
metric's variance explained by a pre-exposure covariate (Deng et al., WSDM 2013).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from scipy import stats

from proxy.stats.binary import Z_95


@dataclass(frozen=True, slots=True)
class Moments:
    """``n`` values with sum ``total`` and sum of squares ``squares``."""

    n: float
    total: float
    squares: float

    @property
    def mean(self) -> float | None:
        return self.total / self.n if self.n > 0 else None

    @property
    def variance(self) -> float | None:
        """The unbiased sample variance (``None`` below two values)."""
        if self.n < 2:
            return None
        return max(0.0, (self.squares - self.total**2 / self.n) / (self.n - 1))


@dataclass(frozen=True, slots=True)
class MeanDifference:
    """Treatment mean minus control mean, its 95 % interval, relative lift and Welch's p."""

    difference: float
    interval: tuple[float, float]
    relative: float | None
    p_value: float
    df: float


def welch(control: Moments, treatment: Moments) -> MeanDifference | None:
    """Welch's two-sided t-test and interval; ``None`` without two values in each group."""
    mc, mt, vc, vt = control.mean, treatment.mean, control.variance, treatment.variance
    if mc is None or mt is None or vc is None or vt is None:
        return None
    sc, st = vc / control.n, vt / treatment.n
    se2 = sc + st
    diff = mt - mc
    if se2 <= 0:
        p = 1.0 if diff == 0 else 0.0
        return MeanDifference(diff, (diff, diff), diff / mc if mc else None, p, math.inf)
    df = se2**2 / (sc**2 / (control.n - 1) + st**2 / (treatment.n - 1))
    t = diff / math.sqrt(se2)
    p = 2 * float(stats.t.sf(abs(t), df))
    half = float(stats.t.ppf(0.975, df)) * math.sqrt(se2)
    return MeanDifference(diff, (diff - half, diff + half), diff / mc if mc else None, p, df)


def ratio_variance(
    mean_y: float, mean_x: float, var_y: float, var_x: float, cov_xy: float, n: float
) -> float:
    """Delta-method variance of ``mean_y / mean_x`` over ``n`` units (Taylor, first order)."""
    return (var_y / mean_x**2 - 2 * mean_y * cov_xy / mean_x**3 + mean_y**2 * var_x / mean_x**4) / n


def ratio_interval(
    mean_y: float, mean_x: float, var_y: float, var_x: float, cov_xy: float, n: float
) -> tuple[float, float]:
    """The 95 % interval of a ratio metric by the delta method."""
    ratio = mean_y / mean_x
    half = Z_95 * math.sqrt(max(0.0, ratio_variance(mean_y, mean_x, var_y, var_x, cov_xy, n)))
    return ratio - half, ratio + half


@dataclass(frozen=True, slots=True)
class Cuped:
    """A CUPED-adjusted mean: ``theta`` from the pooled data, the variance reduction factor."""

    theta: float
    adjusted_mean: float
    adjusted_variance: float


def cuped(
    y: Moments, x: Moments, sum_xy: float, pooled_theta: float, pooled_mean_x: float
) -> Cuped | None:
    """Adjust ``y``'s mean by the pre-exposure covariate ``x`` (same units, ``Σxy`` given).

    ``pooled_theta`` is :func:`cuped_theta` over all variants, so every variant is adjusted by
    the same line and the difference of adjusted means stays unbiased.
    """
    my, mx, vy, vx = y.mean, x.mean, y.variance, x.variance
    if my is None or mx is None or vy is None or vx is None:
        return None
    cov = (sum_xy - y.total * x.total / y.n) / (y.n - 1)
    adjusted_var = vy + pooled_theta**2 * vx - 2 * pooled_theta * cov
    return Cuped(pooled_theta, my - pooled_theta * (mx - pooled_mean_x), max(0.0, adjusted_var))


def cuped_theta(y: Moments, x: Moments, sum_xy: float) -> float | None:
    """``cov(y, x) / var(x)``, the least-squares slope of y on the covariate."""
    vx = x.variance
    if vx is None or vx == 0:
        return None
    cov = (sum_xy - y.total * x.total / y.n) / (y.n - 1)
    return cov / vx


def adjusted_difference(
    control: Cuped, n_control: float, treatment: Cuped, n_treatment: float
) -> MeanDifference | None:
    """Welch's test and 95 % interval on two CUPED-adjusted means (the adjusted values'
    variances as given; the same test :func:`welch` makes on unadjusted means)."""
    if n_control < 2 or n_treatment < 2:
        return None
    adjusted_c = Moments(n_control, control.adjusted_mean * n_control, 0.0)
    adjusted_t = Moments(n_treatment, treatment.adjusted_mean * n_treatment, 0.0)
    # Moments from mean and variance: Σx² = (n − 1)·var + n·mean²
    adjusted_c = _with_variance(adjusted_c, control.adjusted_variance)
    adjusted_t = _with_variance(adjusted_t, treatment.adjusted_variance)
    return welch(adjusted_c, adjusted_t)


def _with_variance(moments: Moments, variance: float) -> Moments:
    n, mean = moments.n, moments.total / moments.n
    return Moments(n, moments.total, (n - 1) * variance + n * mean * mean)
