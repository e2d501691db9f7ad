"""The report's doubly robust section against an independent computation: the cross-fitted,
shrunk reward model and DR written here in numpy from their documented definitions, IPS and
SNIPS from the textbook formulas; then a seeded world whose planted values the intervals must
hold, and the messages and warnings for logs too small or rules that cannot be replayed."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import msgspec
import numpy as np
import pytest

from proxy.records.decision import LoggedDecision
from proxy.records.results_buckets import HOUR_MS, Buckets
from proxy.results.doubly_robust import MIN_EXAMPLES, ExampleSet, doubly_robust
from proxy.results.html import report_file
from proxy.results.render import as_csv, as_markdown, as_text
from proxy.results.report import SlotInfo, report
from proxy.rules.compiled import CompiledPin
from proxy.rules.condition_parser import parse_condition

VARIANTS = ("a", "b", "c")
MOBILE_GETS_B = (CompiledPin(parse_condition("device == 'mobile'"), "b"),)
PRIOR = 5.0  # the reward model's pseudo-observations (proxy/evaluate/reward_model.py)


def record(
    i: int, device: str, chosen: str, pmf: Sequence[float] | None, reward: float
) -> LoggedDecision:
    p = 1.0 if pmf is None else pmf[VARIANTS.index(chosen)]
    return LoggedDecision(
        id=f"d{i:05d}",
        slot="hero",
        actions=VARIANTS,
        chosen=chosen,
        p=p,
        pmf=None if pmf is None else tuple(pmf),
        context={"D": (device,)},
        reward=reward,
        reason="bandit" if pmf is not None else "rule",
        ts_ms=HOUR_MS + i,
        rule_context={"device": device},
    )


# a tiny log: two kinds of visitor, a bandit's pmfs, a pinned decision among them
EVEN = (0.5, 0.3, 0.2)
SKEW = (0.1, 0.2, 0.7)
TINY = [
    record(0, "mobile", "a", EVEN, 1.0),
    record(1, "desktop", "c", SKEW, 0.0),
    record(2, "mobile", "b", EVEN, 1.0),
    record(3, "desktop", "c", SKEW, 1.0),
    record(4, "mobile", "a", EVEN, 0.0),
    record(5, "desktop", "b", SKEW, 1.0),
    record(6, "mobile", "b", None, 1.0),  # pinned: p = 1, no pmf
    record(7, "desktop", "a", SKEW, 0.0),
    record(8, "mobile", "c", EVEN, 0.0),
    record(9, "desktop", "c", SKEW, 1.0),
    record(10, "mobile", "b", EVEN, 0.0),
    record(11, "desktop", "a", SKEW, 1.0),
]

Target = Callable[[LoggedDecision], np.ndarray]


def one_hot(variant: str) -> np.ndarray:
    return np.array([float(v == variant) for v in VARIANTS])


def logged_pmf(r: LoggedDecision) -> np.ndarray:
    return one_hot(r.chosen) if r.pmf is None else np.array(r.pmf)


TARGETS: dict[str, Target] = {
    "a": lambda r: one_hot("a"),
    "b": lambda r: one_hot("b"),
    "c": lambda r: one_hot("c"),
    "served": logged_pmf,
    "model": lambda r: one_hot(VARIANTS[int(np.argmax(logged_pmf(r)))]),
    "uniform": lambda r: np.full(3, 1 / 3),
    "rules": lambda r: one_hot(
        "b" if r.rule_context is not None and r.rule_context["device"] == "mobile" else "a"
    ),
}


def reference_predictions(log: Sequence[LoggedDecision]) -> np.ndarray:
    """r̂(x_i, ·) for every example: fitted without the example's fold (i mod 2; every fold
    under four examples), an action's mean shrunk to the overall mean, a (context, action)
    cell's shrunk to its action's."""
    n = len(log)
    rewards = np.array([r.reward for r in log])
    chosen = np.array([VARIANTS.index(r.chosen) for r in log])
    device = np.array([r.context["D"][0] for r in log])
    out = np.zeros((n, 3))
    for i in range(n):
        train = np.arange(n) % 2 != i % 2 if n >= 4 else np.ones(n, bool)
        overall = rewards[train].mean() if train.any() else 0.0
        for k in range(3):
            arm = train & (chosen == k)
            prior = (rewards[arm].sum() + PRIOR * overall) / (arm.sum() + PRIOR)
            cell = arm & (device == device[i])
            out[i, k] = (
                (rewards[cell].sum() + PRIOR * prior) / (cell.sum() + PRIOR)
                if cell.any()
                else prior
            )
    return out


def reference(log: Sequence[LoggedDecision], target: Target) -> dict[str, float]:
    """IPS, SNIPS and DR of ``target`` over ``log``, from their definitions."""
    r = np.array([x.reward for x in log])
    pi = np.array([target(x) for x in log])
    chosen = np.array([VARIANTS.index(x.chosen) for x in log])
    p = np.array([x.p for x in log])
    w = pi[np.arange(len(log)), chosen] / p
    rhat = reference_predictions(log)
    dr = (pi * rhat).sum(axis=1) + w * (r - rhat[np.arange(len(log)), chosen])
    snips = float((w * r).sum() / w.sum()) if w.sum() > 0 else float("nan")
    return {"ips": float(np.mean(w * r)), "snips": snips, "dr": float(dr.mean()),
            "ess": float(w.sum() ** 2 / (w**2).sum())}  # fmt: skip


def section_of(
    log: Sequence[LoggedDecision],
    *,
    limit: int = 2000,
    limited: bool = False,
    pins: tuple[CompiledPin, ...] = MOBILE_GETS_B,
) -> dict[str, Any]:
    return doubly_robust(VARIANTS, "a", pins, ExampleSet(log, limit, limited))


def rows_of(section: dict[str, Any]) -> dict[str, dict[str, Any]]:
    rows = {row["id"]: row for row in section["variants"]}
    for row in section["policies"]:
        rows[row["id"].removeprefix("control (").removesuffix(")")] = row
    return rows


def test_every_target_matches_an_independent_computation_on_a_tiny_log() -> None:
    section = section_of(TINY)
    assert section["examples"] == 12 and section["message"] is None
    assert [p["id"] for p in section["policies"]] == [
        "served", "model", "uniform", "control (a)", "rules",
    ]  # fmt: skip
    rows = rows_of(section)
    for name, target in TARGETS.items():
        want = reference(TINY, target)
        row = rows[name]
        for kind in ("ips", "snips", "dr", "ess"):
            assert row[kind] == pytest.approx(want[kind], rel=1e-12, abs=1e-12), (name, kind)
        for kind in ("ips", "snips", "dr"):
            low, high = row[f"{kind}_ci"]
            assert 0.0 <= low <= high <= 1.0  # clipped to the reward range
        assert {w["code"] for w in row["warnings"]} >= {"few_examples"}


def test_the_served_policy_is_the_mean_reward_and_model_the_logged_argmax() -> None:
    rows = rows_of(section_of(TINY))
    mean = float(np.mean([r.reward for r in TINY]))
    assert rows["served"]["ips"] == pytest.approx(mean)
    assert rows["served"]["snips"] == pytest.approx(mean)
    assert rows["served"]["ess"] == pytest.approx(len(TINY))


def world(seed: int, n: int) -> tuple[list[LoggedDecision], np.ndarray]:
    """Mobile and desktop visitors with their own click rates per variant, a bandit's pmfs."""
    rng = np.random.default_rng(seed)
    rates = {"mobile": np.array([0.05, 0.15, 0.10]), "desktop": np.array([0.12, 0.04, 0.08])}
    pmfs = {"mobile": (0.2, 0.5, 0.3), "desktop": (0.6, 0.1, 0.3)}
    log = []
    for i in range(n):
        device = "mobile" if rng.random() < 0.4 else "desktop"
        k = int(rng.choice(3, p=pmfs[device]))
        reward = float(rng.random() < rates[device][k])
        log.append(record(i, device, VARIANTS[k], pmfs[device], reward))
    truth = 0.4 * rates["mobile"] + 0.6 * rates["desktop"]
    return log, truth


def test_the_intervals_hold_seeded_worlds_planted_values() -> None:
    rules_truth = 0.4 * 0.15 + 0.6 * 0.12  # mobile gets b, desktop the control a
    held = 0
    for seed in range(10):
        log, truth = world(seed, 3000)
        rows = rows_of(section_of(log))
        for value, name in [*zip(truth, VARIANTS, strict=True), (rules_truth, "rules")]:
            low, high = rows[name]["dr_ci"]
            held += low <= value <= high
        if seed == 0:
            assert rows["rules"]["dr"] == pytest.approx(reference(log, TARGETS["rules"])["dr"])
    assert held >= 36  # of 40 95 % intervals (36 or more: P ≈ 0.95 if they cover as claimed)


def test_too_few_or_no_examples_give_a_message_and_no_numbers() -> None:
    for log in ([], TINY[: MIN_EXAMPLES - 1]):
        section = section_of(log)
        assert section["policies"] == [] and section["variants"] == []
        assert section["examples"] == len(log)
        assert f"need at least {MIN_EXAMPLES}" in str(section["message"])


def test_rules_that_read_what_the_log_lacks_are_not_guessed() -> None:
    header_pin = (CompiledPin(parse_condition("header.x-beta == 'yes'"), "b"),)
    section = section_of(TINY, pins=header_pin)
    assert "rules" not in {p["id"] for p in section["policies"]}
    (warning,) = section["warnings"]
    assert warning["code"] == "rules_unlogged_fields" and "header.x-beta" in warning["message"]

    without = [*TINY[:11], msgspec.structs.replace(TINY[11], rule_context=None)]
    section = section_of(without)
    assert "rules" not in {p["id"] for p in section["policies"]}
    assert [w["code"] for w in section["warnings"]] == ["rules_no_context"]


def test_a_sample_at_its_limit_and_other_variants_are_said() -> None:
    other = msgspec.structs.replace(TINY[0], id="x", actions=("a", "b"), pmf=(0.5, 0.5))
    section = section_of([*TINY, other], limit=13, limited=True)
    assert section["sampled"] is True and section["examples"] == 12
    codes = [w["code"] for w in section["warnings"]]
    assert codes == ["other_variants", "sampled"]


def test_the_report_and_its_formats_carry_the_section() -> None:
    info = SlotInfo("hero", "bandit", "a", VARIANTS, pins=MOBILE_GETS_B)
    data = report(
        [(info, Buckets())], bucket="h", first=1, last=1, now_ms=0,
        examples={"hero": ExampleSet(TINY, 2000, False)},
    )  # fmt: skip
    assert data["version"] == 2 and data["minor_version"] >= 1
    (slot,) = data["slots"]
    rows = rows_of(slot["doubly_robust"])
    for variant in slot["variants"]:
        assert variant["dr"] == rows[variant["id"]]["dr"]
        assert variant["dr_ci"] == rows[variant["id"]]["dr_ci"]
    text = as_text(data)
    assert "doubly robust over 12 joined decisions" in text and "rules: DR" in text
    assert "doubly robust over 12" in as_markdown(data)
    assert as_csv(data).splitlines()[0].endswith(",dr,dr_ci")
    assert "Doubly robust values from 12 joined decisions" in report_file(data, js="", css="")
    split = SlotInfo("hero", "split", "a", VARIANTS, {v: 1.0 for v in VARIANTS})
    plain = report([(split, Buckets())], bucket="h", first=1, last=1, now_ms=0)
    assert plain["slots"][0]["doubly_robust"] is None
    assert plain["slots"][0]["variants"][0]["dr"] is None
