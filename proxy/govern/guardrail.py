"""The automatic guardrail (pure): which variants of a slot fall clearly below its control.

A p-chart over one window (default the last 60 minutes, see :mod:`proxy.govern.windows`): the
centre line is the control's rate ``p`` on the slot's measure, and a variant measured on ``n``
impressions is out of control when its rate is below ``p - 3·sqrt(p(1-p)/n)``, the control's
lower 3-sigma limit at the variant's sample size. If the variant were as good as the control,
that would happen by chance in about 0.13 % of checks.

- **Measure.** Conversion rate when any variant of the slot has a conversion in the window, else
  click-through rate when any has a click, else nothing is judged (``measure="auto"``; ``"cvr"``
  or ``"ctr"`` force one). A slot whose conversions are not configured is thus guarded on CTR.
- **Minimum sample.** The variant and the control (over the same minutes, below) both need
  ``min_impressions``, so a handful of unlucky impressions never pauses anything and the centre
  line is an estimate.
- **Same minutes.** The control's rate is taken over the minutes in which the variant was shown
  (in the window, after its last pause). Conversions arrive minutes after the impressions they
  follow, so a variant added or resumed recently must not be compared with a control whose
  older impressions have had time to convert; the traffic mix (time of day) is the same too.
- **Never the control**, and only the slot's current variants (stale counters of a variant
  removed from the rules are ignored).
- **Fresh evidence after a pause.** A variant's buckets up to its last guardrail pause are not
  counted for it, so a variant resumed by hand is judged again only on what it does afterwards.

Caveats: impressions are not independent trials (a visitor sees a slot on several pages), which
makes chance breaches somewhat likelier than the nominal 0.13 %; and the check runs repeatedly.
The minimum sample and the 3-sigma width keep false pauses rare; a pause is reversible by hand.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Literal

from proxy.govern.windows import SIGMAS, lower_control_limit, window_counts
from proxy.records.slot_counts import Counts, SlotWindows, minute_of

Measure = Literal["auto", "cvr", "ctr"]
_RATE_NAMES = {"cvr": "conversion rate", "ctr": "click-through rate"}


@dataclass(frozen=True, slots=True)
class Breach:
    """A variant below the control's lower control limit."""

    slot: str
    variant: str
    measure: Literal["cvr", "ctr"]
    rate: float  # the variant's
    limit: float  # the control's lower control limit at the variant's sample size
    n: float  # the variant's impressions in the window
    control_rate: float

    @property
    def why(self) -> str:
        return (
            f"{_RATE_NAMES[self.measure]} {self.rate:.2%} below the control's lower control "
            f"limit {self.limit:.2%} (n={round(self.n)})"
        )


def _rate(counts: Counts, measure: Literal["cvr", "ctr"]) -> float:
    hits = counts.conversions if measure == "cvr" else counts.clicks
    return hits / counts.impressions


def choose_measure(windows: Counts) -> Literal["cvr", "ctr"] | None:
    """``cvr`` if the slot converted in the window, else ``ctr`` if it was clicked, else None."""
    if windows.conversions > 0:
        return "cvr"
    if windows.clicks > 0:
        return "ctr"
    return None


def breaches(
    slot: str,
    control: str,
    variants: Collection[str],
    windows: SlotWindows,
    now_ms: int,
    *,
    min_impressions: float = 200,
    window_minutes: int = 60,
    measure: Measure = "auto",
    sigmas: float = SIGMAS,
) -> list[Breach]:
    """The variants of ``slot`` (other than ``control``) to pause now, in ``variants`` order."""
    totals = {
        variant: window_counts(windows.counts.get(variant, {}), now_ms, window_minutes)
        for variant in variants
    }
    chosen = choose_measure(sum(totals.values(), Counts())) if measure == "auto" else measure
    if chosen is None or control not in totals:
        return []
    found: list[Breach] = []
    for variant in variants:
        if variant == control:
            continue
        paused_at = windows.paused_at_ms.get(variant)
        after = None if paused_at is None else minute_of(paused_at)
        per_minute = windows.counts.get(variant, {})
        counts = window_counts(per_minute, now_ms, window_minutes, after_minute=after)
        if counts.impressions < min_impressions:
            continue
        shown = {minute for minute, bucket in per_minute.items() if bucket.impressions > 0}
        reference = window_counts(
            windows.counts.get(control, {}),
            now_ms,
            window_minutes,
            after_minute=after,
            only_minutes=shown,
        )
        if reference.impressions < min_impressions:
            continue
        centre = _rate(reference, chosen)
        limit = lower_control_limit(centre, counts.impressions, sigmas)
        observed = _rate(counts, chosen)
        if observed < limit:
            found.append(Breach(slot, variant, chosen, observed, limit, counts.impressions, centre))
    return found
