"""Always-valid inference, and Holm's correction across variants.

A fixed-horizon p-value watched every minute finds false winners far more often than its level
says. The two tools here stay valid at every look, for any estimate that is asymptotically normal
(a difference of rates or means, an off-policy value) — give them the estimate, its variance per
unit and the number of units:

- :func:`msprt_p`: the mixture sequential probability ratio test of Johari, Koomen, Pekelis and
  Walsh (Optimizely's Stats Engine, "Peeking at A/B tests", KDD 2017) with a normal mixing
  distribution N(0, τ²); its p-value is ``min(1, 1/Λ)``, and over a series of looks the running
  minimum (:func:`always_valid_p`).
- :func:`confidence_sequence`: the two-sided normal-mixture boundary of Howard, Ramdas, McAuliffe
  and Sekhon ("Time-uniform, nonparametric, nonasymptotic confidence sequences", Ann. Stat. 2021,
  eq. 14 with a normal mixture): an interval that covers the truth at all times at once with
  probability 1 − α.
"""

from __future__ import annotations

import math
from collections.abc import Sequence


def msprt_lambda(difference: float, variance: float, n: float, tau2: float) -> float:
    """Λ_n for H0: effect 0, with per-unit variance ``variance`` of the paired difference
    (σ²_a + σ²_b for two arms of ``n`` units each) and mixing variance ``tau2``."""
    if n <= 0 or variance <= 0:
        return 1.0
    scale = variance + n * tau2
    exponent = n**2 * tau2 * difference**2 / (2 * variance * scale)
    return math.sqrt(variance / scale) * math.exp(min(exponent, 700.0))


def msprt_p(difference: float, variance: float, n: float, tau2: float) -> float:
    """The mSPRT p-value at one look: ``min(1, 1/Λ_n)``."""
    return min(1.0, 1.0 / msprt_lambda(difference, variance, n, tau2))


def always_valid_p(looks: Sequence[tuple[float, float, float]], tau2: float) -> float:
    """The always-valid p-value after a series of looks ``(difference, variance, n)``: the
    running minimum of :func:`msprt_p`, so it never rises when it is watched more often."""
    p = 1.0
    for difference, variance, n in looks:
        p = min(p, msprt_p(difference, variance, n, tau2))
    return p


def confidence_sequence(
    estimate: float, variance: float, n: float, *, alpha: float = 0.05, rho: float | None = None
) -> tuple[float, float]:
    """An interval for the mean of ``n`` units with per-unit ``variance`` around ``estimate``,
    valid uniformly over n. ``rho`` tunes where it is tightest (in units of ``variance``; the
    default makes it tightest near n = 1000)."""
    if n <= 0 or variance <= 0:
        return (-math.inf, math.inf) if n <= 0 else (estimate, estimate)
    rho = variance * 1000 / 10 if rho is None else rho
    intrinsic = n * variance
    half = math.sqrt((intrinsic + rho) * math.log((intrinsic + rho) / (rho * alpha**2))) / n
    return estimate - half, estimate + half


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values (family-wise error across the variants)."""
    m = len(p_values)
    order = sorted(range(m), key=p_values.__getitem__)
    adjusted = [1.0] * m
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[index]))
        adjusted[index] = running
    return adjusted
