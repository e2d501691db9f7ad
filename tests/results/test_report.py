"""The report's statistics on planted data (seeded): an A/A test finds no winner and no SRM in at
least 95 % of seeds, a planted +20 % lift is found, a skewed split is flagged; and its shape."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy import stats

from proxy.records.results_buckets import Buckets
from proxy.results.html import report_file
from proxy.results.render import as_csv, as_markdown, as_text
from proxy.results.report import SlotInfo, report, reported, rule_info, slot_report
from proxy.rules import load_rules
from tests.stats.test_poisson import binomial_two_sided_p

SPLIT = SlotInfo("hero", "split", "a", ("a", "b"), {"a": 50.0, "b": 50.0})


def planted(rng: np.random.Generator, *, lift: float, share_a: float = 0.5) -> Buckets:
    """Seven days of a 50/50 split (4,000 a day) at 5 % CTR, ``b``'s CTR raised by ``lift``."""
    sums: dict[int, dict[str, float]] = {}
    for day in range(7):
        n = 4_000
        n_a = int(rng.binomial(n, share_a))
        counts = {"a": (n_a, 0.05), "b": (n - n_a, 0.05 * (1 + lift))}
        sums[day] = {}
        for v, (exposed, rate) in counts.items():
            sums[day][f"{v}|decisions"] = float(exposed)
            sums[day][f"{v}|exposures"] = float(exposed)
            sums[day][f"{v}|clicks"] = float(rng.binomial(exposed, rate))
    return Buckets(sums, {})


def winner(slot: dict[str, object]) -> bool:
    variants = slot["variants"]
    assert isinstance(variants, list)
    return any(v["p_holm"] is not None and v["p_holm"] < 0.05 for v in variants)


def test_a_a_finds_no_winner_and_no_srm_in_95_percent_of_seeds() -> None:
    clean = 0
    for seed in range(100):
        slot = slot_report(SPLIT, planted(np.random.default_rng(seed), lift=0.0))
        clean += not winner(slot) and not slot["srm_flagged"]
    assert clean >= 95


def test_a_planted_lift_is_found() -> None:
    found = 0
    for seed in range(20):
        slot = slot_report(SPLIT, planted(np.random.default_rng(1000 + seed), lift=0.2))
        b = slot["variants"][1]
        found += winner(slot) and b["lift_vs_control"] > 0 and b["chance_to_beat_control"] > 0.95
    assert found >= 17  # 14,000 exposures per arm: ~97 % power for +20 % on 5 %


def test_a_skewed_split_is_flagged() -> None:
    slot = slot_report(SPLIT, planted(np.random.default_rng(5), lift=0.0, share_a=0.53))
    assert slot["srm_check"] == "srm" and slot["srm_flagged"]


def test_report_shape_counts_and_lost_exposures() -> None:
    buckets = Buckets(
        {10: {"a|decisions": 12.0, "a|exposures": 10.0, "a|clicks": 3.0, "b|decisions": 9.0,
              "b|exposures": 9.0, "b|clicks": 1.0, "b|conversions": 2.0, "b|value": 30.0}},
        {"a": 7, "b": 6},
    )  # fmt: skip
    out = report([(SPLIT, buckets)], bucket="d", first=10, last=10, now_ms=0)
    assert out["format"] == "vernier-report" and out["version"] == 2
    a, b = out["slots"][0]["variants"]
    assert (a["exposures"], a["lost_exposures"], a["clicks"], a["visitors"]) == (10, 2, 3, 7)
    assert (b["lost_exposures"], b["conversions"], b["conversion_value"]) == (0, 2, 30.0)
    assert a["ctr"] == 0.3 and a["lift_vs_control"] is None and b["test"] == "fisher"
    assert abs(a["chance_to_be_best"] + b["chance_to_be_best"] - 1) < 1e-9
    assert out["slots"][0]["series"][0]["variants"]["a"]["exposures"] == 10.0


def test_a_variant_without_exposures_has_no_test_and_lost_exposures_are_all_or_none() -> None:
    three = SlotInfo("hero", "split", "a", ("a", "b", "c"), {"a": 40.0, "b": 40.0, "c": 20.0})
    buckets = Buckets(
        {10: {"a|decisions": 120.0, "a|exposures": 100.0, "a|clicks": 10.0,
              "b|decisions": 100.0, "b|exposures": 100.0, "b|clicks": 30.0}},
        {"a": 90, "b": 90},
    )  # fmt: skip
    a, b, c = slot_report(three, buckets)["variants"]
    # c was never shown: no data is not "no difference" (a p of 1), it is no test at all
    tests = ("p_value", "test", "fisher_p", "p_holm", "always_valid_p", "chance_to_beat_control")
    assert [c[k] for k in tests] == [None] * 6 and c["lift_vs_control"] is None
    # b was tested, alone: Holm over one test is the test itself, Fisher's p is scipy's
    expected = stats.fisher_exact([[10, 90], [30, 70]]).pvalue
    assert b["fisher_p"] == pytest.approx(expected, rel=1e-9) and b["p_holm"] == b["p_value"]
    # the slot logs decisions: every variant has a number, c's is 0 (nothing decided, unseen)
    assert [row["lost_exposures"] for row in (a, b, c)] == [20, 0, 0]
    unlogged = Buckets({10: {"a|exposures": 5.0, "b|exposures": 5.0}}, {})
    assert [r["lost_exposures"] for r in slot_report(three, unlogged)["variants"]] == [None] * 3


def test_a_variant_never_shown_is_not_ranked_on_its_prior() -> None:
    """At 1-3 % CTR an unseen variant's uniform prior (mean 0.5) would make it the likely best."""
    three = SlotInfo("hero", "split", "a", ("a", "b", "c"), {"a": 40.0, "b": 40.0, "c": 20.0})
    buckets = Buckets(
        {10: {"a|exposures": 1000.0, "a|clicks": 10.0, "b|exposures": 1000.0, "b|clicks": 30.0}},
        {},
    )
    slot = slot_report(three, buckets)
    a, b, c = slot["variants"]
    assert c["chance_to_be_best"] is None and c["expected_loss"] is None
    assert slot["leader"] == "b"
    assert a["chance_to_be_best"] + b["chance_to_be_best"] == pytest.approx(1.0)
    # between a and b alone: P(b best) of Beta(31, 971) against Beta(11, 991), by scipy
    draws = np.random.default_rng(0)
    b_draws = stats.beta(31, 971).rvs(200_000, random_state=draws)
    a_draws = stats.beta(11, 991).rvs(200_000, random_state=draws)
    assert b["chance_to_be_best"] == pytest.approx(float(np.mean(b_draws > a_draws)), abs=0.01)
    empty = slot_report(three, Buckets({}, {}))
    assert empty["leader"] is None
    assert [v["chance_to_be_best"] for v in empty["variants"]] == [None] * 3


def test_bandit_slots_get_a_propensity_check() -> None:
    info = SlotInfo("hero", "bandit", "a", ("a", "b"))
    buckets = Buckets(
        {1: {"a|decisions": 300.0, "a|expected": 297.0, "b|decisions": 700.0,
             "b|expected": 703.0}}
    )  # fmt: skip
    slot = slot_report(info, buckets)
    assert slot["srm_check"] == "propensity" and not slot["srm_flagged"]
    assert slot["variants"][1]["allocation"] == 0.7


def test_a_holdout_rule_is_a_two_arm_split_whose_control_is_the_holdout(
    tmp_path: Path,
) -> None:
    (tmp_path / "home.yaml").write_text(
        "rules:\n  - id: greet\n    holdout: 20\n"
        '    then: [{op: set_text, selector: "#hero", value: "Hi"}]\n'
        "  - id: plain\n"
        '    then: [{op: hide, selector: ".banner"}]\n'
    )
    ruleset = load_rules(tmp_path)
    infos = reported(ruleset)
    assert infos == [rule_info(ruleset.rules[0])]
    info = infos[0]
    assert (info.policy, info.kind, info.control, info.variants) == (
        "holdout", "rule", "holdout", ("holdout", "applied")
    )  # fmt: skip
    buckets = Buckets(
        {10: {"holdout|decisions": 20.0, "holdout|exposures": 20.0, "holdout|conversions": 2.0,
              "applied|decisions": 80.0, "applied|exposures": 80.0, "applied|conversions": 12.0}},
        {"holdout": 15, "applied": 60},
    )  # fmt: skip
    part = slot_report(info, buckets)
    assert part["kind"] == "rule" and part["srm_check"] == "srm"
    # the exposures are exactly the configured 20/80: no mismatch (scipy's chi-square agrees)
    assert part["srm_p"] == pytest.approx(stats.chisquare([20, 80], [20, 80]).pvalue)
    assert part["leader"] is None  # no clicks attributed: no CTR leader
    rows = {row["id"]: row for row in part["variants"]}
    assert rows["holdout"]["is_control"] and rows["holdout"]["weight"] == 0.2
    assert rows["applied"]["conversions"] == 12 and rows["applied"]["visitors"] == 60
    # clicks are not attributed to rules: no CTR comparison rather than "p = 1, no effect"
    compared = ("p_value", "fisher_p", "chance_to_beat_control", "lift_vs_control", "p_holm")
    assert [rows["applied"][k] for k in compared] == [None] * len(compared)
    # nor a chance to be best or an expected loss of the priors alone (0.8 for the holdout arm,
    # which has fewer page views), in either arm
    ranked = ("chance_to_be_best", "expected_loss")
    assert [row[k] for row in rows.values() for k in ranked] == [None] * 4
    skewed = Buckets({10: {"holdout|exposures": 50.0, "applied|exposures": 50.0}}, {})
    assert slot_report(info, skewed)["srm_flagged"]


def rule_report(*, holdout: tuple[int, int], applied: tuple[int, int]) -> dict[str, Any]:
    """The report of a holdout rule whose arms had these (visitors, conversions); a page view
    per visitor."""
    info = SlotInfo("greet", "holdout", "holdout", ("holdout", "applied"), kind="rule")
    arms = {"holdout": holdout, "applied": applied}
    sums = {f"{arm}|{measure}": float(count) for arm, (visitors, conversions) in arms.items()
            for measure, count in (("exposures", visitors), ("conversions", conversions))}  # fmt: skip
    buckets = Buckets({10: sums}, {arm: visitors for arm, (visitors, _) in arms.items()})
    return report([(info, buckets)], bucket="d", first=10, last=10, now_ms=0)


def test_a_rule_is_judged_on_conversions_per_visitor_against_its_holdout() -> None:
    """R's worked example of two Poisson rates (``poisson.test(c(11, 21), c(800, 3011))``:
    p = 0.07967, rate ratio 1.971488 in [0.8584264, 4.2772659]) as a rule's two arms."""
    out = rule_report(holdout=(3011, 21), applied=(800, 11))
    assert (out["version"], out["minor_version"]) == (2, 2)
    holdout, applied = out["slots"][0]["variants"]
    assert holdout["conversions_per_visitor"] == pytest.approx(21 / 3011)
    assert [holdout[k] for k in ("conversion_lift", "conversion_lift_ci", "conversion_p")] == [
        None, None, None,
    ]  # fmt: skip
    assert applied["conversions_per_visitor"] == pytest.approx(11 / 800)
    assert applied["conversion_p"] == pytest.approx(0.07967, abs=5e-6)
    assert applied["conversion_lift"] == pytest.approx(0.971488, abs=5e-7)
    assert applied["conversion_lift_ci"] == pytest.approx([-0.1415736, 3.2772659], abs=5e-8)
    assert applied["p_value"] is None  # the clicks are still not compared


def test_conversions_are_not_compared_without_visitors_or_any_conversion() -> None:
    hero = SlotInfo("hero", "split", "a", ("a", "b", "c"), {"a": 40.0, "b": 40.0, "c": 20.0})
    buckets = Buckets(
        {10: {"a|exposures": 100.0, "a|conversions": 0.0, "b|exposures": 100.0,
              "c|exposures": 50.0, "c|conversions": 4.0}},
        {"a": 90, "b": 95},
    )  # fmt: skip
    a, b, c = slot_report(hero, buckets)["variants"]
    # b against a: no conversion on either side; c against a: c has no visitor
    assert [b["conversion_p"], b["conversion_lift_ci"]] == [None, None]
    assert [c["conversion_p"], c["conversions_per_visitor"]] == [None, None]
    assert a["conversions_per_visitor"] == 0.0
    # the control's zero against the variant's conversions: a lower bound, no upper one
    with_c = Buckets(buckets.sums, {"a": 90, "b": 95, "c": 40})
    c = slot_report(hero, with_c)["variants"][2]
    assert c["conversion_lift"] is None and c["conversion_lift_ci"][1] is None
    # all 4 conversions in c, of 4 in all, with 40 of the 130 visitors: the binomial by hand
    assert c["conversion_p"] == pytest.approx(binomial_two_sided_p(4, 4, 40 / 130))


def test_text_markdown_csv_and_html_show_the_conversion_comparison() -> None:
    out = rule_report(holdout=(28, 2), applied=(66, 9))
    header = as_csv(out).splitlines()[0].split(",")
    new = ["visitors", "conversions_per_visitor", "conversion_lift", "conversion_lift_ci",
           "conversion_p"]  # fmt: skip
    assert header[header.index("conversions") + 1 : header.index("conversions") + 6] == new
    p = out["slots"][0]["variants"][1]["conversion_p"]
    for text in (as_text(out), as_markdown(out)):
        assert "conversion_p" in text and f"{p:.4g}" in text
    page = report_file(out, js="", css="")
    assert "conv. p" in page and f"{p:.3g}" in page


def test_text_and_markdown_say_which_period_they_cover() -> None:
    """`--since 1h` and `--since 7d` print different numbers: the text and the markdown name
    the period, as the HTML page and the dashboard do (they named none)."""
    info = SlotInfo("hero", "split", "a", ("a", "b"), {"a": 50.0, "b": 50.0})
    buckets = Buckets({20426: {"a|exposures": 10.0, "b|exposures": 10.0}}, {})
    days = report([(info, buckets)], bucket="d", first=20420, last=20426, now_ms=0)
    for text in (as_text(days), as_markdown(days)):
        assert text.startswith("period: 2025-11-28 – 2025-12-04 UTC, per day\n")
    hours = report([(info, buckets)], bucket="h", first=490_224, last=490_224, now_ms=0)
    assert as_text(hours).startswith("period: 2025-12-04 00:00 – 2025-12-04 00:00 UTC, per hour\n")
