"""Request-time assignment: the nearest centroid of a published model, in pure Python.

numpy costs a few microseconds per call on a single 12-value vector (array creation and
dispatch), more than the arithmetic itself: a plain loop over at most a few dozen centroids is
faster for one visitor, and keeps the request path free of a numpy import. Measured in
``bench/segments_bench.py`` (``docs/benchmarks.md``).
"""

from __future__ import annotations

from collections.abc import Mapping

from proxy.records.segment_model import SegmentModel
from proxy.segments.vectors import FEATURES, vector_of


class Assigner:
    """A model prepared for assignment: centroids moved back to raw feature units' scale once,
    so a request only subtracts and multiplies."""

    __slots__ = ("_centroids", "_inverse_scale", "_mean", "labels", "model")

    def __init__(self, model: SegmentModel) -> None:
        if model.features != FEATURES:
            raise ValueError("the model was fitted on other features than this version builds")
        self.model = model
        self.labels = model.labels
        self._mean = model.mean
        self._inverse_scale = tuple(1.0 / s for s in model.scale)
        self._centroids = model.centroids

    def nearest(self, vector: list[float]) -> int:
        """Index of the centroid nearest to ``vector`` (raw units) in standardised space."""
        z = [(x - m) * s for x, m, s in zip(vector, self._mean, self._inverse_scale, strict=True)]
        best, best_distance = 0, float("inf")
        for index, centroid in enumerate(self._centroids):
            distance = 0.0
            for a, b in zip(z, centroid, strict=True):
                distance += (a - b) * (a - b)
            if distance < best_distance:
                best, best_distance = index, distance
        return best

    def assign(self, fields: Mapping[str, object]) -> str | None:
        """The cluster label of the visitor whose profile fields are in ``fields``; None for a
        visitor without a profile."""
        vector = vector_of(fields)
        return None if vector is None else self.labels[self.nearest(vector)]
