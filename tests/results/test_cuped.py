"""CUPED on the folded sums against scipy's Welch test over the per-decision values, adjusted
by the textbook recipe (Deng et al., WSDM 2013) computed here with numpy."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from proxy.records.decision import LoggedDecision
from proxy.records.results_buckets import HOUR_MS, Buckets
from proxy.results.cuped import cuped_section
from proxy.results.fold import fold_example, summed
from proxy.results.html import report_file
from proxy.results.render import as_text
from proxy.results.report import SlotInfo, report, slot_report

KNOWN = {"hero": frozenset({"a", "b"})}


def decisions(seed: int, n: int, lift: float) -> list[LoggedDecision]:
    """Visitors whose reward grows with their prior visits; b adds ``lift``."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        visits = int(rng.poisson(3))
        chosen = "ab"[i % 2]
        rate = 0.04 + 0.03 * min(visits, 8) + (lift if chosen == "b" else 0.0)
        context: dict[str, str | int | float | bool] = {"device": "mobile"}
        if visits:
            context["visits_30d"] = visits
        out.append(
            LoggedDecision(
                id=f"d{i}", slot="hero", actions=("a", "b"), chosen=chosen, p=0.5,
                pmf=(0.5, 0.5), reward=float(rng.random() < rate), reason="split",
                ts_ms=(i % 5) * HOUR_MS, rule_context=context,
            )
        )  # fmt: skip
    return out


def folded(records: list[LoggedDecision]) -> Buckets:
    return summed(tally for record in records for tally in fold_example(record, KNOWN))


def test_adjusted_and_unadjusted_match_welch_over_the_values() -> None:
    records = decisions(3, 4_000, lift=0.02)
    rows, summary = cuped_section(("a", "b"), "a", folded(records))
    y = np.array([r.reward for r in records])
    x = np.array([float((r.rule_context or {}).get("visits_30d", 0)) for r in records])
    arm = np.array([r.chosen for r in records])
    theta = np.cov(y, x, ddof=1)[0, 1] / np.var(x, ddof=1)
    adjusted = y - theta * (x - x.mean())
    b, a = arm == "b", arm == "a"
    plain = stats.ttest_ind(y[b], y[a], equal_var=False)
    cuped = stats.ttest_ind(adjusted[b], adjusted[a], equal_var=False)
    assert summary is not None and summary["theta"] == pytest.approx(theta, rel=1e-9)
    row = rows["b"]
    assert row["reward_diff"] == pytest.approx(y[b].mean() - y[a].mean(), abs=1e-12)
    assert row["reward_p"] == pytest.approx(plain.pvalue, rel=1e-6)
    assert row["cuped_diff"] == pytest.approx(adjusted[b].mean() - adjusted[a].mean(), abs=1e-12)
    assert row["cuped_p"] == pytest.approx(cuped.pvalue, rel=1e-6)
    assert rows["a"]["cuped_mean"] == pytest.approx(adjusted[a].mean(), abs=1e-12)
    width = row["cuped_diff_ci"][1] - row["cuped_diff_ci"][0]
    assert width < row["reward_diff_ci"][1] - row["reward_diff_ci"][0]
    within = sum((m.sum() - 1) * np.var(adjusted[m], ddof=1) for m in (a, b))
    total = sum((m.sum() - 1) * np.var(y[m], ddof=1) for m in (a, b))
    assert summary["variance_kept"] == pytest.approx(within / total, rel=1e-9)
    assert summary["covariate"] == "visits_30d" and summary["decisions"] == 4_000


def test_the_report_carries_both_and_nothing_without_joined_decisions() -> None:
    info = SlotInfo("hero", "split", "a", ("a", "b"), {"a": 1.0, "b": 1.0})
    slot = slot_report(info, folded(decisions(5, 400, lift=0.0)))
    assert slot["cuped"]["decisions"] == 400
    assert slot["variants"][1]["cuped_p"] is not None and slot["variants"][0]["cuped_p"] is None
    empty = slot_report(info, Buckets({1: {"a|exposures": 2.0}}, {}))
    assert empty["cuped"] is None and empty["variants"][1]["cuped_diff"] is None


def test_text_and_html_show_both() -> None:
    info = SlotInfo("hero", "split", "a", ("a", "b"), {"a": 1.0, "b": 1.0})
    data = report([(info, folded(decisions(5, 400, lift=0.0)))], bucket="h", first=0, last=4,
                  now_ms=0)  # fmt: skip
    assert "CUPED on visits_30d" in as_text(data)
    assert "CUPED reward" in report_file(data, js="", css="")
