"""A streaming bootstrap: resampled column sums over a log read once, in flat memory.

The classic bootstrap redraws *n* records with replacement, so it needs them all at hand. The
**online bootstrap** instead gives every record an independent random weight per resample as it
streams past (Oza & Russell 2001; Chamandy, Muralidharan, Najmi & Naidu, "Estimating uncertainty
for massive data streams", Google, 2012) and keeps, per resample, only the weighted sums of a few
columns. Weights are **double-or-nothing** (0 or 2, each with probability ½; Owen & Eckles,
"Bootstrapping data arrays of arbitrary order", Ann. Appl. Stat. 2012): mean 1 and variance 1
like the Poisson(1) weights that approximate resampling, and drawn from random bits, which is
what makes 200 resamples of a million records cheap.

A ratio of resampled sums (``Σ W·w·r / Σ W·w`` for SNIPS, ``Σ W·t / Σ W`` for a mean) is then one
bootstrap replicate of the estimate; the replicates' percentiles are the interval. Seeded: the
same log and seed give the same interval.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

RESAMPLES = 200
Floats = npt.NDArray[np.float64]


class StreamingBootstrap:
    """``resamples`` weighted sums of ``columns`` columns, fed in row blocks."""

    def __init__(self, columns: int, *, resamples: int = RESAMPLES, seed: int = 0) -> None:
        if resamples < 2:
            raise ValueError("resamples must be at least 2")
        self.resamples = resamples
        self.rows = 0
        self._rng = np.random.default_rng(seed)
        self._sums: Floats = np.zeros((resamples, columns))

    def add(self, block: Floats) -> None:
        """Add a block of rows (shape ``(rows, columns)``) to every resample's sums."""
        rows = block.shape[0]
        if rows == 0:
            return
        packed = self._rng.integers(0, 256, size=(self.resamples, (rows + 7) // 8), dtype=np.uint8)
        bits = np.unpackbits(packed, axis=1, count=rows)
        self._sums += 2.0 * (bits.astype(np.float64) @ block)
        self.rows += rows

    @property
    def sums(self) -> Floats:
        """Per resample (rows) the weighted sum of each column."""
        return self._sums


def percentile_interval(replicates: Floats, level: float) -> tuple[float, float]:
    """The equal-tailed percentile interval of the finite replicates ((-inf, inf) if none)."""
    finite = replicates[np.isfinite(replicates)]
    if finite.size == 0:
        return -np.inf, np.inf
    tail = (1.0 - level) / 2
    low, high = np.quantile(finite, [tail, 1.0 - tail])
    return float(low), float(high)


def percentile_intervals(replicates: Floats, level: float) -> Floats:
    """:func:`percentile_interval` of every column (shape ``(columns, 2)``): the columns whose
    replicates are all finite in one vectorised call, the others one by one."""
    out = np.empty((replicates.shape[1], 2))
    finite = np.isfinite(replicates).all(axis=0)
    if finite.any():
        tail = (1.0 - level) / 2
        out[finite] = np.quantile(replicates[:, finite], [tail, 1.0 - tail], axis=0).T
    for column in np.flatnonzero(~finite):
        out[column] = percentile_interval(replicates[:, column], level)
    return out
