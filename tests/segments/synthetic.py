"""Synthetic visitor profiles with planted behaviour types, for the segment tests and bench."""

from __future__ import annotations

import numpy as np

from proxy.segments.vectors import vector_of

# (visits_30d, pageviews, engaged_s, scroll, click_rate, conversions, value, recency) centres
TYPES: tuple[tuple[float, ...], ...] = (
    (1, 2, 20, 0.2, 0.0, 0, 0, 0.0),  # bounced
    (12, 80, 3000, 0.9, 0.05, 0, 0, 0.0),  # reader
    (6, 30, 600, 0.5, 0.3, 4, 400, 0.8),  # buyer
    (3, 10, 150, 0.4, 0.6, 0, 0, 0.0),  # clicker
)


def profiles(n: int, seed: int) -> tuple[list[dict[str, str]], list[int]]:
    """``n`` profiles as the profile hash stores them, and the planted type of each."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, len(TYPES), size=n)
    out: list[dict[str, str]] = []
    for kind in truth:
        visits, views, engaged, scroll, rate, conv, value, recency = TYPES[int(kind)]
        jitter = rng.lognormal(0.0, 0.25, size=4)
        impressions = max(1, round(views * 0.5))
        fields = {
            "visits": str(round(visits * jitter[0]) + 1),
            "visits_7d": str(round(visits * jitter[0] / 4)),
            "visits_30d": str(round(visits * jitter[0])),
            "pageviews": str(round(views * jitter[1])),
            "engaged_s": f"{engaged * jitter[2]:.1f}",
            "engaged_ema": f"{engaged * jitter[2] / max(1.0, views):.1f}",
            "max_scroll:home": f"{min(1.0, max(0.0, scroll + rng.normal(0, 0.05))):.2f}",
            "impressions:hero": str(impressions),
            "clicks:hero": str(round(impressions * min(1.0, max(0.0, rate + rng.normal(0, 0.03))))),
            "conversions": str(round(conv * jitter[3])),
            "conversion_value": f"{value * jitter[3]:.2f}",
            "score:recency": f"{min(1.0, max(0.0, recency + rng.normal(0, 0.05))):.3f}",
            "score:frequency": f"{visits / (visits + 3):.3f}",
            "score:monetary": f"{value / (value + 100):.3f}",
        }
        out.append(fields)
    return out, [int(t) for t in truth]


def matrix(fields: list[dict[str, str]]) -> np.ndarray:
    rows = [vector_of(f) for f in fields]
    return np.asarray([r for r in rows if r is not None], dtype=np.float64)
