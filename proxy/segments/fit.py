"""Fitting learned segments: standardise, cluster, choose k, keep labels, describe.

**Standardise.** Every feature to mean 0 and standard deviation 1 over the fitted visitors (a
constant feature gets scale 1), so no unit dominates the distance.

**Cluster.** ``kmeans``: scikit-learn's MiniBatchKMeans for every k in ``[k_min, k_max]``.
``dbscan`` / ``hdbscan``: density clustering on a sample (they are quadratic or worse), for
shapes K-means misses; their clusters become centroids (the mean of each cluster, noise left
out), so the published model and request-time assignment are the same for every method.

**Choose k** (the documented criterion): each k is fitted on a random sample of at most
``choose_sample`` visitors and scored by the mean silhouette coefficient on at most
``silhouette_sample`` of them, highest wins; ties to the smaller k. The chosen k is then fitted
on every visitor, started from the sample's centroids. For stability, the
previous model's k is kept unless another k beats its silhouette by more than
``keep_k_margin`` — a refit on slightly different visitors should not reshuffle the segments
over a difference that is noise.

**Stable labels.** New centroids are matched to the previous model's (both in the new
standardised space) by the Hungarian assignment of least total distance
(``scipy.optimize.linear_sum_assignment``); a match closer than ``match_radius`` inherits the
old label, every other new centroid gets a fresh one (``c<n>``, never reused). With the same k,
K-means is started from the previous centroids, so refits converge to the same partition.

**Describe.** Each cluster by its ``describe_top`` most distinctive features: the largest
standardised centroid coordinates in absolute value, with the cluster's mean in the profile's
units (``engaged_s 600 (high)``): a count, kept as log1p (:mod:`proxy.segments.vectors`), is
moved back (``expm1`` of the mean log: a geometric mean), and no feature is below 0.
"""

from __future__ import annotations

import math
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import linear_sum_assignment
from threadpoolctl import threadpool_limits

from proxy.records.segment_model import SegmentModel
from proxy.segments.vectors import FEATURES, LOG1P_FEATURES

Method = Literal["kmeans", "dbscan", "hdbscan"]
Matrix = NDArray[np.float64]


class TooFewVisitors(ValueError):
    """Not enough profiles to fit; the previous model stays."""


@dataclass(frozen=True, slots=True)
class FitSettings:
    k_min: int = 2
    k_max: int = 8
    method: Method = "kmeans"
    min_visitors: int = 200
    silhouette_sample: int = 2000
    choose_sample: int = 20_000
    density_sample: int = 5000
    keep_k_margin: float = 0.02
    match_radius: float = 1.5
    describe_top: int = 3
    seed: int = 0

    def __post_init__(self) -> None:
        if not 2 <= self.k_min <= self.k_max <= 64:
            raise ValueError("k needs 2 <= k_min <= k_max <= 64")


@dataclass(frozen=True, slots=True)
class Clustering:
    centroids: Matrix  # standardised, one row per cluster
    assignment: NDArray[np.intp]  # per fitted row (-1: noise, density methods only)
    silhouette: float | None


def one_thread() -> AbstractContextManager[object]:
    """A context in which scikit-learn's OpenMP loops and BLAS use one thread.

    The fit runs beside the proxy's workers, and OpenMP threads spinning on a busy machine made
    MiniBatchKMeans 7-20x slower than one thread (measured on 2 shared cores). threadpoolctl
    limits only the libraries loaded when the limit is set, so scikit-learn (which brings its
    OpenMP runtime) is imported first: before that import the limit missed OpenMP entirely,
    and a fit of 100,000 visitors took 9.2 s instead of 1.2 s.
    """
    import sklearn.cluster
    import sklearn.metrics  # noqa: F401  (loads the runtimes the fit uses, so they are limited)

    limit: AbstractContextManager[object] = threadpool_limits(limits=1)
    return limit


def standardise(rows: Matrix) -> tuple[Matrix, Matrix]:
    mean = rows.mean(axis=0)
    scale = rows.std(axis=0)
    scale[scale <= 1e-12] = 1.0
    return mean, scale


def _silhouette(z: Matrix, assignment: NDArray[np.intp], settings: FitSettings) -> float | None:
    from sklearn.metrics import silhouette_score

    keep = assignment >= 0
    if len(set(assignment[keep].tolist())) < 2:
        return None
    sample = min(settings.silhouette_sample, int(keep.sum()))
    return float(
        silhouette_score(z[keep], assignment[keep], sample_size=sample, random_state=settings.seed)
    )


def _kmeans(z: Matrix, k: int, init: Matrix | None, settings: FitSettings) -> Clustering:
    from sklearn.cluster import MiniBatchKMeans

    model = MiniBatchKMeans(
        n_clusters=k,
        init=init if init is not None else "k-means++",
        n_init=1 if init is not None else 3,
        batch_size=4096,
        random_state=settings.seed,
    )
    assignment = model.fit_predict(z)
    return Clustering(model.cluster_centers_, assignment, _silhouette(z, assignment, settings))


def _density(z: Matrix, settings: FitSettings) -> Clustering:
    from sklearn.cluster import DBSCAN, HDBSCAN

    rng = np.random.default_rng(settings.seed)
    rows = rng.choice(len(z), size=min(settings.density_sample, len(z)), replace=False)
    sample = z[rows]
    if settings.method == "hdbscan":
        found = HDBSCAN(min_cluster_size=max(5, len(sample) // 100), copy=True).fit_predict(sample)
    else:
        found = DBSCAN(eps=0.5, min_samples=max(5, len(sample) // 200)).fit_predict(sample)
    ids = sorted(set(found.tolist()) - {-1})
    if not ids:
        raise TooFewVisitors("density clustering found no cluster (everything is noise)")
    centroids = np.stack([sample[found == i].mean(axis=0) for i in ids])
    return Clustering(centroids, _nearest(z, centroids), _silhouette(sample, found, settings))


def _nearest(z: Matrix, centroids: Matrix) -> NDArray[np.intp]:
    distances = ((z[:, None, :] - centroids[None, :, :]) ** 2).sum(axis=2)
    return np.asarray(distances.argmin(axis=1), dtype=np.intp)


def _previous_in(previous: SegmentModel | None, mean: Matrix, scale: Matrix) -> Matrix | None:
    """The previous centroids moved into the new standardised space (None if not comparable)."""
    if previous is None or previous.features != FEATURES:
        return None
    raw = np.asarray(previous.centroids) * np.asarray(previous.scale) + np.asarray(previous.mean)
    return np.asarray((raw - mean) / scale, dtype=np.float64)


def _choose(z: Matrix, old: Matrix | None, settings: FitSettings) -> Clustering:
    """k chosen on a sample of at most ``choose_sample`` visitors; the chosen k is then fitted
    on all of them, started from the sample's centroids (the sample's partition, refined)."""
    if settings.method != "kmeans":
        return _density(z, settings)
    keep_k = len(old) if old is not None and settings.k_min <= len(old) <= settings.k_max else None
    sample = z
    if len(z) > settings.choose_sample:
        rng = np.random.default_rng(settings.seed)
        sample = z[rng.choice(len(z), size=settings.choose_sample, replace=False)]
    tried: dict[int, Clustering] = {}
    for k in range(settings.k_min, min(settings.k_max, len(sample) - 1) + 1):
        tried[k] = _kmeans(sample, k, old if k == keep_k else None, settings)

    def score(k: int) -> float:
        value = tried[k].silhouette
        return -1.0 if value is None else value

    best = max(tried, key=lambda k: (score(k), -k))
    if (
        keep_k is not None
        and keep_k in tried
        and score(best) - score(keep_k) <= settings.keep_k_margin
    ):
        best = keep_k
    if sample is z:
        return tried[best]
    final = _kmeans(z, best, tried[best].centroids, settings)
    return Clustering(final.centroids, final.assignment, tried[best].silhouette)


def _labels(
    centroids: Matrix, old: Matrix | None, previous: SegmentModel | None, settings: FitSettings
) -> tuple[list[str], int]:
    next_label = previous.next_label if previous is not None else 1
    labels: list[str | None] = [None] * len(centroids)
    if old is not None and previous is not None:
        cost = np.sqrt(((centroids[:, None, :] - old[None, :, :]) ** 2).sum(axis=2))
        for new, was in zip(*linear_sum_assignment(cost), strict=True):
            if cost[new, was] <= settings.match_radius:
                labels[new] = previous.labels[was]
    out: list[str] = []
    for label in labels:
        if label is None:
            label = f"c{next_label}"
            next_label += 1
        out.append(label)
    return out, next_label


def describe(centroid_z: Matrix, mean: Matrix, scale: Matrix, top: int) -> str:
    """The ``top`` features farthest from average in this cluster, with their values in the
    profile's units."""
    order = np.argsort(-np.abs(centroid_z), kind="stable")[:top]
    parts = []
    for i in order:
        # every feature is >= 0: a standardised 0 moved back may be -1e-15, shown as 0
        raw = round(max(0.0, float(centroid_z[i] * scale[i] + mean[i])), 9)
        if FEATURES[i] in LOG1P_FEATURES:
            raw = math.expm1(raw)  # conversions 1, conversion_value 20: not 0.693 and 3.04
        side = "high" if centroid_z[i] > 0 else "low"
        parts.append(f"{FEATURES[i]} {raw:.3g} ({side}, {centroid_z[i]:+.1f} sd)")
    return ", ".join(parts)


def fit_model(
    rows: Matrix,
    *,
    previous: SegmentModel | None,
    settings: FitSettings,
    now_ms: int,
) -> SegmentModel:
    """A new model from ``rows`` (one visitor's :func:`~proxy.segments.vectors.vector_of` each).

    Raises :class:`TooFewVisitors` below ``settings.min_visitors`` rows or when nothing
    clusters; the caller then keeps ``previous``.
    """
    if rows.ndim != 2 or rows.shape[1] != len(FEATURES):
        raise ValueError(f"rows must be n x {len(FEATURES)}")
    if len(rows) < max(settings.min_visitors, settings.k_min + 1):
        raise TooFewVisitors(
            f"{len(rows)} visitors with a profile; at least {settings.min_visitors} are needed"
        )
    mean, scale = standardise(rows)
    z = (rows - mean) / scale
    old = _previous_in(previous, mean, scale)
    with one_thread():
        clustering = _choose(z, old, settings)
    labels, next_label = _labels(clustering.centroids, old, previous, settings)
    counts = np.bincount(clustering.assignment[clustering.assignment >= 0], minlength=len(labels))
    return SegmentModel(
        version=(previous.version + 1) if previous is not None else 1,
        created_ms=now_ms,
        method=settings.method,
        features=FEATURES,
        mean=tuple(float(x) for x in mean),
        scale=tuple(float(x) for x in scale),
        labels=tuple(labels),
        centroids=tuple(tuple(float(x) for x in c) for c in clustering.centroids),
        sizes=tuple(int(c) for c in counts),
        descriptions=tuple(
            describe(c, mean, scale, settings.describe_top) for c in clustering.centroids
        ),
        visitors=len(rows),
        next_label=next_label,
        silhouette=clustering.silhouette,
    )
