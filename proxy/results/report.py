"""The report: per slot and variant, what happened and what it means (pure; the JSON contract is
``docs/report-format.md``, :data:`FORMAT_VERSION`).

Input is what the store keeps (:class:`~proxy.records.results_buckets.Buckets` per slot over the
period) and each slot's configuration; output is plain data, rendered as JSON, text, CSV or
Markdown by :mod:`proxy.results.render`. The statistics are :mod:`proxy.stats`: the rate is
clicks per exposure (CTR); every variant is compared with the control (lift with intervals,
Fisher's exact p, the test used for ``p_value``, Holm across variants, an always-valid mSPRT
p-value over the period's buckets), Beta posteriors give chance to beat the control, chance to
be best and expected loss; conversions per visitor are compared with the control's as Poisson
rates (:mod:`proxy.stats.poisson`: for a holdout rule, the effect); a split slot is checked for sample-ratio mismatch against its
weights, a bandit slot for propensity consistency against the probabilities it logged. The
off-policy values of each variant and of the served, model and uniform policies, and the regret
against the best fixed variant, come from the learner's joined examples
(:mod:`proxy.results.offpolicy`), and so do the reward per decision with and without CUPED
(:mod:`proxy.results.cuped`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from threadpoolctl import threadpool_limits

from proxy.bandit.reward import reward_bounds
from proxy.records.results_buckets import Buckets
from proxy.results.cuped import EMPTY as CUPED_EMPTY
from proxy.results.cuped import cuped_section
from proxy.results.doubly_robust import ExampleSet, doubly_robust
from proxy.results.offpolicy import UNBOUNDED, Bounds, off_policy
from proxy.results.series import series
from proxy.rules.compiled import CompiledPin, CompiledRule, CompiledSlot, RuleSet
from proxy.rules.holdout import ARMS, HOLDOUT
from proxy.stats.binary import (
    Posterior,
    chance_to_be_best,
    chance_to_beat,
    expected_loss,
    fisher_p,
    lift,
    posterior,
    sample_size,
)
from proxy.stats.checks import propensity_p, srm_flagged, srm_p
from proxy.stats.continuous import Moments
from proxy.stats.poisson import compare_rates
from proxy.stats.sequential import always_valid_p, holm

FORMAT_VERSION = 2  # 2: rules measured against a holdout are reported beside the slots
FORMAT_MINOR_VERSION = 2  # added within version 2: 1 = doubly robust, 2 = conversions per visitor
MDE = 0.10  # the relative minimum detectable effect the sample size is given for
POWER = 0.8
TAU_SHARE = 0.1  # mSPRT mixing sd: 10 % of the control's rate (a plausible lift's size)
NO_ESTIMATES = {"ips": None, "ips_ci": None, "snips": None, "snips_ci": None, "ess": None}


@dataclass(frozen=True, slots=True)
class SlotInfo:
    """What the report needs of a slot's configuration."""

    id: str
    policy: str  # rules | bandit | split | holdout (a rule measured against its holdout)
    control: str
    variants: tuple[str, ...]
    weights: Mapping[str, float] | None = None  # policy: split or holdout
    kind: str = "slot"  # slot | rule
    pins: tuple[CompiledPin, ...] = ()  # what the rules policy of the DR section replays
    reward_bounds: Bounds = UNBOUNDED  # what one decision can earn (off-policy intervals)


def slot_info(slot: CompiledSlot) -> SlotInfo:
    """What the report needs of a compiled slot: who chooses (split, bandit or rules)."""
    if slot.split:
        policy = "split"
    elif slot.learner is not None and slot.learner.bandit:
        policy = "bandit"
    else:
        policy = "rules"
    weights = dict(slot.split) if slot.split else None
    bounds = reward_bounds(slot.learner.reward) if slot.learner is not None else UNBOUNDED
    variants = tuple(slot.variants)
    return SlotInfo(slot.id, policy, slot.control, variants, weights, "slot", slot.pins, bounds)


def rule_info(rule: CompiledRule) -> SlotInfo:
    """A rule with ``holdout:`` as the report shows it: a two-arm split whose control is the
    holdout (``proxy/rules/holdout.py``)."""
    return SlotInfo(rule.id, "holdout", HOLDOUT, ARMS, dict(rule.holdout), kind="rule")


def reported(ruleset: RuleSet) -> list[SlotInfo]:
    """Everything the report covers, in file order: the slots, then the holdout rules."""
    return [*map(slot_info, ruleset.slots), *map(rule_info, ruleset.holdout_rules)]


def _sum(buckets: Buckets, variant: str, measure: str) -> float:
    return sum(b.get(f"{variant}|{measure}", 0.0) for b in buckets.sums.values())


def _rate(successes: float, trials: float) -> float | None:
    return successes / trials if trials > 0 else None


def _pair(values: tuple[float, float] | None) -> list[float] | None:
    return None if values is None else [values[0], values[1]]


def _mean_ci(moments: Moments) -> tuple[float | None, list[float] | None]:
    mean, variance = moments.mean, moments.variance
    if mean is None or variance is None:
        return mean, None
    half = 1.959963984540054 * (variance / moments.n) ** 0.5
    return mean, [mean - half, mean + half]


def _always_valid(buckets: Buckets, control: str, variant: str) -> float:
    """The mSPRT p-value of the CTR difference, looked at after every bucket of the period."""
    looks = []
    nc = sc = nv = sv = 0.0
    for index in sorted(buckets.sums):
        sums = buckets.sums[index]
        nc += sums.get(f"{control}|exposures", 0.0)
        sc += min(sums.get(f"{control}|clicks", 0.0), nc)
        nv += sums.get(f"{variant}|exposures", 0.0)
        sv += min(sums.get(f"{variant}|clicks", 0.0), nv)
        if nc < 2 or nv < 2:
            continue
        pc, pv = sc / nc, sv / nv
        variance = pc * (1 - pc) / nc + pv * (1 - pv) / nv
        if variance > 0:
            tau = TAU_SHARE * max(pc, 1.0 / nc)
            looks.append((pv - pc, variance, 1.0))
            last_tau2 = tau * tau
    return always_valid_p(looks, last_tau2) if looks else 1.0


@dataclass(frozen=True, slots=True)
class _Basics:
    """What every view of a slot starts from: its period's totals and posteriors."""

    totals: dict[str, dict[str, float]]
    exposures: dict[str, int]
    clicks: dict[str, int]
    posteriors: list[Posterior]
    # chance to be best and expected loss, in variant order: among the variants with exposures
    # only (a variant never seen is not compared on its prior), null for the others
    best: list[float | None]
    loss: list[float | None]

    @classmethod
    def of(cls, info: SlotInfo, buckets: Buckets) -> _Basics:
        totals = {
            v: {m: _sum(buckets, v, m) for m in ("decisions", "exposures", "clicks", "conversions")}
            for v in info.variants
        }
        exposures = {v: int(totals[v]["exposures"]) for v in info.variants}
        clicks = {v: min(int(totals[v]["clicks"]), exposures[v]) for v in info.variants}
        posteriors = [posterior(clicks[v], exposures[v]) for v in info.variants]
        seen = [i for i, v in enumerate(info.variants) if exposures[v]]
        best: list[float | None] = [None] * len(posteriors)
        loss: list[float | None] = [None] * len(posteriors)
        # a holdout rule's clicks are not attributed yet: without any, its arms' chances
        # would be the priors' alone (the arm with fewer page views "best"), so none
        if seen and (info.kind == "slot" or any(clicks.values())):
            compared = [posteriors[i] for i in seen]
            for i, b, e in zip(
                seen, chance_to_be_best(compared), expected_loss(compared), strict=True
            ):
                best[i], loss[i] = b, e
        return cls(totals, exposures, clicks, posteriors, best, loss)

    def head(self, info: SlotInfo, buckets: Buckets) -> dict[str, Any]:
        """The slot-level fields: id, policy, control, the split check, exposures, leader."""
        check, p = _split_check(info, buckets, self.exposures, self.totals)
        ranked = [i for i, b in enumerate(self.best) if b is not None]
        leader = max(ranked, key=lambda i: self.best[i] or 0.0) if ranked else 0
        total = sum(self.exposures.values())
        return {
            "id": info.id,
            "kind": info.kind,
            "policy": info.policy,
            "control": info.control,
            "srm_check": check,
            "srm_p": p,
            "srm_flagged": srm_flagged(p),
            "exposures": total,
            # only a split (or a holdout) without pins serves its variants to alike visitors;
            # a bandit or a pin chooses by context, and its CTRs compare different audiences
            "randomised": info.policy in ("split", "holdout") and not info.pins,
            # a holdout rule's clicks are not attributed yet: without any, no CTR leader
            "leader": info.variants[leader]
            if total and (info.kind == "slot" or any(self.clicks.values()))
            else None,
        }


def slot_overview(info: SlotInfo, buckets: Buckets) -> dict[str, Any]:
    """The slot-level fields of :func:`slot_report`, and per variant only ``id``,
    ``exposures``, ``decisions`` and ``chance_to_be_best``: what the dashboard's overview
    shows, at a fifth of the cost (no pairwise tests, losses or series)."""
    basics = _Basics.of(info, buckets)
    variants = [
        {
            "id": v,
            "exposures": basics.exposures[v],
            "decisions": int(basics.totals[v]["decisions"]),
            "chance_to_be_best": basics.best[i],
        }
        for i, v in enumerate(info.variants)
    ]
    return basics.head(info, buckets) | {"variants": variants}


# a variant's comparison with the control where there is none: the control's own row, and a
# variant when it or the control has no exposures
NO_COMPARISON: dict[str, Any] = {
    "lift_vs_control": None, "lift_ci": None, "absolute_lift": None, "absolute_lift_ci": None,
    "p_value": None, "test": None, "fisher_p": None, "p_holm": None, "always_valid_p": None,
    "chance_to_beat_control": None,
}  # fmt: skip
NO_CONVERSION_COMPARISON: dict[str, Any] = {
    "conversion_lift": None, "conversion_lift_ci": None, "conversion_p": None,
}  # fmt: skip


def _conversion_comparison(
    conversions_control: int, visitors_control: int, conversions: int, visitors: int
) -> dict[str, Any]:
    """Conversions per visitor against the control's, as Poisson rates (the exact conditional
    test): what a holdout rule, whose clicks are not attributed, is judged on."""
    found = compare_rates(conversions_control, visitors_control, conversions, visitors)
    if found is None:
        return NO_CONVERSION_COMPARISON
    low, high = found.lift_ci
    return {"conversion_lift": found.lift, "conversion_lift_ci": [low, high],
            "conversion_p": found.p_value}  # fmt: skip


def slot_report(
    info: SlotInfo, buckets: Buckets, examples: ExampleSet | None = None
) -> dict[str, Any]:
    """One slot's part of the report (see ``docs/report-format.md``); ``examples``: a bandit
    slot's joined examples for the ``doubly_robust`` section (``null`` without them)."""
    basics = _Basics.of(info, buckets)
    totals, exposures, clicks = basics.totals, basics.exposures, basics.clicks
    posteriors, best, loss = basics.posteriors, basics.best, basics.loss
    control = info.control
    i_control = info.variants.index(control)
    variants: list[dict[str, Any]] = []
    p_values: list[float] = []
    # every variant's lost exposures, or none: null only where the slot logs no decisions
    logs_decisions = any(totals[v]["decisions"] for v in info.variants)
    visitors = {v: int(buckets.visitors.get(v, 0)) for v in info.variants}
    conversions = {v: int(totals[v]["conversions"]) for v in info.variants}
    for i, v in enumerate(info.variants):
        decisions = int(totals[v]["decisions"])
        row: dict[str, Any] = {
            "id": v,
            "is_control": v == control,
            "weight": None if info.weights is None else info.weights.get(v, 0.0),
            "decisions": decisions,
            "exposures": exposures[v],
            "lost_exposures": max(0, decisions - exposures[v]) if logs_decisions else None,
            "visitors": visitors[v],
            "clicks": clicks[v],
            "conversions": conversions[v],
            "conversions_per_visitor": _rate(conversions[v], visitors[v]),
            "conversion_value": _sum(buckets, v, "value"),
            "ctr": _rate(clicks[v], exposures[v]),
            "ctr_ci": list(posteriors[i].interval()) if exposures[v] else None,
            "chance_to_be_best": best[i],
            "expected_loss": loss[i],
        }
        engaged = Moments(
            *(_sum(buckets, v, m) for m in ("engaged_n", "engaged_s", "engaged_s_sq"))
        )
        scroll = Moments(*(_sum(buckets, v, m) for m in ("scroll_n", "scroll", "scroll_sq")))
        row["engaged_s_mean"], row["engaged_s_ci"] = _mean_ci(engaged)
        row["scroll_mean"], row["scroll_ci"] = _mean_ci(scroll)
        row |= (
            NO_CONVERSION_COMPARISON
            if v == control
            else _conversion_comparison(
                conversions[control], visitors[control], conversions[v], visitors[v]
            )
        )
        if v == control:
            row |= NO_COMPARISON
        elif info.kind == "rule":
            # a holdout rule's clicks are not attributed: a CTR test of two zeros would read
            # as "no effect" (p = 1) and a chance to beat of whatever the exposures make it
            row |= NO_COMPARISON
        elif not exposures[v] or not exposures[control]:
            # no data on one side is not "no difference" (a p of 1), nor a chance to beat the
            # control read off the prior alone: every comparison is undefined, null
            row |= NO_COMPARISON
        else:
            result = lift(clicks[control], exposures[control], clicks[v], exposures[v])
            p_values.append(result.p_value)
            row |= {
                "lift_vs_control": result.relative,
                "lift_ci": _pair(result.relative_ci),
                "absolute_lift": result.absolute,
                "absolute_lift_ci": _pair(result.absolute_ci),
                "p_value": result.p_value,
                "test": result.test,
                "fisher_p": fisher_p(clicks[control], exposures[control], clicks[v], exposures[v]),
                "always_valid_p": _always_valid(buckets, control, v),
                "chance_to_beat_control": chance_to_beat(posteriors[i], posteriors[i_control]),
            }
        variants.append(row)
    adjusted = iter(holm(p_values))  # over the variants that were tested
    for row in variants:
        if row["p_value"] is not None:
            row["p_holm"] = next(adjusted)
    total_decisions = sum(int(totals[v]["decisions"]) for v in info.variants)
    for row in variants:
        row["allocation"] = row["decisions"] / total_decisions if total_decisions else None
    per_variant, section = off_policy(info.variants, control, buckets, info.reward_bounds)
    by_variant, cuped = cuped_section(info.variants, control, buckets)
    for row in variants:
        row |= per_variant.get(row["id"], NO_ESTIMATES) | by_variant.get(row["id"], CUPED_EMPTY)
    dr = None
    if examples is not None and info.policy == "bandit":
        dr = doubly_robust(info.variants, control, info.pins, examples)
    by_arm = {arm["id"]: arm for arm in dr["variants"]} if dr else {}
    for row in variants:
        arm = by_arm.get(row["id"], {})
        row |= {"dr": arm.get("dr"), "dr_ci": arm.get("dr_ci")}
    base = _rate(clicks[control], exposures[control])
    return basics.head(info, buckets) | {
        "off_policy": section,
        "doubly_robust": dr,
        "cuped": cuped,
        "sample_size_per_variant": sample_size(base, MDE, power=POWER) if base else None,
        "mde": MDE,
        "power": POWER,
        "variants": variants,
        "series": series(info.variants, buckets),
    }


def _split_check(
    info: SlotInfo,
    buckets: Buckets,
    exposures: Mapping[str, int],
    totals: Mapping[str, Mapping[str, float]],
) -> tuple[str | None, float | None]:
    """SRM of exposures against the weights (split, holdout), or served decisions against the
    summed logged probabilities (bandit); neither for a rules slot (no randomisation to check)."""
    if info.policy in ("split", "holdout") and info.weights is not None:
        return "srm", srm_p({v: float(n) for v, n in exposures.items()}, info.weights)
    if info.policy == "bandit":
        served = {v: totals[v]["decisions"] for v in info.variants}
        expected = {v: _sum(buckets, v, "expected") for v in info.variants}
        return "propensity", propensity_p(served, expected)
    return None, None


def report(
    slots: Sequence[tuple[SlotInfo, Buckets]],
    *,
    bucket: str,
    first: int,
    last: int,
    now_ms: int,
    overview: bool = False,
    examples: Mapping[str, ExampleSet] | None = None,
) -> dict[str, Any]:
    """The whole report (``docs/report-format.md``); with ``overview``, each slot's
    :func:`slot_overview` instead of its full part; ``examples``: per bandit slot id its joined
    examples for the doubly robust estimates."""
    samples = examples or {}

    def build(info: SlotInfo, data: Buckets) -> dict[str, Any]:
        if overview:
            return slot_overview(info, data)
        return slot_report(info, data, samples.get(info.id))

    # The DR bootstrap's small matrix products: BLAS threads spinning on 2 shared cores more
    # than doubled their CPU time (bench/results_bench.py), as for the segments' fit.
    with threadpool_limits(limits=1) if samples else contextlib.nullcontext():
        built = [build(info, data) for info, data in slots]
    return {
        "format": "vernier-report",
        "version": FORMAT_VERSION,
        "minor_version": FORMAT_MINOR_VERSION,
        "generated_ms": now_ms,
        "period": {"bucket": "hour" if bucket == "h" else "day", "first": first, "last": last},
        "slots": built,
    }
