"""SquareCB's probabilities from reward estimates (Foster and Rakhlin, ICML 2020).

Each variant other than the best estimated one gets ``1 / (K + gamma * gap)``, its gap being how
far its estimate is below the best one's; the best gets the rest. ``gamma`` grows with the
examples learned (``gamma_scale * t ** gamma_exponent``), so exploration fades as the estimates
firm up. VW implements the same rule on its own estimates (``--squarecb``); Vernier computes it
here because the estimates it explores by are VW's refined by exact cell averages
(:mod:`proxy.bandit.cell_estimates`). Ties go to the first variant, as in VW.
"""

from __future__ import annotations

from collections.abc import Sequence


def gamma(scale: float, exponent: float, examples: int) -> float:
    """SquareCB's ``gamma`` after ``examples`` learned examples (0 before the first: uniform)."""
    return scale * examples**exponent if examples > 0 else 0.0


def squarecb_pmf(estimates: Sequence[float], gamma_value: float) -> list[float]:
    """The probabilities for rewards ``estimates`` (higher is better)."""
    n = len(estimates)
    best = max(range(n), key=estimates.__getitem__)
    top = estimates[best]
    pmf = [1.0 / (n + gamma_value * (top - e)) for e in estimates]
    pmf[best] = 0.0
    pmf[best] = max(0.0, 1.0 - sum(pmf))
    return pmf
