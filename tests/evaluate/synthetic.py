"""Synthetic logged bandit data with known reward probabilities (shared by the tests)."""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence

from proxy.records.decision import DecisionRecord

ACTIONS = ("a", "b", "c")
CONTEXTS = ("mobile", "desktop", "tablet")
CONTEXT_P = (0.5, 0.3, 0.2)
# click probability per (context, action)
MU = {
    "mobile": {"a": 0.10, "b": 0.30, "c": 0.05},
    "desktop": {"a": 0.20, "b": 0.10, "c": 0.35},
    "tablet": {"a": 0.15, "b": 0.15, "c": 0.25},
}
# the logging policy: deliberately not uniform, and not the best
LOGGING = {
    "mobile": (0.6, 0.25, 0.15),
    "desktop": (0.5, 0.3, 0.2),
    "tablet": (0.2, 0.2, 0.6),
}
BEST = {x: max(MU[x], key=MU[x].__getitem__) for x in CONTEXTS}


def device(record: DecisionRecord) -> str:
    return record.context["D"][0].removeprefix("dev=")


def true_value(pmf_of: Mapping[str, Sequence[float]]) -> float:
    """The on-policy value of a policy given as a pmf over ACTIONS per context."""
    return sum(
        px * sum(p * MU[x][a] for p, a in zip(pmf_of[x], ACTIONS, strict=True))
        for x, px in zip(CONTEXTS, CONTEXT_P, strict=True)
    )


def generate(n: int, seed: int) -> list[DecisionRecord]:
    rng = random.Random(seed)
    records = []
    for i in range(n):
        x = rng.choices(CONTEXTS, CONTEXT_P)[0]
        probs = LOGGING[x]
        index = rng.choices(range(3), probs)[0]
        chosen = ACTIONS[index]
        reward = 1.0 if rng.random() < MU[x][chosen] else 0.0
        records.append(
            DecisionRecord(
                id=f"d{seed}-{i}",
                slot="hero",
                actions=ACTIONS,
                chosen=chosen,
                p=probs[index],
                context={"D": (f"dev={x}",)},
                reward=reward,
                pmf=probs,
            )
        )
    return records
