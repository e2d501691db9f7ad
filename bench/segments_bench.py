"""Learned segments: fitting 100,000 visitors x 12 features, and request-time assignment.

    .venv/bin/python bench/segments_bench.py [--visitors N] [--assignments N]

- ``fit``: :func:`proxy.segments.fit.fit_model` (MiniBatchKMeans for k = 2..8, silhouette on a
  2,000-visitor sample, one thread) over N planted-cluster visitors, after scikit-learn is imported
  (timed apart: once per process); the references in the same run are one plain KMeans fit (Lloyd,
  one init, at the k found, one thread) and one Lloyd step in numpy (distances of every visitor to
  8 centroids and the argmin). Target <= 5 s on one core.
- ``assign``: :meth:`proxy.segments.assign.Assigner.assign` on request contexts of 60 fields
  (the profile's and the request's), p50 and p99 of single calls; the reference is reading the
  12 feature fields with ``dict.get``. Target p50 <= 20 us.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from proxy.segments.assign import Assigner
from proxy.segments.fit import FitSettings, fit_model, one_thread
from proxy.segments.vectors import FEATURES, vector_of


def planted(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.uniform(0, 4, size=(5, len(FEATURES)))
    kinds = rng.integers(0, len(centres), size=n)
    return np.asarray(centres[kinds] + rng.normal(0, 0.4, size=(n, len(FEATURES))))


def context_of(row: np.ndarray) -> dict[str, object]:
    """A request context whose profile gives ``row`` (the log-scaled fields inverted)."""
    ctx: dict[str, object] = {f"header.x-{i}": "v" for i in range(30)}
    ctx.update({"device": "mobile", "hour": 20, "visits": 5, "path": "/", "landing": False})
    for name, value in zip(FEATURES, row.tolist(), strict=True):
        ctx[name] = float(np.expm1(value)) if name not in ("scroll", "click_rate") else value
    ctx.update({"max_scroll:home": 0.5, "max_scroll:blog": 0.7, "clicks:hero": 2})
    ctx.update({"impressions:hero": 9, "clicks.hero": 2, "max_scroll.home": 0.5})
    return ctx


def bench_fit(n: int) -> None:
    rows = planted(n)
    started = time.perf_counter()
    with one_thread():  # scikit-learn's import (seconds, once per process) measured apart
        pass
    import_s = time.perf_counter() - started
    started = time.perf_counter()
    model = fit_model(rows, previous=None, settings=FitSettings(), now_ms=0)
    fit_s = time.perf_counter() - started
    from sklearn.cluster import KMeans

    z = (rows - rows.mean(axis=0)) / rows.std(axis=0)
    with one_thread():
        started = time.perf_counter()
        KMeans(n_clusters=len(model.labels), n_init=1, random_state=0).fit(z)
        kmeans_s = time.perf_counter() - started
    centroids = rows[:8]
    started = time.perf_counter()
    ((rows[:, None, :] - centroids[None, :, :]) ** 2).sum(axis=2).argmin(axis=1)
    step_s = time.perf_counter() - started
    print(
        f"fit {n:,} x {len(FEATURES)}: {fit_s:.2f} s (k={len(model.labels)}, silhouette "
        f"{model.silhouette:.2f}; importing scikit-learn before it {import_s:.2f} s); one plain "
        f"KMeans fit at that k {kmeans_s:.2f} s, ratio {fit_s / kmeans_s:.1f}x; one numpy "
        f"Lloyd step {step_s * 1000:.1f} ms, ratio {fit_s / step_s:.0f}x"
    )


def bench_assign(n: int) -> None:
    rows = planted(20_000, seed=1)
    model = fit_model(rows, previous=None, settings=FitSettings(k_min=8, k_max=8), now_ms=0)
    assigner = Assigner(model)
    contexts = [context_of(rows[i % len(rows)]) for i in range(n)]
    times: list[float] = []
    clock = time.perf_counter_ns
    for ctx in contexts:
        started = clock()
        assigner.assign(ctx)
        times.append((clock() - started) / 1000)
    reference: list[float] = []
    for ctx in contexts:
        started = clock()
        [ctx.get(name) for name in FEATURES]
        reference.append((clock() - started) / 1000)
    assert vector_of(contexts[0]) is not None
    p50, p99 = statistics.median(times), statistics.quantiles(times, n=100)[98]
    ref = statistics.median(reference)
    print(
        f"assign (k=8, {len(FEATURES)} features, 60-field context): p50 {p50:.1f} us, "
        f"p99 {p99:.1f} us; reading the 12 fields p50 {ref:.2f} us; ratio {p50 / ref:.0f}x"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--visitors", type=int, default=100_000)
    parser.add_argument("--assignments", type=int, default=20_000)
    args = parser.parse_args()
    bench_fit(args.visitors)
    bench_assign(args.assignments)


if __name__ == "__main__":
    main()
