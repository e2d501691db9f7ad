"""The report as HTML (pure): the pieces the dashboard's pages share, and the self-contained file
of ``vernier report --format html``.

Everything shown is escaped here (slot, variant and rule ids and pause reasons are operator
input). The charts are drawn in the browser by ``dashboard.js`` (``dashboard_js/``, uPlot) from
the page's JSON (``<script type="application/json" id="vn-data">``) built by
:mod:`proxy.results.charts`; the numbers are the report's (:mod:`proxy.results.report`). The file
report inlines the script and stylesheet, so it opens from disk with nothing fetched from anywhere.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from html import escape
from typing import Any

import orjson

from proxy.results.charts import slot_charts
from proxy.results.render import NOT_RANDOMISED, compares_audiences, period_text

GUARD_TITLE = "Pauses and control chart (last 60 minutes)"
OFF_POLICY_TITLE = "Off-policy values and regret"
STANDING_TITLE = "The guardrail's evidence (off-policy, as of the learner's last checkpoint)"


def esc(value: object) -> str:
    return escape(str(value), quote=True)


def pct(value: float | None, digits: int = 2) -> str:
    return "–" if value is None else f"{value * 100:.{digits}f} %"


def num(value: float | None) -> str:
    if value is None:
        return "–"
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.1f}"


def prob(value: float | None) -> str:
    return "–" if value is None else f"{value:.3g}"


def interval(pair: Sequence[float | None] | None) -> str:
    """``[lo, hi]`` in percent; a null upper bound is an unbounded interval (``∞``)."""
    if pair is None:
        return "–"
    return f"[{pct(pair[0])}, {'∞' if pair[1] is None else pct(pair[1])}]"


def badge(text: str, kind: str) -> str:
    return f'<span class="badge {esc(kind)}">{esc(text)}</span>'


def table(head: Sequence[str], rows: Iterable[Sequence[str]], numeric_from: int = 1) -> str:
    """A table of already-escaped cells; columns from ``numeric_from`` are right-aligned."""
    th = "".join(f"<th>{esc(h)}</th>" for h in head)
    body = []
    for row in rows:
        cells = (
            f'<td class="num">{cell}</td>' if i >= numeric_from else f"<td>{cell}</td>"
            for i, cell in enumerate(row)
        )
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f'<div class="scroll"><table><thead><tr>{th}</tr></thead><tbody>{"".join(body)}</tbody></table></div>'


def data_json(page: Mapping[str, Any]) -> str:
    """The page's chart data as a JSON script element (``<`` escaped: it cannot end the element)."""
    text = orjson.dumps(page).decode().replace("<", "\\u003c")
    return f'<script type="application/json" id="vn-data">{text}</script>'


def srm_badge(slot: Mapping[str, Any]) -> str:
    if slot["srm_check"] is None:
        return ""
    if slot["srm_flagged"]:
        return badge(f"{slot['srm_check']} mismatch p={prob(slot['srm_p'])}", "warn")
    return badge(f"{slot['srm_check']} ok p={prob(slot['srm_p'])}", "ok")


def leader_text(slot: Mapping[str, Any]) -> str:
    leader = slot["leader"]
    if leader is None:
        return "–"
    best = next(v["chance_to_be_best"] for v in slot["variants"] if v["id"] == leader)
    return f'{esc(leader)} <span class="muted">(P(best) {pct(best, 1)})</span>'


def variants_table(slot: Mapping[str, Any]) -> str:
    head = (
        "variant", "exposures", "lost", "clicks", "CTR", "CTR 95 %", "lift", "lift 95 %",
        "p", "p (Holm)", "always-valid p", "P(beat control)", "P(best)", "expected loss",
        "allocation", "conversions", "visitors", "conv./visitor", "conv. lift", "conv. lift 95 %",
        "conv. p",
    )  # fmt: skip
    rows = []
    for v in slot["variants"]:
        name = esc(v["id"]) + (' <span class="muted">(control)</span>' if v["is_control"] else "")
        test = f' <span class="muted">{esc(v["test"])}</span>' if v["test"] else ""
        rows.append(
            (
                name, num(v["exposures"]), num(v["lost_exposures"]), num(v["clicks"]),
                pct(v["ctr"]), interval(v["ctr_ci"]), pct(v["lift_vs_control"], 1),
                interval(v["lift_ci"]), prob(v["p_value"]) + test, prob(v["p_holm"]),
                prob(v["always_valid_p"]), pct(v["chance_to_beat_control"], 1),
                pct(v["chance_to_be_best"], 1), pct(v["expected_loss"], 3),
                pct(v["allocation"], 1), num(v["conversions"]), num(v["visitors"]),
                prob(v["conversions_per_visitor"]), pct(v["conversion_lift"], 1),
                interval(v["conversion_lift_ci"]), prob(v["conversion_p"]),
            )
        )  # fmt: skip
    return table(head, rows)


def _value(value: float | None) -> str:
    return "–" if value is None else f"{value:.4g}"


def _values(pair: Sequence[float] | None) -> str:
    return "–" if pair is None else f"[{_value(pair[0])}, {_value(pair[1])}]"


def off_policy_html(slot: Mapping[str, Any]) -> str:
    """The off-policy values (``docs/report-format.md``, ``off_policy``): each variant served
    alone and each policy, IPS and SNIPS with 95 % intervals, and the regret."""
    section = slot.get("off_policy")
    if not section:
        return (
            '<p class="muted">No joined examples in the period: no off-policy values.</p>'
            + doubly_robust_html(slot)
        )
    rows = [(esc(f"always {row['id']}"), *_estimate_cells(row)) for row in slot["variants"]] + [
        (esc(row["id"]), *_estimate_cells(row)) for row in section["policies"]
    ]
    head = ("policy", "IPS", "IPS 95 %", "SNIPS", "SNIPS 95 %", "ESS")
    regret = ""
    if "best_fixed_variant" in section:
        regret = (
            f"<p>Best fixed variant <b>{esc(section['best_fixed_variant'])}</b>; regret of the "
            f"served policy {_value(section['regret_per_example'])} per decision "
            f"{_values(section['regret_per_example_ci'])}, "
            f"{_value(section['regret_total'])} over the period.</p>"
        )
    return (
        f'<p class="muted">Off-policy values (reward per decision) from {num(section["examples"])}'
        " joined decisions.</p>"
        + table(head, rows)
        + regret
        + doubly_robust_html(slot)
        + cuped_html(slot)
    )


def doubly_robust_html(slot: Mapping[str, Any]) -> str:
    """The doubly robust section (``docs/report-format.md``, ``doubly_robust``): per variant
    served alone and per policy DR, IPS and SNIPS from one sample of examples, and warnings."""
    section = slot.get("doubly_robust")
    if not section:
        return ""
    if section["message"] is not None:
        return f'<p class="muted">Doubly robust: {esc(section["message"])}.</p>'
    rows = [(esc(f"always {row['id']}"), *_dr_cells(row)) for row in section["variants"]] + [
        (esc(row["id"]), *_dr_cells(row)) for row in section["policies"]
    ]
    head = ("policy", "DR", "DR 95 %", "IPS", "SNIPS", "ESS")
    sampled = ", the most recent of the period" if section["sampled"] else ""
    notes = dict.fromkeys(
        w["message"]
        for w in section["warnings"]
        + [w for row in section["policies"] + section["variants"] for w in row["warnings"]]
    )
    return (
        f'<p class="muted">Doubly robust values from {num(section["examples"])} joined '
        f"decisions{sampled} (at most {num(section['limit'])}; {esc(section['interval'])}).</p>"
        + table(head, rows)
        + "".join(f'<p class="muted">{esc(note)}</p>' for note in notes)
    )


def _dr_cells(row: Mapping[str, Any]) -> tuple[str, ...]:
    return (
        _value(row["dr"]), _values(row["dr_ci"]), _value(row["ips"]), _value(row["snips"]),
        _value(row["ess"]),
    )  # fmt: skip


def cuped_html(slot: Mapping[str, Any]) -> str:
    """Reward per decision against the control, unadjusted and CUPED-adjusted
    (``docs/report-format.md``, ``cuped``)."""
    summary = slot.get("cuped")
    if not summary:
        return ""
    rows = [
        (
            esc(v["id"]), _value(v["reward_mean"]), _value(v["reward_diff"]),
            _values(v["reward_diff_ci"]), prob(v["reward_p"]), _value(v["cuped_mean"]),
            _value(v["cuped_diff"]), _values(v["cuped_diff_ci"]), prob(v["cuped_p"]),
        )
        for v in slot["variants"]
    ]  # fmt: skip
    head = (
        "variant", "reward", "vs control", "95 %", "p", "CUPED reward", "vs control", "95 %", "p",
    )  # fmt: skip
    return (
        f'<p class="muted">Reward per joined decision; CUPED on {esc(summary["covariate"])} '
        f"before the decision (variance kept {_value(summary['variance_kept'])}).</p>"
        + table(head, rows)
    )


def _estimate_cells(row: Mapping[str, Any]) -> tuple[str, ...]:
    return (
        _value(row["ips"]), _values(row["ips_ci"]), _value(row["snips"]),
        _values(row["snips_ci"]), num(row["ess"]),
    )  # fmt: skip


def guardrail_table(rows: Sequence[Mapping[str, Any]]) -> str:
    """Pauses and the p-chart of the last 60 minutes (:func:`proxy.results.live.guardrail_rows`)."""
    if not rows:
        return '<p class="muted">No variant besides the control: nothing to guard.</p>'
    kinds = {"paused": "paused", "below": "warn", "ok": "ok", "waiting": "muted"}
    out = []
    for row in rows:
        state = badge(row["state"], kinds[row["state"]])
        if row["paused_by"] is not None:
            numbers = "".join(f", {esc(k)} {esc(v)}" for k, v in row["details"].items())
            why = f"by {esc(row['paused_by'])}: {esc(row['why'])}{numbers}"
            state += f' <span class="muted">{why}</span>'
        out.append(
            (
                esc(row["variant"]), esc(row["measure"]), num(row["impressions"]),
                pct(row["rate"]), pct(row["control_rate"]), pct(row["limit"]), state,
            )
        )  # fmt: skip
    head = ("variant", "measure", "impressions", "rate", "control", "lower limit", "state")
    return table(head, out, numeric_from=2)


def guardrail_standing_html(rows: Sequence[Mapping[str, Any]]) -> str:
    """The guardrail's own test per variant (:meth:`~proxy.govern.guardrail.SlotGuardrail.standing`):
    the variant's reward where it was served against the control's reweighted to the same
    contexts, and the evidence of harm against what a pause needs."""
    if not rows:
        return '<p class="muted">No evidence yet (the learner has not judged this slot).</p>'
    out = []
    for row in rows:
        state = badge("paused", "paused") if row.get("paused_at_ms") else badge("judging", "ok")
        out.append(
            (
                esc(row["variant"]), num(row["decisions"]), num(row["served"]),
                _value(row["variant_rate"]), _value(row["control_rate"]),
                _value(row["per_decision"]), _value(row["wealth"]), _value(row["threshold"]),
                state,
            )
        )  # fmt: skip
    head = (
        "variant", "decisions", "served", "its reward", "control's there", "per decision",
        "evidence", "pause at", "state",
    )  # fmt: skip
    return table(head, out)


def charts_html(charts: Sequence[Mapping[str, Any]]) -> str:
    return (
        '<div class="grid">'
        + "".join(f'<div class="chart" id="chart-{esc(c["id"])}"></div>' for c in charts)
        + "</div>"
    )


def slot_summary(slot: Mapping[str, Any]) -> str:
    return (
        f"<p>policy <b>{esc(slot['policy'])}</b> · control <b>{esc(slot['control'])}</b> · "
        f"{num(slot['exposures'])} exposures · leader {leader_text(slot)} {srm_badge(slot)}</p>"
        + (f'<p class="muted">{esc(NOT_RANDOMISED)}.</p>' if compares_audiences(slot) else "")
        + f'<p class="muted">{num(slot["sample_size_per_variant"])} exposures per variant detect a '
        f"{slot['mde']:.0%} CTR change at {slot['power']:.0%} power.</p>"
    )


def document(title: str, body: str, head: str) -> str:
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta name="referrer" content="same-origin"><title>{esc(title)}</title>'
        f'<link rel="icon" href="data:,">{head}</head>'
        f"<body>{body}</body></html>"
    )


def inline_script(js: str) -> str:
    """``js`` inside a ``<script>`` element; a ``</script`` in it would end the element early."""
    return "<script>" + js.replace("</script", "<\\/script") + "</script>"


def report_file(
    report: Mapping[str, Any],
    *,
    js: str,
    css: str,
    guardrail: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
) -> str:
    """``vernier report --format html``: one file, the script and styles inlined. ``guardrail``:
    per slot id, the rows of :func:`proxy.results.live.guardrail_rows` (the state now)."""
    bucket = report["period"]["bucket"]
    parts = [
        "<header><b>Vernier report</b>",
        f'<span class="muted">{esc(period_text(report))}</span></header><main>',
    ]
    charts: list[dict[str, Any]] = []
    for slot in report["slots"]:
        own = slot_charts(slot, bucket)
        for chart in own:
            chart["id"] = f"{slot['id']}-{chart['id']}"
        charts += own
        parts += [f"<h1>Slot {esc(slot['id'])}</h1>", slot_summary(slot), variants_table(slot)]
        parts += [charts_html(own), f"<h2>{OFF_POLICY_TITLE}</h2>", off_policy_html(slot)]
        if guardrail is not None and slot["id"] in guardrail:
            parts += [
                f"<h2>{GUARD_TITLE}</h2>",
                guardrail_table(guardrail[slot["id"]]),
            ]
    parts.append("</main>")
    parts.append(data_json({"charts": charts}))
    head = f"<style>{css}</style>"
    return document("Vernier report", "".join(parts) + inline_script(js), head)
