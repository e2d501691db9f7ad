"""Weighted scores of a visitor, folded from events with half-life decay; pure functions.

Playbooks weight recency, frequency and money to say what a visitor values *now*, so old
behaviour must fade: every accumulator here is a sum of contributions each multiplied by
``0.5 ** (age / half_life)``. Decay is applied lazily: a :class:`Scores` holds its sums as of
``as_of_ms`` and :func:`decayed` brings them to a later time, which multiplies every
contribution by the same factor, so the order of events within a batch does not matter.

The profile fields (strings, as the rest of the profile; read in conditions as ``score.rfm``,
``interest.product``):

====================  ==============================================================
``score:recency``     ``0.5 ** (time since the last conversion / half-life)``, 0 if none
``score:frequency``   ``f / (f + frequency_scale)``, ``f`` the decayed count of visits
``score:monetary``    ``m / (m + monetary_scale)``, ``m`` the decayed conversion value
``score:rfm``         the weighted mean of the three (weights from the config)
``interest:<type>``   the page type's share (0..1) of the decayed interest: one point per
                      page view, one per engaged minute
====================  ==============================================================

All scores are as of the visitor's last event (like the profile's windows). They lie in [0, 1],
so a condition (``score.rfm > 0.6``) means the same for every site.
"""

from __future__ import annotations

import msgspec

from proxy.config.schema import ScoresConfig

DAY_MS = 24 * 3600 * 1000
MAX_INTERESTS = 16
DEFAULT_SCORES = ScoresConfig()


class Scores(msgspec.Struct, kw_only=True):
    """Decayed sums as of ``as_of_ms``, and the time of the last conversion."""

    as_of_ms: int = 0
    visits: float = 0.0
    value: float = 0.0
    interest: dict[str, float] = {}
    last_conversion_ms: int = 0


def _factor(elapsed_ms: int, half_life_days: float) -> float:
    return float(0.5 ** (max(0, elapsed_ms) / (half_life_days * DAY_MS)))


def decayed(scores: Scores, now_ms: int, config: ScoresConfig) -> Scores:
    """``scores`` as of ``now_ms`` (a copy; never moves back in time)."""
    elapsed = now_ms - scores.as_of_ms if scores.as_of_ms else 0
    if elapsed <= 0:
        return msgspec.structs.replace(scores, interest=dict(scores.interest))
    interest_factor = _factor(elapsed, config.interest_half_life_days)
    return Scores(
        as_of_ms=now_ms,
        visits=scores.visits * _factor(elapsed, config.frequency_half_life_days),
        value=scores.value * _factor(elapsed, config.monetary_half_life_days),
        interest={k: v * interest_factor for k, v in scores.interest.items()},
        last_conversion_ms=scores.last_conversion_ms,
    )


def add_visit(scores: Scores, now_ms: int, config: ScoresConfig) -> Scores:
    out = decayed(scores, now_ms, config)
    out.visits += 1.0
    out.as_of_ms = max(out.as_of_ms, now_ms)
    return out


def add_conversion(scores: Scores, value: float, now_ms: int, config: ScoresConfig) -> Scores:
    out = decayed(scores, now_ms, config)
    out.value += max(0.0, value)
    out.last_conversion_ms = max(out.last_conversion_ms, now_ms)
    out.as_of_ms = max(out.as_of_ms, now_ms)
    return out


def add_interest(
    scores: Scores, page_type: str, points: float, now_ms: int, config: ScoresConfig
) -> Scores:
    """``points`` more interest in ``page_type`` (at most :data:`MAX_INTERESTS` types)."""
    out = decayed(scores, now_ms, config)
    if page_type in out.interest or len(out.interest) < MAX_INTERESTS:
        out.interest[page_type] = out.interest.get(page_type, 0.0) + points
    out.as_of_ms = max(out.as_of_ms, now_ms)
    return out


def _num(value: float) -> str:
    return f"{round(value, 4):g}"


def score_fields(scores: Scores, now_ms: int, config: ScoresConfig) -> dict[str, str]:
    """The profile fields of the module docstring, as of ``now_ms``."""
    current = decayed(scores, now_ms, config)
    recency = 0.0
    if current.last_conversion_ms:
        recency = _factor(now_ms - current.last_conversion_ms, config.recency_half_life_days)
    frequency = current.visits / (current.visits + config.frequency_scale)
    monetary = current.value / (current.value + config.monetary_scale)
    weights = (config.recency_weight, config.frequency_weight, config.monetary_weight)
    rfm = (weights[0] * recency + weights[1] * frequency + weights[2] * monetary) / sum(weights)
    fields = {
        "score:recency": _num(recency),
        "score:frequency": _num(frequency),
        "score:monetary": _num(monetary),
        "score:rfm": _num(rfm),
    }
    total = sum(current.interest.values())
    if total > 0:
        fields.update({f"interest:{k}": _num(v / total) for k, v in current.interest.items()})
    return fields
