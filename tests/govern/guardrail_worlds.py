"""Seeded logged data for the guardrail: worlds of click rates and a contextual bandit that
learns them, producing the joined records (context, pmf, chosen, reward) the learner feeds it.

The bandit is a per-context epsilon-greedy table (uniform for the first ``warm`` decisions,
then ``epsilon`` spread evenly and the rest on the context's best mean): like the real one, it
serves each variant mostly where it is best, which is what confounds overall rates.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from proxy.govern.guardrail import SlotGuardrail
from proxy.records.decision import DecisionRecord

CONTEXTS = ("mobile/search", "mobile/social", "desktop/search", "desktop/social")
World = Mapping[str, Mapping[str, float]]  # context -> variant -> P(click)


def aa_world(variants: Sequence[str] = ("a", "b", "c", "d"), rate: float = 0.10) -> World:
    """Nothing differs: every variant clicks at ``rate`` in every context."""
    return {x: {v: rate for v in variants} for x in CONTEXTS}


def best_somewhere_world(variants: Sequence[str] = ("a", "b", "c", "d")) -> World:
    """The issue's world: each context a different best variant, 0.30 against 0.03."""
    return {
        x: {v: 0.30 if i % len(variants) == j else 0.03 for j, v in enumerate(variants)}
        for i, x in enumerate(CONTEXTS)
    }


def lopsided_world() -> World:
    """Each variant best somewhere, with unequal context shares' worth: ``c`` is worse than
    the control overall (0.051 against 0.054 if served everywhere) but best for desktop search."""
    return {
        "mobile/search": {"a": 0.03, "b": 0.10, "c": 0.04},
        "mobile/social": {"a": 0.03, "b": 0.11, "c": 0.03},
        "desktop/search": {"a": 0.04, "b": 0.03, "c": 0.11},
        "desktop/social": {"a": 0.09, "b": 0.04, "c": 0.03},
    }


def harmful_world(control_rate: float = 0.10) -> World:
    """``b`` clicks at half the control's rate in every context; ``c`` equals the control."""
    return {x: {"a": control_rate, "b": control_rate / 2, "c": control_rate} for x in CONTEXTS}


@dataclass
class Run:
    """What one seeded run did: the pauses (decision index, pause) and each variant's serves."""

    pauses: list[tuple[int, object]]
    served: dict[str, int]


def run_bandit(
    world: World,
    seed: int,
    guard: SlotGuardrail,
    *,
    decisions: int = 4000,
    epsilon: float = 0.05,
    warm: int = 200,
    check_every: int = 50,
) -> Run:
    """``decisions`` visitors served by the bandit, joined and fed to ``guard``, which is
    checked every ``check_every`` decisions (a paused variant is no longer served)."""
    rng = random.Random(seed)
    variants = tuple(next(iter(world.values())))
    sums = {(x, v): [0.0, 0] for x in world for v in variants}
    paused: set[str] = set()
    result = Run([], dict.fromkeys(variants, 0))
    contexts = list(world)
    for i in range(decisions):
        x = rng.choice(contexts)
        live = [v for v in variants if v not in paused]
        if i < warm or epsilon >= 1:
            share = {v: 1 / len(live) for v in live}
        else:
            means = {v: (sums[x, v][0] + 0.5) / (sums[x, v][1] + 1) for v in live}
            best = max(live, key=means.__getitem__)
            share = {v: epsilon / len(live) + (1 - epsilon) * (v == best) for v in live}
        pmf = tuple(share.get(v, 0.0) for v in variants)
        chosen = rng.choices(variants, pmf)[0]
        reward = float(rng.random() < world[x][chosen])
        sums[x, chosen][0] += reward
        sums[x, chosen][1] += 1
        result.served[chosen] += 1
        guard.observe(
            DecisionRecord(
                id=f"{seed}-{i}", slot=guard.slot, actions=variants, chosen=chosen,
                p=share[chosen], pmf=pmf, reward=reward, ts_ms=i, context={"D": (x,)},
            )
        )  # fmt: skip
        if i % check_every == check_every - 1:
            for pause in guard.pauses(i, variants):
                paused.add(pause.variant)
                result.pauses.append((result.served[pause.variant], pause))
    return result
