"""The world suite: does ``policy: bandit`` with no other setting learn on worlds it was not tuned to?

For every world file in ``bench/worlds/`` and every seed, seeded visitors
(:class:`proxy.simulate.spec_world.SpecWorld`) meet the production decision path in process —
:func:`~proxy.bandit.features.context_features` on the full request context (fields that do
not matter included), :class:`~proxy.bandit.model.BanditModel` predict with the exploration
floor, :func:`~proxy.bandit.sampling.sample` with a per-visitor seed key — and the learner's
path: :meth:`BanditModel.learn` with the logged probability, the reward a click, and for a
policy without ``interactions`` the learner's choice of them from the examples
(:mod:`proxy.bandit.interaction_choice`, at ``--select-at`` counts: the learner's own by
default; the longest choice + retraining is reported as ``select_s_max``). What is left
out is HTTP, Redis and the guardrail (which is judged on its own): the model learns in batches
of ``--lag`` decisions, as the proxy decides with a snapshot published every 100 examples.

Scores, per world and seed: the bandit's expected CTR (the hidden rate of the variant served)
over the last quarter of the visitors, as a ratio to the oracle's (the best variant for each
visitor); a world passes when at least 9 of 10 seeds reach 0.90. In a world with ``drift``:
how many visitors after the change until the moving mean (``--window`` visitors) is back to
0.85 of the new oracle.

    .venv/bin/python bench/worlds_bench.py                      # the defaults, 10 seeds
    .venv/bin/python bench/worlds_bench.py --candidates all --seeds 5 --worlds hour,country
    .venv/bin/python bench/worlds_bench.py --references 3000   # the model against references

``--learnable N`` answers whether a world can be held to the bar: how often (over ``N`` seeds,
with a 95 % interval and the chance of 9 passing seeds of 10) SquareCB on the world's told cells
passes, with the bandit's schedule and without it.

``--references N`` compares, per world, the defaults' bandit with estimators that share no code
with it (:mod:`worlds_reference`): VW's greedy choice after ``N`` uniformly logged visitors
(``--ceiling``), scikit-learn's logistic regression on the same features and data, a per-cell
table told which fields matter, and Thompson sampling and SquareCB (at ``TOLD_GAMMA_SCALES``) on
that table over the world's visitors.
"""

from __future__ import annotations

import argparse
import json
import shlex
import statistics
import sys
import time
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scipy import stats
from worlds_reference import (
    logistic_ceiling,
    squarecb,
    tabular_ceiling,
    thompson_bound,
    told_cells_run,
    uniform_log,
)

from proxy.bandit import interaction_choice
from proxy.bandit import model as model_module
from proxy.bandit.drift import DriftWatch
from proxy.bandit.features import ActionSet, context_features, shared_line
from proxy.bandit.model import BanditModel
from proxy.bandit.policy_config import (
    ALL_FEATURE_GROUPS,
    DEFAULT_INTERACTIONS,
    Bag,
    BanditPolicy,
    DriftPolicy,
    Epsilon,
    SquareCB,
    decode_policy,
    vw_arguments,
)
from proxy.bandit.sampling import sample, seed_key
from proxy.errors import ConfigError
from proxy.simulate.curve import recovery_after
from proxy.simulate.spec_world import SpecVisitor, SpecWorld
from proxy.simulate.world_file import WorldSpec, load_world

WORLDS_DIR = Path(__file__).parent / "worlds"
TAIL = 0.25
PASS_RATIO = 0.90
PASS_SEEDS = 0.9  # of the seeds
RECOVERY_RATIO = 0.85
NOW_MS = 1_700_000_000_000
# --references: SquareCB on the told cells at the defaults' schedule (0.3 t) and a greedier one
TOLD_GAMMA_SCALES = (0.3, 1.0)


# The defaults of the fifth to ninth rounds: SquareCB at 0.3 t on VW's estimates alone, the
# model deciding from the first example.
_VW_SQUARECB = SquareCB(gamma_scale=0.3, cells=False)


def _ninth(**settings: Any) -> BanditPolicy:
    """A candidate of the rounds before the tenth: no uniform start, no cell averages."""
    return BanditPolicy(**{"explorer": _VW_SQUARECB, "uniform_first": 0, **settings})


def _earlier(**settings: Any) -> BanditPolicy:
    """A candidate of the rounds before the optimistic start: every weight starts at 0."""
    return _ninth(initial_weight=0.0, **settings)


_OLD_INTERACTIONS = ("UA", "DA", "TA", "RA")
# Settings compared while choosing the defaults (docs/benchmarks.md, "World suite"); "default"
# is whatever BanditPolicy() is now, the others are the rows of the comparison table.
_SQRT = SquareCB(gamma_scale=10.0, gamma_exponent=0.5, cells=False)  # before the fourth round
CANDIDATES: dict[str, BanditPolicy] = {
    "default": BanditPolicy(),
    # the defaults of the fifth to ninth rounds (docs/benchmarks.md, "Tenth round")
    "ninth-round": _ninth(),
    "no-uniform-start": BanditPolicy(uniform_first=0),
    "no-cells": BanditPolicy(explorer=SquareCB(cells=False)),
    # the fourth round's defaults: every estimate starting at 0
    "fourth-round": _earlier(),
    # the defaults before the fourth round: importance-weighted learning, gamma = 10 sqrt(t)
    "weighted": _earlier(explorer=_SQRT, importance_weights=True),
    "weighted-gamma-t": _earlier(importance_weights=True),
    "unweighted-sqrt": _earlier(explorer=_SQRT),
    "gamma-1t": _earlier(explorer=SquareCB(gamma_scale=1.0, cells=False)),
    "gamma-0.1t": _earlier(explorer=SquareCB(gamma_scale=0.1, cells=False)),
    # the defaults before the third round: all six interactions, always
    "fixed-interactions": _earlier(
        explorer=_SQRT, interactions=DEFAULT_INTERACTIONS, importance_weights=True
    ),
    "old-default": _earlier(
        explorer=Epsilon(0.05),
        features=ALL_FEATURE_GROUPS,
        interactions=_OLD_INTERACTIONS,
        learning_rate=None,
        importance_weights=True,
    ),
    "old-documented": _earlier(
        explorer=Epsilon(0.05),
        features=ALL_FEATURE_GROUPS,
        interactions=_OLD_INTERACTIONS,
        learning_rate=0.01,
        importance_weights=True,
    ),
    "all-groups": _earlier(features=ALL_FEATURE_GROUPS),
    "seven-groups": _earlier(
        features=("device", "hour", "weekday", "country", "language", "referrer", "profile")
    ),
    "epsilon": _earlier(explorer=Epsilon(0.05)),
    "bag": _earlier(explorer=Bag(5), learning_rate=0.1),
    "drift": BanditPolicy(drift=DriftPolicy(detect=True)),
    # the drift watch before its clean restart: the fresh model relearned up to 2,000 examples
    "drift-replay": _ninth(drift=DriftPolicy(detect=True, replay=2000)),
    "drift-ninth-round": _ninth(drift=DriftPolicy(detect=True)),
    "drift-fourth-round": _earlier(drift=DriftPolicy(detect=True, replay=2000)),
}


@dataclass(frozen=True, slots=True)
class Run:
    world: str
    seed: int
    ratio: float  # bandit / oracle, expected CTR over the tail
    recovery: int | None  # visitors after the drift until back to 0.85 (None: never)
    drifts: bool
    restarts: tuple[int, ...] = ()  # visitors at which the drift watch restarted the model
    chosen: tuple[tuple[str, ...], ...] = ()  # the interactions chosen at each selection
    select_s: float = 0.0  # the longest selection + retraining, seconds


def add_vw_arguments(extra: Sequence[str]) -> None:
    """Append ``extra`` to every model's VW command line in this process (experiments with VW
    options the policy has no key for, e.g. ``--power_t 0.25``; see docs/benchmarks.md). VW
    refuses an option given twice with two values: scratch values of ``--initial_weight`` go
    with a candidate whose ``initial_weight`` is 0 (``fourth-round``)."""

    def with_extra(policy: BanditPolicy) -> list[str]:
        return vw_arguments(policy) + list(extra)

    setattr(model_module, "vw_arguments", with_extra)  # noqa: B010  # the model module reads it at call time


Example = tuple[str, int, float, float]  # shared line, chosen index, reward, probability


def retrained(policy: BanditPolicy, actions: ActionSet, recent: Iterable[Example]) -> BanditModel:
    """A fresh model that learned ``recent`` only: forgetting by a window (``--retrain``)."""
    model = BanditModel(policy)
    for line, chosen, reward, probability in recent:
        model.learn(line, actions, chosen, reward=reward, probability=probability)
    return model


def run_world(
    spec: WorldSpec,
    policy: BanditPolicy,
    seed: int,
    *,
    visitors: int,
    lag: int,
    window: int,
    retrain: tuple[int, int] | None = None,
    select_at: Sequence[int] = (),
    margin_se: float = interaction_choice.MARGIN_SE,
    simplest: bool = interaction_choice.PREFER_SIMPLEST,
) -> Run:
    """One seeded run of ``policy`` on ``spec`` (see the module docstring).

    ``retrain=(n, k)``: every ``k`` examples (once ``n`` are in), replace the model by one
    trained on the last ``n`` examples only (an experiment for the drifting world).
    ``select_at``: at these example counts, choose the interactions from the examples so far
    and retrain on them with the winner, as the learner does (:mod:`proxy.bandit.interaction_choice`;
    only for a policy without ``interactions``).
    """
    world = SpecWorld(spec)
    actions = ActionSet([(v, {}) for v in spec.variants])
    model = BanditModel(policy)
    watch = DriftWatch(policy.drift, actions)
    restarts: list[int] = []
    served: list[float] = []
    oracle: list[float] = []
    pending: list[tuple[Example, interaction_choice.Example]] = []
    recent: deque[Example] = deque(maxlen=retrain[0] if retrain else 0)
    kept = interaction_choice.SlotChoice(None, select_at)
    namespaces = interaction_choice.namespaces_of(policy)
    chosen: list[tuple[str, ...]] = []
    select_s = 0.0
    selecting = bool(select_at) and policy.interactions is None
    try:
        for visitor in world.visitors(visitors, seed):
            features = context_features(visitor.context, policy, now_ms=NOW_MS)
            shared = shared_line(features)
            if model.examples_learned < policy.uniform_first:  # as proxy.decide.bandit.choose
                pmf = [1.0 / len(actions)] * len(actions)
            else:
                pmf = model.predict_lines(shared, actions)
            index, probability = sample(pmf, seed_key(f"w{seed}v{visitor.index}", "hero", 0))
            variant = spec.variants[index]
            expected = world.expected_for(visitor, variant)
            served.append(expected.served)
            oracle.append(expected.oracle)
            reward = 1.0 if world.clicks(visitor, variant) else 0.0
            kept_example = interaction_choice.Example(features, index, reward, probability)
            pending.append(((shared, index, reward, probability), kept_example))
            if len(pending) >= lag:
                for example, kept_example in pending:
                    line, chosen_index, r, p = example
                    before = model
                    model = watch.learn(model, line, chosen_index, reward=r, probability=p)
                    learned = model.examples_learned
                    if selecting:
                        kept.keep(kept_example, learned)
                    if model is not before:
                        restarts.append(visitor.index + 1)
                        kept.restarted(watch.restarts[-1].replayed, learned)
                    recent.append(example)
                    if retrain and learned >= retrain[0] and learned % retrain[1] == 0:
                        model.finish()
                        model = retrained(policy, actions, recent)
                        model.examples_learned = learned
                    if kept.due:  # as LearnerState.choice_job and adopt
                        kept.due = False
                        if not kept.enough(learned):
                            continue
                        started = time.perf_counter()
                        choice = interaction_choice.choose(
                            list(kept.kept), kept.chosen, namespaces,
                            margin_se=margin_se, simplest=simplest,
                        )  # fmt: skip
                        chosen.append(choice.interactions)
                        if choice.losses:  # a verdict: the set to defend from now on
                            kept.chosen = choice.interactions
                        if choice.changed:
                            model.finish()
                            model = interaction_choice.retrain(
                                policy, choice.interactions, actions, kept.kept
                            )
                            model.examples_learned = learned
                        select_s = max(select_s, time.perf_counter() - started)
                pending.clear()
    finally:
        model.finish()
    tail = max(1, round(len(served) * TAIL))
    ratio = sum(served[-tail:]) / sum(oracle[-tail:])
    recovery = None
    if spec.drift_at is not None and spec.drift_at < visitors:
        recovery = recovery_after(served, oracle, spec.drift_at, window, RECOVERY_RATIO)
    return Run(
        spec.name,
        seed,
        ratio,
        recovery,
        spec.drift_at is not None,
        tuple(restarts),
        tuple(chosen),
        select_s,
    )


def ceiling(spec: WorldSpec, policy: BanditPolicy, seed: int, *, visitors: int) -> float:
    """The greedy policy's ratio to the oracle after learning from ``visitors`` uniformly
    logged decisions (p = 1/n): how well the model could choose with no exploration problem.

    Evaluated on 1,000 fresh visitors of the world before any drift.
    """
    world = SpecWorld(spec)
    actions = ActionSet([(v, {}) for v in spec.variants])
    model = BanditModel(policy)
    n = len(spec.variants)
    served = oracle = 0.0
    try:
        for visitor in world.visitors(visitors, seed):
            shared = shared_line(context_features(visitor.context, policy, now_ms=NOW_MS))
            index, _ = sample([1.0] * n, seed_key(f"u{seed}v{visitor.index}", "hero", 0))
            reward = 1.0 if world.clicks(visitor, spec.variants[index]) else 0.0
            model.learn(shared, actions, index, reward=reward, probability=1.0 / n)
        for visitor in world.visitors(1000, seed + 10_000):
            shared = shared_line(context_features(visitor.context, policy, now_ms=NOW_MS))
            pmf = model.predict_lines(shared, actions, floor=False)
            best = max(range(n), key=pmf.__getitem__)
            expected = world.expected_for(visitor, spec.variants[best])
            served += expected.served
            oracle += expected.oracle
    finally:
        model.finish()
    return served / oracle


def references(spec: WorldSpec, seeds: int, visitors: int) -> dict[str, object]:
    """The defaults against :mod:`worlds_reference`'s estimators on ``spec`` (medians of seeds).

    ``bandit / thompson``: the bandit's last-quarter ratio over Thompson's, seed by seed.
    """
    policy = BanditPolicy()

    def shared_of(visitor: SpecVisitor) -> str:
        return shared_line(context_features(visitor.context, policy, now_ms=NOW_MS))

    told_squarecb = {f"squarecb {g}t": squarecb(g) for g in TOLD_GAMMA_SCALES}
    rows: dict[str, list[float]] = {
        k: []
        for k in (
            "vw",
            "logistic",
            "tabular",
            "thompson",
            *told_squarecb,
            "bandit",
            "bandit/thompson",
        )
    }
    for seed in range(1, seeds + 1):
        rows["vw"].append(ceiling(spec, policy, seed, visitors=visitors))
        rows["logistic"].append(logistic_ceiling(spec, seed, visitors, shared_of))
        rows["tabular"].append(tabular_ceiling(spec, seed, visitors))
        bound = thompson_bound(spec, seed, spec.visitors)
        run = run_world(
            spec,
            policy,
            seed,
            visitors=spec.visitors,
            lag=100,
            window=200,
            select_at=interaction_choice.SELECT_AT,
        )
        rows["thompson"].append(bound)
        for name, choose in told_squarecb.items():
            rows[name].append(told_cells_run(spec, seed, spec.visitors, choose))
        rows["bandit"].append(run.ratio)
        rows["bandit/thompson"].append(run.ratio / bound)
    medians: dict[str, object] = {k: statistics.median(v) for k, v in rows.items()}
    passing = {
        f"{k} passing": sum(r >= PASS_RATIO for r in rows[k])
        for k in ("thompson", *told_squarecb, "bandit")
    }
    return {"world": spec.name} | medians | passing


def choice_cost(spec: WorldSpec, examples: int) -> tuple[float, tuple[str, ...]]:
    """Seconds the learner's interaction choice (and retraining, if the set changes) takes on
    ``examples`` uniformly logged visitors of ``spec``, with all six interactions current; and
    the set chosen. The learner runs it in an executor at most :data:`SELECT_AT` times."""
    policy = BanditPolicy()
    actions = ActionSet([(v, {}) for v in spec.variants])
    logged = [
        interaction_choice.Example(
            context_features(visitor.context, policy, now_ms=NOW_MS),
            index,
            reward,
            1 / len(spec.variants),
        )
        for visitor, index, reward in uniform_log(spec, 1, examples)
    ]
    started = time.perf_counter()
    choice, model = interaction_choice.run_choice(policy, actions, logged, DEFAULT_INTERACTIONS)
    elapsed = time.perf_counter() - started
    if model is not None:
        model.finish()
    return elapsed, choice.interactions


def summarise(runs: Sequence[Run]) -> dict[str, object]:
    ratios = [r.ratio for r in runs]
    passing = sum(r >= PASS_RATIO for r in ratios)
    recoveries = [r.recovery for r in runs if r.drifts]
    row: dict[str, object] = {
        "world": runs[0].world,
        "seeds": len(runs),
        "median": statistics.median(ratios),
        "min": min(ratios),
        "passing": passing,
        "passes": passing >= PASS_SEEDS * len(runs),
        "bar": bar_chance(passing, len(runs)),
        "restarted": sum(bool(r.restarts) for r in runs),
    }
    if recoveries:
        known = [r for r in recoveries if r is not None]
        row["recovery_median"] = statistics.median(known) if known else None
        row["recovery_max"] = max(known) if len(known) == len(recoveries) else None
    return row


def bar_chance(passing: int, seeds: int) -> str:
    """The per-seed pass rate with its 95 % (Clopper-Pearson) interval, and the chance that a
    block of 10 seeds then passes the bar (at least 9 of 10: the binomial tail at that rate).
    A world is held to the bar only where this chance is high; with 10 seeds it says little."""
    rate = passing / seeds
    interval = stats.binomtest(passing, seeds).proportion_ci(confidence_level=0.95)
    block = float(stats.binom.sf(round(PASS_SEEDS * 10) - 1, 10, rate))
    return f"{rate:.2f} [{interval.low:.2f}, {interval.high:.2f}] | {block:.2f}"


def learnable(spec: WorldSpec, seeds: int, first_seed: int, lag: int) -> str:
    """A table row: how often SquareCB at 1 t on the world's told cells (exact counts of the
    fields that matter; :mod:`worlds_reference`) passes, with the bandit's schedule and without
    it: whether the bar is within reach of the bandit's kind of exploration at all."""
    schedule = {"uniform_first": BanditPolicy().uniform_first, "lag": lag}
    cells = []
    for settings in (schedule, {}):
        ratios = [
            told_cells_run(spec, seed, spec.visitors, squarecb(1.0), **settings)
            for seed in range(first_seed, first_seed + seeds)
        ]
        cells.append(bar_chance(sum(r >= PASS_RATIO for r in ratios), seeds))
    return f"| {spec.name} | " + " | ".join(cells) + " |"


def table(rows: Sequence[dict[str, object]]) -> str:
    lines = [
        "| world | median ratio | min ratio | seeds >= 0.90 | pass rate [95 %] | P(9 of 10) "
        "| drift recovery (median / max) | runs restarted |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        recovery = "—"
        if "recovery_median" in row:
            recovery = f"{row['recovery_median']} / {row['recovery_max'] or 'not within the run'}"
        lines.append(
            f"| {row['world']} | {row['median']:.3f} | {row['min']:.3f} | "
            f"{row['passing']}/{row['seeds']}{'' if row['passes'] else ' **fails**'} | "
            f"{row['bar']} | {recovery} "
            f"| {row['restarted']} |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worlds", default="", help="comma-separated names (default: all)")
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument(
        "--first-seed", type=int, default=1, help="seeds run from this one (held-out checks)"
    )
    parser.add_argument(
        "--worlds-dir", type=Path, default=WORLDS_DIR, help="the world files' folder"
    )
    parser.add_argument("--candidates", default="default", help="comma-separated, or 'all'")
    parser.add_argument("--visitors", type=int, default=0, help="0: each world's own count")
    parser.add_argument("--lag", type=int, default=100, help="decisions per learning batch")
    parser.add_argument("--window", type=int, default=200, help="drift recovery window")
    parser.add_argument("--json", type=Path, help="write every run here")
    parser.add_argument(
        "--ceiling",
        type=int,
        default=0,
        help="instead: learn from this many uniformly logged visitors, score the greedy choice",
    )
    parser.add_argument(
        "--policy",
        action="append",
        default=[],
        help="NAME=JSON: one more candidate (the bandit block as JSON)",
    )
    parser.add_argument(
        "--retrain",
        default="",
        help="N,K: every K examples, a fresh model from the last N (forgetting experiment)",
    )
    parser.add_argument(
        "--select-at",
        default=",".join(map(str, interaction_choice.SELECT_AT)),
        help="example counts (comma-separated) at which a policy without interactions chooses "
        "them from the log (default: the learner's; 'none': never)",
    )
    parser.add_argument(
        "--margin-se",
        type=float,
        default=interaction_choice.MARGIN_SE,
        help="standard errors a simpler or the current interaction set may trail the best by",
    )
    parser.add_argument(
        "--simplest",
        type=int,
        choices=(0, 1),
        default=int(interaction_choice.PREFER_SIMPLEST),
        help="1: the simplest interaction set within the margin; 0: the best, the current kept",
    )
    parser.add_argument(
        "--vw-args", default="", help="extra VW options for every candidate (experiments)"
    )
    parser.add_argument(
        "--references",
        type=int,
        default=0,
        help="instead: the defaults against independent estimators (N uniform visitors)",
    )
    parser.add_argument(
        "--learnable",
        type=int,
        default=0,
        help="instead: how often SquareCB on the told cells passes, over this many seeds",
    )
    parser.add_argument(
        "--choice-cost",
        type=int,
        default=0,
        help="instead: time the interaction choice on this many logged examples, per world",
    )
    args = parser.parse_args(argv)
    select_at = [int(n) for n in filter(None, args.select_at.replace("none", "").split(","))]
    retrain = None
    if args.retrain:
        n, _, k = args.retrain.partition(",")
        retrain = (int(n), int(k))
    if args.vw_args:
        add_vw_arguments(shlex.split(args.vw_args))
    names = set(filter(None, args.worlds.split(",")))
    try:
        specs = [load_world(p) for p in sorted(args.worlds_dir.glob("*.yaml"))]
    except ConfigError as err:
        parser.error(str(err))
    if not specs:
        parser.error(f"no world files (*.yaml) in {args.worlds_dir}")
    if unknown := names - {s.name for s in specs}:
        found = ", ".join(s.name for s in specs)
        parser.error(f"no world named {', '.join(sorted(unknown))} in {args.worlds_dir} ({found})")
    specs = [s for s in specs if not names or s.name in names]
    for item in args.policy:
        name, _, text = item.partition("=")
        CANDIDATES[name] = decode_policy(text)
    chosen = list(CANDIDATES) if args.candidates == "all" else args.candidates.split(",")
    if unknown_candidates := [name for name in chosen if name not in CANDIDATES]:
        parser.error(
            f"no candidate {', '.join(unknown_candidates)} (known: {', '.join(CANDIDATES)}; "
            "--policy NAME=JSON adds one)"
        )
    if args.references:
        print(
            f"| world | VW greedy after {args.references} uniform | logistic regression | "
            "per-cell table | Thompson on the table | "
            + "".join(f"squarecb {g}t on the table | " for g in TOLD_GAMMA_SCALES)
            + "bandit | bandit / Thompson |\n|---|---|---|---|---|"
            + "---|" * len(TOLD_GAMMA_SCALES)
            + "---|---|"
        )
        for spec in specs:
            ref = references(spec, args.seeds, args.references)
            print(
                f"| {ref['world']} | {ref['vw']:.3f} | {ref['logistic']:.3f} | "
                f"{ref['tabular']:.3f} | {ref['thompson']:.3f} ({ref['thompson passing']}) | "
                + "".join(
                    f"{ref[f'squarecb {g}t']:.3f} ({ref[f'squarecb {g}t passing']}) | "
                    for g in TOLD_GAMMA_SCALES
                )
                + f"{ref['bandit']:.3f} ({ref['bandit passing']}) | {ref['bandit/thompson']:.2f} |",
                flush=True,
            )
        return 0
    if args.learnable:
        print(
            "| world | told, bandit's schedule: pass rate [95 %] | P(9 of 10) "
            "| told, learning every visitor: pass rate [95 %] | P(9 of 10) |\n|---|---|---|---|---|"
        )
        for spec in specs:
            print(learnable(spec, args.learnable, args.first_seed, args.lag), flush=True)
        return 0
    if args.choice_cost:
        for spec in specs:
            seconds, interactions = choice_cost(spec, args.choice_cost)
            print(f"{spec.name}: {seconds:.2f} s, chose {' '.join(interactions) or 'none'}")
        return 0
    if args.ceiling:
        for name in chosen:
            cells = []
            for spec in specs:
                ratios = [
                    ceiling(spec, CANDIDATES[name], seed, visitors=args.ceiling)
                    for seed in range(1, args.seeds + 1)
                ]
                cells.append(f"{spec.name} {statistics.median(ratios):.3f}")
            print(f"{name}, greedy after {args.ceiling} uniform: " + ", ".join(cells), flush=True)
        return 0
    results: dict[str, list[dict[str, object]]] = {}
    for name in chosen:
        policy = CANDIDATES[name]
        started = time.perf_counter()
        rows = []
        for spec in specs:
            visitors = args.visitors or spec.visitors
            runs = [
                run_world(
                    spec,
                    policy,
                    seed,
                    visitors=visitors,
                    lag=args.lag,
                    window=args.window,
                    retrain=retrain,
                    select_at=select_at,
                    margin_se=args.margin_se,
                    simplest=bool(args.simplest),
                )
                for seed in range(args.first_seed, args.first_seed + args.seeds)
            ]
            rows.append(
                summarise(runs)
                | {
                    "ratios": [round(r.ratio, 4) for r in runs],
                    "recoveries": [r.recovery for r in runs],
                    "restarts": [list(r.restarts) for r in runs],
                    "chosen": [[" ".join(c) or "none" for c in r.chosen] for r in runs],
                    "select_s_max": max(r.select_s for r in runs),
                }
            )
        results[name] = rows
        all_pass = all(r["passes"] for r in rows)
        print(
            f"## {name}: {'every world passes' if all_pass else 'FAILS'} "
            f"({time.perf_counter() - started:.0f} s)\n{table(rows)}\n",
            flush=True,
        )
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
