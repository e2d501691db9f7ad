"""Off-policy values from the folded sums, against the textbook formulas over the examples
themselves (numpy, written here) and against the planted truth of a seeded world."""

from __future__ import annotations

from pathlib import Path

import msgspec
import numpy as np
import pytest

from proxy.records.decision import DecisionRecord
from proxy.records.results_buckets import HOUR_MS, Buckets
from proxy.results.fold import fold_example, summed
from proxy.results.html import OFF_POLICY_TITLE, report_file
from proxy.results.offpolicy import off_policy
from proxy.results.render import as_text
from proxy.results.report import SlotInfo, report, reported, slot_report
from proxy.rules import load_rules

VARIANTS = ("a", "b", "c")
RATES = np.array([0.05, 0.08, 0.12])  # the planted click rate of each variant
KNOWN = {"hero": frozenset(VARIANTS)}


def world(seed: int, n: int) -> list[DecisionRecord]:
    """A logging policy whose pmf depends on a context (two kinds of visitor), over 3 hours."""
    rng = np.random.default_rng(seed)
    pmfs = np.array([[0.6, 0.3, 0.1], [0.2, 0.2, 0.6]])
    records = []
    for i in range(n):
        pmf = pmfs[i % 2]
        k = int(rng.choice(3, p=pmf))
        records.append(
            DecisionRecord(
                id=f"d{i}",
                slot="hero",
                actions=VARIANTS,
                chosen=VARIANTS[k],
                p=float(pmf[k]),
                pmf=tuple(float(q) for q in pmf),
                reward=float(rng.random() < RATES[k]),
                ts_ms=(i % 3) * HOUR_MS,
            )
        )
    return records


def folded(records: list[DecisionRecord]) -> Buckets:
    return summed(tally for record in records for tally in fold_example(record, KNOWN))


def reference(w: np.ndarray, r: np.ndarray) -> tuple[float, float, float, float]:
    """IPS, its standard error, SNIPS and its delta-method standard error, from the examples."""
    n = len(w)
    ips = float(np.mean(w * r))
    ips_se = float(np.std(w * r, ddof=1) / np.sqrt(n))
    snips = float(np.sum(w * r) / np.sum(w))
    influence = w * (r - snips) / np.mean(w)
    snips_se = float(np.std(influence, ddof=0) * np.sqrt(n / (n - 1)) / np.sqrt(n))
    return ips, ips_se, snips, snips_se


def check(row: dict[str, object], w: np.ndarray, r: np.ndarray) -> None:
    ips, ips_se, snips, snips_se = reference(w, r)
    assert row["ips"] == pytest.approx(ips, rel=1e-9)
    assert row["snips"] == pytest.approx(snips, rel=1e-9)
    assert row["ips_ci"] == pytest.approx([ips - 1.96 * ips_se, ips + 1.96 * ips_se], rel=1e-3)
    low, high = snips - 1.96 * snips_se, snips + 1.96 * snips_se
    assert row["snips_ci"] == pytest.approx([low, high], rel=1e-3)


def test_estimates_match_the_formulas_over_the_examples() -> None:
    records = world(7, 6_000)
    per_variant, section = off_policy(VARIANTS, "a", folded(records))
    assert section is not None and section["examples"] == 6_000
    chosen = np.array([VARIANTS.index(r.chosen) for r in records])
    p = np.array([r.p for r in records])
    r = np.array([r.reward for r in records])
    for k, v in enumerate(VARIANTS):
        check(per_variant[v], (chosen == k) / p, r)
    policies = {row["id"]: row for row in section["policies"]}
    check(policies["served"], np.ones_like(p), r)
    check(policies["uniform"], 1 / (3 * p), r)
    greedy = np.array([int(np.argmax(rec.pmf)) for rec in records])  # type: ignore[arg-type]
    check(policies["model"], (chosen == greedy) / p, r)
    assert policies["control (a)"]["snips"] == per_variant["a"]["snips"]


def test_the_planted_truth_is_inside_the_intervals() -> None:
    per_variant, section = off_policy(VARIANTS, "a", folded(world(11, 20_000)))
    assert section is not None
    for k, v in enumerate(VARIANTS):
        low, high = per_variant[v]["snips_ci"]
        assert low <= RATES[k] <= high
    served = 0.5 * (RATES @ [0.6, 0.3, 0.1]) + 0.5 * (RATES @ [0.2, 0.2, 0.6])
    assert section["best_fixed_variant"] == "c"
    low, high = section["regret_per_example_ci"]
    assert low <= RATES[2] - served <= high
    assert section["regret_total"] == pytest.approx(section["regret_per_example"] * 20_000)


def test_without_joined_examples_there_is_no_section() -> None:
    assert off_policy(VARIANTS, "a", Buckets({1: {"a|exposures": 3.0}}, {})) == ({}, None)
    info = SlotInfo("hero", "bandit", "a", VARIANTS)
    slot = slot_report(info, Buckets({1: {"a|exposures": 3.0}}, {}))
    assert slot["off_policy"] is None
    assert all(row["ips"] is None and row["snips_ci"] is None for row in slot["variants"])


def test_the_report_carries_them_per_variant() -> None:
    info = SlotInfo("hero", "bandit", "a", VARIANTS)
    slot = slot_report(info, folded(world(3, 600)))
    assert slot["off_policy"]["examples"] == 600
    assert all(row["snips"] is not None and len(row["ips_ci"]) == 2 for row in slot["variants"])


def test_text_and_html_show_the_values_and_the_regret() -> None:
    info = SlotInfo("hero", "bandit", "a", VARIANTS)
    data = report([(info, folded(world(3, 600)))], bucket="h", first=0, last=2, now_ms=0)
    text = as_text(data)
    assert "off-policy SNIPS over 600 joined decisions: served" in text
    assert "best fixed" in text and "regret" in text
    page = report_file(data, js="", css="")
    assert OFF_POLICY_TITLE in page and "always c" in page and "Best fixed variant" in page


def test_intervals_stay_inside_what_the_reward_can_be(tmp_path: Path) -> None:
    """Rare clicks over few examples: the normal interval's lower end falls below 0, which no
    policy's click rate can; the slot's reward (clicks, summed) bounds it at 0 and leaves the
    upper end and the estimates as the formulas give them."""
    records = world(5, 60)
    (tmp_path / "hero.yaml").write_text(
        "slots:\n  - id: hero\n    selector: '#hero'\n    control: a\n    policy: bandit\n"
        "    variants:\n      a: []\n"
        "      b: [{op: set_text, selector: h1, value: B}]\n"
        "      c: [{op: set_text, selector: h1, value: C}]\n"
    )
    (info,) = reported(load_rules(tmp_path))
    assert info.reward_bounds == (0.0, None)
    unbounded, _ = off_policy(VARIANTS, "a", folded(records))
    clipped = slot_report(info, folded(records))
    assert any(row["ips_ci"][0] < 0 for row in unbounded.values())  # the case at hand
    for row in clipped["variants"]:
        raw = unbounded[row["id"]]
        assert row["ips"] == raw["ips"] and row["snips"] == raw["snips"]
        for kind in ("ips_ci", "snips_ci"):
            assert row[kind] == [max(0.0, raw[kind][0]), raw[kind][1]]
    for policy in clipped["off_policy"]["policies"]:
        assert policy["ips_ci"][0] >= 0 and policy["snips_ci"][0] >= 0
    # one reward below 0 (posted through the API) in the period: nothing is clipped
    posted = [*records[:-1], msgspec.structs.replace(records[-1], reward=-1.0)]
    unclipped = slot_report(info, folded(posted))
    raw, _ = off_policy(VARIANTS, "a", folded(posted))
    assert [row["ips_ci"] for row in unclipped["variants"]] == [raw[v]["ips_ci"] for v in VARIANTS]


def test_a_bandit_slot_says_its_ctrs_compare_different_audiences() -> None:
    """Simpson's paradox, planted: ``a`` is better for both kinds of visitor (0.30 against 0.25,
    0.05 against 0.02), but the bandit served ``b`` mostly to the visitors who click more. The
    served CTRs make ``b`` the leader; the report says they are not randomised, and its
    off-policy values find ``a`` (always a: 0.175, always b: 0.135)."""
    rng = np.random.default_rng(3)
    rates = {"mobile": {"a": 0.30, "b": 0.25}, "desktop": {"a": 0.05, "b": 0.02}}
    served_b = {"mobile": 0.9, "desktop": 0.1}
    records = []
    for i in range(20_000):
        context = "mobile" if i % 2 else "desktop"
        pmf = (1 - served_b[context], served_b[context])
        k = int(rng.random() < pmf[1])
        records.append(
            DecisionRecord(
                id=f"d{i}", slot="hero", actions=("a", "b"), chosen="ab"[k], p=pmf[k], pmf=pmf,
                reward=float(rng.random() < rates[context]["ab"[k]]), ts_ms=0,
            )
        )  # fmt: skip
    weights = folded(records)
    served: dict[str, float] = {}  # the exposures and clicks the CTR table reads
    for variant in ("a", "b"):
        chosen = [r for r in records if r.chosen == variant]
        served[f"{variant}|exposures"] = float(len(chosen))
        served[f"{variant}|clicks"] = sum(r.reward or 0.0 for r in chosen)
    buckets = Buckets({0: {**weights.sums[0], **served}}, weights.visitors, weights.totals)
    bandit = slot_report(SlotInfo("hero", "bandit", "a", ("a", "b")), buckets)
    assert bandit["leader"] == "b" and not bandit["randomised"]  # the served CTRs mislead
    assert bandit["off_policy"]["best_fixed_variant"] == "a"
    by_id = {row["id"]: row for row in bandit["variants"]}
    for variant, truth in (("a", 0.175), ("b", 0.135)):
        low, high = by_id[variant]["snips_ci"]
        assert low <= truth <= high
    text = as_text(report([(SlotInfo("hero", "bandit", "a", ("a", "b")), buckets)],
                          bucket="h", first=0, last=0, now_ms=0))  # fmt: skip
    assert "not randomised" in text
    empty = report([(SlotInfo("hero", "bandit", "a", ("a", "b")), Buckets())],
                   bucket="h", first=0, last=0, now_ms=0)  # fmt: skip
    assert "not randomised" not in as_text(empty)  # nothing seen, nothing compared
    split = slot_report(SlotInfo("hero", "split", "a", ("a", "b"), {"a": 50, "b": 50}), buckets)
    assert split["randomised"]
