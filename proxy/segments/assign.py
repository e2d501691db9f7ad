"""Request-time assignment: the nearest centroid of a published model, in pure Python.

numpy costs a few microseconds per call on a single 12-value vector (array creation and
dispatch), more than the arithmetic itself: a plain loop over at most a few dozen centroids is
faster for one visitor, and keeps the request path free of a numpy import. Measured in
``bench/segments_bench.py`` (``docs/benchmarks.md``).
"""

from __future__ import annotations

from collections.abc import Mapping
from operator import mul, sub

from proxy.records.segment_model import SegmentModel
from proxy.segments.vectors import FEATURES, vector_of


class Assigner:
    """A model prepared for assignment: centroids moved back to raw feature units' scale once,
    so a request only subtracts and multiplies."""

    __slots__ = ("_centroids", "_half_norms", "_inverse_scale", "_mean", "labels", "model")

    def __init__(self, model: SegmentModel) -> None:
        if model.features != FEATURES:
            raise ValueError("the model was fitted on other features than this version builds")
        self.model = model
        self.labels = model.labels
        self._mean = model.mean
        self._inverse_scale = tuple(1.0 / s for s in model.scale)
        self._centroids = model.centroids
        self._half_norms = tuple(sum(x * x for x in c) / 2 for c in model.centroids)

    def nearest(self, vector: list[float]) -> int:
        """Index of the centroid nearest to ``vector`` (raw units) in standardised space.

        ``|z - c|^2 = |z|^2 - 2 (z.c - |c|^2 / 2)``: the nearest centroid has the largest
        ``z.c - |c|^2 / 2``, one dot product per centroid (``map`` runs it in C).
        """
        centred = map(sub, vector, self._mean)
        z = list(map(mul, centred, self._inverse_scale))
        best, best_score = 0, float("-inf")
        for index, centroid in enumerate(self._centroids):
            score = sum(map(mul, z, centroid)) - self._half_norms[index]
            if score > best_score:
                best, best_score = index, score
        return best

    def assign(self, fields: Mapping[str, object]) -> str | None:
        """The cluster label of the visitor whose profile fields are in ``fields``; None for a
        visitor without a profile."""
        vector = vector_of(fields)
        return None if vector is None else self.labels[self.nearest(vector)]
