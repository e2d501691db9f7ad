"""Fitting learned segments: planted clusters recovered, labels stable across refits, bad input."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score

from proxy.records.segment_model import decode_model, encode_model
from proxy.segments.assign import Assigner
from proxy.segments.fit import FitSettings, TooFewVisitors, describe, fit_model
from proxy.segments.vectors import FEATURES
from tests.segments.synthetic import TYPES, matrix, profiles

T0 = 1_732_250_000_000
ROOT = Path(__file__).resolve().parents[2]


def test_planted_clusters_are_recovered() -> None:
    fields, truth = profiles(4000, seed=1)
    model = fit_model(matrix(fields), previous=None, settings=FitSettings(), now_ms=T0)
    assert len(model.labels) == len(TYPES)  # the silhouette chose the planted k
    assigner = Assigner(model)
    found = [assigner.assign(f) for f in fields]
    assert adjusted_rand_score(truth, found) >= 0.9
    assert sum(model.sizes) == model.visitors == 4000
    # the reader cluster is described by what sets it apart
    readers = found[truth.index(1)]
    description = model.descriptions[model.labels.index(readers)]
    assert "(high" in description


def test_a_cluster_is_described_in_the_profile_s_units() -> None:
    """Counts are clustered as log1p: a cluster of one purchase of 20 reads "conversions 1,
    conversion_value 20" (it read 0.693 and 3.04), and one without any reads 0 (it read
    -2.42e-15, the standardised 0 moved back)."""
    n = len(FEATURES)
    conversions, value = FEATURES.index("conversions"), FEATURES.index("conversion_value")
    mean, scale = np.zeros(n), np.ones(n)
    mean[conversions], scale[conversions] = 0.3, 0.1
    buyers = np.zeros(n)
    buyers[conversions] = (np.log1p(1) - 0.3) / 0.1
    buyers[value] = np.log1p(20)
    assert describe(buyers, mean, scale, 2) == (
        "conversions 1 (high, +3.9 sd), conversion_value 20 (high, +3.0 sd)"
    )
    others = np.zeros(n)
    others[conversions] = (0.0 - 0.3) / 0.1 - 1e-15
    assert describe(others, mean, scale, 1) == "conversions 0 (low, -3.0 sd)"


def test_labels_stay_the_same_across_refits_with_new_visitors() -> None:
    fields, _ = profiles(4000, seed=2)
    settings = FitSettings()
    first = fit_model(matrix(fields), previous=None, settings=settings, now_ms=T0)
    new, _ = profiles(200, seed=3)  # 5 % new visitors
    second = fit_model(matrix(fields + new), previous=first, settings=settings, now_ms=T0 + 1)
    new2, _ = profiles(200, seed=4)
    third = fit_model(matrix(fields + new + new2), previous=second, settings=settings, now_ms=T0)
    assert second.version == 2 and third.version == 3
    for model in (second, third):
        before, after = Assigner(first), Assigner(model)
        assert [before.assign(f) for f in fields] == [after.assign(f) for f in fields]
        assert sorted(model.labels) == sorted(first.labels)


def test_a_cluster_that_moved_far_gets_a_new_label() -> None:
    fields, truth = profiles(3000, seed=5)
    settings = FitSettings(k_min=4, k_max=4)
    first = fit_model(matrix(fields), previous=None, settings=settings, now_ms=T0)
    # the buyers leave; k stays 4, so one cluster must form elsewhere, far from any old one
    buyers_gone = [f for f, t in zip(fields, truth, strict=True) if t != 2]
    second = fit_model(matrix(buyers_gone), previous=first, settings=settings, now_ms=T0)
    assert len(set(second.labels) - set(first.labels)) >= 1
    assert second.next_label > first.next_label


def test_too_few_visitors_is_a_clear_refusal() -> None:
    fields, _ = profiles(50, seed=7)
    with pytest.raises(TooFewVisitors, match="50 visitors with a profile; at least 200"):
        fit_model(matrix(fields), previous=None, settings=FitSettings(), now_ms=T0)


@pytest.mark.parametrize("method", ["dbscan", "hdbscan"])
def test_density_methods_publish_centroids(method: str) -> None:
    fields, truth = profiles(3000, seed=8)
    settings = FitSettings(method=method, density_sample=3000)  # type: ignore[arg-type]
    model = fit_model(matrix(fields), previous=None, settings=settings, now_ms=T0)
    assert model.method == method
    found = [Assigner(model).assign(f) for f in fields]
    assert adjusted_rand_score(truth, found) >= 0.8


def test_the_model_round_trips_through_its_codec() -> None:
    fields, _ = profiles(1000, seed=9)
    model = fit_model(matrix(fields), previous=None, settings=FitSettings(), now_ms=T0)
    assert decode_model(encode_model(model)) == model


def test_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="k_min"):
        FitSettings(k_min=1)
    assert np.isfinite(FitSettings().match_radius)


def test_the_fit_limits_openmp_even_when_scikit_learn_was_not_imported_yet() -> None:
    """threadpoolctl limits only the runtimes already loaded; a fresh interpreter that has not
    imported scikit-learn must still get one OpenMP thread inside the fit's limit."""
    script = (
        "import sys\n"
        "from proxy.segments.fit import one_thread\n"
        "assert 'sklearn' not in sys.modules\n"
        "from threadpoolctl import threadpool_info\n"
        "with one_thread():\n"
        "    pools = [p for p in threadpool_info() if p['user_api'] == 'openmp']\n"
        "    assert pools and all(p['num_threads'] == 1 for p in pools), pools\n"
        "print('ok')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, check=False
    )
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr
