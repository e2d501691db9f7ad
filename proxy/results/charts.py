"""What the report's plots draw (pure): a slot's report → chart specs for ``dashboard_js``.

A spec is plain data, ``{"id", "title", "unit": "count" | "pct", "x": [unix seconds],
"series": [{"label", "values", "lo"?, "hi"?}]}``; ``null`` where a value is undefined (a bucket
without exposures). The numbers come from the report's ``series`` (per-bucket decisions,
exposures and clicks) and the statistics core, never from the browser:

- **exposures** per variant per bucket;
- **CTR** per variant per bucket with its 95 % Beta credible interval (the report's ``ctr_ci``,
  bucket by bucket);
- **cumulative lift** of each variant over the control up to each bucket, with the report's
  delta-method interval (what ``lift_vs_control`` was at that time);
- **allocation**: each variant's share of the bucket's logged decisions (a bandit's or a split's
  allocation over time), drawn only when the slot logs decisions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from proxy.stats.binary import lift, posterior

BUCKET_S = {"hour": 3600, "day": 86_400}


def _x(series: Sequence[Mapping[str, Any]], bucket: str) -> list[int]:
    return [int(point["bucket"]) * BUCKET_S[bucket] for point in series]


def _counts(point: Mapping[str, Any], variant: str) -> tuple[int, int, float]:
    cell = point["variants"].get(variant, {})
    exposures = int(cell.get("exposures", 0.0))
    clicks = min(int(cell.get("clicks", 0.0)), exposures)
    return exposures, clicks, float(cell.get("decisions", 0.0))


def _chart(
    id: str, title: str, unit: str, slot: Mapping[str, Any], bucket: str, lines: list[Any]
) -> dict[str, Any]:
    return {
        "id": id,
        "title": title,
        "unit": unit,
        "x": _x(slot["series"], bucket),
        "series": lines,
    }


def exposures_chart(slot: Mapping[str, Any], bucket: str) -> dict[str, Any]:
    series = slot["series"]
    lines = [
        {"label": v["id"], "values": [_counts(p, v["id"])[0] for p in series]}
        for v in slot["variants"]
    ]
    return _chart("exposures", f"Exposures per {bucket}", "count", slot, bucket, lines)


def _columns(
    points: list[tuple[float | None, float | None, float | None]],
) -> dict[str, list[float | None]]:
    return {
        "values": [p[0] for p in points],
        "lo": [p[1] for p in points],
        "hi": [p[2] for p in points],
    }


def _ctr_point(exposures: int, clicks: int) -> tuple[float | None, float | None, float | None]:
    if exposures == 0:
        return None, None, None
    low, high = posterior(clicks, exposures).interval()
    return clicks / exposures, low, high


def ctr_chart(slot: Mapping[str, Any], bucket: str) -> dict[str, Any]:
    lines = []
    for variant in slot["variants"]:
        points = [_ctr_point(*_counts(p, variant["id"])[:2]) for p in slot["series"]]
        lines.append({"label": variant["id"], **_columns(points)})
    return _chart("ctr", f"CTR per {bucket} (95 % credible interval)", "pct", slot, bucket, lines)


def lift_chart(slot: Mapping[str, Any], bucket: str) -> dict[str, Any]:
    control = slot["control"]
    lines = []
    for variant in slot["variants"]:
        if variant["id"] == control:
            continue
        totals = [0, 0, 0, 0]  # control exposures, clicks; variant exposures, clicks
        points: list[tuple[float | None, float | None, float | None]] = []
        for point in slot["series"]:
            ce, cc, _ = _counts(point, control)
            ve, vc, _ = _counts(point, variant["id"])
            totals = [totals[0] + ce, totals[1] + cc, totals[2] + ve, totals[3] + vc]
            result = lift(totals[1], totals[0], totals[3], totals[2])
            ci = result.relative_ci or (None, None)
            points.append((result.relative, ci[0], ci[1]))
        lines.append({"label": variant["id"], **_columns(points)})
    title = f"Cumulative CTR lift over the control '{control}' (95 % interval)"
    return _chart("lift", title, "pct", slot, bucket, lines)


def allocation_chart(slot: Mapping[str, Any], bucket: str) -> dict[str, Any] | None:
    series = slot["series"]
    totals = [sum(_counts(p, v["id"])[2] for v in slot["variants"]) for p in series]
    if not any(totals):
        return None
    lines = [
        {
            "label": v["id"],
            "values": [
                _counts(p, v["id"])[2] / total if total else None
                for p, total in zip(series, totals, strict=True)
            ],
        }
        for v in slot["variants"]
    ]
    title = f"Allocation per {bucket} (share of logged decisions)"
    return _chart("allocation", title, "pct", slot, bucket, lines)


def slot_charts(slot: Mapping[str, Any], bucket: str) -> list[dict[str, Any]]:
    """The plots of one slot of a report whose ``period.bucket`` is ``bucket`` (hour or day)."""
    charts = [exposures_chart(slot, bucket), ctr_chart(slot, bucket)]
    if len(slot["variants"]) > 1:
        charts.append(lift_chart(slot, bucket))
    allocation = allocation_chart(slot, bucket)
    if allocation is not None:
        charts.append(allocation)
    return charts
