"""Off-policy estimates of a target policy's mean reward from logged decisions; pure.

For record *i* with context *x*, logged action *a*, logged probability *p* and reward *r*, and
the target's probability *π(a|x)* of the same action, the importance weight is *w = π(a|x)/p*.

* **IPS** — the mean of *w·r*. Unbiased when every action the target may take had a positive
  logged probability; its variance grows with the weights. 95 % interval: normal approximation
  on the per-record terms (mean ± 1.96 · sd/√n).
* **SNIPS** — *Σ w·r / Σ w*: IPS normalised by the weights' mean, slightly biased, much less
  variable. Interval by the **delta method**: the estimate's influence terms are
  *w·(r − V)/mean(w)*, and the interval is V ± 1.96 · sd(terms)/√n.
* **DR** (doubly robust) — *Σ_a π(a|x)·r̂(x,a) + w·(r − r̂(x,a))* per record: a reward model
  *r̂* corrected by IPS on its residual; unbiased if either the logged probabilities or *r̂* are
  right. Interval: normal approximation on the per-record terms. *r̂* is a **per-(action,
  context bucket) mean** (:class:`RewardTable`), shrunk towards the action's mean, itself
  shrunk towards the overall mean (``prior_weight`` pseudo-observations each), and
  **cross-fitted**: with ``folds=2`` each half of the log is scored by a table fitted on the
  other half, so a record's own reward never enters its prediction. The default context bucket
  is the record's whole feature set (:func:`full_context`); with many distinct contexts most
  cells are empty and r̂ falls back to the action's mean, so pass a coarser bucket there
  (:func:`by_namespaces`, e.g. device and time only).

**Effective sample size** *(Σw)² / Σw²* says how many records the estimate is really worth.
:func:`evaluate` warns when it is small, when logged probabilities are tiny (huge weights), and
when there are too few records for a normal approximation.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass

from proxy.evaluate.policies import TargetPolicy
from proxy.records.decision import DecisionRecord

Z_95 = 1.959963984540054
Bucket = Callable[[DecisionRecord], Hashable]


def full_context(record: DecisionRecord) -> Hashable:
    """The default DR bucket: every context token of the record."""
    return tuple(sorted((ns, tuple(sorted(tokens))) for ns, tokens in record.context.items()))


def by_namespaces(*namespaces: str) -> Bucket:
    """A coarser DR bucket: only the tokens of ``namespaces`` (``by_namespaces("D", "T")``)."""

    def bucket(record: DecisionRecord) -> Hashable:
        return tuple(tuple(sorted(record.context.get(ns, ()))) for ns in namespaces)

    return bucket


@dataclass(frozen=True)
class Estimate:
    """A point estimate with its 95 % interval and standard error."""

    value: float
    low: float
    high: float
    std_error: float

    def contains(self, value: float) -> bool:
        return self.low <= value <= self.high


@dataclass(frozen=True)
class Evaluation:
    """The estimates of one target policy on one log."""

    name: str
    n: int
    ips: Estimate
    snips: Estimate
    dr: Estimate
    ess: float
    min_logged_p: float
    warnings: tuple[str, ...]


class RewardTable:
    """Mean reward per (action, bucket), shrunk towards the action's and the overall mean."""

    def __init__(
        self, records: Sequence[DecisionRecord], bucket: Bucket, prior_weight: float = 5.0
    ) -> None:
        self.bucket = bucket
        self.prior_weight = prior_weight
        total = 0.0
        per_action: dict[str, list[float]] = {}
        per_cell: dict[tuple[str, Hashable], list[float]] = {}
        for record in records:
            reward = record.reward if record.reward is not None else 0.0
            total += reward
            action = per_action.setdefault(record.chosen, [0.0, 0.0])
            cell = per_cell.setdefault((record.chosen, bucket(record)), [0.0, 0.0])
            for sums in (action, cell):
                sums[0] += reward
                sums[1] += 1.0
        self.overall = total / len(records) if records else 0.0
        m = prior_weight
        self.action_mean = {a: (s + m * self.overall) / (c + m) for a, (s, c) in per_action.items()}
        self.cells = per_cell

    def predict(self, action: str, key: Hashable) -> float:
        """r̂ for ``action`` in the bucket ``key``."""
        prior = self.action_mean.get(action, self.overall)
        cell = self.cells.get((action, key))
        if cell is None:
            return prior
        return (cell[0] + self.prior_weight * prior) / (cell[1] + self.prior_weight)


def _mean_interval(terms: Sequence[float], z: float) -> Estimate:
    n = len(terms)
    mean = math.fsum(terms) / n
    variance = math.fsum((t - mean) ** 2 for t in terms) / (n - 1) if n > 1 else math.inf
    se = math.sqrt(variance / n)
    return Estimate(mean, mean - z * se, mean + z * se, se)


def _snips(weights: Sequence[float], rewards: Sequence[float], z: float) -> Estimate:
    n = len(weights)
    weight_sum = math.fsum(weights)
    if weight_sum <= 0:
        return Estimate(math.nan, -math.inf, math.inf, math.inf)
    value = math.fsum(w * r for w, r in zip(weights, rewards, strict=True)) / weight_sum
    mean_weight = weight_sum / n
    influence = [w * (r - value) / mean_weight for w, r in zip(weights, rewards, strict=True)]
    spread = _mean_interval(influence, z)
    return Estimate(
        value, value - z * spread.std_error, value + z * spread.std_error, spread.std_error
    )


def _target_pmf(target: TargetPolicy, record: DecisionRecord) -> list[float]:
    pmf = [float(p) for p in target(record)]
    if len(pmf) != len(record.actions) or any(not (0.0 <= p <= 1.0) for p in pmf):
        raise ValueError(f"record {record.id}: the target policy returned {pmf!r}")
    if abs(math.fsum(pmf) - 1.0) > 1e-6:
        raise ValueError(f"record {record.id}: the target pmf sums to {math.fsum(pmf)}")
    return pmf


def evaluate(
    records: Sequence[DecisionRecord],
    target: TargetPolicy,
    *,
    name: str = "target",
    bucket: Bucket = full_context,
    folds: int = 2,
    prior_weight: float = 5.0,
    z: float = Z_95,
    min_ess: float = 100.0,
    min_p: float = 0.01,
) -> Evaluation:
    """IPS, SNIPS and DR estimates of ``target`` on the usable ``records``.

    Records that are not examples (no joined reward, or a sticky re-serve) are skipped;
    ``ValueError`` if none is left or if ``target`` returns something that is not a pmf.
    """
    usable = [r for r in records if r.is_example]
    n = len(usable)
    if n == 0:
        raise ValueError("no usable records (each needs a joined reward and not be sticky)")
    folds = max(1, min(folds, n // 2 or 1))
    tables = [
        RewardTable(
            [r for i, r in enumerate(usable) if folds == 1 or i % folds != k],
            bucket,
            prior_weight,
        )
        for k in range(folds)
    ]
    weights: list[float] = []
    rewards: list[float] = []
    dr_terms: list[float] = []
    for i, record in enumerate(usable):
        pmf = _target_pmf(target, record)
        chosen = record.chosen_index
        reward = record.reward if record.reward is not None else 0.0
        weight = pmf[chosen] / record.p
        table = tables[i % folds]
        key = bucket(record)
        predicted = [table.predict(a, key) for a in record.actions]
        direct = math.fsum(p * q for p, q in zip(pmf, predicted, strict=True))
        weights.append(weight)
        rewards.append(reward)
        dr_terms.append(direct + weight * (reward - predicted[chosen]))
    ips = _mean_interval([w * r for w, r in zip(weights, rewards, strict=True)], z)
    snips = _snips(weights, rewards, z)
    dr = _mean_interval(dr_terms, z)
    square_sum = math.fsum(w * w for w in weights)
    ess = math.fsum(weights) ** 2 / square_sum if square_sum > 0 else 0.0
    min_logged_p = min(r.p for r in usable)
    return Evaluation(
        name=name,
        n=n,
        ips=ips,
        snips=snips,
        dr=dr,
        ess=ess,
        min_logged_p=min_logged_p,
        warnings=_warnings(usable, weights, ess, n, min_ess, min_p),
    )


def _warnings(
    records: Sequence[DecisionRecord],
    weights: Sequence[float],
    ess: float,
    n: int,
    min_ess: float,
    min_p: float,
) -> tuple[str, ...]:
    found: list[str] = []
    if n < 30:
        found.append(f"only {n} usable records: the normal-approximation intervals are rough")
    if ess < min_ess:
        found.append(
            f"effective sample size {ess:.1f} of {n} records is below {min_ess:g}: the target "
            "rarely takes the logged actions, so the estimates rest on few records"
        )
    tiny = [r.p for r in records if r.p < min_p]
    if tiny:
        found.append(
            f"{len(tiny)} records were logged with probability below {min_p:g} "
            f"(smallest {min(tiny):.2g}, largest weight {max(weights):.0f}): IPS is noisy"
        )
    return tuple(found)


def evaluate_all(
    records: Sequence[DecisionRecord],
    targets: Mapping[str, TargetPolicy],
    *,
    bucket: Bucket = full_context,
) -> list[Evaluation]:
    """:func:`evaluate` for each named target, ranked by DR estimate (best first)."""
    results = [
        evaluate(records, policy, name=name, bucket=bucket) for name, policy in targets.items()
    ]
    return sorted(results, key=lambda e: -e.dr.value if math.isfinite(e.dr.value) else math.inf)


def format_report(evaluations: Sequence[Evaluation]) -> str:
    """A plain-text table of the estimates (what ``vernier evaluate`` prints), warnings below."""
    lines = [
        f"{'policy':<24} {'n':>7} {'ESS':>9}  {'IPS [95% CI]':<26} {'SNIPS [95% CI]':<26} "
        "DR [95% CI]"
    ]
    for e in evaluations:
        cells = [f"{x.value:.4f} [{x.low:.4f}, {x.high:.4f}]" for x in (e.ips, e.snips, e.dr)]
        lines.append(
            f"{e.name:<24} {e.n:>7} {e.ess:>9.1f}  {cells[0]:<26} {cells[1]:<26} {cells[2]}"
        )
    for e in evaluations:
        lines += [f"warning: {e.name}: {w}" for w in e.warnings]
    return "\n".join(lines)
