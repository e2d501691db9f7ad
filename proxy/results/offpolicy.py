"""Off-policy values of a slot's variants and policies from the store's sums (pure; #13 item 2).

The learner folds every joined example (a decision with its reward, after the reward window)
into per-hour sums of importance weights (:func:`proxy.results.fold.fold_example`): for each
variant *a* the target "always *a*" (*w = 1/p* when *a* was chosen, else 0), and the slot-level
targets ``~logged`` (the policy that served, exploration included: *w = 1*), ``~uniform``
(*w = 1/(K·p)*) and ``~greedy`` (the logged pmf's most likely variant: the model's own choice).
The values are :mod:`proxy.evaluate.weighted`'s IPS and SNIPS — the formulas ``vernier
evaluate`` uses — with 95 % normal intervals (the store keeps sums, not the examples a bootstrap
resamples), kept above the least the slot's reward can be (its lower
:func:`proxy.bandit.reward.reward_bounds`: clicks, 0) while no joined example of the period had a
reward below it (a reward posted through the API, or under an earlier ``reward:``, can be
anything): no policy's value lies below it, so no coverage is lost. The reward is the slot's
configured reward (``reward:`` in the rules), so these values are not CTRs unless the reward is
clicks.

Regret is the best fixed variant's SNIPS value minus the served policy's, per example and over
the period's examples; its interval adds the two variances (ignoring their covariance).

A target that follows the YAML rules needs each decision's context evaluated by the rules: that
is ``vernier evaluate --policy rules`` over the decision log, not something sums can give.
"""

from __future__ import annotations

import math
from typing import Any

from proxy.evaluate.weighted import WeightSums, ips, snips
from proxy.records.results_buckets import Buckets
from proxy.results.fold import NEGATIVE_REWARDS, TARGETS, WEIGHT_SUMS

Z95 = 1.959963984540054
POLICY_NAMES = {"~logged": "served", "~greedy": "model", "~uniform": "uniform"}


def weight_sums(buckets: Buckets, target: str, examples: float) -> WeightSums:
    """The target's sums over the period; ``n`` is every example of the slot (a target that
    would not have chosen the logged variant still counts an example, with weight 0)."""
    return WeightSums(examples, *(buckets.total(f"{target}|{m}") for m in WEIGHT_SUMS[1:]))


Bounds = tuple[float | None, float | None]  # the reward's least and most (None: unbounded)
UNBOUNDED: Bounds = (None, None)


def _ci(value: float, se: float, least: float | None = None) -> list[float] | None:
    if not (math.isfinite(value) and math.isfinite(se)):
        return None
    low, high = value - Z95 * se, value + Z95 * se
    if least is not None:
        low, high = max(low, least), max(high, least)
    return [low, high]


def _number(value: float) -> float | None:
    return value if math.isfinite(value) else None


def estimates(sums: WeightSums, least: float | None = None) -> dict[str, Any]:
    """``ips``, ``ips_ci``, ``snips``, ``snips_ci`` (not below ``least``) and ``ess`` of one
    target."""
    ips_value, ips_se = ips(sums)
    snips_value, snips_se = snips(sums)
    return {
        "ips": _number(ips_value),
        "ips_ci": _ci(ips_value, ips_se, least),
        "snips": _number(snips_value),
        "snips_ci": _ci(snips_value, snips_se, least),
        "ess": sums.ess,
    }


def examples_of(buckets: Buckets) -> float:
    return buckets.total("~logged|ips_n")


def off_policy(
    variants: tuple[str, ...], control: str, buckets: Buckets, bounds: Bounds = UNBOUNDED
) -> tuple[dict[str, dict[str, Any]], dict[str, Any] | None]:
    """Per variant its "always this variant" estimates, and the slot's ``off_policy`` section
    (``None`` when the period holds no joined example); intervals kept above the reward's
    lower bound (``bounds``) while no example of the period earned less."""
    n = examples_of(buckets)
    if n <= 0:
        return {}, None
    least = bounds[0] if not buckets.total(NEGATIVE_REWARDS) else None
    per_variant = {v: estimates(weight_sums(buckets, v, n), least) for v in variants}
    policies = [
        {"id": POLICY_NAMES[target]} | estimates(weight_sums(buckets, target, n), least)
        for target in TARGETS
    ]
    policies.append({"id": f"control ({control})"} | per_variant[control])
    served_value, served_se = snips(weight_sums(buckets, "~logged", n))
    ranked = [
        (snips(weight_sums(buckets, v, n)), v)
        for v in variants
        if per_variant[v]["snips"] is not None
    ]
    section: dict[str, Any] = {"examples": int(n), "policies": policies}
    if ranked:
        (best_value, best_se), best = max(ranked, key=lambda item: item[0][0])
        regret = best_value - served_value
        se = math.sqrt(best_se**2 + served_se**2)
        section |= {
            "best_fixed_variant": best,
            "regret_per_example": regret,
            "regret_per_example_ci": _ci(regret, se),
            "regret_total": regret * n,
        }
    return per_variant, section
