"""From stream records to additions to the per-slot, per-variant, per-hour sums (pure).

One :class:`Tally` is what one record adds to one slot: a few ``<variant>|<measure>`` fields and
amounts, counted at most once per ``member`` (the store remembers folded members for two days,
so a redelivered record adds nothing). The measures (see ``docs/report-format.md``):

- ``decisions`` (one per logged decision, member its id) and ``expected`` on every variant: the
  decision's probability of that variant, summed — the counts a bandit or split should have
  served, for the propensity check;
- ``exposures``: an impression, at most one per decision (a viewable impression of the slot);
- ``clicks``: a click on the slot, at most one per decision, so clicks ≤ exposures (a rate);
- ``conversions``, ``value``, ``value_sq``: a conversion of a session that holds the variant,
  with its value (``sq``: the sum of squares, for Welch's test);
- ``engaged_n``, ``engaged_s``, ``engaged_s_sq`` and ``scroll_n``, ``scroll``, ``scroll_sq``:
  the tracker's engaged-time and scroll reports of a session that holds the variant.

The learner's joined examples (a decision with its reward after the reward window) add the sums
off-policy estimates need (:func:`fold_example`, member ``w:<decision>``): for the chosen arm
and for the targets :data:`TARGETS` (``~logged``, ``~uniform``, ``~greedy``: field names no
variant id can take) ``ips_n``, ``ips_w``, ``ips_w_sq``, ``ips_wr``, ``ips_wr_sq``, ``ips_w2r``
(:class:`~proxy.evaluate.weighted.WeightSums`); and for the chosen arm the reward and a
pre-exposure covariate (:data:`COVARIATE`: the visitor's visits in the 30 days before their
first exposure to the slot, frozen then in the profile by :func:`frozen_covariate` and logged
with every later decision; 0 without a profile) for CUPED: ``cuped_y``,
``cuped_y_sq``, ``cuped_x``, ``cuped_x_sq``, ``cuped_xy`` (their count is ``ips_n``).

Lost exposures are ``decisions − exposures``: decided, never seen. Bots, slots or variants the
live rules do not have (a beacon is visitor input: forged names create nothing) and outage
decisions with their impressions and clicks (the control while the store could not answer,
outside every experiment: ``proxy.decide.decision.OUTAGE``) are left out.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

from proxy.records.decision import (
    HOLDOUT_MODE,
    OUTAGE,
    DecisionRecord,
    LoggedDecision,
    is_outage_id,
)
from proxy.records.event_record import EventRecord
from proxy.records.events import Click, Conversion, Engaged, Impression, Scroll
from proxy.records.results_buckets import Buckets, Tally, hour_of

MEASURES = (
    "decisions",
    "exposures",
    "clicks",
    "conversions",
    "value",
    "value_sq",
    "engaged_n",
    "engaged_s",
    "engaged_s_sq",
    "scroll_n",
    "scroll",
    "scroll_sq",
)
EXPECTED = "expected"  # "<variant>|expected": summed logged probabilities
WEIGHT_SUMS = ("ips_n", "ips_w", "ips_w_sq", "ips_wr", "ips_wr_sq", "ips_w2r")
# Slot-level target policies of the off-policy sums: the logging policy itself (w = 1), uniform
# over the offered variants, and the logging pmf's most likely variant (the model's own choice).
TARGETS = ("~logged", "~uniform", "~greedy")
# joined examples whose reward was below 0 (proxy.results.offpolicy clips at 0 without any)
NEGATIVE_REWARDS = "~negative|n"
COVARIATE = "visits_30d"  # a profile field, frozen at the first exposure (frozen_covariate)
# The profile field that keeps a slot's covariate as of the visitor's first exposure to it.
FROZEN_COVARIATE_PREFIX = "covariate_at:"

Known = Mapping[str, Iterable[str]]  # slot -> its variants in the live rules


def needs_sessions(record: EventRecord) -> bool:
    """Whether the record counts for the variants its session holds (no slot of its own)."""
    return not record.bot and isinstance(record.event, Conversion | Engaged | Scroll)


def fold_event(
    record: EventRecord, showing: Mapping[str, str], known: Mapping[str, frozenset[str]]
) -> list[Tally]:
    """What one event record adds; ``showing`` is slot -> variant its session holds now."""
    if record.bot:
        return []
    event, hour = record.event, hour_of(record.received_ms)

    def fine(slot: str, variant: str) -> bool:
        return variant in known.get(slot, frozenset())

    if isinstance(event, Impression):
        if not fine(event.slot, event.variant) or is_outage_id(event.decision):
            return []
        adds = ((f"{event.variant}|exposures", 1.0),)
        return [
            Tally(event.slot, hour, f"x:{event.decision}", adds, (event.variant, record.visitor))
        ]
    if isinstance(event, Click):
        if event.slot is None or event.variant is None or event.decision is None:
            return []
        if is_outage_id(event.decision):
            return []
        if not fine(event.slot, event.variant):
            return []
        return [Tally(event.slot, hour, f"c:{event.decision}", ((f"{event.variant}|clicks", 1.0),))]
    per_variant = _session_measures(event)
    if per_variant is None:
        return []
    tag, measures = per_variant
    return [
        Tally(slot, hour, f"{tag}:{event.id}", tuple((f"{v}|{m}", x) for m, x in measures))
        for slot, v in sorted(showing.items())
        if fine(slot, v)
    ]


def _session_measures(event: object) -> tuple[str, tuple[tuple[str, float], ...]] | None:
    if isinstance(event, Conversion):
        value = event.value or 0.0
        return "v", (("conversions", 1.0), ("value", value), ("value_sq", value * value))
    if isinstance(event, Engaged):
        seconds = event.ms / 1000
        return "e", (("engaged_n", 1.0), ("engaged_s", seconds), ("engaged_s_sq", seconds**2))
    if isinstance(event, Scroll):
        depth = event.depth
        return "s", (("scroll_n", 1.0), ("scroll", depth), ("scroll_sq", depth * depth))
    return None


def fold_decision(decision: LoggedDecision, known: Mapping[str, frozenset[str]]) -> list[Tally]:
    """What one logged decision adds: a decision for the chosen variant, and each variant's
    probability to its ``expected`` count (a rule pin or default is certain: probability 1).
    A rule's holdout record is a page view where the rule's conditions held: its exposure too
    (member ``x:<decision>``, as an impression's, with the visitor)."""
    variants = known.get(decision.slot)
    if variants is None or decision.chosen not in variants or decision.ts_ms is None:
        return []
    if decision.reason == OUTAGE:  # outside every experiment
        return []
    hour = hour_of(decision.ts_ms)
    adds = [(f"{decision.chosen}|decisions", 1.0)]
    if decision.pmf is not None:
        adds += [
            (f"{v}|{EXPECTED}", p)
            for v, p in zip(decision.actions, decision.pmf, strict=True)
            if v in variants and p > 0
        ]
    else:
        adds.append((f"{decision.chosen}|{EXPECTED}", 1.0))
    tallies = [Tally(decision.slot, hour, f"d:{decision.id}", tuple(adds))]
    if decision.mode == HOLDOUT_MODE:
        unit = decision.visitor or decision.session
        seen = ((f"{decision.chosen}|exposures", 1.0),)
        visitor = (decision.chosen, unit) if unit else None
        tallies.append(Tally(decision.slot, hour, f"x:{decision.id}", seen, visitor))
    return tallies


def fold_example(record: DecisionRecord, known: Mapping[str, frozenset[str]]) -> list[Tally]:
    """What one joined example adds to the off-policy sums (see the module docstring): the
    chosen arm's target "always this variant" (w = 1/p) and each of :data:`TARGETS`."""
    variants = known.get(record.slot)
    if not record.is_example or variants is None or record.chosen not in variants:
        return []
    if record.ts_ms is None:
        return []
    reward, p = record.reward or 0.0, record.p
    greedy = record.chosen
    if record.pmf is not None:
        greedy = record.actions[max(range(len(record.pmf)), key=record.pmf.__getitem__)]
    weights = {
        record.chosen: 1 / p,
        "~logged": 1.0,
        "~uniform": 1 / (len(record.actions) * p),
        "~greedy": 1 / p if greedy == record.chosen else 0.0,
    }
    adds: list[tuple[str, float]] = []
    for target, w in weights.items():
        wr = w * reward
        values = (1.0, w, w * w, wr, wr * wr, w * wr)
        adds += [(f"{target}|{m}", x) for m, x in zip(WEIGHT_SUMS, values, strict=True) if x]
    if reward < 0:  # a negative reward (the API's, or another config's): no clip at 0
        adds.append((NEGATIVE_REWARDS, 1.0))
    x = covariate(record)
    moments = (reward, reward * reward, x, x * x, x * reward)
    names = ("cuped_y", "cuped_y_sq", "cuped_x", "cuped_x_sq", "cuped_xy")
    adds += [(f"{record.chosen}|{m}", v) for m, v in zip(names, moments, strict=True) if v]
    return [Tally(record.slot, hour_of(record.ts_ms), f"w:{record.id}", tuple(adds))]


def covariate(record: DecisionRecord) -> float:
    """The pre-exposure covariate of a decision: the one logged with it (frozen at the
    visitor's first exposure to the slot); for a record logged before that existed,
    :data:`COVARIATE` in its request context as the proxy saw it when deciding."""
    logged = getattr(record, "covariate", None)
    if logged is not None:
        return _number(logged)
    return _number((getattr(record, "rule_context", None) or {}).get(COVARIATE))


def frozen_covariate(
    profile: Mapping[str, str], slot_id: str, context: Mapping[str, object]
) -> tuple[float, dict[str, str]]:
    """The covariate to log with a decision in ``slot_id``, and the profile field to freeze now
    (empty when frozen already): the value at the visitor's first exposure to the slot, so that
    visits the slot itself brought about afterwards cannot take part of its effect away."""
    field = f"{FROZEN_COVARIATE_PREFIX}{slot_id}"
    stored = profile.get(field)
    if stored is not None:
        try:
            return _number(float(stored)), {}
        except ValueError:
            return 0.0, {}  # not a number (written by hand): frozen all the same, read as none
    value = _number(context.get(COVARIATE))
    return value, {field: repr(value)}


def _number(value: object) -> float:
    """A finite number as a float; 0 for anything else (absent: no profile yet)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return 0.0
    return float(value) if math.isfinite(value) else 0.0


def summed(tallies: Iterable[Tally]) -> Buckets:
    """What the store would hold after folding ``tallies``: each member's additions once,
    summed per hour (for in-process runs and tests; the store's own is
    :mod:`proxy.store.results`)."""
    seen: set[str] = set()
    sums: dict[int, dict[str, float]] = {}
    for tally in tallies:
        if tally.member in seen:
            continue
        seen.add(tally.member)
        bucket = sums.setdefault(tally.hour, {})
        for field, amount in tally.adds:
            bucket[field] = bucket.get(field, 0.0) + amount
    return Buckets(sums, {})
