"""What a loaded rule set is: the rules and slots of ``rules/*.yaml`` compiled for matching.

:func:`proxy.rules.load.load_rules` builds these once per load (hosts lower-cased, globs and
regexes compiled, conditions parsed, variants cross-checked, each rule and slot ranked); the
engine, the deciders and the learner read them and never see a rules file.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from proxy.bandit.features import ActionSet
from proxy.bandit.policy_config import BanditPolicy, FeatureValue
from proxy.rules import schema
from proxy.rules.condition_tree import Node, Percentile
from proxy.rules.limits import DEFAULT_SESSION, DEFAULT_SLOT, SessionLimits, SlotLimits
from proxy.rules.patterns import PathPattern
from proxy.rules.segments import NO_SEGMENTS, Segments
from proxy.rules.specificity import Specificity
from proxy.rules.split import Split


@dataclass(frozen=True, slots=True)
class CompiledWhere:
    """A ``where`` block ready for matching: lower-case hosts, globs and regex compiled."""

    hosts: frozenset[str]
    globs: tuple[str, ...]  # as written, for the engine's path index
    paths: tuple[PathPattern, ...]
    path_regex: PathPattern | None
    query: Mapping[str, str]
    methods: frozenset[str]


# Where two changes touch one element, the one applied last wins: rules and slots apply in
# ascending (priority, specificity of their most specific selector, order in the files).
Rank = tuple[int, Specificity, int]


@dataclass(frozen=True, slots=True)
class CompiledRule:
    id: str
    priority: int
    where: CompiledWhere | None
    when: Node | None
    then: tuple[schema.Operation, ...]
    source: str  # file:line, for logs and `vernier validate`
    rank: Rank = (0, (0, 0, 0), 0)
    holdout: Split = ()  # ``holdout:``: (arm, probability) of ``proxy.rules.holdout.ARMS``
    salt: str = ""  # ``holdout:``: part of the assignment hash
    # its operations write request context into the page (``{{ device }}``): the context must be
    # built even without ``when``, and the page depends on who asks
    fills: bool = False


@dataclass(frozen=True, slots=True)
class CompiledPin:
    when: Node
    variant: str


@dataclass(frozen=True, slots=True)
class SlotLearner:
    """What the bandit and the learner need of a slot: its settings, the variants as VW actions
    (in the order of the file), their feature space, and how rewards are joined."""

    mode: Literal["live", "apprentice", "log-only"]
    policy: BanditPolicy
    actions: ActionSet
    feature_space: str
    reward: schema.Reward
    bandit: bool  # policy: bandit (else the rules decide and decisions are only logged)
    variant_features: Mapping[str, Mapping[str, FeatureValue]]  # as declared, every variant


@dataclass(frozen=True, slots=True)
class CompiledSlot:
    id: str
    selector: str
    where: CompiledWhere | None
    control: str
    variants: Mapping[str, tuple[schema.Operation, ...]]
    pins: tuple[CompiledPin, ...]
    source: str
    priority: int = 0
    triggers: tuple[schema.Trigger, ...] = ()
    rank: Rank = (0, (0, 0, 0), 0)
    limits: SlotLimits = DEFAULT_SLOT
    learner: SlotLearner | None = None  # for policy: bandit or split, or mode: log-only
    split: Split = ()  # policy: split: (variant, probability) in file order
    salt: str = ""  # policy: split: part of the assignment hash
    guardrail: bool = True  # ``guardrail: off`` in the file: never paused automatically


@dataclass(frozen=True, slots=True)
class RuleSet:
    """Every rule and slot of the loaded files, in file order; ``version`` hashes their content."""

    rules: tuple[CompiledRule, ...] = ()
    slots: tuple[CompiledSlot, ...] = ()
    files: tuple[str, ...] = ()
    version: str = ""
    percentiles: frozenset[Percentile] = field(default_factory=frozenset)
    session_limits: SessionLimits = DEFAULT_SESSION
    segments: Segments = NO_SEGMENTS
    holdout_rules: tuple[CompiledRule, ...] = ()  # the rules measured against a holdout
