"""IPS and SNIPS with their normal-approximation standard errors, from running sums (pure).

Both :class:`~proxy.evaluate.estimators.SlotEvaluator` (over a log) and the results report
(over the store's per-hour sums, :mod:`proxy.results.offpolicy`) need these: a target's value
and standard error follow from six sums of the examples' importance weights *w = π(a|x)/p* and
rewards *r*, so anything that keeps the sums — a bootstrap block or a Redis hash — gets the
same numbers from the same formulas.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class WeightSums:
    """Over ``n`` examples: Σw, Σw², Σw·r, Σ(w·r)² and Σw²·r (SNIPS' delta-method variance)."""

    n: float
    w: float
    w_sq: float
    wr: float
    wr_sq: float
    w2r: float

    @property
    def ess(self) -> float:
        """The effective sample size (Σw)²/Σw²: how many examples the estimate is worth."""
        return self.w**2 / self.w_sq if self.w_sq > 0 else 0.0


def mean_se(total: float, squares: float, n: float) -> float:
    """The standard error of a mean from its sum and sum of squares."""
    if n < 2:
        return math.inf
    mean = total / n
    return math.sqrt(max(squares - n * mean * mean, 0.0) / (n - 1) / n)


def ips(sums: WeightSums) -> tuple[float, float]:
    """IPS (the mean of w·r) and its standard error; NaN without examples."""
    if sums.n <= 0:
        return math.nan, math.inf
    return sums.wr / sums.n, mean_se(sums.wr, sums.wr_sq, sums.n)


def snips(sums: WeightSums) -> tuple[float, float]:
    """SNIPS (Σw·r / Σw) and its delta-method standard error; NaN when Σw is 0."""
    if sums.w <= 0:
        return math.nan, math.inf
    n, value = sums.n, sums.wr / sums.w
    # influence terms w·(r − V)/mean(w): Σ of their squares from the running moments
    squares = sums.wr_sq - 2 * value * sums.w2r + value**2 * sums.w_sq
    se = math.sqrt(max(squares, 0.0) / (n - 1) / n) / (sums.w / n) if n > 1 else math.inf
    return value, se
