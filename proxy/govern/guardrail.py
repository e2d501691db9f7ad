"""The guardrail (pure): pause a variant only when serving it has clearly cost reward.

**What is judged.** A bandit serves each variant mostly where it is best, so a variant's overall
rate mixes contexts differently from the control's and says nothing about harm (the earlier
p-chart paused variants that were best somewhere in 10 of 22 runs). Instead, for variant *v*
and control *c*, each joined decision *i* whose logged pmf ``π_i`` gives both a positive
probability contributes the inverse-propensity contrast

    D_i = r_i · (1[a_i = v] − 1[a_i = c] · π_i(v) / π_i(c)),

whose expectation given the past is ``Δ_i = E_x[π_i(v|x) · (μ(x, v) − μ(x, c))]``: the reward
serving *v* gained against serving the control **in the contexts, and as often, as the policy
served v** (the logged policy against the same policy with *v*'s share moved to the control).
A variant that is never worse than the control where it is served has ``Δ_i ≥ 0`` however the
bandit's serving shifts; one at half the control's rate everywhere has ``Δ_i < 0``.

**Always-valid test.** ``r`` is clipped to the slot's reward range and scaled to ``[0, 1]``, so
``D_i ≤ 1``. For bets ``λ ∈ (0, ½]`` the wealth ``Π(1 − λ·D_i)`` is a non-negative
supermartingale while every ``Δ_i ≥ 0`` (its factors have conditional mean ``1 − λΔ_i ≤ 1``),
and so is the average over a fixed grid of bets. By Ville's inequality the average ever
reaching ``1/α`` has probability at most ``α`` — however often it is checked (Shafer & Vovk,
*Game-Theoretic Foundations for Probability and Finance*, 2019; Waudby-Smith & Ramdas, *JRSS B*
86(1), 2024, §4 on betting with a grid mixture). Only the upper bound of ``D`` matters, so
large importance weights (tiny logged probabilities of the control) cannot break validity;
they only make evidence arrive in bigger steps.

- **Level.** ``alpha`` per slot (default 0.001), split evenly over its non-control variants.
- **Never only the control** without an overwhelming case: pausing the last active variant other
  than the control needs ``1/last_alpha`` (default 10⁶) instead.
- **Which records.** Bandit decisions with a logged pmf in which both the variant and the control
  were possible; rule, default, held and paused serves carry no counterfactual and are skipped.
- **After a pause** the variant is not judged until a record decided after the pause offers it
  again (a resume by hand): then its evidence starts afresh.

Caveats: a visitor's decisions are not independent trials, and the logged ``p`` must be what the
policy really used; a pause is reversible by hand (``vernier resume``).
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import msgspec

from proxy.records.decision import DecisionRecord
from proxy.rules.schema import Reward

ALPHA = 0.001
LAST_ALPHA = 1e-6
# bets λ = ½, ¼, …, 2⁻¹⁴: the best constant bet for a harm of a few ‰ per decision is inside
BETS: tuple[float, ...] = tuple(0.5**k for k in range(1, 15))


class Evidence(msgspec.Struct):
    """One variant's running test against the control (kept in the learner's checkpoint)."""

    decisions: int = 0  # records that carried the contrast
    served: int = 0  # of which the variant was served
    gain: float = 0.0  # Σ D_i (scaled reward units)
    variant_reward: float = 0.0  # Σ r where the variant was served (scaled)
    control_reward: float = 0.0  # Σ r·π(v)/π(c) where the control was served (scaled)
    control_weight: float = 0.0  # Σ π(v)/π(c) where the control was served
    log_wealth: list[float] = msgspec.field(default_factory=lambda: [0.0] * len(BETS))
    paused_at_ms: int | None = None

    def add(self, contrast: float, served: bool, reward: float, ratio: float) -> None:
        self.decisions += 1
        self.gain += contrast
        if served:
            self.served += 1
            self.variant_reward += reward
        elif ratio:
            self.control_reward += reward * ratio
            self.control_weight += ratio
        if contrast:  # most decisions earn nothing: every bet's factor is 1
            self.log_wealth = [w + math.log1p(-bet * contrast) for w, bet in zip(
                self.log_wealth, BETS, strict=True
            )]  # fmt: skip

    @property
    def wealth(self) -> float:
        """The grid mixture's wealth: the evidence that the variant costs reward (1 = none)."""
        top = max(self.log_wealth)
        return math.exp(top) * math.fsum(math.exp(w - top) for w in self.log_wealth) / len(BETS)


@dataclass(frozen=True, slots=True)
class Pause:
    """A variant the guardrail pauses, and the numbers that made it."""

    slot: str
    variant: str
    decisions: int
    served: int
    variant_rate: float  # the variant's mean reward where it was served (reward units)
    control_rate: float  # the control's, reweighted to the same contexts (reward units)
    per_decision: float  # the IPS estimate of Δ, per decision (reward units)
    wealth: float
    threshold: float

    @property
    def why(self) -> str:
        return (
            f"where it was served, {self.variant} earned {self.variant_rate:.4g} per decision "
            f"against the control's {self.control_rate:.4g} there (off-policy, {self.decisions} "
            f"decisions, {self.served} of {self.variant}; {self.per_decision:+.4g} per decision); "
            f"evidence {self.wealth:.3g} >= {self.threshold:.3g} (always-valid test at "
            f"{1 / self.threshold:.2g})"
        )


def reward_range(
    click: float, conversion: float, default: float, thresholds: Iterable[float] = ()
) -> tuple[float, float]:
    """The range rewards are clipped to: from the lowest to the highest single part of the
    slot's reward (and 0, what a decision that earned nothing scores at worst)."""
    parts = [0.0, click, conversion, default, *thresholds]
    low, high = min(parts), max(parts)
    return (low, high) if high > low else (low, low + 1.0)


def slot_reward_range(spec: Reward) -> tuple[float, float]:
    """:func:`reward_range` of a slot's reward settings."""
    thresholds = [t.value for t in (spec.engaged_s, spec.scroll) if t is not None]
    return reward_range(spec.click, spec.conversion, spec.default, thresholds)


class SlotGuardrail:
    """The sequential tests of one slot's variants against its control (see the module doc)."""

    def __init__(
        self,
        slot: str,
        control: str,
        reward_low: float = 0.0,
        reward_high: float = 1.0,
        *,
        alpha: float = ALPHA,
        last_alpha: float = LAST_ALPHA,
        evidence: Mapping[str, Evidence] | None = None,
    ) -> None:
        if not (0 < last_alpha <= alpha < 1) or reward_high <= reward_low:
            raise ValueError("need 0 < last_alpha <= alpha < 1 and reward_low < reward_high")
        self.slot = slot
        self.control = control
        self.low = reward_low
        self.span = reward_high - reward_low
        self.alpha = alpha
        self.last_alpha = last_alpha
        self.evidence: dict[str, Evidence] = dict(evidence or {})
        self.active: frozenset[str] = frozenset()  # variants the latest pmf could serve

    def observe(self, record: DecisionRecord) -> None:
        """Fold one joined decision into the tests (records without a usable pmf are skipped)."""
        pmf, actions = record.pmf, record.actions
        if pmf is None or record.reward is None or self.control not in actions:
            return
        self.active = frozenset(a for a, p in zip(actions, pmf, strict=True) if p > 0)
        p_control = pmf[actions.index(self.control)]
        if p_control <= 0:
            return
        reward = min(max(record.reward, self.low), self.low + self.span) - self.low
        reward /= self.span
        for variant, p_variant in zip(actions, pmf, strict=True):
            if variant == self.control or p_variant <= 0:
                continue
            evidence = self.evidence.get(variant)
            if evidence is None:
                evidence = self.evidence[variant] = Evidence()
            elif evidence.paused_at_ms is not None:
                if record.ts_ms is None or record.ts_ms <= evidence.paused_at_ms:
                    continue  # decided before the pause: in flight, not a resume
                evidence = self.evidence[variant] = Evidence()  # resumed by hand: afresh
            ratio = p_variant / p_control
            if record.chosen == variant:
                evidence.add(reward, True, reward, ratio)
            elif record.chosen == self.control:
                evidence.add(-reward * ratio, False, reward, ratio)
            else:
                evidence.add(0.0, False, 0.0, 0.0)

    def pauses(self, now_ms: int, variants: Collection[str]) -> list[Pause]:
        """The variants to pause now (strongest evidence first), marked paused at ``now_ms``.

        ``variants``: the slot's current variants; one the latest pmf gave no probability (paused
        by hand) counts as inactive when deciding whether only the control would be left.
        """
        judged = [v for v in variants if v != self.control]
        if not judged:
            return []
        active = {v for v in judged if v in self.active or not self.active}
        threshold = len(judged) / self.alpha
        found: list[Pause] = []
        candidates = sorted(
            (v for v in judged if v in self.evidence and self.evidence[v].paused_at_ms is None),
            key=lambda v: -self.evidence[v].wealth,
        )
        for variant in candidates:
            evidence = self.evidence[variant]
            wealth = evidence.wealth
            needed = threshold if active - {variant} else max(threshold, 1 / self.last_alpha)
            if wealth < needed:
                continue
            evidence.paused_at_ms = now_ms
            active.discard(variant)
            found.append(self._pause(variant, evidence, wealth, needed))
        return found

    def _pause(self, variant: str, evidence: Evidence, wealth: float, needed: float) -> Pause:
        return Pause(slot=self.slot, **self._numbers(variant, evidence, wealth, needed))

    def _numbers(
        self, variant: str, evidence: Evidence, wealth: float, needed: float
    ) -> dict[str, Any]:
        served_rate = evidence.variant_reward / evidence.served if evidence.served else 0.0
        weight = evidence.control_weight
        control_rate = evidence.control_reward / weight if weight else 0.0
        per_decision = evidence.gain / evidence.decisions if evidence.decisions else 0.0
        return {
            "variant": variant,
            "decisions": evidence.decisions,
            "served": evidence.served,
            "variant_rate": self.low + self.span * served_rate,
            "control_rate": self.low + self.span * control_rate,
            "per_decision": self.span * per_decision,
            "wealth": wealth,
            "threshold": needed,
        }

    def standing(self, variants: Collection[str]) -> list[dict[str, Any]]:
        """Each judged variant's evidence now, in reward units, with the evidence a pause would
        need (as if another variant stayed active) and when it was paused: what the dashboard
        shows beside the pauses."""
        judged = [v for v in variants if v != self.control]
        out = []
        for variant in judged:
            evidence = self.evidence.get(variant)
            if evidence is not None:
                row = self._numbers(variant, evidence, evidence.wealth, len(judged) / self.alpha)
                out.append(row | {"paused_at_ms": evidence.paused_at_ms})
        return out


_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(dict[str, dict[str, Evidence]])


def encode_evidence(guards: Mapping[str, SlotGuardrail]) -> bytes:
    """Every slot's evidence (msgpack), for the learner's checkpoint."""
    return _encoder.encode({slot: guard.evidence for slot, guard in guards.items()})


def decode_evidence(data: bytes) -> dict[str, dict[str, Evidence]]:
    """What :func:`encode_evidence` wrote; ``ValueError`` if it is not that."""
    try:
        found = _decoder.decode(data)
    except (msgspec.DecodeError, msgspec.ValidationError) as err:
        raise ValueError(f"not guardrail evidence: {err}") from None
    for per_variant in found.values():
        for evidence in per_variant.values():
            if len(evidence.log_wealth) != len(BETS):
                raise ValueError("guardrail evidence of another bet grid")
    return found
