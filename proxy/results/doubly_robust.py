"""Doubly robust values of a bandit slot's variants and policies, from a sample of its joined
examples (pure; #13 item 2).

The store's sums give IPS and SNIPS (:mod:`proxy.results.offpolicy`); DR needs a reward model
per context and the YAML rules need each decision's request context, so this part of the report
runs ``vernier evaluate``'s estimator (:class:`~proxy.evaluate.estimators.SlotEvaluator`: the
cross-fitted reward model over every context namespace, the bootstrap intervals clipped to the
reward range, ESS and warnings) over the slot's most recent joined examples in the period, which
the learner keeps in the store (:mod:`proxy.store.joined_examples`). IPS and SNIPS come from the
same sample, so the three are comparable.

The targets:

* each variant — always serve it (``control (<id>)`` among the policies too);
* ``served`` — the logging policy as it ran, exploration included (*w = 1*);
* ``model`` — the learned policy without exploration, as it was when each decision was made:
  the most likely variant of the logged pmf (what the bandit served when it exploited; a pin's
  or the control's decision, logged without a pmf, is its own choice). Evaluating the model
  published now would need VW and its snapshot; ``vernier evaluate`` does that;
* ``uniform`` — every offered variant equally likely;
* ``rules`` — what the slot's YAML pins would have served on each logged request context, else
  the control (:func:`proxy.rules.replay.pinned_variant`, the function the proxy decides with).
  Left out, with a warning, when a pin reads a field the log never carries (headers, cookies,
  the visitor's segments) or a sampled example carries no request context: never guessed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from proxy.evaluate.estimators import Estimate, Evaluation, IntervalMethod, SlotEvaluator
from proxy.evaluate.estimators import observed_range as reward_range_of
from proxy.evaluate.policies import TargetPolicy, Valid, always, deterministic, uniform
from proxy.evaluate.reward_model import RewardModel
from proxy.records.decision import DecisionRecord, LoggedDecision
from proxy.rules.compiled import CompiledPin
from proxy.rules.replay import pinned_variant, unlogged_fields

MIN_EXAMPLES = 10  # fewer: no estimates, a message (the intervals would say nothing)
METHOD = IntervalMethod()  # vernier evaluate's default: 95 %, 200 resamples, seed 0


@dataclass(frozen=True, slots=True)
class ExampleSet:
    """The examples the store gave for one slot and period (oldest first), and how they were
    chosen: at most ``limit``, the most recent; ``limited`` when the period may hold more."""

    records: Sequence[LoggedDecision]
    limit: int
    limited: bool


def _served(record: DecisionRecord) -> list[float]:
    if record.pmf is None:
        return [float(a == record.chosen) for a in record.actions]
    return list(record.pmf)


def _model(record: DecisionRecord) -> list[float]:
    pmf = record.pmf
    best = record.chosen_index if pmf is None else max(range(len(pmf)), key=pmf.__getitem__)
    return [float(i == best) for i in range(len(record.actions))]


def rules_policy(pins: Sequence[CompiledPin], control: str) -> TargetPolicy:
    """The pins on each example's logged request context, else the control."""

    def choose(record: DecisionRecord) -> str:
        context = getattr(record, "rule_context", None) or {}
        return pinned_variant(pins, context) or control

    return deterministic(choose)


def _warning(code: str, message: str) -> dict[str, str]:
    return {"code": code, "message": message}


def _rules_target(
    pins: Sequence[CompiledPin], control: str, records: Sequence[LoggedDecision]
) -> tuple[TargetPolicy | None, list[dict[str, str]]]:
    """The rules policy, or why it cannot be evaluated on these examples."""
    missing = unlogged_fields(pins)
    if missing:
        return None, [_warning(
            "rules_unlogged_fields",
            f"the pins read {', '.join(missing)}, which decisions do not log (headers, cookies "
            "and segments stay out of the log): the rules policy is not estimated",
        )]  # fmt: skip
    without = sum(1 for r in records if r.rule_context is None)
    if pins and without:
        return None, [_warning(
            "rules_no_context",
            f"{without} of {len(records)} sampled examples carry no request context "
            "(logged by another client or an older proxy): the rules policy is not estimated",
        )]  # fmt: skip
    return rules_policy(pins, control), []


def _estimate(e: Estimate) -> tuple[float | None, list[float] | None]:
    if e.value != e.value:  # NaN: undefined (SNIPS with no weight)
        return None, None
    return e.value, [e.low, e.high]


def _row(name: str, e: Evaluation) -> dict[str, Any]:
    row: dict[str, Any] = {"id": name, "n": e.n}
    for kind, estimate in (("ips", e.ips), ("snips", e.snips), ("dr", e.dr)):
        row[kind], row[f"{kind}_ci"] = _estimate(estimate)
    row["ess"] = e.ess
    row["warnings"] = [_warning(w.code, w.message) for w in e.warnings]
    return row


def empty(limit: int, message: str) -> dict[str, Any]:
    """The section when there is nothing to estimate from: why, and no numbers."""
    return {"examples": 0, "limit": limit, "sampled": False, "message": message,
            "policies": [], "variants": [], "warnings": []}  # fmt: skip


def doubly_robust(
    variants: tuple[str, ...],
    control: str,
    pins: Sequence[CompiledPin],
    examples: ExampleSet,
    *,
    method: IntervalMethod = METHOD,
) -> dict[str, Any]:
    """The slot's ``doubly_robust`` section (``docs/report-format.md``)."""
    offered = set(variants)
    records = [r for r in examples.records if set(r.actions) == offered and r.is_example]
    warnings: list[dict[str, str]] = []
    other = len(examples.records) - len(records)
    if other:
        warnings.append(_warning(
            "other_variants",
            f"{other} examples offered other variants than the slot has now (or are sticky "
            "re-serves) and are left out",
        ))  # fmt: skip
    if len(records) < MIN_EXAMPLES:
        how_many = f"{len(records)} joined example{'s' * (len(records) != 1)}"
        where = "of the sample (its limit)" if examples.limited else "in the period"
        section = empty(examples.limit, f"only {how_many} {where}: doubly robust estimates "
                        f"need at least {MIN_EXAMPLES}")  # fmt: skip
        return section | {"examples": len(records), "warnings": warnings}
    if examples.limited:
        warnings.append(_warning(
            "sampled",
            f"the most recent {examples.limit} joined examples of the period: older ones are "
            "not in these estimates (results.examples_kept, vernier report --dr-sample)",
        ))  # fmt: skip
    targets: dict[str, TargetPolicy] = {v: always(v) for v in variants}
    policies: dict[str, TargetPolicy] = {
        "served": Valid(_served),
        "model": Valid(_model),
        "uniform": uniform,
    }
    rules, why_not = _rules_target(pins, control, records)
    warnings += why_not
    if rules is not None:
        policies["rules"] = rules
    targets |= {f"~{name}": policy for name, policy in policies.items()}  # no variant id has ~
    model = RewardModel()
    for record in records:
        model.add(record)
    rewards = [r.reward or 0.0 for r in records]
    evaluator = SlotEvaluator(
        targets, model, reward_range=reward_range_of(min(rewards), max(rewards)), method=method
    )
    for record in records:
        evaluator.add(record)
    found = {e.name: e for e in evaluator.results()}
    names = [*(f"~{name}" for name in policies)]
    names.insert(3, control)
    decided = [r.ts_ms for r in records if r.ts_ms is not None]
    return {
        "examples": len(records),
        "limit": examples.limit,
        "sampled": examples.limited,
        "first_ms": min(decided, default=None),
        "last_ms": max(decided, default=None),
        "reward_range": list(evaluator.reward_range),
        "interval": method.describe(),
        "message": None,
        "policies": [
            _row(f"control ({n})" if n == control else n.removeprefix("~"), found[n]) for n in names
        ],
        "variants": [_row(v, found[v]) for v in variants],
        "warnings": warnings,
    }
