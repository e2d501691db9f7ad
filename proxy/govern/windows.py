"""Windowed slot metrics (pure): per-minute buckets → sums over the last 1, 5 and 60 minutes.

The store keeps one bucket per slot and minute (``received_ms // 60000``) with per-variant
counts of impressions, clicks and conversions (:mod:`proxy.store.slot_metrics`; the bucket types
are :mod:`proxy.records.slot_counts`). Everything here is arithmetic over those buckets, so rules, the guardrail and tests share one definition:

- **Sliding windows.** "The last N minutes" is ``[now - N min, now]``: the current minute's
  bucket and the N-1 before it count whole, and the bucket just before them counts by the share
  of it still inside the window (``1 - elapsed fraction of the current minute``), assuming events
  spread evenly over a minute. A window therefore always spans N minutes and a 1-minute window
  does not drop to zero at each minute boundary; the cost is that sums may be fractional.
- **Rates.** CTR = clicks / impressions, CVR = conversions / impressions (absent without
  impressions). Clicks count once per page view and slot, conversions once per event, so CVR can
  exceed 1 in odd cases; limits clamp rates to [0, 1].
- **Smoothing.** ``ctr_ema`` is an exponential moving average, alpha :data:`EMA_ALPHA` (0.3:
  the last minute weighs 30 %, the last five about 83 %), over the per-minute CTRs of the last 60
  buckets including the current one, oldest first, skipping minutes without impressions. Each
  minute is one step whatever its volume; the first value seeds the average.
- **Control limits.** The p-chart lower limit ``p - 3·sqrt(p(1-p)/n)`` (at least 0) of a rate
  ``p`` measured on ``n`` impressions: the smallest rate a sample of ``n`` from a process at ``p``
  shows in all but 0.13 % of cases.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Mapping

from proxy.records.slot_counts import HISTORY_MINUTES, MINUTE_MS, Counts, SlotWindows, minute_of

WINDOWS: Mapping[str, int] = {"1m": 1, "5m": 5, "60m": 60}  # name -> minutes
EMA_ALPHA = 0.3
SIGMAS = 3.0


def window_counts(
    per_minute: Mapping[int, Counts],
    now_ms: int,
    minutes: int,
    *,
    after_minute: int | None = None,
    only_minutes: Collection[int] | None = None,
) -> Counts:
    """The counts of the sliding window ``[now - minutes, now]`` (see the module docstring).

    ``after_minute`` drops that bucket and every older one (the evidence before a pause);
    ``only_minutes``, when given, keeps only those buckets (to compare over the same minutes).
    """
    if minutes < 1:
        raise ValueError("a window spans at least one minute")
    now_minute = minute_of(now_ms)
    oldest_weight = 1.0 - (now_ms % MINUTE_MS) / MINUTE_MS
    impressions = clicks = conversions = 0.0
    for minute, counts in per_minute.items():
        age = now_minute - minute
        if (
            not 0 <= age <= minutes
            or (after_minute is not None and minute <= after_minute)
            or (only_minutes is not None and minute not in only_minutes)
        ):
            continue
        weight = 1.0 if age < minutes else oldest_weight
        impressions += counts.impressions * weight
        clicks += counts.clicks * weight
        conversions += counts.conversions * weight
    return Counts(impressions, clicks, conversions)


def ema(values: Iterable[float], alpha: float = EMA_ALPHA) -> float | None:
    """Exponential moving average of ``values``, oldest first; ``None`` for no values."""
    if not 0.0 < alpha <= 1.0:
        raise ValueError("alpha must be in (0, 1]")
    average: float | None = None
    for value in values:
        average = value if average is None else alpha * value + (1.0 - alpha) * average
    return average


def ctr_ema(
    per_minute: Mapping[int, Counts],
    now_ms: int,
    *,
    minutes: int = HISTORY_MINUTES,
    alpha: float = EMA_ALPHA,
) -> float | None:
    """The EMA of the per-minute CTRs of the last ``minutes`` buckets (the current one included)."""
    now_minute = minute_of(now_ms)
    recent = sorted(
        (minute, counts)
        for minute, counts in per_minute.items()
        if now_minute - minutes < minute <= now_minute and counts.impressions > 0
    )
    return ema((counts.clicks / counts.impressions for _, counts in recent), alpha)


def lower_control_limit(p: float, n: float, sigmas: float = SIGMAS) -> float:
    """The p-chart lower limit of rate ``p`` (clamped to [0, 1]) for a sample of ``n`` (> 0)."""
    if n <= 0:
        raise ValueError("a control limit needs a sample")
    p = min(max(p, 0.0), 1.0)
    return max(0.0, p - sigmas * math.sqrt(p * (1.0 - p) / n))


def metric_fields(slot: str, windows: SlotWindows, now_ms: int) -> dict[str, float]:
    """Context fields for rule conditions, for every variant with recent buckets.

    ``metric.<slot>.<variant>.<measure>_<window>`` for ``impressions``, ``clicks``,
    ``conversions``, ``ctr`` and ``cvr`` over ``1m``, ``5m`` and ``60m`` (rates absent without
    impressions); ``ctr_ema``; ``ctr_lcl_5m`` and ``ctr_lcl_60m``, the lower control limit of the
    variant's own CTR for its own sample (absent without impressions), for relative thresholds
    such as ``metric.hero.b.ctr_5m < metric.hero.a.ctr_lcl_5m``.
    """
    fields: dict[str, float] = {}
    for variant, per_minute in windows.counts.items():
        prefix = f"metric.{slot}.{variant}."
        for name, minutes in WINDOWS.items():
            counts = window_counts(per_minute, now_ms, minutes)
            fields[f"{prefix}impressions_{name}"] = counts.impressions
            fields[f"{prefix}clicks_{name}"] = counts.clicks
            fields[f"{prefix}conversions_{name}"] = counts.conversions
            ctr, cvr = counts.ctr, counts.cvr
            if ctr is not None and cvr is not None:
                fields[f"{prefix}ctr_{name}"] = ctr
                fields[f"{prefix}cvr_{name}"] = cvr
                if name != "1m":
                    fields[f"{prefix}ctr_lcl_{name}"] = lower_control_limit(ctr, counts.impressions)
        smoothed = ctr_ema(per_minute, now_ms)
        if smoothed is not None:
            fields[f"{prefix}ctr_ema"] = smoothed
    return fields
