"""What one decision has earned so far, and its reward when its window closes; pure.

The reward join (:mod:`proxy.bandit.join`) keeps a :class:`PendingDecision` per decision and
decides *which* events concern it (its page and session, inside its window, each event once);
this module says what each of them *earns*, as the slot's :class:`~proxy.rules.schema.Reward`
declares:

* ``impression`` carrying its decision id → the decision was **seen**;
* ``click`` carrying its decision id → a ``click`` part (each distinct click);
* ``conversion`` of the same session (named ``conversion_name``, if set) → ``conversion * value``
  (value 1 when the event has none);
* ``engaged`` of the session → its milliseconds add up; the ``engaged_s`` threshold's value is
  earned once, when the total reaches it;
* ``scroll`` of the session → the deepest depth; the ``scroll`` threshold's value is earned once.

A part whose weight is 0 is not a part (it would hide the default). :func:`final_reward`
combines the parts by ``aggregate`` (``sum``, ``max``, or the ``earliest`` by arrival time), or
gives ``default`` when nothing was earned.

A pending decision is a msgspec struct because the join's checkpoints carry it as it is.
"""

from __future__ import annotations

from collections.abc import Iterable

import msgspec

from proxy.records.decision import LoggedDecision
from proxy.records.events import Click, Conversion, Engaged, Event, Impression, Scroll
from proxy.rules.schema import Reward


class PendingDecision(msgspec.Struct):
    """A decision waiting for its deadline, and what its events have earned."""

    record: LoggedDecision  # every field: the fold reads its covariate, segments, context
    reward: Reward
    deadline_ms: int
    since_ms: int  # session events count from here (the decision's time)
    read_ms: int = 0  # when the join read it (a decision replayed from a spool: long after)
    grace_until: int = 0  # unseen at its deadline: waits for its impression until then
    seen: bool = False
    excluded: bool = False
    parts: list[tuple[int, float]] = []  # (arrival ms, value)
    applied: list[str] = []  # event ids already applied, in order
    engaged_ms: int = 0
    max_scroll: float = 0.0
    engaged_earned: bool = False
    scroll_earned: bool = False


def earn(pending: PendingDecision, event: Event, at_ms: int) -> None:
    """Fold one event that concerns ``pending`` (arrived at ``at_ms``) into what it earned."""
    spec = pending.reward
    if isinstance(event, Impression):
        pending.seen = True
    elif isinstance(event, Click):
        if spec.click:
            pending.parts.append((at_ms, spec.click))
    elif isinstance(event, Conversion):
        if spec.conversion and spec.conversion_name in (None, event.name):
            value = 1.0 if event.value is None else event.value
            pending.parts.append((at_ms, spec.conversion * value))
    elif isinstance(event, Engaged):
        pending.engaged_ms += event.ms
        threshold = spec.engaged_s
        if (
            threshold is not None
            and not pending.engaged_earned
            and pending.engaged_ms >= threshold.at_least * 1000
        ):
            pending.engaged_earned = True
            if threshold.value:
                pending.parts.append((at_ms, threshold.value))
    elif isinstance(event, Scroll):
        pending.max_scroll = max(pending.max_scroll, event.depth)
        threshold = spec.scroll
        if (
            threshold is not None
            and not pending.scroll_earned
            and pending.max_scroll >= threshold.at_least
        ):
            pending.scroll_earned = True
            if threshold.value:
                pending.parts.append((at_ms, threshold.value))


def final_reward(pending_parts: Iterable[tuple[int, float]], reward: Reward) -> float:
    """The parts combined by ``reward.aggregate``; ``reward.default`` when there are none."""
    parts = list(pending_parts)
    if not parts:
        return reward.default
    if reward.aggregate == "max":
        return max(value for _, value in parts)
    if reward.aggregate == "earliest":
        return min(parts, key=lambda part: part[0])[1]
    return sum(value for _, value in parts)


def reward_bounds(reward: Reward) -> tuple[float | None, float | None]:
    """The least and the most one decision can earn under ``reward`` (``None``: unbounded).

    A click earns its weight, each distinct click again; a conversion its weight times a value
    of 0 to 1e9 (the event schema), each conversion again; a threshold its value once. Under
    ``sum`` a part that repeats leaves the reward unbounded on its weight's side; under ``max``
    and ``earliest`` the reward is one part's value. Bounds of the reward are bounds of any
    policy's value, so an interval may be clipped to them without losing coverage. A reward
    posted through the API (any value in ±1e6) is a part outside them: the report clips only
    while no reward of the period lies below the lower bound.
    """
    once = [t.value for t in (reward.engaged_s, reward.scroll) if t is not None and t.value]
    repeated = [w for w in (reward.click, reward.conversion) if w]
    if reward.aggregate == "sum":
        low = min(0.0, sum(v for v in once if v < 0))
        high = max(0.0, sum(v for v in once if v > 0))
        return (
            None if any(w < 0 for w in repeated) else min(reward.default, low),
            None if any(w > 0 for w in repeated) else max(reward.default, high),
        )
    values = [reward.default, *once]
    if reward.click:
        values.append(reward.click)
    if reward.conversion:
        values.append(0.0)  # a conversion without value, times the weight, or of value 0
    return (
        None if reward.conversion < 0 else min(values),
        None if reward.conversion > 0 else max(values),
    )
