"""The report as text, CSV or Markdown (JSON is the report itself, ``docs/report-format.md``)."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Mapping
from typing import Any

COLUMNS = (
    "slot", "variant", "exposures", "lost_exposures", "clicks", "ctr", "ctr_ci",
    "lift_vs_control", "lift_ci", "p_value", "fisher_p", "chance_to_beat_control",
    "chance_to_be_best", "expected_loss", "conversions", "visitors", "conversions_per_visitor",
    "conversion_lift", "conversion_lift_ci", "conversion_p", "snips", "snips_ci", "dr", "dr_ci",
)  # fmt: skip


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list):
        return "[" + ", ".join(_cell(v) for v in value) + "]"
    return str(value)


def rows(report: dict[str, Any]) -> list[list[str]]:
    out = []
    for slot in report["slots"]:
        for variant in slot["variants"]:
            values = {"slot": slot["id"], "variant": variant["id"], **variant}
            out.append([_cell(values.get(c)) for c in COLUMNS])
    return out


def _slot_line(slot: dict[str, Any]) -> str:
    srm = ""
    if slot["srm_check"] is not None:
        flag = "  MISMATCH" if slot["srm_flagged"] else ""
        srm = f", {slot['srm_check']} p={_cell(slot['srm_p'])}{flag}"
    kind = "rule " if slot.get("kind") == "rule" else ""
    line = (
        f"{kind}{slot['id']} (policy {slot['policy']}, control {slot['control']}{srm}; "
        f"leader {_cell(slot['leader'])}; {_cell(slot['sample_size_per_variant'])} exposures "
        f"per variant for a {slot['mde']:.0%} lift at {slot['power']:.0%} power)"
    )
    return f"{line}\n  {NOT_RANDOMISED}" if compares_audiences(slot) else line


# what a slot whose variants were chosen by context says above its CTR table
NOT_RANDOMISED = (
    "not randomised: the variants reached different visitors (chosen by context: the bandit, "
    "a pin or an in-page trigger), so the CTRs, lifts and P(best) compare different audiences; "
    "the off-policy values estimate each variant served to everyone, but only where the log "
    "gave it a chance (not where a pin decided)"
)


def compares_audiences(slot: Mapping[str, Any]) -> bool:
    """Whether a slot's CTR table compares variants that reached different visitors: it is not
    ``randomised`` and two variants or more were seen (with fewer nothing is compared)."""
    seen = sum(1 for variant in slot["variants"] if variant.get("exposures"))
    return not slot.get("randomised", True) and seen >= 2


def off_policy_line(slot: dict[str, Any]) -> str | None:
    """The slot's off-policy values in one line (``docs/report-format.md``, ``off_policy``)."""
    section = slot.get("off_policy")
    if not section:
        return None
    policies = "; ".join(
        f"{p['id']} {_cell(p['snips'])} {_cell(p['snips_ci'])}" for p in section["policies"]
    )
    line = f"off-policy SNIPS over {section['examples']} joined decisions: {policies}"
    if "best_fixed_variant" in section:
        line += (
            f"; best fixed {section['best_fixed_variant']}, regret "
            f"{_cell(section['regret_per_example'])} {_cell(section['regret_per_example_ci'])}"
            f" per decision ({_cell(section['regret_total'])} in all)"
        )
    return line


def doubly_robust_lines(slot: dict[str, Any]) -> list[str]:
    """The slot's doubly robust section (``docs/report-format.md``, ``doubly_robust``): a line
    per policy, then the warnings; the message alone when there was too little to estimate."""
    section = slot.get("doubly_robust")
    if not section:
        return []
    if section["message"] is not None:
        lines = [f"doubly robust: {section['message']}"]
    else:
        sampled = ", the most recent of the period" if section["sampled"] else ""
        lines = [
            f"doubly robust over {section['examples']} joined decisions{sampled} "
            f"(limit {section['limit']}; {section['interval']}):"
        ]
        lines += [
            f"  {p['id']}: DR {_cell(p['dr'])} {_cell(p['dr_ci'])}, IPS {_cell(p['ips'])} "
            f"{_cell(p['ips_ci'])}, SNIPS {_cell(p['snips'])} {_cell(p['snips_ci'])}, "
            f"ESS {_cell(p['ess'])}"
            for p in section["policies"]
        ]
    seen: set[str] = set()
    for warning in section["warnings"] + [
        w for p in section["policies"] + section["variants"] for w in p["warnings"]
    ]:
        if warning["message"] not in seen:
            seen.add(warning["message"])
            lines.append(f"  warning: {warning['message']}")
    return lines


def cuped_line(slot: dict[str, Any]) -> str | None:
    """Each variant's reward difference from the control, unadjusted and CUPED-adjusted."""
    summary = slot.get("cuped")
    if not summary:
        return None
    parts = [
        f"{v['id']} {_cell(v['reward_diff'])} {_cell(v['reward_diff_ci'])} p={_cell(v['reward_p'])}"
        f" | CUPED {_cell(v['cuped_diff'])} {_cell(v['cuped_diff_ci'])} p={_cell(v['cuped_p'])}"
        for v in slot["variants"]
        if not v["is_control"]
    ]
    return (
        f"reward per decision vs control ({summary['decisions']} joined decisions; CUPED on "
        f"{summary['covariate']}, variance kept {_cell(summary['variance_kept'])}): "
        + "; ".join(parts)
    )


def period_text(report: Mapping[str, Any]) -> str:
    """The report's period as dates (``2026-12-01 – 2026-12-07 UTC, per day``)."""
    period = report["period"]
    seconds = {"hour": 3600, "day": 86_400}[period["bucket"]]

    def at(index: int) -> str:
        when = dt.datetime.fromtimestamp(index * seconds, dt.UTC)
        return when.strftime("%Y-%m-%d %H:00" if period["bucket"] == "hour" else "%Y-%m-%d")

    return f"{at(period['first'])} – {at(period['last'])} UTC, per {period['bucket']}"


def as_text(report: dict[str, Any]) -> str:
    lines = [f"period: {period_text(report)}", ""]
    table = rows(report)
    widths = [max(len(c), *(len(r[i]) for r in table)) for i, c in enumerate(COLUMNS)]
    for slot in report["slots"]:
        lines.append(_slot_line(slot))
        lines.append(
            "  " + "  ".join(c.ljust(w) for c, w in zip(COLUMNS[1:], widths[1:], strict=True))
        )
        for row in table:
            if row[0] == slot["id"]:
                lines.append(
                    "  " + "  ".join(v.ljust(w) for v, w in zip(row[1:], widths[1:], strict=True))
                )
        for line in (off_policy_line(slot), cuped_line(slot)):
            if line is not None:
                lines.append("  " + line)
        lines += ["  " + line for line in doubly_robust_lines(slot)]
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def as_csv(report: dict[str, Any]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    writer.writerows(rows(report))
    return buffer.getvalue()


def as_markdown(report: dict[str, Any]) -> str:
    lines = [f"period: {period_text(report)}", ""]
    table = rows(report)
    for slot in report["slots"]:
        lines += [f"### {_slot_line(slot)}", ""]
        lines.append("| " + " | ".join(COLUMNS[1:]) + " |")
        lines.append("|" + "---|" * (len(COLUMNS) - 1))
        lines += ["| " + " | ".join(r[1:]) + " |" for r in table if r[0] == slot["id"]]
        lines.append("")
        dr = doubly_robust_lines(slot)
        if dr:
            lines += [dr[0], ""]
            lines += [f"- {line.strip()}" for line in dr[1:]] + [""]
    return "\n".join(lines)
