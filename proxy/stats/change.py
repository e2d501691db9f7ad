"""Has a stream's mean fallen? The Bernoulli GLR change-point test, watched after every block.

A bandit that has learned a world keeps serving what was best; when the world changes, what it
serves earns less, and the rewards it realises fall. :class:`DropDetector` watches such a stream
of values in ``[0, 1]`` (rewards scaled to the slot's range) with the generalised likelihood
ratio test of Besson, Kaufmann, Maillard and Seznec ("Efficient change-point detection for
tackling piecewise-stationary bandits", JMLR 23, 2022; the detector of GLR-klUCB). After ``t``
values since the last restart, for every split ``s``::

    GLR(s, t) = s · kl(μ̂₁..ₛ, μ̂₁..ₜ) + (t − s) · kl(μ̂ₛ₊₁..ₜ, μ̂₁..ₜ)

(``kl`` the Bernoulli divergence, μ̂ the means of the values before the split, after it, and
of all), which is the log-likelihood ratio of "the mean changed at ``s``" against "it did not"
for 0/1 values. A change is declared when some split's ratio exceeds
``β(t, δ) = ln(3 t^{3/2} / δ)``, the threshold the paper recommends for a false alarm
probability of about ``δ`` over the whole stream, however long (a union over every pair
``(s, t)``): it grows with ``t``, so watching longer does not wear the guarantee down.
Chernoff's bound in Bernoulli divergence holds for any variable in ``[0, 1]``, so rewards need
not be 0/1. ``tests/stats/test_change.py`` checks the ratio against scipy's likelihoods and the
false alarm rate in seeded streams.

What this detector adds to the paper's, and why:

- **One-sided.** Only a split where the mean *after* is lower counts. A bandit's rewards rise as
  it learns (its exploration fades) — the two-sided test would call that a change and restart a
  model that is doing well. Ignoring rises only removes alarms.
- **Blocks.** Splits are tried, and the test run, once per ``block`` values (the paper's
  ``Δs = Δn`` down-sampling), over per-block counts and sums: memory and time per check grow
  with the number of blocks, not values. Past ``max_blocks`` the two oldest merge, so the
  oldest splits grow coarse and memory stays bounded. Fewer splits can only lower the maximum:
  the false alarm bound stands.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

_EDGE = 1e-12  # keeps kl finite at means of exactly 0 or 1


@dataclass(frozen=True, slots=True)
class Drop:
    """A detected fall: the mean went from ``before`` to ``after`` ``seen - at`` values ago."""

    at: int  # values since the restart before the change point
    seen: int  # values since the restart when it was detected
    before: float
    after: float
    statistic: float  # the largest GLR over the splits
    threshold: float  # β(seen, δ)


def bernoulli_kl(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """``kl(p, q) = p ln(p/q) + (1-p) ln((1-p)/(1-q))``, elementwise, means clipped into (0, 1)."""
    p = np.clip(p, _EDGE, 1.0 - _EDGE)
    q = np.clip(q, _EDGE, 1.0 - _EDGE)
    result: np.ndarray = p * np.log(p / q) + (1.0 - p) * np.log((1.0 - p) / (1.0 - q))
    return result


def glr_threshold(seen: int, false_alarm: float) -> float:
    """``β(t, δ) = ln(3 t^{3/2} / δ)`` (Besson et al. 2022)."""
    return math.log(3.0 * seen**1.5 / false_alarm)


def drop_statistics(counts: np.ndarray, sums: np.ndarray) -> np.ndarray:
    """The GLR of a fall at each block boundary (0 where the mean after is not lower).

    ``counts[i]``, ``sums[i]``: block ``i``'s number of values and their sum; the result has one
    entry per boundary between consecutive blocks.
    """
    total_n, total_s = float(counts.sum()), float(sums.sum())
    n1 = np.cumsum(counts)[:-1].astype(float)
    s1 = np.cumsum(sums)[:-1]
    n2 = total_n - n1
    mean1, mean2 = s1 / n1, (total_s - s1) / n2
    pooled = np.full_like(mean1, total_s / total_n)
    glr = n1 * bernoulli_kl(mean1, pooled) + n2 * bernoulli_kl(mean2, pooled)
    result: np.ndarray = np.where(mean2 < mean1, glr, 0.0)
    return result


class DropDetector:
    """Watches values in ``[0, 1]`` for a fall of their mean (see the module docstring).

    ``false_alarm`` is δ, the chance of an alarm on a stream whose mean never falls. Not
    thread-safe; state is plain lists of per-block counts and sums.
    """

    def __init__(
        self, *, false_alarm: float = 1e-3, block: int = 20, max_blocks: int = 400
    ) -> None:
        if not 0.0 < false_alarm < 1.0:
            raise ValueError(f"false_alarm {false_alarm} outside (0, 1)")
        if block < 1 or max_blocks < 2:
            raise ValueError("need block >= 1 and max_blocks >= 2")
        self.false_alarm = false_alarm
        self.block = block
        self.max_blocks = max_blocks
        self.restart()

    def restart(self) -> None:
        """Forget everything: the next value is the first of a new stream."""
        self.seen = 0
        self._counts: list[int] = []
        self._sums: list[float] = []
        self._open_count = 0
        self._open_sum = 0.0

    def observe(self, value: float) -> Drop | None:
        """Take one value (clipped into ``[0, 1]``); the fall it completes, if any.

        The detector does not restart itself: the caller decides what a fall means.
        """
        self.seen += 1
        self._open_count += 1
        self._open_sum += min(1.0, max(0.0, value))
        if self._open_count < self.block:
            return None
        self._counts.append(self._open_count)
        self._sums.append(self._open_sum)
        self._open_count, self._open_sum = 0, 0.0
        if len(self._counts) > self.max_blocks:
            self._counts[:2] = [self._counts[0] + self._counts[1]]
            self._sums[:2] = [self._sums[0] + self._sums[1]]
        return self._check()

    def _check(self) -> Drop | None:
        if len(self._counts) < 2:
            return None
        counts = np.asarray(self._counts, dtype=float)
        sums = np.asarray(self._sums, dtype=float)
        statistics = drop_statistics(counts, sums)
        best = int(np.argmax(statistics))
        threshold = glr_threshold(int(counts.sum()), self.false_alarm)
        if statistics[best] <= threshold:
            return None
        at = int(counts[: best + 1].sum())
        before = float(sums[: best + 1].sum()) / at
        after = float(sums[best + 1 :].sum()) / float(counts[best + 1 :].sum())
        return Drop(
            at=at,
            seen=self.seen,
            before=before,
            after=after,
            statistic=float(statistics[best]),
            threshold=threshold,
        )
