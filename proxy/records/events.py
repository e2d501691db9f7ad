"""The event contract in types (``tracker_js/events.contract.json`` is the same in words).

A beacon is a :class:`Batch` of events of one page view. These types are checked once, at intake
(:func:`proxy.tracker.events.parse_batch`); everything downstream (the stream, the profile
updater, the metrics consumer, the learner's join) trusts them, which is why they live here, below
every package that reads events, rather than in the intake that first wrote them.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

Id = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_-]{8,64}$")]
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
Short = Annotated[str, msgspec.Meta(max_length=256)]
Long = Annotated[str, msgspec.Meta(max_length=2048)]
Millis = Annotated[int, msgspec.Meta(ge=0, le=3_600_000)]
Timestamp = Annotated[int, msgspec.Meta(ge=0, le=10**14)]
Value = Annotated[float, msgspec.Meta(ge=0, le=1e9)]
Currency = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z]{3}$")]
# an IANA time zone name's shape (``America/Argentina/Buenos_Aires``, ``Etc/GMT+5``); whether it
# names a zone is checked at intake (``proxy/rules/clock.py``)
TimeZoneName = Annotated[
    str,
    msgspec.Meta(
        min_length=1, max_length=64, pattern=r"^[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+){0,2}$"
    ),
]
PropValue = Annotated[str, msgspec.Meta(max_length=256)] | float | bool
Props = Annotated[dict[Name, PropValue], msgspec.Meta(max_length=20)]


class _Event(
    msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True, tag_field="type"
):
    id: Id
    ts: Timestamp


class PageView(_Event, frozen=True, tag="pageview"):
    """A page view; ``tz`` is the visitor's IANA time zone (the first page view of a page load)."""

    url: Long
    ref: Long | None = None
    title: Short | None = None
    tz: TimeZoneName | None = None


class Impression(_Event, frozen=True, tag="impression"):
    slot: Name
    variant: Name
    decision: Name


class Click(_Event, frozen=True, tag="click"):
    target: Short
    slot: Name | None = None
    variant: Name | None = None
    decision: Name | None = None


class Scroll(_Event, frozen=True, tag="scroll"):
    depth: Annotated[float, msgspec.Meta(ge=0.0, le=1.0)]


class Engaged(_Event, frozen=True, tag="engaged"):
    ms: Millis


class Hover(_Event, frozen=True, tag="hover"):
    slot: Name
    ms: Millis
    variant: Name | None = None
    decision: Name | None = None


class Form(_Event, frozen=True, tag="form"):
    action: Literal["focus", "submit"]
    form: Name


class Conversion(_Event, frozen=True, tag="conversion"):
    name: Name
    value: Value | None = None
    currency: Currency | None = None


class Custom(_Event, frozen=True, tag="custom"):
    name: Name
    props: Props | None = None


class Trigger(_Event, frozen=True, tag="trigger"):
    """An in-page trigger fired: the tracker put ``variant`` (decision ``decision``) into ``slot``.

    ``trigger`` is the rule's trigger id; the applied element then reports its own impression
    under ``decision``.
    """

    slot: Name
    variant: Name
    decision: Name
    trigger: Name


Event = (
    PageView | Impression | Click | Scroll | Engaged | Hover | Form | Conversion | Custom | Trigger
)


class Batch(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One beacon: events of one page view."""

    v: Literal[1]
    page: Id
    events: Annotated[list[Event], msgspec.Meta(min_length=1, max_length=50)]
