"""Which interactions a slot's model uses, chosen from the examples it has logged.

Each context group interacted with the variant (``DA``, ``GA`` …) lets the choice depend on
that group, and costs one weight per variant and value, learned from a few clicks. With every
group on, the groups that do not matter add noise that a few thousand visitors do not average
out; with none, the model cannot personalise (docs/benchmarks.md, "World suite"). So a slot
whose owner did not write ``interactions:`` starts with all of :data:`DEFAULT_INTERACTIONS` and,
at :data:`SELECT_AT` learned examples, the learner asks :func:`choose` which candidate set the
data supports and retrains the model on the kept examples with it (:func:`retrain`).

**How a set is judged.** An L2 logistic regression of the reward on the variant and the set's
features (every combination of the named namespaces' tokens × the variant, as VW forms them) is
cross-validated over the examples (:data:`FOLDS` folds), giving every example a held-out log
loss, and the set with the lowest mean wins. The regression only judges; VW still decides and
learns. A margin against noise is available (``margin_se``): the simplest set (fewest weights)
within that many standard errors (of the paired per-example difference) of the best, and the
current set kept while it is itself within it — the one-standard-error rule at 1. It is off by
default (:data:`MARGIN_SE`): on the world suite it made the bandit worse.

**Two groups together.** A best variant may depend on two groups jointly (country × device)
where neither alone tells it. Every such pair beyond the defaults' ``DRA`` is judged too
(:func:`pair_sets`), but, being many and wide, a pair enters the running only when its
held-out loss beats the best set that is no pair by :data:`PAIR_MARGIN_SE` standard errors
of the paired difference, or when it is the current set; from there it is judged like any
set (the best mean loss, or :data:`MARGIN_SE`). The margin keeps the largest of many noisy
estimates (nine with the default groups) from winning by luck in worlds where no pair
matters (docs/benchmarks.md, "Seventh round").

Pure and synchronous: the learner runs :func:`choose` and :func:`retrain` in an executor
(seconds at :data:`MAX_EXAMPLES`; ``bench/worlds_bench.py`` measures it).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import product

import msgspec
import numpy as np
from scipy import sparse
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from threadpoolctl import threadpool_limits  # scikit-learn's own dependency

from proxy.bandit.features import ActionSet, SharedFeatures
from proxy.bandit.model import BanditModel
from proxy.bandit.policy_config import (
    ACTION_NAMESPACE,
    DEFAULT_INTERACTIONS,
    BanditPolicy,
    FeatureGroup,
)

# Learned-example counts at which the learner chooses again; after the last the set stays.
SELECT_AT: tuple[int, ...] = (1000, 2000, 3000, 5000, 10_000)
MAX_EXAMPLES = 10_000  # the most recent examples kept per slot, and judged
MIN_CLICKS = 10  # below this every set looks alike: keep the current one
FOLDS = 5
L2_C = 1.0  # scikit-learn's inverse regularisation strength
SOLVER = "lbfgs"
# Standard errors a simpler or the current set may trail the best by. 0: the best held-out
# loss wins outright. Measured on the world suite (docs/benchmarks.md): the one-standard-error
# rule (1.0, simplest) passed 26 (world, seed) pairs of 70, keeping the current set within 1 SE
# 29, the best outright 30: a simpler set chosen early (often the variant alone at 1,000
# examples) stops the bandit exploring per context, and the data it then logs cannot show
# that a context matters.
MARGIN_SE = 0.0
PREFER_SIMPLEST = True  # within the margin, the simplest set (fewest weights)
# Standard errors by which a pair of groups not among the defaults (:func:`pair_sets`) must
# beat the best set that is no pair to be taken. Measured (docs/benchmarks.md, "Seventh round"): with
# no margin a country x device world passed 9 of 10 seeds (0 before) but the country world
# lost 2 of 30 to a pair taken by luck; at 2, 7 of 10, and no run of the suite changed.
PAIR_MARGIN_SE = 2.0


# The shared namespace each feature group fills (proxy.bandit.features.context_features).
GROUP_NAMESPACES: dict[FeatureGroup, str] = {
    "device": "D", "browser": "D", "os": "D", "hour": "T", "weekday": "T", "country": "G",
    "language": "G", "referrer": "R", "utm": "R", "landing_path": "R", "profile": "U",
    "segments": "S",
}  # fmt: skip


def namespaces_of(policy: BanditPolicy) -> frozenset[str]:
    """The shared namespaces ``policy``'s feature groups can fill."""
    return frozenset(GROUP_NAMESPACES[group] for group in policy.features)


@dataclass(frozen=True, slots=True)
class Example:
    """One learned example as the chooser needs it (the decision log has the rest)."""

    shared: SharedFeatures
    chosen: int
    reward: float
    probability: float


@dataclass(frozen=True, slots=True)
class Choice:
    """The verdict: the set to use, and each candidate's mean held-out log loss (for the log)."""

    interactions: tuple[str, ...]
    changed: bool
    losses: dict[tuple[str, ...], float]
    margin: float  # one standard error of the best set's paired difference to the chosen one

    def describe(self) -> str:
        """Each set's mean held-out log loss, for the learner's log line."""
        return ", ".join(f"{' '.join(s) or 'none'}: {v:.5f}" for s, v in self.losses.items())


def candidate_sets(namespaces: Iterable[str]) -> list[tuple[str, ...]]:
    """The sets judged, from the simplest: none (the variant alone), each two-letter term of
    :data:`DEFAULT_INTERACTIONS` alone, each three-letter term with its two-letter parts, every
    two-letter term (additive), and the defaults. Only terms over ``namespaces`` (the policy's
    feature groups) are offered."""
    present = set(namespaces) | {ACTION_NAMESPACE}
    terms = [t for t in DEFAULT_INTERACTIONS if set(t) <= present]
    pairs = [t for t in terms if len(t) == 2]
    found: list[tuple[str, ...]] = [(), *((t,) for t in pairs)]
    for triple in (t for t in terms if len(t) == 3):
        parts = [p for p in pairs if set(p) <= set(triple)]
        found.append((*parts, triple))
    found += [tuple(pairs), tuple(terms)]
    unique: list[tuple[str, ...]] = []
    for candidate in found:
        if candidate not in unique:
            unique.append(candidate)
    return unique


def pair_sets(namespaces: Iterable[str]) -> list[tuple[str, ...]]:
    """Every two of ``namespaces`` × the variant, with its two parts (``DA GA DGA``), for the
    pairs :data:`DEFAULT_INTERACTIONS` does not have: judged with a handicap (the module
    docstring)."""
    shared = sorted(set(namespaces) - {ACTION_NAMESPACE})
    known = [set(t) for t in DEFAULT_INTERACTIONS if len(t) == 3]
    found: list[tuple[str, ...]] = []
    for i, first in enumerate(shared):
        for second in shared[i + 1 :]:
            if {first, second, ACTION_NAMESPACE} not in known:
                parts = (first + ACTION_NAMESPACE, second + ACTION_NAMESPACE)
                found.append((*parts, first + second + ACTION_NAMESPACE))
    return found


def _term_tokens(shared: SharedFeatures, term: str) -> list[str]:
    """The shared part of ``term``'s features (``DR`` of ``DRA``: every device × referrer token)."""
    letters = [letter for letter in term if letter != ACTION_NAMESPACE]
    combos = product(*(shared.get(letter, ()) for letter in letters))
    return [f"{term}:{'*'.join(c)}" for c in combos if c]


class _Design:
    """Every candidate term's columns over the examples, built once and sliced per candidate."""

    def __init__(self, examples: Sequence[Example], terms: Sequence[str]) -> None:
        self.columns: dict[str, list[int]] = {"": []}
        vocabulary: dict[tuple[str, str, int], int] = {}
        rows: list[int] = []
        cols: list[int] = []
        for term in ("", *terms):
            owned = self.columns.setdefault(term, [])
            for r, example in enumerate(examples):
                tokens = _term_tokens(example.shared, term) if term else ["variant"]
                for token in tokens:
                    key = (term, token, example.chosen)
                    column = vocabulary.get(key)
                    if column is None:
                        column = vocabulary[key] = len(vocabulary)
                        owned.append(column)
                    rows.append(r)
                    cols.append(column)
        shape = (len(examples), len(vocabulary))
        self.matrix = sparse.csc_matrix((np.ones(len(rows)), (rows, cols)), shape=shape)

    def of(self, interactions: Sequence[str]) -> sparse.csr_matrix:
        wanted = [c for term in ("", *interactions) for c in self.columns[term]]
        return self.matrix[:, wanted].tocsr()

    def width(self, interactions: Sequence[str]) -> int:
        """How many weights the set has on these examples: its complexity."""
        return sum(len(self.columns[term]) for term in ("", *interactions))


def held_out_losses(design: _Design, labels: np.ndarray, interactions: Sequence[str]) -> np.ndarray:
    """Each example's log loss under a regression fitted on the other folds."""
    matrix = design.of(interactions)
    predicted = np.empty(len(labels))
    folds = StratifiedKFold(FOLDS, shuffle=True, random_state=0)
    for train, test in folds.split(np.zeros(len(labels)), labels):
        fitted = LogisticRegression(C=L2_C, solver=SOLVER, max_iter=1000).fit(
            matrix[train], labels[train]
        )
        predicted[test] = fitted.predict_proba(matrix[test])[:, 1]
    clipped = np.clip(predicted, 1e-12, 1 - 1e-12)
    losses: np.ndarray = -(labels * np.log(clipped) + (1 - labels) * np.log(1 - clipped))
    return losses


def _standard_error(difference: np.ndarray) -> float:
    """The standard error of the mean of a paired, example-by-example difference."""
    if len(difference) < 2:
        return 0.0
    return float(difference.std(ddof=1)) / math.sqrt(len(difference))


def _beats(losses: np.ndarray, other: np.ndarray, standard_errors: float) -> bool:
    """Whether ``losses`` are lower than ``other`` (paired, example by example) by more than
    ``standard_errors`` standard errors of the mean difference."""
    difference = losses - other
    return float(difference.mean()) + standard_errors * _standard_error(difference) < 0


def choose(
    examples: Sequence[Example],
    current: tuple[str, ...] | None,
    namespaces: Iterable[str],
    *,
    margin_se: float = MARGIN_SE,
    simplest: bool = PREFER_SIMPLEST,
) -> Choice:
    """The set the examples support (see the module docstring).

    ``current``: the set chosen before, kept while it is within the margin (``None`` at the
    first choice: the defaults the model starts with are no choice to defend). ``namespaces``:
    the shared namespaces the policy's feature groups fill. ``margin_se`` 0 takes the best
    mean loss outright (the bench's comparison). Pairs of groups are judged with a handicap
    (:data:`PAIR_MARGIN_SE`).
    """
    candidates = candidate_sets(namespaces)
    pairs = pair_sets(namespaces)
    fallback = current if current is not None else DEFAULT_INTERACTIONS
    labels = np.array([1.0 if e.reward > 0 else 0.0 for e in examples])
    clicks = int(labels.sum())
    if clicks < MIN_CLICKS or len(examples) - clicks < FOLDS:
        return Choice(fallback, False, {}, math.inf)
    if current is not None and current not in candidates and current not in pairs:
        candidates.append(current)
    judged = candidates + pairs
    design = _Design(examples, sorted({t for c in judged for t in c}))
    with threadpool_limits(1):  # more BLAS threads only contend (measured: 6x slower on 2 cores)
        losses = {c: held_out_losses(design, labels, c) for c in judged}
    means = {c: float(v.mean()) for c, v in losses.items()}
    best = min(candidates, key=means.__getitem__)
    # A pair is in the running once it beats the best set that is no pair by the margin, or is
    # the current set.
    candidates += [
        p for p in pairs if p == current or _beats(losses[p], losses[best], PAIR_MARGIN_SE)
    ]
    best = min(candidates, key=means.__getitem__)

    def margin(candidate: tuple[str, ...]) -> float:
        return margin_se * _standard_error(losses[candidate] - losses[best])

    def close(candidate: tuple[str, ...]) -> bool:
        return means[candidate] - means[best] <= margin(candidate)

    if current is not None and close(current):
        return Choice(current, False, means, margin(current))
    if simplest:
        best = min((c for c in candidates if close(c)), key=design.width)
    return Choice(best, best != fallback, means, margin(best))


def retrain(
    policy: BanditPolicy, interactions: tuple[str, ...], actions: ActionSet,
    examples: Iterable[Example],
) -> BanditModel:  # fmt: skip
    """A fresh model with ``interactions`` that learned ``examples`` in order (their logged
    probabilities), as the online model did; the caller finishes the old one."""
    model = BanditModel(msgspec.structs.replace(policy, interactions=interactions))
    try:
        for example in examples:
            model.learn(
                example.shared,
                actions,
                example.chosen,
                reward=example.reward,
                probability=example.probability,
            )
    except BaseException:
        model.finish()
        raise
    return model


def run_choice(
    policy: BanditPolicy,
    actions: ActionSet,
    examples: Sequence[Example],
    current: tuple[str, ...] | None,
) -> tuple[Choice, BanditModel | None]:
    """:func:`choose`, and the retrained model when the set changed (the learner's executor job)."""
    choice = choose(examples, current, namespaces_of(policy))
    if not choice.changed:
        return choice, None
    return choice, retrain(policy, choice.interactions, actions, examples)


class SlotChoice:
    """One slot's kept examples (the last :data:`MAX_EXAMPLES`) and the set chosen so far
    (``None``: not chosen yet, the model has all of the defaults); ``due`` once a count of
    ``schedule`` was learned."""

    def __init__(self, chosen: tuple[str, ...] | None, schedule: Sequence[int] = SELECT_AT) -> None:
        self.kept: deque[Example] = deque(maxlen=MAX_EXAMPLES)
        self.chosen = chosen
        self.schedule = frozenset(schedule)
        self.due = False
        self.since = 0  # the model's count when the kept examples start (a drift restart)

    def keep(self, example: Example, learned: int) -> None:
        """Keep a learned example; ``learned``: the model's count with it."""
        self.kept.append(example)
        self.due = self.due or learned in self.schedule

    def restarted(self, replayed: int, learned: int) -> None:
        """The drift watch (:mod:`proxy.bandit.drift`) restarted the model from its last
        ``replayed`` examples: the older ones are of a world that has gone, so a choice judges,
        and retrains on, only these and what comes after."""
        recent = list(self.kept)[len(self.kept) - min(replayed, len(self.kept)) :]
        self.kept.clear()
        self.kept.extend(recent)
        self.since = learned - len(recent)

    def enough(self, learned: int) -> bool:
        """Whether the kept examples are (nearly) all the model learned since its start: after
        a learner restart it has learned more than was kept, and judging a part would retrain
        on less."""
        return len(self.kept) >= 0.9 * min(learned - self.since, MAX_EXAMPLES)
