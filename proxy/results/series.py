"""A slot's counts per time bucket and variant: what the report's and the dashboard's plots
draw (exposures and CTR over time, allocation over time)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from proxy.records.results_buckets import Buckets


def series(variants: Sequence[str], buckets: Buckets) -> list[dict[str, Any]]:
    """Per bucket and variant: decisions, exposures and clicks (what the plots draw)."""
    out = []
    for index in sorted(buckets.sums):
        sums = buckets.sums[index]
        out.append(
            {
                "bucket": index,
                "variants": {
                    v: {m: sums.get(f"{v}|{m}", 0.0) for m in ("decisions", "exposures", "clicks")}
                    for v in variants
                },
            }
        )
    return out
