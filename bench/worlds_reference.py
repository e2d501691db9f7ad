"""Independent references for the world suite: what other estimators make of the same visitors.

:mod:`bench.worlds_bench` scores Vernier's bandit (VW) on each world; this module answers "is
the shortfall VW's, the features', or the world's?" with estimators that share no code with the
bandit's model:

- :func:`tabular_ceiling` — per (world key, variant) click counts from uniformly logged
  visitors, greedy pick. It is told which fields matter (the world's own key), so it is an
  upper reference for the exploration-free problem, not a competitor.
- :func:`logistic_ceiling` — scikit-learn's L2 logistic regression on the very tokens VW sees
  (each shared token × the variant, device × referrer × variant, the variant alone): the same
  linear model class, fitted to convergence instead of online.
- :func:`thompson_bound` — Beta(1, 1) Thompson sampling on per-(world key, variant) counts, run
  on the same seeded visitors as the bandit: an oracle-informed bound (it knows which fields
  matter, and that nothing drifts) on what any policy can reach in the world's visitor count.
- :func:`squarecb` on the same counts (:func:`told_cells_run`): the bandit's exploration with
  exact, told estimates instead of VW's — is the shortfall the estimates or the exploration?
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Callable, Sequence

import numpy as np
import scipy.sparse as sparse
from sklearn.linear_model import LogisticRegression

from proxy.bandit.policy_config import BanditPolicy, effective_interactions
from proxy.bandit.sampling import sample, seed_key
from proxy.simulate.spec_world import SpecVisitor, SpecWorld
from proxy.simulate.world_file import Context, WorldSpec

TAIL = 0.25
EVAL_VISITORS = 1000
EVAL_SEED_OFFSET = 10_000

Logged = tuple[SpecVisitor, int, float]  # visitor, variant index, reward


def uniform_log(spec: WorldSpec, seed: int, visitors: int) -> list[Logged]:
    """The uniformly logged visitors :func:`bench.worlds_bench.ceiling` learns from (same draws)."""
    world = SpecWorld(spec)
    n = len(spec.variants)
    logged = []
    for visitor in world.visitors(visitors, seed):
        index, _ = sample([1.0] * n, seed_key(f"u{seed}v{visitor.index}", "hero", 0))
        reward = 1.0 if world.clicks(visitor, spec.variants[index]) else 0.0
        logged.append((visitor, index, reward))
    return logged


def greedy_ratio(spec: WorldSpec, seed: int, pick: Callable[[SpecVisitor], int]) -> float:
    """The ratio to the oracle of ``pick`` on the ceiling's 1,000 fresh evaluation visitors."""
    world = SpecWorld(spec)
    served = oracle = 0.0
    for visitor in world.visitors(EVAL_VISITORS, seed + EVAL_SEED_OFFSET):
        expected = world.expected_for(visitor, spec.variants[pick(visitor)])
        served += expected.served
        oracle += expected.oracle
    return served / oracle


def tabular_ceiling(spec: WorldSpec, seed: int, visitors: int) -> float:
    """Greedy on per-(key, variant) rates with a Beta(1, 1) prior, from a uniform log."""
    n = len(spec.variants)
    counts: dict[tuple[Context, int], list[float]] = defaultdict(lambda: [0.0, 0.0])
    for visitor, index, reward in uniform_log(spec, seed, visitors):
        cell = counts[(visitor.key, index)]
        cell[0] += 1
        cell[1] += reward

    def pick(visitor: SpecVisitor) -> int:
        def mean(i: int) -> float:
            shown, clicks = counts[(visitor.key, i)]
            return (clicks + 1) / (shown + 2)

        return max(range(n), key=mean)

    return greedy_ratio(spec, seed, pick)


def action_tokens(shared: str, action: int, interactions: Sequence[str]) -> list[str]:
    """The variant's own token and ``interactions``' features (``DA``, ``DRA`` ...), as VW forms
    them from a shared line: every combination of the named namespaces' tokens × the variant."""
    groups: dict[str, list[str]] = defaultdict(list)
    namespace = ""
    for part in shared.split()[1:]:
        if part.startswith("|"):
            namespace = part[1:]
        else:
            groups[namespace].append(f"{namespace}:{part}")
    tokens = [f"A{action}"]
    for interaction in interactions:
        combinations: list[list[str]] = [[]]
        for letter in interaction.replace("A", ""):
            combinations = [[*c, token] for c in combinations for token in groups[letter]]
        tokens += ["*".join(c) + f"*A{action}" for c in combinations if c]
    return tokens


def logistic_ceiling(
    spec: WorldSpec, seed: int, visitors: int, shared_of: Callable[[SpecVisitor], str]
) -> float:
    """Greedy on scikit-learn's logistic regression over VW's interaction features."""
    n = len(spec.variants)
    logged = uniform_log(spec, seed, visitors)
    interactions = effective_interactions(BanditPolicy())
    rows = [action_tokens(shared_of(v), index, interactions) for v, index, _ in logged]
    vocabulary: dict[str, int] = {}
    for row in rows:
        for token in row:
            vocabulary.setdefault(token, len(vocabulary))
    labels = [reward for _, _, reward in logged]
    if len(set(labels)) < 2:  # no click at all (or only clicks): every choice is a guess
        return greedy_ratio(spec, seed, lambda _: 0)
    fitted = LogisticRegression(C=1.0, max_iter=2000).fit(token_matrix(rows, vocabulary), labels)

    def pick(visitor: SpecVisitor) -> int:
        shared = shared_of(visitor)
        matrix = token_matrix(
            [action_tokens(shared, a, interactions) for a in range(n)], vocabulary
        )
        return int(np.argmax(fitted.predict_proba(matrix)[:, 1]))

    return greedy_ratio(spec, seed, pick)


def token_matrix(rows: Sequence[list[str]], vocabulary: dict[str, int]) -> sparse.csr_matrix:
    cells = [(r, vocabulary[t]) for r, row in enumerate(rows) for t in row if t in vocabulary]
    data = np.ones(len(cells))
    index = ([r for r, _ in cells], [c for _, c in cells])
    return sparse.csr_matrix((data, index), shape=(len(rows), len(vocabulary)))


Cells = list[list[float]]  # per variant: [shown, clicks] in the visitor's cell
Choose = Callable[[Cells, int, random.Random], int]


def told_cells_run(
    spec: WorldSpec,
    seed: int,
    visitors: int,
    choose: Choose,
    *,
    uniform_first: int = 0,
    lag: int = 1,
) -> float:
    """Last-quarter ratio to the oracle of ``choose`` on per-(key, variant) counts.

    ``choose(cells, examples learned, rng)`` picks the variant, on the bandit's visitors (same
    seed), told the world's key. By default it learns from every visitor at once; ``lag`` and
    ``uniform_first`` give it the bandit's schedule (learning in batches of ``lag`` visitors, an
    even split until ``uniform_first`` are learned).
    """
    world = SpecWorld(spec)
    rng = random.Random(seed)
    n = len(spec.variants)
    counts: dict[tuple[Context, int], list[float]] = defaultdict(lambda: [0.0, 0.0])
    pending: list[tuple[tuple[Context, int], float]] = []
    learned = 0
    served: list[float] = []
    oracle: list[float] = []
    for visitor in world.visitors(visitors, seed):
        if learned < uniform_first:
            index = rng.randrange(n)
        else:
            index = choose([counts[(visitor.key, i)] for i in range(n)], learned, rng)
        variant = spec.variants[index]
        expected = world.expected_for(visitor, variant)
        served.append(expected.served)
        oracle.append(expected.oracle)
        pending.append(((visitor.key, index), 1.0 if world.clicks(visitor, variant) else 0.0))
        if len(pending) >= lag:
            for key, reward in pending:
                counts[key][0] += 1
                counts[key][1] += reward
            learned += len(pending)
            pending.clear()
    tail = max(1, round(len(served) * TAIL))
    return sum(served[-tail:]) / sum(oracle[-tail:])


def thompson(cells: Cells, _: int, rng: random.Random) -> int:
    """Beta(1, 1) Thompson sampling."""
    draws = [rng.betavariate(c[1] + 1, c[0] - c[1] + 1) for c in cells]
    return max(range(len(cells)), key=draws.__getitem__)


def squarecb(gamma_scale: float) -> Choose:
    """SquareCB (Foster and Rakhlin 2020) with gamma = ``gamma_scale`` t, as the bandit's
    default schedule, on the cells' Beta(1, 1) posterior means instead of VW's estimates."""

    def choose(cells: Cells, t: int, rng: random.Random) -> int:
        n = len(cells)
        means = [(c[1] + 1) / (c[0] + 2) for c in cells]
        best = max(range(n), key=means.__getitem__)
        gamma = gamma_scale * max(t, 1)
        pmf = [1.0 / (n + gamma * (means[best] - m)) for m in means]
        pmf[best] = 0.0
        pmf[best] = 1.0 - sum(pmf)
        return rng.choices(range(n), weights=pmf)[0]

    return choose


def thompson_bound(spec: WorldSpec, seed: int, visitors: int) -> float:
    """Thompson sampling on the told cells: an oracle-informed bound on the world's problem."""
    return told_cells_run(spec, seed, visitors, thompson)
