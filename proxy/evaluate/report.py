"""What ``vernier evaluate`` prints: a text table per slot, or one JSON document (``--json``).

The JSON carries every number at full precision (shortest round-trip form), every interval with
the method that made it, the effective sample size, the largest weight and the warnings with a
stable code; ``docs/decision-log.md`` documents its fields. Undefined numbers (SNIPS when no
logged action had target probability) are ``null``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import msgspec

from proxy.evaluate.estimators import Estimate, Evaluation, IntervalMethod

FORMAT = "vernier-evaluate/1"


@dataclass(frozen=True, slots=True)
class SlotReport:
    """One slot's evaluations and what they rest on."""

    slot: str
    decisions: int  # lines of the slot in the log
    examples: int  # of which usable (a joined reward, not a sticky re-serve)
    reward_range: tuple[float, float]
    dr_features: tuple[str, ...]  # the namespaces r̂ used
    reward_model_cells: int
    evaluations: tuple[Evaluation, ...]


def format_table(evaluations: Sequence[Evaluation]) -> str:
    """A plain-text table of one slot's estimates, warnings below."""
    lines = [
        f"{'policy':<24} {'n':>7} {'ESS':>9}  {'IPS [95% CI]':<26} {'SNIPS [95% CI]':<26} "
        "DR [95% CI]"
    ]
    for e in evaluations:
        cells = [f"{x.value:.4f} [{x.low:.4f}, {x.high:.4f}]" for x in (e.ips, e.snips, e.dr)]
        lines.append(
            f"{e.name:<24} {e.n:>7} {e.ess:>9.1f}  {cells[0]:<26} {cells[1]:<26} {cells[2]}"
        )
    for e in evaluations:
        lines += [f"warning: {e.name}: {w.message}" for w in e.warnings]
    return "\n".join(lines)


def format_text(
    reports: Sequence[SlotReport], skipped: Sequence[str], method: IntervalMethod
) -> str:
    """Every slot's table, the slots without examples, and how the intervals were made."""
    parts = []
    for report in reports:
        features = ", ".join(report.dr_features) or "none"
        low, high = report.reward_range
        parts.append(
            f"slot {report.slot} ({report.examples} examples of {report.decisions} decisions; "
            f"rewards in [{low:g}, {high:g}]; DR features: {features})\n"
            + format_table(report.evaluations)
        )
    parts += [f"slot {slot}: no records with a joined reward" for slot in skipped]
    if not parts:
        return "the log holds no decisions"
    return "\n\n".join(parts) + f"\n\nintervals: {method.describe()}"


def _estimate(e: Estimate) -> dict[str, float]:
    return {"value": e.value, "low": e.low, "high": e.high, "std_error": e.std_error}


def to_json(
    reports: Sequence[SlotReport], skipped: Sequence[str], method: IntervalMethod, *, log: str
) -> bytes:
    """The ``--json`` document (one line)."""
    document: dict[str, Any] = {
        "format": FORMAT,
        "log": log,
        "interval": {
            "method": method.name,
            "level": method.level,
            "resamples": method.resamples,
            "weights": method.weights,
            "seed": method.seed,
            "clipped_to": "reward_range",
        },
        "slots": [
            {
                "slot": r.slot,
                "decisions": r.decisions,
                "examples": r.examples,
                "reward_range": list(r.reward_range),
                "dr_features": list(r.dr_features),
                "reward_model_cells": r.reward_model_cells,
                "policies": [
                    {
                        "name": e.name,
                        "n": e.n,
                        "ips": _estimate(e.ips),
                        "snips": _estimate(e.snips),
                        "dr": _estimate(e.dr),
                        "ess": e.ess,
                        "max_weight": e.max_weight,
                        "min_logged_p": e.min_logged_p,
                        "warnings": [{"code": w.code, "message": w.message} for w in e.warnings],
                    }
                    for e in r.evaluations
                ],
            }
            for r in reports
        ],
        "skipped_slots": list(skipped),
    }
    return msgspec.json.encode(document)
