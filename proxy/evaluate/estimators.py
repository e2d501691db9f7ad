"""Off-policy estimates of target policies' mean reward from a slot's logged decisions; pure.

For example *i* with context *x*, logged action *a*, logged probability *p* and reward *r*, and
the target's probability *π(a|x)* of the same action, the importance weight is *w = π(a|x)/p*.

* **IPS** — the mean of *w·r*. Unbiased when every action the target may take had a positive
  logged probability; its variance grows with the weights.
* **SNIPS** — *Σ w·r / Σ w*: IPS normalised by the weights' mean; slightly biased, much less
  variable, and always inside the range of the observed rewards.
* **DR** (doubly robust) — the mean of *Σ_b π(b|x)·r̂(x,b) + w·(r − r̂(x,a))*: a reward model
  (:mod:`~proxy.evaluate.reward_model`, cross-fitted) corrected by IPS on its residual; unbiased
  if either the logged probabilities or r̂ are right.

**Intervals** (95 % by default) are bootstrap percentile intervals
(:mod:`~proxy.evaluate.bootstrap`: 200 double-or-nothing resamples, seeded), then clipped to the
reward range: the value of any policy lies in it, so clipping never loses coverage, and an
interval never claims a click rate below 0. Each :class:`Estimate` also carries the
normal-approximation standard error (delta method for SNIPS) as a diagnostic.

**Effective sample size** *(Σw)² / Σw²* says how many examples the estimate is really worth.
Warnings flag few examples, low overlap (small ESS), tiny logged probabilities, one record
carrying much of the weight, and point estimates outside the reward range.

:class:`SlotEvaluator` streams: the caller feeds examples in log order (after a first pass that
fitted the reward model) and memory stays flat — a block of rows and the resampled sums.
:func:`evaluate` runs both passes over an in-memory sequence.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from proxy.evaluate import weighted
from proxy.evaluate.bootstrap import RESAMPLES, Floats, StreamingBootstrap, percentile_intervals
from proxy.evaluate.policies import TargetPolicy, checked_pmf
from proxy.evaluate.reward_model import Bucket, RewardModel, full_context
from proxy.evaluate.weighted import WeightSums, mean_se
from proxy.records.decision import DecisionRecord

LEVEL = 0.95
BLOCK_ROWS = 4096
MIN_ESS = 100.0
MIN_P = 0.01
HEAVY_WEIGHT_SHARE = 0.05  # one record carrying more of Σw than this: the estimate leans on it
# more of the target's probability than this on actions logged with probability 0: it is biased
UNSUPPORTED_SHARE = 0.001


@dataclass(frozen=True, slots=True)
class Estimate:
    """A point estimate, its interval and its normal-approximation standard error."""

    value: float
    low: float
    high: float
    std_error: float

    def contains(self, value: float) -> bool:
        return self.low <= value <= self.high


@dataclass(frozen=True, slots=True)
class Caveat:
    """A reason to distrust an estimate: a stable ``code`` for machines, a sentence for people."""

    # few_examples | low_overlap | small_propensity | heavy_weight | outside_range | no_reward |
    # no_support
    code: str
    message: str


@dataclass(frozen=True, slots=True)
class IntervalMethod:
    """How the intervals were made (printed with every report)."""

    level: float = LEVEL
    resamples: int = RESAMPLES
    seed: int = 0
    name: str = "bootstrap-percentile"
    weights: str = "double-or-nothing"

    def describe(self) -> str:
        return (
            f"{self.level:.0%} {self.name} intervals ({self.resamples} {self.weights} resamples, "
            f"seed {self.seed}), clipped to the reward range"
        )


@dataclass(frozen=True, slots=True)
class Evaluation:
    """The estimates of one target policy on one slot's log."""

    name: str
    n: int
    ips: Estimate
    snips: Estimate
    dr: Estimate
    ess: float
    max_weight: float
    min_logged_p: float
    warnings: tuple[Caveat, ...]


def observed_range(low: float, high: float) -> tuple[float, float]:
    """The reward range from the rewards seen: their span with 0 (what an unanswered decision
    scores); ``(0, 1)`` if every reward was 0."""
    low, high = min(low, 0.0), max(high, 0.0)
    return (low, high) if high > low else (low, low + 1.0)


class SlotEvaluator:
    """IPS, SNIPS and DR of several target policies over one slot's examples, streamed.

    Rows are ``[1, w_1, w_1·r, dr_1, w_2, …]`` (one triple per target); they are buffered in
    blocks of ``block_rows``, then folded into exact sums and the bootstrap's resampled sums.
    """

    def __init__(
        self,
        targets: Mapping[str, TargetPolicy],
        model: RewardModel,
        *,
        reward_range: tuple[float, float],
        method: IntervalMethod = IntervalMethod(),
        block_rows: int = BLOCK_ROWS,
        min_ess: float = MIN_ESS,
        min_p: float = MIN_P,
    ) -> None:
        self.targets = dict(targets)
        self.model = model
        self.reward_range = reward_range
        self.method = method
        self.min_ess, self.min_p = min_ess, min_p
        self.examples = 0
        self.min_logged_p = 1.0
        self.tiny_p = 0  # examples logged with p < min_p
        self.rewarded = 0  # examples with a reward other than 0
        self._columns = 1 + 3 * len(self.targets)
        self._block_rows = block_rows
        # the pending examples, as flat lists: each target's pmf (``actions`` long), r̂ for each
        # action, the chosen action's index, its logged probability and the reward
        self._pending_actions = 0
        self._pmfs: list[float] = []
        self._predicted: list[float] = []
        # the logging policy's probabilities (``actions`` long; NaN where only ``p`` is known)
        self._logged: list[float] = []
        self._chosen: list[int] = []
        self._p: list[float] = []
        self._rewards: list[float] = []
        self._bootstrap = StreamingBootstrap(
            self._columns, resamples=method.resamples, seed=method.seed
        )
        self._sums: Floats = np.zeros(self._columns)
        self._squares: Floats = np.zeros(self._columns)
        self._w2r: Floats = np.zeros(len(self.targets))  # Σ w²·r per target (SNIPS' variance)
        self._max_weight: Floats = np.zeros(len(self.targets))
        # Σ over examples of the target's probability on actions the logging policy gave 0
        self._unsupported: Floats = np.zeros(len(self.targets))

    def add(self, record: DecisionRecord, where: str = "") -> None:
        """The slot's next record in log order; non-examples are skipped. ``where`` (``file:line``)
        prefixes a :class:`~proxy.evaluate.policies.PolicyError` when a target fails on it."""
        if not record.is_example:
            return
        predicted = self.model.predict(record, self.examples)
        if len(predicted) != self._pending_actions:
            self._flush()  # a block holds examples with one number of actions
            self._pending_actions = len(predicted)
        self.examples += 1
        p = record.p
        if p < self.min_logged_p:
            self.min_logged_p = p
        if p < self.min_p:
            self.tiny_p += 1
        pmfs = self._pmfs
        for name, policy in self.targets.items():
            pmfs += checked_pmf(policy, record, name, where)
        self._predicted += predicted
        self._logged += _logged_pmf(record)
        self._chosen.append(record.chosen_index)
        self._p.append(p)
        self._rewards.append(record.reward or 0.0)
        if record.reward:
            self.rewarded += 1
        if len(self._p) >= self._block_rows:
            self._flush()

    def _rows(self) -> Floats:
        """The pending examples' rows ``[1, w_1, w_1·r, dr_1, w_2, …]``: for each target the
        weight *π(a|x)/p*, and DR's term *Σ_b π(b|x)·r̂(x,b) + w·(r − r̂(x,a))*."""
        n, k = len(self._p), self._pending_actions
        pmfs = np.array(self._pmfs).reshape(n, len(self.targets), k)
        predicted = np.array(self._predicted).reshape(n, k)
        at = np.arange(n)
        chosen = np.array(self._chosen)
        rewards = np.array(self._rewards)
        weights = pmfs[at, :, chosen] / np.array(self._p)[:, None]
        direct = np.einsum("ntk,nk->nt", pmfs, predicted)
        residual = rewards - predicted[at, chosen]
        block = np.empty((n, self._columns))
        block[:, 0] = 1.0
        block[:, 1::3] = weights
        block[:, 2::3] = weights * rewards[:, None]
        block[:, 3::3] = direct + weights * residual[:, None]
        logged = np.array(self._logged).reshape(n, k)
        self._unsupported += np.einsum("ntk,nk->t", pmfs, (logged == 0).astype(float))
        return block

    def _flush(self) -> None:
        if not self._p:
            return
        block = self._rows()
        self._pmfs, self._predicted, self._chosen, self._p, self._rewards = [], [], [], [], []
        self._logged = []
        self._bootstrap.add(block)
        self._sums += block.sum(axis=0)
        self._squares += (block * block).sum(axis=0)
        weights = block[:, 1::3]
        self._w2r += (weights * block[:, 2::3]).sum(axis=0)
        self._max_weight = np.maximum(self._max_weight, weights.max(axis=0))

    def results(self) -> list[Evaluation]:
        """Every target's estimates, best DR first; ``ValueError`` if there were no examples."""
        self._flush()
        if self.examples == 0:
            raise ValueError("no usable records (each needs a joined reward and not be sticky)")
        resampled = self._bootstrap.sums
        with np.errstate(divide="ignore", invalid="ignore"):  # replicates: IPS, SNIPS, DR
            replicates = np.hstack((
                resampled[:, 2::3] / resampled[:, :1],
                resampled[:, 2::3] / resampled[:, 1::3],
                resampled[:, 3::3] / resampled[:, :1],
            ))  # fmt: skip
        intervals = percentile_intervals(replicates, self.method.level)
        found = [
            self._evaluation(k, name, intervals[k :: len(self.targets)])
            for k, name in enumerate(self.targets)
        ]
        return sorted(found, key=lambda e: -e.dr.value if math.isfinite(e.dr.value) else math.inf)

    def _evaluation(self, k: int, name: str, intervals: Floats) -> Evaluation:
        """Target ``k``'s estimates; ``intervals``: its IPS, SNIPS and DR bootstrap intervals."""
        n = self.examples
        w, wr, dr = 1 + 3 * k, 2 + 3 * k, 3 + 3 * k
        sum_w, sum_wr, sum_dr = (float(self._sums[c]) for c in (w, wr, dr))
        square_w, square_wr, square_dr = (float(self._squares[c]) for c in (w, wr, dr))
        sums = WeightSums(n, sum_w, square_w, sum_wr, square_wr, float(self._w2r[k]))
        ips = self._estimate(*weighted.ips(sums), intervals[0])
        if sum_w > 0:
            snips = self._estimate(*weighted.snips(sums), intervals[1])
        else:
            snips = Estimate(math.nan, *self.reward_range, math.inf)
        dr_estimate = self._estimate(sum_dr / n, mean_se(sum_dr, square_dr, n), intervals[2])
        ess = sums.ess
        max_weight = float(self._max_weight[k])
        return Evaluation(
            name=name,
            n=n,
            ips=ips,
            snips=snips,
            dr=dr_estimate,
            ess=ess,
            max_weight=max_weight,
            min_logged_p=self.min_logged_p,
            warnings=self._caveats(
                ess, max_weight, sum_w, (ips, dr_estimate), float(self._unsupported[k]) / n
            ),
        )

    def _estimate(self, value: float, std_error: float, interval: Floats) -> Estimate:
        low, high = float(interval[0]), float(interval[1])
        bottom, top = self.reward_range
        return Estimate(value, min(max(low, bottom), top), max(min(high, top), bottom), std_error)

    def _caveats(
        self,
        ess: float,
        max_weight: float,
        sum_w: float,
        unnormalised: Sequence[Estimate],
        unsupported: float,
    ) -> tuple[Caveat, ...]:
        n = self.examples
        found: list[Caveat] = []
        if not self.rewarded:
            found.append(Caveat(
                "no_reward",
                f"none of the {n} records earned a reward: every estimate and interval is 0; "
                f"at 95 % the value is below about {min(1.0, 3 / max(ess, 1.0)):.2g} for a "
                "0-or-1 reward (the rule of three over the effective sample size)",
            ))  # fmt: skip
        if unsupported > UNSUPPORTED_SHARE:
            found.append(Caveat(
                "no_support",
                f"{unsupported:.1%} of the target's probability is on actions the logging policy "
                "gave probability 0 in those records (a pin, the control, a paused variant): no "
                "estimate sees what they earn there, so every one of them is biased",
            ))  # fmt: skip
        if n < 30:
            found.append(
                Caveat("few_examples", f"only {n} usable records: the intervals are rough")
            )
        if ess < self.min_ess:
            found.append(Caveat(
                "low_overlap",
                f"effective sample size {ess:.1f} of {n} records is below {self.min_ess:g}: the "
                "target rarely takes the logged actions, so the estimates rest on few records",
            ))  # fmt: skip
        if self.tiny_p:
            found.append(Caveat(
                "small_propensity",
                f"{self.tiny_p} records were logged with probability below {self.min_p:g} "
                f"(smallest {self.min_logged_p:.2g}, largest weight {max_weight:.4g}): IPS is noisy",
            ))  # fmt: skip
        if sum_w > 0 and max_weight / sum_w > HEAVY_WEIGHT_SHARE:
            found.append(Caveat(
                "heavy_weight",
                f"one record carries {max_weight / sum_w:.1%} of the total weight "
                f"(weight {max_weight:.4g}): the estimates lean on it",
            ))  # fmt: skip
        bottom, top = self.reward_range
        if any(not bottom <= e.value <= top for e in unnormalised if math.isfinite(e.value)):
            found.append(Caveat(
                "outside_range",
                f"the IPS or DR point estimate lies outside the reward range [{bottom:g}, {top:g}]: "
                "the weights are too variable for it; prefer SNIPS",
            ))  # fmt: skip
        return tuple(found)


def _logged_pmf(record: DecisionRecord) -> list[float]:
    """The logging policy's probabilities for ``record``: its pmf; without one, a decision
    logged with ``p`` = 1 took only its chosen action, and any other ``p`` says nothing of the
    rest (NaN)."""
    if record.pmf is not None:
        return list(record.pmf)
    if record.p >= 1.0:
        return [float(i == record.chosen_index) for i in range(len(record.actions))]
    return [math.nan] * len(record.actions)


def evaluate_all(
    records: Sequence[DecisionRecord],
    targets: Mapping[str, TargetPolicy],
    *,
    bucket: Bucket = full_context,
    folds: int = 2,
    prior_weight: float = 5.0,
    reward_range: tuple[float, float] | None = None,
    method: IntervalMethod = IntervalMethod(),
    min_ess: float = MIN_ESS,
    min_p: float = MIN_P,
) -> list[Evaluation]:
    """Both passes over ``records`` held in memory (one slot): fit r̂, then estimate every
    target; ranked by DR estimate, best first. ``reward_range`` defaults to
    :func:`observed_range`."""
    model = RewardModel(bucket, folds=folds, prior_weight=prior_weight)
    rewards = [r.reward for r in records if r.is_example and r.reward is not None]
    for record in records:
        model.add(record)
    if reward_range is None:
        reward_range = observed_range(min(rewards, default=0.0), max(rewards, default=0.0))
    evaluator = SlotEvaluator(
        targets, model, reward_range=reward_range, method=method, min_ess=min_ess, min_p=min_p
    )
    for record in records:
        evaluator.add(record, f"record {record.id}")
    return evaluator.results()


def evaluate(
    records: Sequence[DecisionRecord],
    target: TargetPolicy,
    *,
    name: str = "target",
    bucket: Bucket = full_context,
    reward_range: tuple[float, float] | None = None,
    method: IntervalMethod = IntervalMethod(),
) -> Evaluation:
    """:func:`evaluate_all` for one target."""
    (result,) = evaluate_all(
        records, {name: target}, bucket=bucket, reward_range=reward_range, method=method
    )
    return result
