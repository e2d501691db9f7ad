"""The typed shape of a slot's ``policy: bandit`` block, and what it means to VW.

A slot that lets the bandit choose carries one :class:`BanditPolicy`: the exploration algorithm
(SquareCB, computed by Vernier, or another ``cb_explore_adf`` explorer, with its parameters
range-checked by the types), an exploration
floor, the context feature groups to use, namespace interactions and regularisation. Unknown keys
are rejected; what depends on the slot's variants (the floor against ``1/n``) is checked once at
load by :func:`check_variants`. Example::

    policy: bandit
    bandit:
      explorer: {type: squarecb, gamma_scale: 0.5}
      floor: 0.02
      features: [device, hour, weekday, referrer, profile]
      interactions: [UA, DA, TA]
      l2: 1.0e-6

Namespaces are single letters (see :mod:`proxy.bandit.features`): ``D`` device, ``T`` time,
``G`` geography and language, ``R`` traffic source, ``U`` the visitor's profile, ``S`` their
segments (opt-in: ``features: [..., segments]``), ``A`` the
action (variant). Every interaction must include ``A``: in VW's ADF reductions a product of
shared namespaces only adds the same score to every action and cannot change a choice.

:func:`feature_space_hash` names everything that makes a saved model unusable under a new
configuration, so a change to it starts a new model version instead of silently mixing weights.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Annotated, Literal, TypeAlias, get_args

import msgspec

from proxy.messages import field_error

# Bump when proxy.bandit.features changes how a context becomes tokens (buckets, names).
# 2: profile buckets are cumulative (``v7=1+ v7=2+`` for 2 visits; proxy.bandit.features).
# 3: a squarecb model is VW's ``cb_adf`` regressor and the cell counts (proxy.bandit.model).
FEATURE_SCHEMA_VERSION = 3

SHARED_NAMESPACES = "DTGRUS"
ACTION_NAMESPACE = "A"

FeatureGroup = Literal[
    "device",
    "browser",
    "os",
    "hour",
    "weekday",
    "country",
    "language",
    "referrer",
    "utm",
    "landing_path",
    "profile",
    "segments",
]
ALL_FEATURE_GROUPS: tuple[FeatureGroup, ...] = get_args(FeatureGroup)

Probability = Annotated[float, msgspec.Meta(ge=0.0, le=1.0)]
Interaction = Annotated[
    str,
    msgspec.Meta(
        pattern=r"^[ADGRSTU]{2,3}$",
        description="2 or 3 namespace letters from A, D, G, R, S, T, U",
    ),
]
# A variant's own features: strings and booleans are categorical, numbers are weights.
FeatureValue: TypeAlias = str | bool | int | float


class _Explorer(msgspec.Struct, frozen=True, forbid_unknown_fields=True, tag_field="type"):
    pass


class Epsilon(_Explorer, tag="epsilon", frozen=True):
    """Epsilon-greedy: the greedy action gets ``1 - epsilon``, the rest share ``epsilon``."""

    epsilon: Probability = 0.05


class SquareCB(_Explorer, tag="squarecb", frozen=True):
    """SquareCB: exploration shrinks as ``gamma_scale * t ** gamma_exponent`` grows.

    Computed by Vernier (:mod:`proxy.bandit.square_cb`) on VW's estimates refined, with
    ``cells`` on, by exact averages of the interaction terms' cells, and of the other default
    terms' once those differ beyond chance (:mod:`proxy.bandit.cell_estimates`; off: on VW's
    estimates alone, as VW's ``--squarecb``).
    """

    # gamma = 1 t with the cell averages (docs/benchmarks.md, "Tenth round"); 0.3 t was the
    # choice on VW's estimates alone, whose gaps came out larger than the averages' do.
    gamma_scale: Annotated[float, msgspec.Meta(gt=0.0, le=1e6)] = 1.0
    gamma_exponent: Annotated[float, msgspec.Meta(ge=0.0, le=1.0)] = 1.0
    cells: bool = True


class Softmax(_Explorer, tag="softmax", frozen=True):
    """Probabilities proportional to ``exp(lambda * score)``; larger ``lambda`` is greedier."""

    lambda_: Annotated[float, msgspec.Meta(ge=0.0, le=1e4)] = msgspec.field(
        default=1.0, name="lambda"
    )


class Bag(_Explorer, tag="bag", frozen=True):
    """Bootstrap: ``bag`` policies trained on resampled data vote; optional epsilon on top."""

    bag: Annotated[int, msgspec.Meta(ge=2, le=32)] = 5
    epsilon: Probability | None = None


class Cover(_Explorer, tag="cover", frozen=True):
    """Online cover: ``cover`` policies kept diverse with strength ``psi``."""

    cover: Annotated[int, msgspec.Meta(ge=1, le=32)] = 3
    psi: Annotated[float, msgspec.Meta(ge=0.0, le=100.0)] = 1.0
    nounif: bool = False
    epsilon: Probability | None = None


Explorer: TypeAlias = Epsilon | SquareCB | Softmax | Bag | Cover


class DriftPolicy(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Following a world that changes (:mod:`proxy.bandit.drift`): the learner watches the
    rewards the model realises for a fall (:class:`~proxy.stats.change.DropDetector`) and, on
    one, starts a fresh model: clean by default, or with ``replay`` > 0 having relearned up to
    that many examples after the change point.

    ``false_alarm`` is the detector's chance of a restart in a world that never changes;
    ``replay``: how many of the examples after the change point the fresh model relearns (and
    the learner keeps in memory); 0, the default, starts it clean (docs/benchmarks.md, "A clean
    restart").
    """

    detect: bool = False
    false_alarm: Annotated[float, msgspec.Meta(gt=0.0, le=0.1)] = 0.001
    replay: Annotated[int, msgspec.Meta(ge=0, le=20_000)] = 0


# The defaults, chosen on the world suite (docs/benchmarks.md, "World suite"): the five groups
# the suite's worlds (and the issue's) vary, each interacted with the variant, plus device x
# referrer x variant; more groups added variance that 4,000 visitors could not average out.
# ``segments`` (named segments, learned cluster, weighted scores) is offered, not on by default:
# it means something only where the rules declare segments, and adding it starts a new model line.
DEFAULT_FEATURES: tuple[FeatureGroup, ...] = ("device", "hour", "country", "referrer", "profile")
DEFAULT_INTERACTIONS: tuple[str, ...] = ("DA", "TA", "GA", "RA", "UA", "DRA")


class BanditPolicy(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A slot's bandit settings; every default is measured on the world suite (see above).

    SquareCB explores in proportion to how far a variant's estimate is below the best one's and
    less as data accumulates; epsilon-greedy (an older default) gives every non-greedy variant
    ``epsilon / n`` forever. The model learns each reward unweighted (``importance_weights``);
    weighted, one explored click would weigh ``1 / p`` (80 for epsilon 0.05 over 4 variants).
    The learning rate is VW's own (0.5, with its adaptive per-feature steps): 0.2 and 1.0 did
    no better across the suite, 0.01 (once documented) learned too slowly to follow anything.
    """

    explorer: Explorer = SquareCB()
    # Minimum probability of every variant, applied after VW (proxy.bandit.sampling.apply_floor).
    floor: Probability = 0.0
    features: tuple[FeatureGroup, ...] = DEFAULT_FEATURES
    # None (not written): the learner chooses among DEFAULT_INTERACTIONS' terms and pairs of
    # groups from the logged examples (proxy.bandit.interaction_choice), starting with all of
    # DEFAULT_INTERACTIONS. Written: always these.
    interactions: tuple[Interaction, ...] | None = None
    l1: Annotated[float, msgspec.Meta(ge=0.0, le=1.0)] = 0.0
    l2: Annotated[float, msgspec.Meta(ge=0.0, le=1.0)] = 0.0
    learning_rate: Annotated[float, msgspec.Meta(gt=0.0, le=10.0)] | None = None
    # False: the model learns each served variant's reward at weight 1 (SquareCB's regression
    # oracle); True: weighted by 1 / the logged probability (VW's importance-weighted mtr), so a
    # click on a variant explored at p = 0.01 counts 100 times. Either way the decision log
    # keeps the probability for evaluation and the guardrail.
    importance_weights: bool = False
    # Where every weight of the reward model starts, in reward units (VW's --initial_weight,
    # negated for its costs, with --sparse_weights so that a saved model holds only the weights
    # in use): a variant not yet tried in a context is estimated at about this times the
    # number of its features (0.13 with the default groups and no profile, more with profile
    # tokens or variant features), so it is tried before it is written off. 0: every estimate
    # starts at 0. Part of the feature space: a saved model means its untouched weights too.
    initial_weight: Annotated[float, msgspec.Meta(ge=0.0, le=1.0)] = 0.01
    bits: Annotated[int, msgspec.Meta(ge=12, le=24)] = 18
    drift: DriftPolicy = DriftPolicy()
    # How many examples the model learns before it decides: until then every variant gets an
    # equal share, as in an A/B test. The first interaction choice (at 1,000 examples) then
    # judges unbiased data, and every variant has been tried in every sizeable context before
    # SquareCB's gaps start to starve one (docs/benchmarks.md, "Tenth round"). 0: the model
    # decides from the first example.
    uniform_first: Annotated[int, msgspec.Meta(ge=0, le=1_000_000)] = 1000

    def __post_init__(self) -> None:
        # msgspec reports a ValueError raised here as a ValidationError at this struct;
        # field_error names the key inside it, for proxy.messages to put in the path.
        for i, interaction in enumerate(self.interactions or ()):
            if ACTION_NAMESPACE not in interaction:
                raise field_error(
                    f"interactions[{i}]",
                    f"interaction {interaction!r} must include the action namespace "
                    f"'{ACTION_NAMESPACE}' (the variant: what it learns is per variant)",
                )
        for i, group in enumerate(self.features):
            if group in self.features[:i]:
                raise field_error(f"features[{i}]", f"the group {group!r} is listed twice")


def check_variants(policy: BanditPolicy, variant_ids: tuple[str, ...] | list[str]) -> None:
    """Raise ``ValueError`` unless ``policy`` fits a slot offering ``variant_ids`` (at load)."""
    n = len(variant_ids)
    if n < 2:
        # a bandit's, a split's or a log-only slot's: each chooses among the variants
        raise ValueError(f"a slot that chooses among variants needs at least 2, got {n}")
    if len(set(variant_ids)) != n:
        raise ValueError("variant ids must be unique")
    if policy.floor * n > 1.0 + 1e-12:
        raise ValueError(f"floor {policy.floor} exceeds 1/{n} (the slot has {n} variants)")


def effective_interactions(policy: BanditPolicy) -> tuple[str, ...]:
    """The interactions VW is given: the written ones, else all of the defaults (a model whose
    interactions the learner chose carries them in its own policy)."""
    return DEFAULT_INTERACTIONS if policy.interactions is None else policy.interactions


def vw_arguments(policy: BanditPolicy) -> list[str]:
    """VW's command line for ``policy``: ``cb_adf`` under SquareCB (Vernier explores), else
    ``cb_explore_adf`` with the explorer's options; quiet, no files.

    No ``--random_seed``: VW's default (0) is already fixed, and ``bag`` stores a derived seed in
    the model that an explicit one would contradict on load.
    """
    if isinstance(policy.explorer, SquareCB):  # Vernier explores (proxy.bandit.square_cb)
        args = ["--cb_adf", "--quiet", "-b", str(policy.bits)]
    else:
        args = ["--cb_explore_adf", "--quiet", "-b", str(policy.bits)]
        args += _explorer_arguments(policy.explorer)
    for interaction in effective_interactions(policy):
        args += ["--interactions", interaction]
    if policy.l1:
        args += ["--l1", repr(policy.l1)]
    if policy.l2:
        args += ["--l2", repr(policy.l2)]
    if policy.learning_rate is not None:
        args += ["--learning_rate", repr(policy.learning_rate)]
    if policy.initial_weight:
        args += ["--sparse_weights", "--initial_weight", repr(-policy.initial_weight)]
    return args


def _explorer_arguments(explorer: Epsilon | Softmax | Bag | Cover) -> list[str]:
    if isinstance(explorer, Epsilon):
        return ["--epsilon", repr(explorer.epsilon)]
    if isinstance(explorer, Softmax):
        return ["--softmax", "--lambda", repr(explorer.lambda_)]
    if isinstance(explorer, Bag):
        args = ["--bag", str(explorer.bag)]
        return args + (
            ["--epsilon", repr(explorer.epsilon)] if explorer.epsilon is not None else []
        )
    args = ["--cover", str(explorer.cover), "--psi", repr(explorer.psi)]
    if explorer.nounif:
        args.append("--nounif")
    return args + (["--epsilon", repr(explorer.epsilon)] if explorer.epsilon is not None else [])


def _explorer_structure(explorer: Explorer) -> list[object]:
    """The explorer's part of the model's shape: its kind and how many sub-policies it keeps.

    Rates (epsilon, gamma, lambda, psi) and SquareCB's ``cells`` are not included: a saved model
    loads under new ones (a snapshot made under the old ones then fails its canary, and the
    proxies keep their model until the learner publishes the next).
    """
    if isinstance(explorer, Bag):
        return ["bag", explorer.bag]
    if isinstance(explorer, Cover):
        return ["cover", explorer.cover]
    return [type(explorer).__name__.lower()]


def feature_space_hash(
    policy: BanditPolicy, variants: Mapping[str, Mapping[str, FeatureValue]]
) -> str:
    """A short stable name of the model's feature space: ``fs3-<16 hex digits>``.

    It changes with the feature groups, interactions, hash bits, the explorer's kind and size,
    the variant ids and their features, ``initial_weight`` and :data:`FEATURE_SCHEMA_VERSION` —
    anything after which old weights would be misread (a model saved under one initial weight
    and loaded under another would read its untouched weights differently, and fail the
    snapshot canary). It does not change with the floor, exploration rates, regularisation, the
    learning rate or ``importance_weights`` (how new examples are weighed), nor with the order
    of variants or groups.
    """
    shape = {
        "schema": FEATURE_SCHEMA_VERSION,
        "features": sorted(policy.features),
        # chosen from the log: one feature space whatever the learner picks (the snapshot says)
        "interactions": "chosen"
        if policy.interactions is None
        else sorted("".join(sorted(i)) for i in policy.interactions),
        "bits": policy.bits,
        "initial_weight": policy.initial_weight,
        "explorer": _explorer_structure(policy.explorer),
        "variants": sorted(
            [vid, sorted((k, type(v).__name__, v) for k, v in feats.items())]
            for vid, feats in variants.items()
        ),
    }
    digest = hashlib.blake2b(msgspec.json.encode(shape), digest_size=8).hexdigest()
    return f"fs{FEATURE_SCHEMA_VERSION}-{digest}"


def decode_policy(data: bytes | str) -> BanditPolicy:
    """A policy from JSON (tests and tools; the rules loader converts its YAML with msgspec)."""
    return msgspec.json.decode(data, type=BanditPolicy)
