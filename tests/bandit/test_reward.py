"""What each kind of event earns one pending decision, and how its parts combine; pure.

The join's tests (``test_join.py``) cover which events reach a decision; these cover what an
event that reached it is worth, and the reward the parts make."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from proxy.bandit.reward import PendingDecision, earn, final_reward, reward_bounds
from proxy.records.decision import LoggedDecision
from proxy.records.events import Click, Conversion, Engaged, Impression, Scroll
from proxy.rules.schema import Reward, Threshold

_ids = itertools.count()


def pending(reward: Reward) -> PendingDecision:
    record = LoggedDecision(id="dec-1", slot="hero", actions=("a", "b"), chosen="b", p=0.5)
    return PendingDecision(record, reward, deadline_ms=60_000, since_ms=0)


def eid() -> str:
    return f"evt-{next(_ids):06d}"


def test_an_impression_only_makes_the_decision_seen() -> None:
    decision = pending(Reward())
    earn(decision, Impression(id=eid(), ts=1, slot="hero", variant="b", decision="dec-1"), 5)
    assert decision.seen and decision.parts == []


def test_clicks_and_named_conversions_earn_their_weights() -> None:
    decision = pending(Reward(click=0.5, conversion=2.0, conversion_name="buy"))
    earn(decision, Click(id=eid(), ts=1, target="a.cta", decision="dec-1"), 10)
    earn(decision, Conversion(id=eid(), ts=1, name="buy", value=3.0), 20)
    earn(decision, Conversion(id=eid(), ts=1, name="signup"), 30)  # another conversion's name
    earn(decision, Conversion(id=eid(), ts=1, name="buy"), 40)  # no value: 1
    assert decision.parts == [(10, 0.5), (20, 6.0), (40, 2.0)]


def test_a_zero_weight_is_no_part() -> None:
    decision = pending(Reward(click=0.0))
    earn(decision, Click(id=eid(), ts=1, target="a", decision="dec-1"), 10)
    assert decision.parts == []


def test_engaged_time_and_scroll_depth_earn_their_threshold_once() -> None:
    reward = Reward(engaged_s=Threshold(at_least=2, value=0.3), scroll=Threshold(at_least=0.5))
    decision = pending(reward)
    earn(decision, Engaged(id=eid(), ts=1, ms=1500), 10)
    earn(decision, Scroll(id=eid(), ts=1, depth=0.4), 15)
    assert decision.parts == []
    earn(decision, Engaged(id=eid(), ts=1, ms=600), 20)  # 2.1 s in all
    earn(decision, Scroll(id=eid(), ts=1, depth=0.6), 25)
    earn(decision, Engaged(id=eid(), ts=1, ms=5000), 30)
    earn(decision, Scroll(id=eid(), ts=1, depth=0.9), 35)
    assert decision.parts == [(20, 0.3), (25, 1.0)]
    assert decision.engaged_ms == 7100 and decision.max_scroll == 0.9


@pytest.mark.parametrize(
    ("aggregate", "expected"), [("sum", 1.75), ("max", 1.0), ("earliest", 0.5)]
)
def test_parts_combine_by_the_aggregate(aggregate: str, expected: float) -> None:
    parts = [(30, 0.25), (10, 0.5), (20, 1.0)]
    reward = Reward(aggregate=aggregate)  # type: ignore[arg-type]
    assert final_reward(parts, reward) == pytest.approx(expected)


def test_final_reward_of_no_parts_is_the_default() -> None:
    assert final_reward([], Reward(default=0.1, aggregate="max")) == 0.1


_weights = st.sampled_from([0.0, 1.0, -1.0, 0.5, 2.0, -3.0])
_thresholds = st.none() | st.builds(Threshold, at_least=st.just(0.0), value=_weights)
_rewards = st.builds(
    Reward,
    click=_weights,
    conversion=_weights,
    engaged_s=_thresholds,
    scroll=_thresholds,
    default=_weights,
    aggregate=st.sampled_from(["sum", "max", "earliest"]),
)
_events = st.lists(
    st.one_of(
        st.builds(lambda: Click(id=eid(), ts=1, target="a", decision="dec-1")),
        st.builds(
            lambda v: Conversion(id=eid(), ts=1, name="buy", value=v),
            st.none() | st.sampled_from([0.0, 0.5, 1.0, 40.0, 1e9]),
        ),
        st.builds(lambda: Engaged(id=eid(), ts=1, ms=10)),
        st.builds(lambda: Scroll(id=eid(), ts=1, depth=1.0)),
    ),
    max_size=12,
)


@given(_rewards, _events)
def test_every_reward_earned_lies_within_the_bounds(reward: Reward, events: list[object]) -> None:
    """What the report clips its off-policy intervals to: no sequence of events earns less
    than the lower bound or more than the upper one."""
    decision = pending(reward)
    for at, event in enumerate(events):
        earn(decision, event, at)  # type: ignore[arg-type]
    earned = final_reward(decision.parts, reward)
    low, high = reward_bounds(reward)
    assert low is None or earned >= low
    assert high is None or earned <= high


@pytest.mark.parametrize(
    ("reward", "bounds"),
    [
        (Reward(), (0.0, None)),  # clicks, summed: any number of them
        (Reward(aggregate="max"), (0.0, 1.0)),
        (Reward(click=1.0, conversion=5.0, aggregate="earliest"), (0.0, None)),
        (Reward(click=-1.0), (None, 0.0)),
        (Reward(click=0.0, engaged_s=Threshold(at_least=30, value=1.0), default=-0.5), (-0.5, 1.0)),
        (Reward(click=1.0, conversion=-2.0, aggregate="max"), (None, 1.0)),
    ],
)
def test_the_bounds_of_common_rewards(
    reward: Reward, bounds: tuple[float | None, float | None]
) -> None:
    assert reward_bounds(reward) == bounds
