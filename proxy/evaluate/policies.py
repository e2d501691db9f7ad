"""Target policies to evaluate offline: a function from a logged record to a pmf over its actions.

A :data:`TargetPolicy` sees the record's context and offered actions (never its choice or
reward) and returns one probability per offered action, in the record's order.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from proxy.bandit.features import ActionSet
from proxy.bandit.model import BanditModel
from proxy.bandit.policy_config import FeatureValue
from proxy.records.decision import DecisionRecord

TargetPolicy = Callable[[DecisionRecord], Sequence[float]]


def uniform(record: DecisionRecord) -> list[float]:
    """Every offered action equally likely."""
    n = len(record.actions)
    return [1.0 / n] * n


def always(variant_id: str) -> TargetPolicy:
    """Always ``variant_id`` (e.g. the control); ``ValueError`` on a record that lacks it."""

    def policy(record: DecisionRecord) -> list[float]:
        if variant_id not in record.actions:
            raise ValueError(f"record {record.id}: {variant_id!r} was not offered")
        return [1.0 if a == variant_id else 0.0 for a in record.actions]

    return policy


def deterministic(choose: Callable[[DecisionRecord], str]) -> TargetPolicy:
    """The action ``choose(record)`` names (a rule set, a pinned variant per context, …)."""

    def policy(record: DecisionRecord) -> list[float]:
        chosen = choose(record)
        if chosen not in record.actions:
            raise ValueError(f"record {record.id}: the rule chose {chosen!r}, not offered")
        return [1.0 if a == chosen else 0.0 for a in record.actions]

    return policy


def model_policy(
    model: BanditModel,
    variant_features: Mapping[str, Mapping[str, FeatureValue]],
    *,
    greedy: bool = False,
) -> TargetPolicy:
    """A VW model's pmf (floor included), or its greedy choice with ``greedy=True``.

    ``variant_features`` are the variants' declared features (the slot's configuration);
    a variant it does not list is offered with its id alone.
    """
    action_sets: dict[tuple[str, ...], ActionSet] = {}

    def policy(record: DecisionRecord) -> list[float]:
        actions = action_sets.get(record.actions)
        if actions is None:
            actions = ActionSet([(a, variant_features.get(a, {})) for a in record.actions])
            action_sets[record.actions] = actions
        pmf = model.predict(record.context, actions)
        if not greedy:
            return pmf
        best = pmf.index(max(pmf))
        return [1.0 if i == best else 0.0 for i in range(len(pmf))]

    return policy
