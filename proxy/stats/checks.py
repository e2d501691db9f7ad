"""Is the traffic split what it should be? Sample-ratio mismatch and propensity consistency.

A split test whose variants did not get the configured shares (a redirect that loses visitors of
one variant, a bot filter that hits one more than another) is broken whatever its lift says:
:func:`srm_p` is Pearson's chi-square of the exposures against the configured weights, flagged
below p = 0.001 as GrowthBook and the SRM literature do. A bandit slot has no fixed split; there
:func:`propensity_p` tests the served counts against the sum of the probabilities the bandit
logged for each variant, which is the count expected if it served what it said it would.
"""

from __future__ import annotations

from collections.abc import Mapping

from scipy import stats

SRM_THRESHOLD = 0.001


def chi_square_p(observed: Mapping[str, float], expected: Mapping[str, float]) -> float | None:
    """Pearson's goodness-of-fit p-value; ``None`` with fewer than two cells expecting anything
    or nothing observed. Cells expected at 0 but observed are a mismatch (p = 0)."""
    cells = [(observed.get(k, 0.0), e) for k, e in expected.items()]
    if sum(o for o, _ in cells) <= 0 or sum(1 for _, e in cells if e > 0) < 2:
        return None
    if any(e <= 0 < o for o, e in cells) or any(k not in expected for k in observed if observed[k]):
        return 0.0
    statistic = sum((o - e) ** 2 / e for o, e in cells if e > 0)
    return float(stats.chi2.sf(statistic, sum(1 for _, e in cells if e > 0) - 1))


def srm_p(exposures: Mapping[str, float], weights: Mapping[str, float]) -> float | None:
    """Sample-ratio mismatch p-value of ``exposures`` against the configured ``weights``."""
    total_weight = sum(weights.values())
    total = sum(exposures.get(k, 0.0) for k in weights)
    if total_weight <= 0:
        return None
    return chi_square_p(exposures, {k: total * w / total_weight for k, w in weights.items()})


def propensity_p(served: Mapping[str, float], expected: Mapping[str, float]) -> float | None:
    """Served counts against the summed logged probabilities (a bandit's expected counts)."""
    return chi_square_p(served, expected)


def srm_flagged(p: float | None) -> bool:
    return p is not None and p < SRM_THRESHOLD
