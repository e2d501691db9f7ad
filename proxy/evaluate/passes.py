"""The two streaming passes of ``vernier evaluate`` over a decision log, in flat memory.

1. :func:`summarise` reads the log once: per slot, how many decisions and examples, the reward
   range, the context namespaces, whether every example carries the request context (for the
   rules policy), and the DR reward model's sums.
2. :func:`estimate` reads it again and feeds each example to its slot's
   :class:`~proxy.evaluate.estimators.SlotEvaluator`; a policy file is read alongside and told
   about every decision it will not be asked for, so a file in the log's order is never held.

Both take ``(line number, record)`` pairs (:func:`proxy.evaluate.log.iter_numbered`); the caller
opens the file twice.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from proxy.evaluate.estimators import SlotEvaluator, observed_range
from proxy.evaluate.policy_file import PolicyFile
from proxy.evaluate.reward_model import RewardModel
from proxy.records.decision import DecisionRecord


@dataclass
class SlotSummary:
    """What the first pass learnt about one slot."""

    model: RewardModel
    decisions: int = 0
    examples: int = 0
    low_reward: float = math.inf
    high_reward: float = -math.inf
    namespaces: set[str] = field(default_factory=set)
    rule_context: bool = True  # every example carries the request context
    actions: tuple[str, ...] = ()  # the first example's offered actions

    def add(self, record: DecisionRecord) -> None:
        self.decisions += 1
        if not record.is_example:
            return
        self.examples += 1
        reward = record.reward or 0.0
        self.low_reward = min(self.low_reward, reward)
        self.high_reward = max(self.high_reward, reward)
        self.namespaces.update(record.context)
        if getattr(record, "rule_context", None) is None:
            self.rule_context = False
        if not self.actions:
            self.actions = record.actions
        self.model.add(record)

    @property
    def reward_range(self) -> tuple[float, float]:
        return observed_range(self.low_reward, self.high_reward) if self.examples else (0.0, 1.0)


def summarise(
    records: Iterable[tuple[int, DecisionRecord]],
    new_model: Callable[[], RewardModel],
    *,
    slot: str | None = None,
) -> dict[str, SlotSummary]:
    """Pass 1: a :class:`SlotSummary` per slot (only ``slot`` if given), in first-seen order."""
    summaries: dict[str, SlotSummary] = {}
    for _, record in records:
        if slot is not None and record.slot != slot:
            continue
        summary = summaries.get(record.slot)
        if summary is None:
            summary = summaries[record.slot] = SlotSummary(new_model())
        summary.add(record)
    return summaries


def estimate(
    records: Iterable[tuple[int, DecisionRecord]],
    evaluators: Mapping[str, SlotEvaluator],
    policy_files: Sequence[PolicyFile],
    *,
    source: str,
) -> None:
    """Pass 2: every example to its slot's evaluator (``source:line`` locates errors)."""
    for number, record in records:
        evaluator = evaluators.get(record.slot)
        if evaluator is None or not record.is_example:
            for policy_file in policy_files:
                policy_file.skip(record.id)
            continue
        evaluator.add(record, f"{source}:{number}")
