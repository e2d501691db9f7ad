"""Weighted scores with half-life decay: hand-computed values, and the decay's invariants."""

from __future__ import annotations

import math

import pytest

from proxy.config.schema import ScoresConfig
from proxy.records.event_record import EventRecord
from proxy.records.events import Conversion, Engaged, PageView
from proxy.tracker.profile_update import ProfileState, apply, profile_fields
from proxy.tracker.scores import (
    DAY_MS,
    Scores,
    add_conversion,
    add_interest,
    add_visit,
    decayed,
    score_fields,
)

T0 = 1_732_250_000_000
CONFIG = ScoresConfig()


def test_a_visit_halves_after_one_half_life() -> None:
    scores = add_visit(Scores(), T0, CONFIG)
    later = decayed(scores, T0 + round(CONFIG.frequency_half_life_days * DAY_MS), CONFIG)
    assert later.visits == pytest.approx(0.5)
    assert decayed(later, T0, CONFIG).visits == later.visits  # never back in time


def test_rfm_from_hand_computed_parts() -> None:
    config = ScoresConfig(frequency_scale=2, monetary_scale=50, recency_weight=2)
    scores = add_visit(Scores(), T0, config)
    scores = add_visit(scores, T0 + 14 * DAY_MS, config)  # first visit now weighs 0.5
    scores = add_conversion(scores, 50.0, T0 + 14 * DAY_MS, config)
    now = T0 + 44 * DAY_MS  # 30 days after the purchase: one recency and monetary half-life
    fields = score_fields(scores, now, config)
    visits = (0.5 + 1) * 0.5 ** (30 / 14)
    frequency = visits / (visits + 2)
    monetary = 25 / (25 + 50)
    recency = 0.5
    assert float(fields["score:frequency"]) == pytest.approx(frequency, abs=1e-4)
    assert float(fields["score:monetary"]) == pytest.approx(monetary, abs=1e-4)
    assert float(fields["score:recency"]) == pytest.approx(recency, abs=1e-4)
    rfm = (2 * recency + frequency + monetary) / 4
    assert float(fields["score:rfm"]) == pytest.approx(rfm, abs=1e-4)


def test_no_conversion_scores_zero_recency_and_money() -> None:
    fields = score_fields(add_visit(Scores(), T0, CONFIG), T0, CONFIG)
    assert fields["score:recency"] == "0"
    assert fields["score:monetary"] == "0"
    assert float(fields["score:frequency"]) == pytest.approx(1 / (1 + CONFIG.frequency_scale))


def test_interest_is_a_decaying_share_per_page_type() -> None:
    scores = add_interest(Scores(), "blog", 3.0, T0, CONFIG)
    scores = add_interest(scores, "product", 1.0, T0 + 7 * DAY_MS, CONFIG)  # blog now 1.5
    fields = score_fields(scores, T0 + 7 * DAY_MS, CONFIG)
    assert float(fields["interest:blog"]) == pytest.approx(1.5 / 2.5, abs=1e-4)
    assert float(fields["interest:product"]) == pytest.approx(1 / 2.5, abs=1e-4)
    # a common decay leaves shares unchanged
    assert (
        score_fields(scores, T0 + 70 * DAY_MS, CONFIG)["interest:blog"] == fields["interest:blog"]
    )


def test_the_profile_fold_feeds_the_scores() -> None:
    def rec(event: object, page: str, at: int) -> EventRecord:
        return EventRecord(
            event=event,  # type: ignore[arg-type]
            page=page,
            session="sess-1",
            visitor="visitor-1",
            received_ms=at,
        )

    state = ProfileState()
    for record in (
        rec(PageView(id="e1", ts=1, url="/blog/a"), "page-1", T0),
        rec(Engaged(id="e2", ts=1, ms=120_000), "page-1", T0),  # two minutes: two more points
        rec(PageView(id="e3", ts=1, url="/product/b"), "page-2", T0),
        rec(Conversion(id="e4", ts=1, name="purchase", value=100.0), "page-2", T0),
    ):
        state = apply(state, record, CONFIG)
    fields = profile_fields(state, CONFIG)
    assert fields["interest:blog"] == "0.75"
    assert fields["interest:product"] == "0.25"
    assert fields["score:recency"] == "1"
    assert float(fields["score:monetary"]) == pytest.approx(0.5)
    assert math.isclose(float(fields["score:frequency"]), 0.25)


def test_weights_must_not_all_be_zero() -> None:
    import msgspec

    with pytest.raises(msgspec.ValidationError, match="rfm weights"):
        msgspec.convert(
            {"recency_weight": 0, "frequency_weight": 0, "monetary_weight": 0}, ScoresConfig
        )
