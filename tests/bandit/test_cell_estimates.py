"""The cell averages beside VW's estimates (pure; no VW here)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import chi2

from proxy.bandit import cell_estimates
from proxy.bandit.cell_estimates import (
    NO_SPREAD,
    PRIOR_EXAMPLES,
    PRIOR_SHARE,
    WATCH_ALPHA,
    CellCounts,
    namespaces_of_line,
)


def _add(
    counts: CellCounts, namespaces: dict[str, list[str]], variant: str, n: int, clicks: int
) -> None:
    for i in range(n):
        counts.add(namespaces, variant, 1.0 if i < clicks else 0.0)


def test_the_cells_of_a_context_follow_the_interaction_terms() -> None:
    # "DG" has no variant: not a term; "AG" is "GA" (one term per set of namespaces)
    counts = CellCounts(("GA", "TA", "UA", "DRA", "DG", "AG"))
    assert counts.terms == ("ADR", "AG", "AT", "AU")
    assert CellCounts(("DA", "GA")).terms == CellCounts(("AG", "AD")).terms
    namespaces = namespaces_of_line(
        "shared |D dev=mobile |G cc=de |R ref=search |T h=9 dp=morning |U v7=1+ v7=2+ eng=10+"
    )
    assert counts.cells(namespaces) == [
        ("", ()),  # every example of the variant
        ("ADR", ("dev=mobile", "ref=search")),
        ("AG", ("cc=de",)),
        ("AT", ("h=9",)),
        ("AT", ("dp=morning",)),
        ("AU", ("v7=1+ v7=2+",)),  # one profile field's buckets are one cell
        ("AU", ("eng=10+",)),
    ]
    assert counts.cells({"D": ["dev=mobile"]}) == [("", ())]  # DRA needs a referrer too


def test_namespaces_of_a_shared_line() -> None:
    assert namespaces_of_line("shared |D dev=mobile br=safari |T h=9") == {
        "D": ["dev=mobile", "br=safari"],
        "T": ["h=9"],
    }
    assert namespaces_of_line("shared |") == {"": []}  # no namespace: no cell but the overall
    assert namespaces_of_line("shared |Dname y") == {"D": ["y"]}  # VW: namespace D, "Dname"


def test_no_counts_leave_the_models_estimates() -> None:
    counts = CellCounts(("GA",))
    assert counts.estimates({"G": ["cc=de"]}, ["a", "b"], [0.3, 0.1]) == [0.3, 0.1]


def test_the_variants_average_counts_against_the_model_as_ten_examples() -> None:
    counts = CellCounts(())
    _add(counts, {}, "a", 40, 10)
    [a, b] = counts.estimates({}, ["a", "b"], [0.05, 0.2])
    assert a == pytest.approx((10 + PRIOR_EXAMPLES * 0.05) / (40 + PRIOR_EXAMPLES))
    assert b == 0.2  # never served: the model's estimate
    assert counts.total == 40


def test_strength_is_the_anova_estimate_of_the_spread_between_cells() -> None:
    # one-way random effects, unbalanced (Searle, "Linear Models", 1971): with cells X (100
    # examples, 10 clicks) and Y (100, 30): MSW = (9 + 21) / 198, MSB = 2 / 1, n0 = 100, so
    # sigma_b^2 = (MSB - MSW) / n0 and MSW / sigma_b^2 = 3000 / 366; m is PRIOR_SHARE of it
    counts = CellCounts(("GA",))
    _add(counts, {"G": ["cc=x"]}, "a", 100, 10)
    _add(counts, {"G": ["cc=y"]}, "a", 100, 30)
    msw = 30 / 198
    searle = msw / ((2 - msw) / 100)
    assert searle == pytest.approx(3000 / 366)
    m = PRIOR_SHARE * searle
    assert counts.strengths() == {
        ("AG", ("cc=x",)): pytest.approx(m),
        ("AG", ("cc=y",)): pytest.approx(m),
    }
    [estimate] = counts.estimates({"G": ["cc=y"]}, ["a"], [0.05])
    overall = (40 + PRIOR_EXAMPLES * 0.05) / (200 + PRIOR_EXAMPLES)
    assert estimate == pytest.approx((30 + m * overall) / (100 + m))


def test_cells_that_do_not_differ_do_not_move_the_estimate() -> None:
    counts = CellCounts(("GA",))
    _add(counts, {"G": ["cc=x"]}, "a", 100, 20)
    _add(counts, {"G": ["cc=y"]}, "a", 100, 20)
    assert counts.strengths() == {}
    [estimate] = counts.estimates({"G": ["cc=y"]}, ["a"], [0.5])
    assert estimate == pytest.approx((40 + PRIOR_EXAMPLES * 0.5) / (200 + PRIOR_EXAMPLES))
    assert cell_estimates._strengths({}, frozenset()) == {}
    assert NO_SPREAD > 1e6


def test_a_variant_best_only_in_a_small_cell_is_estimated_best_there() -> None:
    # e is the worst in the big country and the best in the small one; VW's shared weights
    # would pull it down everywhere (docs/benchmarks.md, "Tenth round"): the cells do not
    us, jp = {"G": ["cc=us"]}, {"G": ["cc=jp"]}
    counts = CellCounts(("GA",))
    _add(counts, us, "a", 600, 60)
    _add(counts, us, "e", 300, 6)
    _add(counts, jp, "a", 60, 2)
    _add(counts, jp, "e", 60, 6)
    model = [0.06, 0.03]  # what a model steered by the big country would say
    in_us = counts.estimates(us, ["a", "e"], model)
    in_jp = counts.estimates(jp, ["a", "e"], model)
    assert in_us[0] > in_us[1] and in_jp[1] > in_jp[0]


def test_the_counts_survive_the_wire_exactly() -> None:
    counts = CellCounts(("GA", "UA"))
    _add(counts, {"G": ["cc=de"], "U": ["v7=1+"]}, "a", 30, 4)
    _add(counts, {"G": ["cc=fr"]}, "b", 20, 7)
    back = CellCounts.from_wire(counts.to_wire())
    assert back.to_wire() == counts.to_wire() and back.total == 50
    context = {"G": ["cc=fr"], "U": ["v7=1+"]}
    assert back.estimates(context, ["a", "b"], [0.1, 0.1]) == counts.estimates(
        context, ["a", "b"], [0.1, 0.1]
    )
    for bad in (
        {},
        {"terms": ["GA"], "total": 1, "stats": [["AG", ["x"], "a", 1]]},
        {"terms": 3},
        {"terms": ["GA"], "total": 1, "stats": [["AG", ["x"], "a", 0, 0, 0]]},
        {"terms": ["GA"], "total": 1, "stats": [["AG", ["x"], "a", 1, float("inf"), 0]]},
        {"terms": ["GA"], "total": float("inf"), "stats": []},
    ):
        with pytest.raises(ValueError, match="unreadable cell counts"):
            CellCounts.from_wire(bad)


def test_no_noise_measured_yet_is_no_spread() -> None:
    # one example a cell: a click in one of them is no evidence that the cells differ
    counts = CellCounts(("GA",))
    counts.add({"G": ["cc=x"]}, "a", 1.0)
    counts.add({"G": ["cc=y"]}, "a", 0.0)
    assert counts.strengths() == {}
    [estimate] = counts.estimates({"G": ["cc=x"]}, ["a"], [0.1])
    assert estimate == pytest.approx((1 + PRIOR_EXAMPLES * 0.1) / (2 + PRIOR_EXAMPLES))


def test_new_cells_stop_at_the_bound_and_the_overall_average_goes_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(cell_estimates, "MAX_ENTRIES", 3)
    counts = CellCounts(("GA",))
    for country in ("de", "fr", "it", "es"):
        counts.add({"G": [f"cc={country}"]}, "a", 1.0)
    wire = counts.to_wire()
    assert len(wire["stats"]) == 3  # overall + de + fr; it and es were not kept
    assert next(s for s in wire["stats"] if s[1] == [])[3] == 4.0  # the overall saw all four


def test_a_watched_term_joins_the_chain_only_when_its_cells_differ_beyond_chance() -> None:
    # the model uses no country term; GA is watched. Chi-square by hand (scipy.stats.chi2):
    # cells of 100 examples at 10 % and 30 % give a between sum of squares of 2 over a within
    # variance of 30 / 198 on 1 degree of freedom: p ~ 3e-4 < WATCH_ALPHA; 15 % and 25 %, p ~ 0.08
    x, y = {"G": ["cc=x"]}, {"G": ["cc=y"]}
    strong = CellCounts((), watched=("GA",))
    assert strong.terms == () and strong.watched == ("AG",)
    _add(strong, x, "a", 100, 10)
    _add(strong, y, "a", 100, 30)
    assert chi2.sf(2 / (30 / 198), 1) < WATCH_ALPHA
    assert set(strong.strengths()) == {("AG", ("cc=x",)), ("AG", ("cc=y",))}
    [in_y] = strong.estimates(y, ["a"], [0.05])
    assert in_y > 0.25  # the cell's own 30 %, not the variant's 20 % average

    weak = CellCounts((), watched=("GA",))
    _add(weak, x, "a", 100, 15)
    _add(weak, y, "a", 100, 25)
    within = (15 * 85 / 100 + 25 * 75 / 100) / 198
    assert 0.05 < chi2.sf(2 * 100 * 0.05**2 / within, 1) < 0.1
    assert weak.strengths() == {}
    # a term the model uses needs no test: the same cells get their m
    used = CellCounts(("GA",), watched=("GA",))
    assert used.watched == ()
    _add(used, x, "a", 100, 15)
    _add(used, y, "a", 100, 25)
    assert set(used.strengths()) == {("AG", ("cc=x",)), ("AG", ("cc=y",))}


def test_the_watched_terms_survive_the_wire_and_older_wires_have_none() -> None:
    counts = CellCounts(("UA",), watched=("GA", "UA"))
    _add(counts, {"G": ["cc=de"], "U": ["v7=1+"]}, "a", 30, 4)
    back = CellCounts.from_wire(counts.to_wire())
    assert (back.terms, back.watched) == (("AU",), ("AG",))
    assert back.to_wire() == counts.to_wire()
    older = counts.to_wire()
    del older["watched"]
    assert CellCounts.from_wire(older).watched == ()


@pytest.mark.parametrize(
    ("rates", "per_variant", "cells"),
    [
        ((0.01, 0.3), 1000, 10),  # variants far apart: one pooled variance would inflate it
        ((0.05, 0.3), 2000, 24),
        ((0.05, 0.05, 0.05, 0.05), 250, 24),  # sparse cells
        ((0.05, 0.05, 0.05, 0.05), 1000, 24),  # the hour partition's 24 cells
    ],
)
def test_the_watch_test_rarely_passes_cells_that_do_not_differ(
    rates: tuple[float, ...], per_variant: int, cells: int
) -> None:
    # no cell effect at all: each variant's examples fall evenly into the cells, Bernoulli
    # rewards at the variant's rate; at WATCH_ALPHA = 0.001, 2,000 partitions should pass ~2
    rng = np.random.default_rng(7)
    passed = 0
    for _ in range(2000):
        partition = []
        for rate in rates:
            sizes = rng.multinomial(per_variant, [1 / cells] * cells)
            clicks = rng.binomial(sizes, rate)
            partition.append(
                [[float(n), float(k), float(k)] for n, k in zip(sizes, clicks, strict=True) if n]
            )
        passed += cell_estimates._beyond_chance(partition)
    assert passed <= 6  # P(Binomial(2000, 0.001) > 6) < 0.005
