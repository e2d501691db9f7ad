"""The dashboard's pages (pure HTML over plain data; served by :mod:`proxy.dashboard.handler`).

Every page loads ``dashboard.css`` and ``dashboard.js`` from the admin listener itself (versioned
URLs, nothing from another origin) and carries its charts as JSON (:func:`html.data_json`).
Every action is a POST form with the CSRF token; pausing or resuming goes through a confirmation
page first (works without JavaScript, and cannot be triggered by one stray click).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from proxy.results.by_segment import as_html as segments_html
from proxy.results.html import (
    GUARD_TITLE,
    OFF_POLICY_TITLE,
    STANDING_TITLE,
    badge,
    charts_html,
    data_json,
    document,
    esc,
    guardrail_standing_html,
    guardrail_table,
    leader_text,
    num,
    off_policy_html,
    pct,
    slot_summary,
    srm_badge,
    table,
    variants_table,
)
from proxy.results.render import period_text

PREFIX = "/__vernier/admin/"
SEGMENTS_TITLE = "By segment (from the decision log; reward per seen decision)"
SINCE_CHOICES = ("1h", "24h", "7d", "30d", "90d")


def _head(assets_version: str) -> str:
    return (
        f'<link rel="stylesheet" href="{PREFIX}static/dashboard.css?v={esc(assets_version)}">'
        f'<script src="{PREFIX}static/dashboard.js?v={esc(assets_version)}" defer></script>'
    )


def page(title: str, main: str, assets_version: str, *, signed_in: bool = True) -> str:
    nav = ""
    if signed_in:
        nav = (
            f'<nav><a href="{PREFIX}">Overview</a>'
            f'<form class="inline" method="post" action="{PREFIX}logout">'
            '<button type="submit">Sign out</button></form></nav>'
        )
    body = f'<header><a href="{PREFIX}">Vernier</a>{nav}</header><main>{main}</main>'
    return document(f"{title} · Vernier", body, _head(assets_version))


def login_page(assets_version: str, error: str | None = None) -> str:
    message = f'<p class="error" role="alert">{esc(error)}</p>' if error else ""
    main = (
        "<h1>Sign in</h1>"
        '<p class="muted">The admin token (<code>admin.token</code> in the config).</p>'
        f"{message}"
        f'<form method="post" action="{PREFIX}login">'
        '<p><label>Admin token<br><input type="password" name="token" autocomplete="current-password"'
        ' required autofocus></label></p><p><button type="submit">Sign in</button></p></form>'
    )
    return page("Sign in", main, assets_version, signed_in=False)


def error_page(status: int, message: str, assets_version: str, *, signed_in: bool = True) -> str:
    main = f'<h1>{status}</h1><p class="error">{esc(message)}</p><p><a href="{PREFIX}">Overview</a></p>'
    return page(str(status), main, assets_version, signed_in=signed_in)


def action_form(action: str, target: str, csrf: str, *, label: str | None = None) -> str:
    """A pause or resume button: posts to the confirmation step."""
    kind = ' class="danger"' if action == "pause" else ""
    return (
        f'<form class="inline" method="post" action="{PREFIX}act">'
        f'<input type="hidden" name="csrf" value="{esc(csrf)}">'
        f'<input type="hidden" name="action" value="{esc(action)}">'
        f'<input type="hidden" name="target" value="{esc(target)}">'
        f'<button type="submit"{kind} data-target="{esc(target)}">{esc(label or action)}</button>'
        "</form>"
    )


def toggle(target: str, paused: bool, csrf: str) -> str:
    return action_form("resume" if paused else "pause", target, csrf)


def confirm_page(action: str, target: str, csrf: str, assets_version: str, back: str) -> str:
    main = (
        f"<h1>{esc(action.capitalize())} {esc(target)}?</h1>"
        f"<p>{'Visitors will see the control instead.' if action == 'pause' else 'It will be served again.'}"
        " Every proxy picks this up within a second.</p>"
        f'<form method="post" action="{PREFIX}act">'
        f'<input type="hidden" name="csrf" value="{esc(csrf)}">'
        f'<input type="hidden" name="action" value="{esc(action)}">'
        f'<input type="hidden" name="target" value="{esc(target)}">'
        '<input type="hidden" name="confirmed" value="yes">'
        f'<button type="submit" class="{"danger" if action == "pause" else ""}">Yes, {esc(action)}</button> '
        f'<a href="{esc(back)}">Cancel</a></form>'
    )
    return page("Confirm", main, assets_version)


def _slot_row(row: Mapping[str, Any], csrf: str) -> tuple[str, ...]:
    slot = row["report"]
    link = f'<a href="{PREFIX}slots/{esc(row["id"])}">{esc(row["id"])}</a>'
    warnings = [srm_badge(slot)] if slot is not None and slot["srm_flagged"] else []
    warnings += [
        badge(f"{g['variant']} {g['state']}", "warn" if g["state"] == "below" else "paused")
        for g in row["guardrail"]
        if g["state"] in ("below", "paused")
    ]
    state = badge("paused", "paused") if row["paused"] else badge("active", "ok")
    return (
        link,
        esc(row["policy"]),
        state,
        num(None if slot is None else slot["exposures"]),
        num(row["impressions_60m"]),
        "–" if slot is None else leader_text(slot),
        " ".join(warnings) or '<span class="muted">none</span>',
        toggle(row["id"], row["paused"], csrf),
    )


def _rule_row(
    rule: str, paused: bool, measured: Mapping[str, Any] | None, csrf: str
) -> tuple[str, ...]:
    """A rule's row; a rule with a holdout shows its exposures, leader (``applied`` or
    ``holdout``) and SRM like a slot, the others nothing to measure."""
    warnings = [srm_badge(measured)] if measured is not None and measured["srm_flagged"] else []
    return (
        esc(rule),
        badge("paused", "paused") if paused else badge("active", "ok"),
        num(None if measured is None else measured["exposures"]),
        '<span class="muted">no holdout</span>' if measured is None else leader_text(measured),
        " ".join(warnings) or '<span class="muted">none</span>',
        toggle(rule, paused, csrf),
    )


def overview_page(
    slots: Sequence[Mapping[str, Any]],
    rules: Sequence[tuple[str, bool, Mapping[str, Any] | None]],
    *,
    report: Mapping[str, Any] | None,
    since: str,
    csrf: str,
    assets_version: str,
) -> str:
    """``slots``: per slot ``{id, policy, paused, report (its part of the report or None),
    impressions_60m, guardrail (rows)}``; ``rules``: (rule id, paused, its part of the report
    if it has a holdout, else None)."""
    head = ("slot", "policy", "state", f"exposures ({since})", "impressions (60 min)", "leader",
            "warnings", "")  # fmt: skip
    period = f" · {esc(period_text(report))}" if report is not None else ""
    main = [
        f'<h1>Overview</h1><p class="muted">{_since_links(PREFIX, since)}{period}</p>',
        "<h2>Slots</h2>",
        table(head, [_slot_row(row, csrf) for row in slots], numeric_from=3)
        if slots
        else '<p class="muted">No slots in the rules.</p>',
        "<h2>Rules</h2>",
        table(
            ("rule", "state", f"exposures ({since})", "leader", "warnings", ""),
            [_rule_row(rule, paused, measured, csrf) for rule, paused, measured in rules],
            numeric_from=2,
        )
        if rules
        else '<p class="muted">No rules.</p>',
    ]
    return page("Overview", "".join(main), assets_version)


def _since_links(base: str, since: str) -> str:
    links = []
    for choice in SINCE_CHOICES:
        if choice == since:
            links.append(f"<b>{choice}</b>")
        else:
            links.append(f'<a href="{esc(base)}?since={choice}">{choice}</a>')
    return "period: " + " · ".join(links)


LIVE_NOTE = (
    "Sliding windows over per-minute counts, as the guardrail and the change budgets read them: "
    "the oldest minute counts for the part of it still inside the window, so counts can be "
    "fractional; the statistics above count whole events over the period."
)


def live_fragment(
    windows: Mapping[str, Mapping[str, Mapping[str, float | None]]],
    guardrail: Sequence[Mapping[str, Any]],
) -> str:
    """The live view's tables (replaced every few seconds by ``dashboard.js``)."""
    rows = []
    for name, per_variant in windows.items():
        for variant, counts in per_variant.items():
            rows.append(
                (
                    esc(name), esc(variant), num(counts["impressions"]), num(counts["clicks"]),
                    num(counts["conversions"]), pct(counts["ctr"]), pct(counts["cvr"]),
                )
            )  # fmt: skip
    head = ("window", "variant", "impressions", "clicks", "conversions", "CTR", "CVR")
    return (
        table(head, rows, numeric_from=2)
        + f'<p class="muted">{LIVE_NOTE}</p><h2>{GUARD_TITLE}</h2>'
        + guardrail_table(guardrail)
    )


def slot_page(
    slot_id: str,
    *,
    report: Mapping[str, Any] | None,
    charts: Sequence[Mapping[str, Any]],
    live_chart: Mapping[str, Any],
    live_html: str,
    guardrail_standing: Sequence[Mapping[str, Any]],
    paused: bool,
    paused_variants: frozenset[str],
    variants: Sequence[str],
    control: str,
    since: str,
    csrf: str,
    assets_version: str,
    segments: Mapping[str, Any] | None = None,
    segments_note: str | None = None,
) -> str:
    """A slot: summary, per-variant statistics, the plots, pause buttons, the live view and the
    breakdown by segment (``segments``: :func:`by_segment.breakdown`; else ``segments_note`` says
    why there is none)."""
    base = f"{PREFIX}slots/{esc(slot_id)}"
    controls = [toggle(slot_id, paused, csrf).replace(">pause<", ">pause slot<")]
    for variant in variants:
        if variant != control:
            controls.append(
                action_form(
                    "resume" if variant in paused_variants else "pause",
                    f"{slot_id}/{variant}",
                    csrf,
                    label=f"{'resume' if variant in paused_variants else 'pause'} {variant}",
                )
            )
    state = badge("paused", "paused") if paused else badge("active", "ok")
    main = [f"<h1>Slot {esc(slot_id)} {state}</h1>", f"<p>{' '.join(controls)}</p>"]
    main.append(f'<p class="muted">{_since_links(base, since)}</p>')
    if report is None or slot_report_empty(report):
        main.append(f'<p class="muted">No exposures or decisions in the last {esc(since)}.</p>')
    if report is not None:
        main += [slot_summary(report), variants_table(report), charts_html(charts)]
        main += [f"<h2>{OFF_POLICY_TITLE}</h2>", off_policy_html(report)]
    main += ["<h2>Live</h2>", f'<div id="vn-live">{live_html}</div>', charts_html([live_chart])]
    main += [f"<h2>{STANDING_TITLE}</h2>", guardrail_standing_html(guardrail_standing)]
    main.append(f"<h2>{SEGMENTS_TITLE}</h2>")
    if segments is not None:
        main.append(segments_html(segments))
    else:
        main.append(f'<p class="muted">{esc(segments_note or "No breakdown by segment.")}</p>')
    page_data = {
        "charts": [*charts, live_chart],
        "live": {"url": f"{PREFIX}live/{slot_id}", "every_s": 5},
    }
    return page(f"Slot {slot_id}", "".join(main) + data_json(page_data), assets_version)


def slot_report_empty(slot: Mapping[str, Any]) -> bool:
    return not slot["exposures"] and not any(v["decisions"] for v in slot["variants"])
