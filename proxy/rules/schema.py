"""The typed shape of a rules file (``docs/rules-spec.md``), as frozen msgspec Structs.

Types reject what they can (unknown keys, unknown operations, malformed ids); what they cannot
(unique ids across files, selectors and regexes that compile, conditions that parse, safe attribute
values) is checked once by :mod:`proxy.rules.load`. Sequences are tuples so a loaded rule set is
immutable. Each operation's struct is defined with how it applies, in :mod:`proxy.html.ops`;
:data:`Operation` is the registry's tagged union of them.
"""

from __future__ import annotations

from typing import Annotated, Literal, TypeAlias

import msgspec

from proxy.bandit.policy_config import BanditPolicy, FeatureValue
from proxy.html.ops.base import Selector
from proxy.html.ops.registry import Operation

__all__ = [
    "Compound",
    "Condition",
    "Governance",
    "Id",
    "Operation",
    "Pin",
    "Reward",
    "Rule",
    "RulesFile",
    "Segment",
    "Selector",
    "Slot",
    "SlotGovernance",
    "Threshold",
    "Trigger",
    "Where",
]

Id = Annotated[str, msgspec.Meta(pattern=r"^[a-z0-9-]{1,64}$", description="[a-z0-9-]{1,64}")]
FeatureName = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_]{1,32}$")]
Method = Literal["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


class Compound(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A structured condition: exactly one of ``all``, ``any`` or ``not``."""

    all: tuple[Condition, ...] | None = None
    any: tuple[Condition, ...] | None = None
    not_: Condition | None = msgspec.field(default=None, name="not")


# An expression string (see the spec) or a structured {all|any|not} form.
Condition: TypeAlias = str | Compound


class Where(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Request scope; every key given must match (globs: ``*`` one segment part, ``**`` any)."""

    # a list given is never empty (``paths: []`` would scope nothing: leave the key out)
    hosts: Annotated[tuple[str, ...], msgspec.Meta(min_length=1)] = ()
    paths: Annotated[tuple[str, ...], msgspec.Meta(min_length=1)] = ()
    path_regex: str | None = None
    query: dict[str, str] = msgspec.field(default_factory=dict)
    methods: Annotated[tuple[Method, ...], msgspec.Meta(min_length=1)] = ()


class Rule(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Apply ``then`` wherever ``where`` and ``when`` hold; higher ``priority`` wins a conflict.

    ``holdout`` (a percentage) measures the rule: that share of visitors, drawn by a hash of
    (visitor, rule, ``salt``), does not get its edits, and each page where the rule's conditions
    hold logs which arm the visitor is in (``proxy/decide/holdout.py``)."""

    id: Id
    then: Annotated[tuple[Operation, ...], msgspec.Meta(min_length=1)]
    priority: Annotated[int, msgspec.Meta(ge=-1_000_000, le=1_000_000)] = 0
    where: Where | None = None
    when: Condition | None = None
    holdout: Annotated[float, msgspec.Meta(gt=0, lt=100)] | None = None  # percent of visitors
    salt: Annotated[str, msgspec.Meta(min_length=1, max_length=64)] | None = None  # re-randomise


class Pin(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Serve ``variant`` (instead of sampling) while ``when`` holds."""

    when: Condition
    variant: Id


class Trigger(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Switch to ``variant`` *in the page* when the visitor's behaviour on this page view says so.

    The variant's markup is sent in a ``<template>``; the tracker applies it once ``after_s``
    seconds have passed with the page visible (or, with ``hover``, with the pointer over that
    element), unless the page was scrolled to ``max_scroll`` or ``without_click`` was clicked first.
    """

    id: Id
    variant: Id
    after_s: Annotated[float, msgspec.Meta(gt=0, le=3600)]
    hover: Selector | None = None
    max_scroll: Annotated[float, msgspec.Meta(gt=0, le=1)] | None = None
    without_click: Selector | None = None


Weight = Annotated[float, msgspec.Meta(ge=0, le=1_000_000)]
Seconds = Annotated[float, msgspec.Meta(ge=0, le=30 * 24 * 3600)]
Count = Annotated[int, msgspec.Meta(ge=0, le=1000)]


class SlotGovernance(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """How a slot's content may change for one visitor (unset: the file-wide default).

    ``sticky``: once seen, a variant stays for the ``page`` view only, the ``session`` or the
    ``visitor``; ``changes_per_session``: how often the slot may then switch within a session;
    ``cooldown_s``: how long after a switch before it may switch again; ``min_impressions``:
    a bandit slot explores uniformly (no adaptive deviation) until every variant has had this
    many impressions in the last hour.
    """

    sticky: Literal["page", "session", "visitor"] | None = None
    changes_per_session: Count | None = None
    cooldown_s: Seconds | None = None
    min_impressions: Annotated[int, msgspec.Meta(ge=0, le=10**9)] | None = None


class Governance(SlotGovernance, frozen=True, forbid_unknown_fields=True):
    """Defaults for every slot, and the session-wide limits: at most ``session_changes`` switches
    in a session, ``min_interval_s`` apart, and ``max_slots_per_page`` of them on one page view."""

    session_changes: Count | None = None
    min_interval_s: Seconds | None = None
    max_slots_per_page: Count | None = None


class Threshold(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """``value`` is earned once the measure reaches ``at_least``."""

    at_least: Annotated[float, msgspec.Meta(ge=0)]
    value: Annotated[float, msgspec.Meta(ge=-1e6, le=1e6)] = 1.0


class Reward(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """How a bandit slot's decision is scored from the tracker's events (docs/design.md §7).

    Only a decision whose slot was seen (an impression) is scored. Within ``window_s`` after it,
    each click on the slot earns ``click``; each conversion of the session (named
    ``conversion_name``, if set) earns ``conversion`` times its value (1 without a value); the
    session's engaged time and scroll depth earn their threshold's ``value`` once. The parts
    combine by ``aggregate`` (``sum``, ``max``, or the ``earliest`` to arrive); a seen decision
    that earned nothing gets ``default``.
    """

    window_s: Annotated[float, msgspec.Meta(gt=0, le=7 * 24 * 3600)] = 600.0
    click: Annotated[float, msgspec.Meta(ge=-1e6, le=1e6)] = 1.0
    conversion: Annotated[float, msgspec.Meta(ge=-1e6, le=1e6)] = 0.0
    conversion_name: Annotated[str, msgspec.Meta(min_length=1, max_length=64)] | None = None
    engaged_s: Threshold | None = None
    scroll: Threshold | None = None
    default: Annotated[float, msgspec.Meta(ge=-1e6, le=1e6)] = 0.0
    aggregate: Literal["sum", "max", "earliest"] = "sum"


class Slot(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A decision point: one of ``variants`` is served; ``control`` is the unchanged baseline."""

    id: Id
    selector: Selector
    control: Id
    variants: dict[Id, tuple[Operation, ...]]
    priority: Annotated[int, msgspec.Meta(ge=-1_000_000, le=1_000_000)] = 0
    where: Where | None = None
    pin: tuple[Pin, ...] = ()
    triggers: tuple[Trigger, ...] = ()
    governance: SlotGovernance | None = None
    # who chooses among the variants when no pin holds: the control ("rules"), the bandit, or a
    # fixed randomised split by the weights in ``split`` (a classic A/B/n test)
    policy: Literal["rules", "bandit", "split"] = "rules"
    split: dict[Id, Weight] | None = None  # variant -> weight, for policy: split
    salt: Annotated[str, msgspec.Meta(min_length=1, max_length=64)] | None = None  # re-randomise
    # live: the bandit's choice is served; apprentice: the control is served and the bandit's
    # choice only logged; log-only: the rules decide, every decision is logged for evaluation
    mode: Literal["live", "apprentice", "log-only"] = "live"
    bandit: BanditPolicy | None = None  # the bandit's settings (defaults if absent)
    features: dict[Id, dict[FeatureName, FeatureValue]] = msgspec.field(default_factory=dict)
    reward: Reward = Reward()
    # the guardrail pauses a variant whose serving clearly costs reward against the control
    # (judged on the logged decisions, see proxy/govern/guardrail.py); ``guardrail: off`` never
    guardrail: bool = True


class Segment(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A named audience: visitors for whom ``when`` holds, over profile and request fields
    (``proxy/rules/segments.py``); rules read it as ``segment == 'id'`` or ``'id' in segments``."""

    id: Id
    when: Condition
    description: Annotated[str, msgspec.Meta(max_length=500)] = ""


class RulesFile(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One ``rules/*.yaml`` file."""

    segments: tuple[Segment, ...] = ()
    rules: tuple[Rule, ...] = ()
    slots: tuple[Slot, ...] = ()
    governance: Governance | None = None  # in at most one file
