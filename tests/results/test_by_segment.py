"""Results by segment from the decision log: partitions, lifts, shrinkage and the Q test,
checked against numpy and scipy computed here from the same synthetic decisions."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pytest
from scipy import stats

from proxy.records.decision import LoggedDecision
from proxy.results.by_segment import NONE, as_html, as_text, breakdown, tally
from proxy.results.report import SlotInfo

HERO = SlotInfo("hero", "split", "a", ("a", "b"))
# named segments of the visitor (first one counts), learned cluster (frozen at first exposure),
# click rate of a and of b
GROUPS = {
    "buyers": (("buyer", "reader"), "c1", 0.10, 0.20),
    "readers": (("reader",), "c2", 0.10, 0.12),
    "others": ((), "c2", 0.05, 0.06),
}


Rewards = dict[str, dict[str, list[float]]]  # group -> variant -> rewards


def decisions(seed: int = 3, n: int = 600) -> tuple[list[LoggedDecision], Rewards]:
    rng = np.random.default_rng(seed)
    out: list[LoggedDecision] = []
    rewards: Rewards = {}
    for name, (segments, cluster, rate_a, rate_b) in GROUPS.items():
        for i in range(n):
            chosen = "a" if i % 2 else "b"
            reward = float(rng.random() < (rate_a if chosen == "a" else rate_b))
            rewards.setdefault(name, {}).setdefault(chosen, []).append(reward)
            out.append(
                LoggedDecision(
                    id=f"d-{name}-{i}",
                    slot="hero",
                    actions=("a", "b"),
                    chosen=chosen,
                    p=0.5,
                    reward=reward,
                    reason="split",
                    segments=segments,
                    cluster=cluster,
                    # the cluster at decision time moved (a refit): the frozen one counts
                    rule_context={"cluster": "c9", "device": "mobile"},
                )
            )
    # not examples: never seen (no reward), a sticky re-serve, another slot
    out.append(LoggedDecision(id="x1", slot="hero", actions=("a", "b"), chosen="b", p=0.5))
    out.append(
        LoggedDecision(
            id="x2", slot="hero", actions=("a", "b"), chosen="b", p=1.0, reward=1.0, reason="sticky"
        )
    )
    out.append(LoggedDecision(id="x3", slot="promo", actions=("a",), chosen="a", p=1.0, reward=1))
    return out, rewards


def welch(b: list[float], a: list[float]) -> tuple[float, float]:
    return float(np.mean(b) - np.mean(a)), float(
        np.var(b, ddof=1) / len(b) + np.var(a, ddof=1) / len(a)
    )


def test_named_segments_partition_by_the_first_and_lifts_are_welch() -> None:
    records, rewards = decisions()
    found = breakdown(HERO, tally(records, ["hero"])["hero"])
    rows = {row["segment"]: row for row in found["segment"]["rows"]}
    # the buyers are also readers: they count under their first segment only
    assert list(rows) == ["buyer", "reader", NONE]
    for segment, group in (("buyer", "buyers"), ("reader", "readers"), (NONE, "others")):
        row = rows[segment]
        for variant in ("a", "b"):
            assert row["variants"][variant]["n"] == len(rewards[group][variant])
            assert row["variants"][variant]["mean"] == pytest.approx(
                np.mean(rewards[group][variant])
            )
        lift, variance = welch(rewards[group]["b"], rewards[group]["a"])
        assert row["lifts"]["b"]["lift"] == pytest.approx(lift)
        assert row["lifts"]["b"]["se"] == pytest.approx(np.sqrt(variance))


@dataclass(frozen=True)
class Reference:
    """Lifts of b over a per named segment, Cochran's Q and DerSimonian-Laird, by numpy."""

    y: npt.NDArray[np.float64]
    v: npt.NDArray[np.float64]
    q: float
    p_value: float
    tau2: float
    mu: float


def reference(rewards: Rewards) -> Reference:
    lifts = [welch(rewards[g]["b"], rewards[g]["a"]) for g in ("buyers", "readers", "others")]
    y = np.array([d for d, _ in lifts])
    v = np.array([var for _, var in lifts])
    w = 1 / v
    q = float(np.sum(w * (y - np.sum(w * y) / np.sum(w)) ** 2))
    tau2 = max(0.0, (q - 2) / (np.sum(w) - np.sum(w**2) / np.sum(w)))
    mu = float(np.sum(y / (v + tau2)) / np.sum(1 / (v + tau2)))
    return Reference(y, v, q, float(stats.chi2.sf(q, 2)), tau2, mu)


def test_shrinkage_and_the_heterogeneity_test_match_an_independent_computation() -> None:
    records, rewards = decisions()
    found = breakdown(HERO, tally(records, ["hero"])["hero"])
    ref = reference(rewards)
    y, v, q, tau2, mu = ref.y, ref.v, ref.q, ref.tau2, ref.mu
    test = found["segment"]["heterogeneity"]["b"]
    assert test["q"] == pytest.approx(q)
    assert test["df"] == 2
    assert test["p_value"] == pytest.approx(ref.p_value)
    assert test["overall_lift"] == pytest.approx(mu)
    shrunk = [row["lifts"]["b"]["shrunk"] for row in found["segment"]["rows"]]
    assert shrunk == pytest.approx(list(v / (v + tau2) * mu + tau2 / (v + tau2) * y))


def test_learned_segments_are_the_frozen_ones() -> None:
    records, rewards = decisions()
    found = breakdown(HERO, tally(records, ["hero"])["hero"])
    rows = {row["segment"]: row for row in found["cluster"]["rows"]}
    assert list(rows) == ["c1", "c2"]
    assert rows["c2"]["variants"]["a"]["n"] == len(rewards["readers"]["a"]) + len(
        rewards["others"]["a"]
    )
    # two clusters: Q has one degree of freedom
    assert found["cluster"]["heterogeneity"]["b"]["df"] == 1


def test_records_logged_before_the_cluster_was_frozen_use_the_decision_context() -> None:
    def record(i: int, cluster: str | None, context_cluster: str) -> LoggedDecision:
        return LoggedDecision(
            id=f"d{i}", slot="hero", actions=("a", "b"), chosen="a", p=0.5, reward=1.0,
            cluster=cluster, rule_context={"cluster": context_cluster},
        )  # fmt: skip

    records = [record(0, None, "c1"), record(1, "", "c1"), record(2, "c2", "c1")]
    rows = breakdown(HERO, tally(records, ["hero"])["hero"])["cluster"]["rows"]
    # "" is frozen as in no learned segment; None (an older record) reads the context
    assert {row["segment"]: row["variants"]["a"]["n"] for row in rows} == {
        "c1": 1,
        "c2": 1,
        NONE: 1,
    }


def test_a_segment_without_variation_keeps_its_raw_lift_only() -> None:
    records = [
        LoggedDecision(
            id=f"d{i}",
            slot="hero",
            actions=("a", "b"),
            chosen="ab"[i % 2],
            p=0.5,
            reward=0.0,
            segments=("quiet",),
        )
        for i in range(10)
    ]
    found = breakdown(HERO, tally(records, ["hero"])["hero"])
    [row] = found["segment"]["rows"]
    assert row["lifts"]["b"] == {"lift": 0.0, "se": None, "shrunk": None, "shrunk_sd": None}
    assert found["segment"]["heterogeneity"]["b"] is None
    assert "fewer than two segments to compare" in as_text([found])


def test_the_text_names_every_segment_and_the_test() -> None:
    records, _ = decisions()
    text = as_text([breakdown(HERO, tally(records, ["hero"])["hero"])])
    assert "slot hero by named segment (frozen at first exposure)" in text
    assert "slot hero by learned segment" in text
    assert "buyer" in text and "(none)" in text and "Cochran's Q" in text


def test_the_html_has_a_table_per_dimension_with_every_lift_and_the_test() -> None:
    records, rewards = decisions()
    html = as_html(breakdown(HERO, tally(records, ["hero"])["hero"]))
    assert html.count("<table>") == 2
    assert "By named segment (frozen at first exposure)" in html and "By learned segment" in html
    lift, variance = welch(rewards["buyers"]["b"], rewards["buyers"]["a"])
    assert "<td>buyer</td><td>b</td>" in html
    assert f"{lift:+.4f} (± {np.sqrt(variance):.4f})" in html
    assert f"p {reference(rewards).p_value:.3g}, I2" in html
    odd = LoggedDecision(
        id="x", slot="hero", actions=("a", "b"), chosen="a", p=0.5, reward=1.0, cluster="<i>"
    )
    odd_html = as_html(breakdown(HERO, tally([odd], ["hero"])["hero"]))
    assert "<td>&lt;i&gt;</td>" in odd_html and "fewer than two segments" in odd_html


def test_decisions_of_variants_the_rules_no_longer_offer_are_counted_and_said() -> None:
    """A log of other rules: its other variants are left out of the tables, and said so."""
    records, _ = decisions()
    gone = [
        LoggedDecision(id=f"g{i}", slot="hero", actions=("a", "z"), chosen="z", p=0.5, reward=0.0)
        for i in range(7)
    ]
    found = breakdown(HERO, tally([*records, *gone], ["hero"])["hero"])
    assert found["not_in_rules"] == {"z": 7}
    said = "left out: 7 seen decisions of variants slot hero does not offer in these rules: z (7)"
    assert said in as_text([found]) and said in as_html(found)
    assert breakdown(HERO, tally(records, ["hero"])["hero"])["not_in_rules"] == {}
