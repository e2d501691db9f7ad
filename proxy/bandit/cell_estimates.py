"""Exact averages beside VW's estimates: per-cell counts of the model's interaction terms (and
of the default terms it does not use, watched).

Why: VW's adaptive steps shrink like ``1/sqrt(sum of squared gradients)``, so its estimate of a
small cell (a variant in one country) wanders like SGD at a constant step instead of averaging
as a count would; at 1,000 updates of a 10 % cell its spread is ~0.05 against a count's ~0.01
(docs/benchmarks.md, "Ninth round"), and SquareCB, which explores by the gaps between
estimates, then stops trying the variant that is best there. A count knows nothing of what
contexts share, which is what VW is good at. :class:`CellCounts` keeps both: for each variant,
the estimate is a chain from coarse to fine, each step a cell's average with the estimate so
far as its prior:

1. **VW's estimate** of the variant for this context (what an untried variant starts from);
2. the variant's **average over every example**, VW's estimate worth :data:`PRIOR_EXAMPLES`;
3. for each **cell** of the context under the model's interaction terms (and the watched ones,
   below) — ``GA``: the visitor's
   country token; ``TA``: the hour token and the part-of-day token, each a cell of its own
   partition; ``UA``: each profile field's bucket; ``DRA``: the (device, referrer) pair — most
   examples first, the cell's average
   with the estimate so far worth *m* examples. *m* is empirical Bayes, per partition (a term
   and its token names): the within-cell variance of the rewards over the variance between the
   partition's cells (method of moments, pooled over variants), times :data:`PRIOR_SHARE`.
   Cells that do not differ (a term the interaction choice took on noise) get a large *m* and
   leave the estimate at the variant's average; cells that do differ get a small one and speak
   for themselves.

The default terms the model does not use are **watched**: counted too, and a partition of theirs
joins the chain once its cells differ beyond chance (a chi-square test of the between-cell sum
of squares at :data:`WATCH_ALPHA`). The interaction choice judges a thousand examples with a
regression and can miss a strong effect (the hour world's part of the day, in 3 seeds of 10):
the model then learned nothing of it for the rest of the run. Terms an owner wrote are watched
the same way; a model saved before the watch existed watches nothing until it relearns.

Pure and synchronous; :class:`~proxy.bandit.model.BanditModel` keeps one per model, saves it
with VW's weights and rebuilds it whenever VW relearns (a new interaction set, a drift restart).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

from scipy.special import chdtrc  # chi-square survival, ~2 µs a call (stats.chi2.sf ~80)

from proxy.bandit.policy_config import ACTION_NAMESPACE

# VW's estimate counts as this many examples of the variant's overall average.
PRIOR_EXAMPLES = 10.0
# The share of the moment estimate of *m* a cell's prior is worth. The full estimate is the
# prior weight that is right for the average cell, but what the bandit must find is the few
# cells far from it (a variant best only in a small country), and the estimate grows as the
# bandit serves each cell's best variant (country world: 37 at 1,000 examples, 117 at 3,000):
# at the full estimate the cells' own data counted too little there, and at half of it the
# world suite passed in more worlds and lost none (docs/benchmarks.md, "Eleventh round").
PRIOR_SHARE = 0.5
# The chance that a watched partition whose cells do not differ joins the chain, per test; strict,
# as it is tested for every partition of every watched term at each recount.
WATCH_ALPHA = 0.001
# A variant's cells with fewer examples than this are left out of the watch's test.
WATCH_MIN_EXAMPLES = 20
# The most (cell, variant) entries kept; past it, new cells are not counted (the overall
# average still is). Tokens are bounded vocabularies in the default groups; this bounds the
# rest (paths, campaigns) in memory and in every snapshot (~40 bytes an entry in msgpack;
# the default groups make a few hundred cells, times the variants).
MAX_ENTRIES = 20_000
# m for a partition whose cells do not (yet) differ: the cell never moves the estimate.
NO_SPREAD = 1e9

CellKey = tuple[str, tuple[str, ...]]  # (interaction term, its tokens); ("", ()) = overall
_Link = tuple[int, float, dict[str, list[float]]]  # a cell's size, m and stats per variant
_OVERALL: CellKey = ("", ())
Namespaces = Mapping[str, Sequence[str]]


def namespaces_of_line(line: str) -> dict[str, list[str]]:
    """The tokens of each namespace of a ``shared |D dev=mobile |T h=9 dp=morning`` line."""
    namespaces: dict[str, list[str]] = {}
    tokens: list[str] | None = None
    for part in line.split()[1:]:
        if part.startswith("|"):  # "|Dname": namespace D (VW names it "Dname")
            tokens = namespaces.setdefault(part[1:2], [])
        elif tokens is not None:
            tokens.append(part)
    return namespaces


class CellCounts:
    """Reward counts per (cell, variant) under ``interactions``, and under the ``watched`` terms
    not among them (see the module docstring)."""

    def __init__(self, interactions: Sequence[str], watched: Sequence[str] = ()) -> None:
        self.terms = _terms(interactions)
        self.watched = tuple(t for t in _terms(watched) if t not in self.terms)
        self._term_letters = tuple(
            (t, t.replace(ACTION_NAMESPACE, "")) for t in sorted(self.terms + self.watched)
        )
        self._letters = tuple(sorted({x for _, letters in self._term_letters for x in letters}))
        # cell -> variant id -> [examples, reward sum, reward square sum]
        self._stats: dict[CellKey, dict[str, list[float]]] = {}
        self._sizes: dict[CellKey, int] = {}  # cell -> examples, every variant's
        self._entries = 0
        self._strengths: dict[CellKey, float] | None = None  # cell -> its partition's m
        self._links: dict[CellKey, _Link] | None = None  # the cells that can move an estimate
        self._linked_terms = self._term_letters  # the terms with such cells (set with _links)
        self.total = 0  # examples counted

    def cells(self, namespaces: Namespaces) -> list[CellKey]:
        """The cells a context falls in, the overall one first.

        A namespace's tokens of one name are one cell together: ``v7=1+ v7=2+`` (two visits)
        is the cell of visitors with exactly that bucket, not the ``v7=1+`` of everyone past
        the first edge (the thermometer coding of :mod:`proxy.bandit.features`).
        """
        return self._cells_of(namespaces, self._term_letters)

    def _cells_of(
        self, namespaces: Namespaces, term_letters: Sequence[tuple[str, str]]
    ) -> list[CellKey]:
        tokens = {x: tuple(namespaces.get(x, ())) for x in self._letters}
        keys = [_OVERALL]
        for term, letters in term_letters:
            keys += _term_cells(term, tuple(tokens[x] for x in letters))
        return keys

    def add(self, namespaces: Namespaces, chosen: str, reward: float) -> None:
        """Count one learned example: variant ``chosen`` was served and earned ``reward``."""
        for key in self.cells(namespaces):
            per_variant = self._stats.get(key)
            stats = per_variant.get(chosen) if per_variant is not None else None
            if stats is None:
                if self._entries >= MAX_ENTRIES and key != _OVERALL:
                    continue
                stats = self._stats.setdefault(key, {})[chosen] = [0.0, 0.0, 0.0]
                self._entries += 1
            stats[0] += 1.0
            stats[1] += reward
            stats[2] += reward * reward
            self._sizes[key] = self._sizes.get(key, 0) + 1
        self.total += 1
        self._strengths = self._links = None

    def estimates(
        self, namespaces: Namespaces, variants: Sequence[str], model: Sequence[float]
    ) -> list[float]:
        """The estimates of ``variants`` for this context, from the model's (VW's) ``model``."""
        links = self._chain_links()
        keys = self._cells_of(namespaces, self._linked_terms)  # not the terms that cannot move it
        chain = [link for key in keys if (link := links.get(key)) is not None]
        chain.sort(key=_link_size, reverse=True)  # coarse to fine; stable: the overall cell first
        out = []
        for variant, estimate in zip(variants, model, strict=True):
            for _, m, per_variant in chain:
                stats = per_variant.get(variant)
                if stats is not None:
                    estimate = (stats[1] + m * estimate) / (stats[0] + m)
            out.append(estimate)
        return out

    def _chain_links(self) -> dict[CellKey, _Link]:
        """Each cell that can move an estimate (counted, its *m* below :data:`NO_SPREAD`), as
        (its size, its *m*, its stats per variant); recomputed after new examples."""
        if self._links is None:
            strengths = self.strengths()
            self._links = {
                key: (self._sizes[key], m, per_variant)
                for key, per_variant in self._stats.items()
                if (m := PRIOR_EXAMPLES if key == _OVERALL else strengths.get(key, NO_SPREAD))
                < NO_SPREAD
            }
            linked = {key[0] for key in self._links}
            self._linked_terms = tuple(tl for tl in self._term_letters if tl[0] in linked)
        return self._links

    def strengths(self) -> dict[CellKey, float]:
        """Each cell's *m*, its partition's (see the module docstring); recomputed after new
        examples. Cells of a partition whose cells do not differ are left out."""
        if self._strengths is None:
            by_partition = _strengths(self._stats, frozenset(self.watched))
            self._strengths = {
                key: m
                for key in self._stats
                if key != _OVERALL
                and (m := by_partition.get(_partition(key), NO_SPREAD)) < NO_SPREAD
            }
        return self._strengths

    def to_wire(self) -> dict[str, Any]:
        """A msgpack/JSON-able form; :meth:`from_wire` reads it back exactly."""
        return {
            "terms": list(self.terms),
            "watched": list(self.watched),
            "total": self.total,
            "stats": [
                [key[0], list(key[1]), variant, *stats]
                for key, per_variant in self._stats.items()
                for variant, stats in per_variant.items()
            ],
        }

    @classmethod
    def from_wire(cls, wire: Mapping[str, Any]) -> CellCounts:
        """``ValueError`` for anything :meth:`to_wire` would not have written."""
        try:
            counts = cls(
                tuple(str(t) for t in wire["terms"]),
                tuple(str(t) for t in wire.get("watched", ())),  # none before 2026-12-07
            )
            counts.total = int(wire["total"])
            for term, tokens, variant, n, total, squares in wire["stats"]:
                key = (str(term), tuple(str(t) for t in tokens))
                stats = [float(n), float(total), float(squares)]
                if not (n >= 1 and all(math.isfinite(x) for x in stats)):
                    raise ValueError(f"a cell of {n} examples, sums {total} and {squares}")
                counts._stats.setdefault(key, {})[str(variant)] = stats
                counts._sizes[key] = counts._sizes.get(key, 0) + int(n)
                counts._entries += 1
        except (KeyError, TypeError, ValueError, OverflowError) as err:
            raise ValueError(f"unreadable cell counts: {err!r}") from None
        return counts


def _link_size(link: _Link) -> int:
    return link[0]


@lru_cache(maxsize=4096)
def _term_cells(term: str, tokens: tuple[tuple[str, ...], ...]) -> tuple[CellKey, ...]:
    """The cells of one term for its namespaces' ``tokens`` (cached: contexts repeat)."""
    combos: list[tuple[str, ...]] = [()]
    for namespace_tokens in tokens:
        groups = _by_name(namespace_tokens)
        combos = [(*c, group) for c in combos for group in groups]
    return tuple((term, combo) for combo in combos if combo)


def _by_name(tokens: Sequence[str]) -> list[str]:
    """``["h=9", "dp=morning", "v7=1+", "v7=2+"]`` → ``["h=9", "dp=morning", "v7=1+ v7=2+"]``."""
    if len(tokens) < 2:
        return list(tokens)
    groups: dict[str, list[str]] = {}
    for token in tokens:
        groups.setdefault(token.split("=", 1)[0], []).append(token)
    return [" ".join(group) for group in groups.values()]


def _terms(interactions: Sequence[str]) -> tuple[str, ...]:
    """One term per set of namespaces with the variant, in one order: "AG" is "GA", a repeat
    counts once, "DG" (no variant) is none."""
    return tuple(sorted({_term(t) for t in interactions if ACTION_NAMESPACE in t}))


def _term(interaction: str) -> str:
    """An interaction's namespaces, each once, in order (``UGA`` → ``AGU``)."""
    return "".join(sorted(set(interaction)))


def _partition(key: CellKey) -> tuple[str, tuple[str, ...]]:
    """The partition a cell belongs to: its term and its tokens' names (``cc`` of ``cc=de``)."""
    term, tokens = key
    return term, tuple(token.split("=", 1)[0] for token in tokens)


def _strengths(
    stats: Mapping[CellKey, Mapping[str, Sequence[float]]], watched: frozenset[str]
) -> dict[tuple[str, tuple[str, ...]], float]:
    """Each partition's *m*, for the partitions whose cells differ more than chance (and, of a
    ``watched`` term, beyond chance at :data:`WATCH_ALPHA`)."""
    grouped: dict[tuple[str, tuple[str, ...]], dict[str, list[Sequence[float]]]] = {}
    for key, per_variant in stats.items():
        if key == _OVERALL:
            continue
        cells_of = grouped.setdefault(_partition(key), {})
        for variant, cell in per_variant.items():
            if cell[0] > 0:
                cells_of.setdefault(variant, []).append(cell)
    out = {}
    for partition, cells_by_variant in grouped.items():
        cells = list(cells_by_variant.values())
        if partition[0] in watched and not _beyond_chance(cells):
            continue
        m = _strength(cells)
        if m is not None:
            out[partition] = m
    return out


def _strength(cells_by_variant: Sequence[Sequence[Sequence[float]]]) -> float | None:
    """:data:`PRIOR_SHARE` of the within-cell variance over the between-cell variance, pooled
    over the variants: the one-way random-effects (ANOVA) estimate, unbalanced (Searle 1971);
    ``None`` when the cells differ no more than their noise explains."""
    within = _within(cells_by_variant)
    spread = weight = 0.0
    for cells in cells_by_variant:
        if len(cells) < 2:
            continue
        n_all = sum(cell[0] for cell in cells)
        spread += _between_squares(cells)
        spread -= (len(cells) - 1) * within
        weight += n_all - sum(cell[0] * cell[0] for cell in cells) / n_all
    if within <= 0:  # no noise measured yet (one example a cell, or no reward so far)
        return None
    between = spread / weight if weight > 0 else 0.0
    if between <= 0 or within / between >= NO_SPREAD:
        return None
    return PRIOR_SHARE * within / between


def _beyond_chance(cells_by_variant: Sequence[Sequence[Sequence[float]]]) -> bool:
    """Whether the cells differ beyond chance: each variant's between-cell sum of squares over
    its own within-cell variance (rates differ between variants, and so do their variances),
    summed, against chi-square with the cells' degrees of freedom, at :data:`WATCH_ALPHA`; cells
    of fewer than :data:`WATCH_MIN_EXAMPLES` examples of the variant are left out (with a
    click or two the chi-square approximation passed them four times too often)."""
    statistic = df = 0.0
    for every_cell in cells_by_variant:
        cells = [cell for cell in every_cell if cell[0] >= WATCH_MIN_EXAMPLES]
        within = _within((cells,))
        if len(cells) >= 2 and within > 0:
            statistic += _between_squares(cells) / within
            df += len(cells) - 1
    return df > 0 and float(chdtrc(df, statistic)) < WATCH_ALPHA


def _within(cells_by_variant: Sequence[Sequence[Sequence[float]]]) -> float:
    """The within-cell variance of the rewards, pooled over the cells (of every variant given)."""
    within_sum = within_df = 0.0
    for cells in cells_by_variant:
        for n, total, squares in cells:
            if n >= 2:
                within_sum += max(0.0, squares - total * total / n)
                within_df += n - 1
    return within_sum / within_df if within_df > 0 else 0.0


def _between_squares(cells: Sequence[Sequence[float]]) -> float:
    """One variant's between-cell sum of squares: sum of n (cell mean - overall mean)^2."""
    mean = sum(cell[1] for cell in cells) / sum(cell[0] for cell in cells)
    return sum(n * (total / n - mean) ** 2 for n, total, _ in cells)
