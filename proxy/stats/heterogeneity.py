"""Does an effect differ across segments, and what is each segment's effect once small segments
borrow strength from the rest? Pure functions over per-segment estimates and their variances.

**Model** (normal-normal, the random-effects model of meta-analysis): segment ``i`` reports an
effect ``y_i`` with sampling variance ``v_i``; the true effects ``theta_i`` are drawn from
``N(mu, tau^2)``. ``tau^2`` is estimated in closed form by the method of moments of
DerSimonian and Laird (1986): with fixed-effect weights ``w_i = 1 / v_i``, Cochran's
``Q = sum w_i (y_i - y_fe)^2`` and ``tau^2 = max(0, (Q - (k - 1)) / (sum w - sum w^2 / sum w))``.
``mu`` is the random-effects mean (weights ``1 / (v_i + tau^2)``).

**Empirical Bayes shrinkage.** Each segment's posterior mean with ``mu`` and ``tau^2`` plugged
in: ``B_i mu + (1 - B_i) y_i`` with ``B_i = v_i / (v_i + tau^2)`` — a noisy (small) segment is
pulled toward the overall effect, a precise one keeps its own; with ``tau^2 = 0`` (no evidence
of differences) every segment reads the overall effect. Its standard deviation
``sqrt(v_i (1 - B_i) + B_i^2 se(mu)^2)`` is the posterior's given ``tau^2`` with a flat prior on
``mu`` (Morris 1983): it counts the overall effect's own uncertainty, so a segment that reads
the overall effect has that effect's standard error, never 0; the uncertainty of ``tau^2`` is
left out (intervals from it are a little narrow for few segments).

**Heterogeneity test.** Under "the effect is the same everywhere" ``Q`` is chi-square with
``k - 1`` degrees of freedom (Cochran 1954); ``I^2 = max(0, (Q - df) / Q)`` is the share of the
spread that is not chance (Higgins and Thompson 2002). Segments must be disjoint (a visitor in
one only) for ``Q`` to be chi-square.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from scipy import stats


@dataclass(frozen=True, slots=True)
class Heterogeneity:
    """The pooled effect, the spread between segments and the test of "no spread"."""

    mu: float  # random-effects mean
    mu_se: float
    tau2: float  # between-segment variance (DerSimonian-Laird)
    q: float  # Cochran's Q
    df: int
    p_value: float  # P(chi2_df >= Q)
    i2: float  # share of the spread beyond chance, in [0, 1]
    shrunk: tuple[float, ...]  # each segment's empirical-Bayes effect, in input order
    shrunk_sd: tuple[float, ...]


def heterogeneity(effects: Sequence[float], variances: Sequence[float]) -> Heterogeneity:
    """The random-effects summary of ``effects`` (at least two, each with a variance > 0)."""
    if len(effects) != len(variances):
        raise ValueError("one variance per effect")
    if len(effects) < 2:
        raise ValueError("at least two segments are needed")
    if any(not (math.isfinite(v) and v > 0) for v in variances):
        raise ValueError("every variance must be finite and > 0")
    w = [1.0 / v for v in variances]
    sw = math.fsum(w)
    fixed = math.fsum(wi * y for wi, y in zip(w, effects, strict=True)) / sw
    q = math.fsum(wi * (y - fixed) ** 2 for wi, y in zip(w, effects, strict=True))
    df = len(effects) - 1
    c = sw - math.fsum(wi * wi for wi in w) / sw
    tau2 = max(0.0, (q - df) / c)
    w_re = [1.0 / (v + tau2) for v in variances]
    mu = math.fsum(wi * y for wi, y in zip(w_re, effects, strict=True)) / math.fsum(w_re)
    mu_variance = 1.0 / math.fsum(w_re)
    shrunk, shrunk_sd = [], []
    for y, v in zip(effects, variances, strict=True):
        b = v / (v + tau2)
        shrunk.append(b * mu + (1.0 - b) * y)
        shrunk_sd.append(math.sqrt(v * (1.0 - b) + b * b * mu_variance))
    return Heterogeneity(
        mu=mu,
        mu_se=math.sqrt(mu_variance),
        tau2=tau2,
        q=q,
        df=df,
        p_value=float(stats.chi2.sf(q, df)),
        i2=max(0.0, (q - df) / q) if q > 0 else 0.0,
        shrunk=tuple(shrunk),
        shrunk_sd=tuple(shrunk_sd),
    )
