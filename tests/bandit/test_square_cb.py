"""SquareCB's probabilities, checked against VW's own ``--squarecb`` on the same estimates."""

from __future__ import annotations

import random

import pylibvw  # type: ignore[import-not-found]
import pytest
from vowpalwabbit import Workspace  # type: ignore[import-untyped]

from proxy.bandit.square_cb import gamma, squarecb_pmf


def test_the_gaps_decide_and_the_best_gets_the_rest() -> None:
    # Foster and Rakhlin (2020), Algorithm 1: p(a) = 1 / (K + gamma (best - estimate(a)))
    pmf = squarecb_pmf([0.1, 0.05, 0.0], 100.0)
    assert pmf[1] == pytest.approx(1 / (3 + 5)) and pmf[2] == pytest.approx(1 / (3 + 10))
    assert pmf[0] == pytest.approx(1 - 1 / 8 - 1 / 13)
    assert squarecb_pmf([0.2, 0.2], 50.0) == [0.5, 0.5]  # a tie: no gap, the first is "best"
    assert squarecb_pmf([0.3, 0.1, 0.2], 0.0) == pytest.approx([1 / 3] * 3)


def test_gamma_grows_with_the_examples_and_is_zero_before_any() -> None:
    assert gamma(1.0, 1.0, 0) == 0.0
    assert gamma(0.3, 1.0, 1000) == pytest.approx(300.0)
    assert gamma(10.0, 0.5, 400) == pytest.approx(200.0)
    assert gamma(2.0, 0.0, 7) == 2.0


def _scores(workspace: Workspace, text: str) -> list[float]:
    examples = pylibvw.vw._parse(workspace, text)
    try:
        pylibvw.vw.predict_multi(workspace, examples)
        scores: list[float] = examples[0].get_action_scores()
        return scores
    finally:
        pylibvw.vw._finish_example_multi_ex(workspace, examples)


def _lines(device: str, label: tuple[int, float] | None = None) -> str:
    lines = [f"shared |D dev={device}"]
    for i in range(3):
        prefix = f"0:{label[1]}:1 " if label is not None and label[0] == i else ""
        lines.append(f"{prefix}|A id={i}")
    return "\n".join(lines)


def test_same_probabilities_as_vws_squarecb_on_the_same_estimates() -> None:
    # two workspaces learn the same examples: a cb_adf regressor (its scores are the costs
    # Vernier explores by) and VW's cb_explore_adf --squarecb, the reference implementation
    common = ["--quiet", "--interactions", "DA"]
    regressor = Workspace(arg_list=["--cb_adf", *common])
    reference = Workspace(
        arg_list=["--cb_explore_adf", "--squarecb", "--gamma_scale", "2.0",
                  "--gamma_exponent", "0.7", *common]
    )  # fmt: skip
    rng = random.Random(3)
    try:
        for learned in range(1, 120):
            device = rng.choice(["mobile", "desktop"])
            chosen = rng.randrange(3)
            liked = (chosen == 1) == (device == "mobile")
            cost = -float(rng.random() < (0.5 if liked else 0.1))
            regressor.learn(_lines(device, (chosen, cost)))
            reference.learn(_lines(device, (chosen, cost)))
            if learned % 17 == 0:
                for device in ("mobile", "desktop"):
                    costs = _scores(regressor, _lines(device))
                    ours = squarecb_pmf([-c for c in costs], gamma(2.0, 0.7, learned))
                    assert ours == pytest.approx(_scores(reference, _lines(device)), abs=1e-5)
    finally:
        regressor.finish()
        reference.finish()
