"""The reward per decision of each variant, unadjusted and CUPED-adjusted (pure; #13 item 4).

The unit is a decision the learner joined with its reward (see :mod:`proxy.results.offpolicy`);
the covariate is :data:`proxy.results.fold.COVARIATE` as of the visitor's first exposure to
the slot (:func:`proxy.results.fold.frozen_covariate`), so it is measured before every exposure
it adjusts, and visits the slot itself brought about cannot take part of its effect away
(records logged before the freeze existed carry the value at their decision, and a visitor
exposed before it has it frozen at their next exposure). CUPED (Deng et al., WSDM 2013;
:func:`proxy.stats.continuous.cuped`) subtracts ``θ·(x − x̄)`` with one θ fitted over all
variants, so the difference of adjusted means stays unbiased while its variance shrinks by the
share of the reward's variance the covariate explains. Both versions are reported: the
unadjusted Welch test is the reference, the adjusted one the sharper view of the same effect.
"""

from __future__ import annotations

from typing import Any

from proxy.records.results_buckets import Buckets
from proxy.results.fold import COVARIATE
from proxy.stats.continuous import (
    MeanDifference,
    Moments,
    adjusted_difference,
    cuped,
    cuped_theta,
    welch,
)

FIELDS = ("ips_n", "cuped_y", "cuped_y_sq", "cuped_x", "cuped_x_sq", "cuped_xy")
EMPTY = {
    "reward_mean": None, "reward_diff": None, "reward_diff_ci": None, "reward_p": None,
    "cuped_mean": None, "cuped_diff": None, "cuped_diff_ci": None, "cuped_p": None,
}  # fmt: skip


def _sums(buckets: Buckets, variant: str) -> list[float]:
    return [buckets.total(f"{variant}|{m}") for m in FIELDS]


def _difference(result: MeanDifference | None) -> tuple[Any, Any, Any]:
    if result is None:
        return None, None, None
    return result.difference, list(result.interval), result.p_value


def cuped_section(
    variants: tuple[str, ...], control: str, buckets: Buckets
) -> tuple[dict[str, dict[str, Any]], dict[str, Any] | None]:
    """Per variant the fields of :data:`EMPTY`, and the slot's ``cuped`` summary (covariate,
    θ, the variance reduction); ``({}, None)`` without two joined decisions per variant."""
    sums = {v: _sums(buckets, v) for v in variants}
    if any(s[0] < 2 for s in sums.values()):
        return {}, None
    y = {v: Moments(s[0], s[1], s[2]) for v, s in sums.items()}
    x = {v: Moments(s[0], s[3], s[4]) for v, s in sums.items()}
    pooled = [sum(s[i] for s in sums.values()) for i in range(len(FIELDS))]
    pooled_y, pooled_x = Moments(*pooled[:3]), Moments(pooled[0], pooled[3], pooled[4])
    theta = cuped_theta(pooled_y, pooled_x, pooled[5])
    mean_x = pooled_x.mean
    adjusted = {}
    if theta is not None and mean_x is not None:
        adjusted = {v: cuped(y[v], x[v], sums[v][5], theta, mean_x) for v in variants}
    rows: dict[str, dict[str, Any]] = {}
    for v in variants:
        row = dict(EMPTY, reward_mean=y[v].mean)
        fitted = adjusted.get(v)
        if fitted is not None:
            row["cuped_mean"] = fitted.adjusted_mean
        if v != control:
            diff, ci, p = _difference(welch(y[control], y[v]))
            row |= {"reward_diff": diff, "reward_diff_ci": ci, "reward_p": p}
            base = adjusted.get(control)
            if fitted is not None and base is not None:
                result = adjusted_difference(base, y[control].n, fitted, y[v].n)
                diff, ci, p = _difference(result)
                row |= {"cuped_diff": diff, "cuped_diff_ci": ci, "cuped_p": p}
        rows[v] = row
    remaining = None
    fits = {v: fit for v, fit in adjusted.items() if fit is not None}
    if fits and len(fits) == len(variants):
        within = sum((y[v].n - 1) * fits[v].adjusted_variance for v in variants)
        total = sum((y[v].n - 1) * (y[v].variance or 0.0) for v in variants)
        remaining = within / total if total > 0 else None
    summary = {
        "covariate": COVARIATE,
        "theta": theta,
        "variance_kept": remaining,
        "decisions": int(pooled[0]),
    }
    return rows, summary
