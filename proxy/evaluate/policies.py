"""Target policies to evaluate offline: a function from a logged record to a pmf over its actions.

A :data:`TargetPolicy` sees the record's context and offered actions (never its choice or
reward) and returns one probability per offered action, in the record's order. Built in:
:func:`uniform`, :func:`always`, :func:`deterministic` and :func:`model_policy`; from outside,
:func:`entry_point` wraps a user's function (``vernier evaluate --policy module:function``)
and :mod:`~proxy.evaluate.policy_file` reads per-decision probabilities.
"""

from __future__ import annotations

import functools
import math
import numbers
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from proxy.bandit.features import ActionSet
from proxy.bandit.model import BanditModel
from proxy.bandit.policy_config import FeatureValue
from proxy.errors import VernierError
from proxy.records.decision import DecisionRecord, Scalar

TargetPolicy = Callable[[DecisionRecord], Sequence[float]]
# how far a target's probabilities may sum from 1 (rounding in a file written with 6 decimals)
PMF_TOLERANCE = 1e-6


class PolicyError(VernierError):
    """A target policy gave no valid pmf for a record, or its source is unusable;
    ``str(err)`` starts with the log's or the policy file's ``file:line``."""


def pmf_in_order(
    probabilities: Mapping[str, float], actions: Sequence[str], *, tolerance: float = PMF_TOLERANCE
) -> list[float]:
    """``{action: p}`` as a list in ``actions`` order (absent actions get 0); ``ValueError`` for
    an action not offered, a probability outside [0, 1] or a sum off 1 by more than
    ``tolerance``. The result is renormalised to sum to 1 exactly."""
    unknown = [a for a in probabilities if a not in actions]
    if unknown:
        raise ValueError(
            f"unknown action {unknown[0]!r}: the decision offered {', '.join(actions)}"
        )
    return _checked([probabilities.get(a, 0.0) for a in actions], tolerance)


def _checked(pmf: list[float], tolerance: float) -> list[float]:
    total = sum(pmf)
    if abs(total - 1.0) <= tolerance and min(pmf) >= 0.0 and max(pmf) <= 1.0:  # NaN fails
        return pmf if total == 1.0 else [p / total for p in pmf]
    bad = [p for p in pmf if not (math.isfinite(p) and 0.0 <= p <= 1.0)]
    if bad:
        raise ValueError(f"probability {bad[0]!r} is outside [0, 1]")
    raise ValueError(f"the pmf sums to {math.fsum(pmf)!r}, not 1 (tolerance {tolerance:g})")


class Valid:
    """A target whose pmfs are valid by construction (the built-ins, a policy file, which checks
    each line): :func:`checked_pmf` does not check them again, a tenth of the time per line."""

    __slots__ = ("policy",)

    def __init__(self, policy: TargetPolicy) -> None:
        self.policy = policy

    def __call__(self, record: DecisionRecord) -> Sequence[float]:
        return self.policy(record)


def checked_pmf(policy: TargetPolicy, record: DecisionRecord, name: str, where: str) -> list[float]:
    """``policy``'s pmf for ``record``, checked; :class:`PolicyError` prefixed with ``where``."""
    try:
        if type(policy) is Valid:
            return policy.policy(record)  # type: ignore[return-value]
        returned = policy(record)
        pmf = returned if type(returned) is list else [float(p) for p in returned]
        if len(pmf) != len(record.actions):
            raise ValueError(
                f"{len(pmf)} probabilities for {len(record.actions)} actions "
                f"({', '.join(record.actions)})"
            )
        return _checked(pmf, PMF_TOLERANCE)
    except (ValueError, TypeError) as err:
        raise PolicyError(f"{where}: decision {record.id}: policy {name}: {err}") from None


@functools.cache
def _uniform(n: int) -> list[float]:
    return [1.0 / n] * n


def _uniform_policy(record: DecisionRecord) -> list[float]:
    return _uniform(len(record.actions))


uniform = Valid(_uniform_policy)
"""Every offered action equally likely (the list is shared: do not modify it)."""


def always(variant_id: str) -> TargetPolicy:
    """Always ``variant_id`` (e.g. the control); ``ValueError`` on a record that lacks it."""

    by_actions: dict[tuple[str, ...], list[float]] = {}

    def policy(record: DecisionRecord) -> list[float]:
        pmf = by_actions.get(record.actions)
        if pmf is None:
            if variant_id not in record.actions:
                raise ValueError(f"record {record.id}: {variant_id!r} was not offered")
            pmf = by_actions[record.actions] = [float(a == variant_id) for a in record.actions]
        return pmf

    return Valid(policy)


def deterministic(choose: Callable[[DecisionRecord], str]) -> TargetPolicy:
    """The action ``choose(record)`` names (a rule set, a pinned variant per context, …)."""

    def policy(record: DecisionRecord) -> list[float]:
        chosen = choose(record)
        if chosen not in record.actions:
            raise ValueError(f"record {record.id}: the rule chose {chosen!r}, not offered")
        return [1.0 if a == chosen else 0.0 for a in record.actions]

    return Valid(policy)


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


@dataclass(frozen=True, slots=True)
class Decision:
    """What a ``--policy module:function`` sees of a logged decision: the context it was made
    in, never the action chosen or the reward."""

    id: str
    slot: str
    actions: tuple[str, ...]
    context: Mapping[str, tuple[str, ...]]
    ts_ms: int | None
    rule_context: Mapping[str, Scalar] | None


UserPolicy = Callable[[Decision], object]  # {action: p} or probabilities in actions order


def entry_point(function: UserPolicy) -> TargetPolicy:
    """A user's function of a :class:`Decision` returning ``{action: p}`` (absent actions 0) or
    one probability per action in ``decision.actions`` order. Anything it raises becomes a
    ``ValueError`` that :func:`checked_pmf` locates in the log."""

    def policy(record: DecisionRecord) -> list[float]:
        decision = Decision(
            record.id,
            record.slot,
            record.actions,
            record.context,
            record.ts_ms,
            getattr(record, "rule_context", None),
        )
        try:
            returned = function(decision)
        except Exception as err:  # the user's code: report it, do not crash
            raise ValueError(f"raised {type(err).__name__}: {err}") from None
        if isinstance(returned, Mapping):
            for action, p in returned.items():
                if isinstance(p, bool) or not isinstance(p, numbers.Real):
                    raise ValueError(f"returned {p!r} for {action!r}: a probability is a number")
            return pmf_in_order(returned, record.actions)
        if isinstance(returned, Iterable) and not isinstance(returned, str | bytes):
            try:  # a list, tuple, numpy array, … in ``actions`` order
                return [float(p) for p in returned]
            except (TypeError, ValueError):
                pass
        raise ValueError(
            f"returned {type(returned).__name__}, not a pmf (a dict action -> p, or one "
            "probability per action in decision.actions order)"
        )

    return policy
