"""DR's reward model r̂(x, a): a cross-fitted, shrunk mean reward per (action, context bucket).

Fitted in one streaming pass (:meth:`RewardModel.add`) and queried in a second
(:meth:`RewardModel.predict`), so the log is never held: memory grows with the number of
distinct (action, bucket) cells, not with the number of lines.

**Shrinkage.** A cell's mean is shrunk towards its action's mean, itself shrunk towards the
overall mean, with ``prior_weight`` pseudo-observations each: a cell seen twice says little.

**Cross-fitting.** Record *i* (counting a slot's examples in log order) belongs to fold
``i % folds``; its prediction uses only the other folds' sums, so a record's own reward never
enters its own r̂ (the DR estimate stays unbiased for a fixed model; Chernozhukov et al.,
"Double/debiased machine learning", Econometrics J. 2018). Under ``2 · folds`` records there is
too little to split and every fold is used.

**Features.** The bucket is the record's context restricted to some namespaces
(:func:`by_namespaces`); by default every namespace in the log (:func:`full_context`). With many
distinct contexts most cells are empty and r̂ falls back to the action's mean — then choose
fewer namespaces (``vernier evaluate --dr-features D,T``).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable

from proxy.records.decision import DecisionRecord

Bucket = Callable[[DecisionRecord], Hashable]
# overall mean, shrunk mean per action, shrunk mean per (action, bucket): fitted without one fold
_Fitted = tuple[float, dict[str, float], dict[tuple[str, Hashable], float]]


def full_context(record: DecisionRecord) -> Hashable:
    """The default bucket: every context token of the record, in every namespace."""
    return tuple(sorted((ns, tuple(sorted(tokens))) for ns, tokens in record.context.items()))


def by_namespaces(*namespaces: str) -> Bucket:
    """A coarser bucket: only the tokens of ``namespaces`` (``by_namespaces("D", "T")``);
    with none, one bucket (r̂ is the action's mean)."""

    def bucket(record: DecisionRecord) -> Hashable:
        return tuple(tuple(sorted(record.context.get(ns, ()))) for ns in namespaces)

    return bucket


class RewardModel:
    """Per-fold reward sums per (action, bucket), per action and overall."""

    def __init__(self, bucket: Bucket = full_context, *, folds: int = 2, prior_weight: float = 5.0):
        if folds < 1:
            raise ValueError("folds must be at least 1")
        self.bucket = bucket
        self.folds = folds
        self.prior_weight = prior_weight
        self.examples = 0
        # [sum fold 0, count fold 0, sum fold 1, count fold 1, ...]
        self._overall = [0.0] * (2 * folds)
        self._actions: dict[str, list[float]] = {}
        self._cells: dict[tuple[str, Hashable], list[float]] = {}
        self._tables: dict[int | None, _Fitted] = {}

    @property
    def cells(self) -> int:
        """Distinct (action, bucket) cells seen: what the model's memory grows with."""
        return len(self._cells)

    def add(self, record: DecisionRecord) -> None:
        """Fit on the next example of the slot (non-examples are ignored)."""
        if not record.is_example:
            return
        offset = 2 * (self.examples % self.folds)
        self.examples += 1
        reward = record.reward or 0.0
        size = 2 * self.folds
        action = self._actions.get(record.chosen)
        if action is None:
            action = self._actions[record.chosen] = [0.0] * size
        key = (record.chosen, self.bucket(record))
        cell = self._cells.get(key)
        if cell is None:
            cell = self._cells[key] = [0.0] * size
        for sums in (self._overall, action, cell):
            sums[offset] += reward
            sums[offset + 1] += 1.0

    def _held_out(self, sums: list[float] | None, fold: int | None) -> tuple[float, float]:
        """(sum, count) over every fold but ``fold`` (all folds when ``fold`` is None)."""
        if sums is None:
            return 0.0, 0.0
        total, count = sum(sums[0::2]), sum(sums[1::2])
        if fold is not None:
            total -= sums[2 * fold]
            count -= sums[2 * fold + 1]
        return total, count

    def fold_of(self, index: int) -> int | None:
        """The fold held out when predicting example ``index`` (None: too few to split)."""
        return index % self.folds if self.examples >= 2 * self.folds > 2 else None

    def _fitted(self, fold: int | None) -> _Fitted:
        """The shrunk action means and cell means fitted without ``fold`` (computed once)."""
        found = self._tables.get(fold)
        if found is not None:
            return found
        m = self.prior_weight
        total, count = self._held_out(self._overall, fold)
        overall = total / count if count else 0.0
        priors: dict[str, float] = {}
        for action, sums in self._actions.items():
            total, count = self._held_out(sums, fold)
            priors[action] = (total + m * overall) / (count + m)
        cells: dict[tuple[str, Hashable], float] = {}
        for key, sums in self._cells.items():
            total, count = self._held_out(sums, fold)
            if count:
                cells[key] = (total + m * priors[key[0]]) / (count + m)
        self._tables[fold] = fitted = (overall, priors, cells)
        return fitted

    def predict(self, record: DecisionRecord, index: int) -> list[float]:
        """r̂ for each of the record's actions, the record being the slot's ``index``-th example.

        Call after the last :meth:`add`: the fitted tables are computed once, on first use."""
        overall, priors, cells = self._fitted(self.fold_of(index))
        key = self.bucket(record)
        predicted = []
        for action in record.actions:
            cell = cells.get((action, key))
            predicted.append(cell if cell is not None else priors.get(action, overall))
        return predicted
