"""The plots' data: per-bucket CTR intervals against scipy's Beta quantiles, cumulative lift
against a log-ratio interval computed here by hand, allocation shares."""

from __future__ import annotations

import math
from typing import Any

import pytest
from scipy import stats

from proxy.results.charts import slot_charts

# per bucket and variant: decisions, exposures, clicks
BUCKETS = {
    100: {"a": (60, 50, 5), "b": (40, 30, 6)},
    101: {"a": (0, 0, 0), "b": (10, 10, 0)},
    102: {"a": (55, 50, 10), "b": (45, 40, 12)},
}


def slot() -> dict[str, Any]:
    series = [
        {
            "bucket": index,
            "variants": {
                v: {"decisions": float(d), "exposures": float(e), "clicks": float(c)}
                for v, (d, e, c) in cells.items()
            },
        }
        for index, cells in BUCKETS.items()
    ]
    variants = [{"id": "a"}, {"id": "b"}]
    return {"control": "a", "variants": variants, "series": series}


def charts() -> dict[str, dict[str, Any]]:
    return {c["id"]: c for c in slot_charts(slot(), "hour")}


def test_every_chart_has_one_x_per_bucket_in_unix_seconds() -> None:
    found = charts()
    assert set(found) == {"exposures", "ctr", "lift", "allocation"}
    for chart in found.values():
        assert chart["x"] == [100 * 3600, 101 * 3600, 102 * 3600]
        for line in chart["series"]:
            assert len(line["values"]) == 3


def test_ctr_interval_is_the_beta_posteriors_equal_tailed_interval() -> None:
    (a, b) = charts()["ctr"]["series"]
    assert a["values"][1] is None and a["lo"][1] is None  # no exposures: undefined
    for line, variant in ((a, "a"), (b, "b")):
        for i, cells in enumerate(BUCKETS.values()):
            _, exposures, clicks = cells[variant]
            if exposures == 0:
                continue
            reference = stats.beta(1 + clicks, 1 + exposures - clicks)
            assert line["values"][i] == pytest.approx(clicks / exposures)
            assert line["lo"][i] == pytest.approx(reference.ppf(0.025), rel=1e-9)
            assert line["hi"][i] == pytest.approx(reference.ppf(0.975), rel=1e-9)


def test_cumulative_lift_is_the_lift_of_the_sums_so_far() -> None:
    (b,) = charts()["lift"]["series"]
    # after the last bucket: control 15/100, b 18/80
    pc, pv = 15 / 100, 18 / 80
    se = math.sqrt((1 - pc) / 15 + (1 - pv) / 18)
    z = stats.norm.ppf(0.975)
    assert b["values"][-1] == pytest.approx(pv / pc - 1)
    assert b["lo"][-1] == pytest.approx(math.exp(math.log(pv / pc) - z * se) - 1)
    assert b["hi"][-1] == pytest.approx(math.exp(math.log(pv / pc) + z * se) - 1)
    assert b["values"][0] == pytest.approx((6 / 30) / (5 / 50) - 1)


def test_allocation_is_the_share_of_each_buckets_decisions() -> None:
    a, b = charts()["allocation"]["series"]
    assert a["values"] == [0.6, 0.0, 0.55]
    assert b["values"] == [0.4, 1.0, 0.45]


def test_no_allocation_chart_without_logged_decisions() -> None:
    data = slot()
    for point in data["series"]:
        for cell in point["variants"].values():
            cell["decisions"] = 0.0
    assert "allocation" not in {c["id"] for c in slot_charts(data, "day")}
