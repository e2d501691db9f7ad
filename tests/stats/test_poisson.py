"""Two Poisson rates compared, against references computed without scipy: the worked example of
R's two-sample ``poisson.test`` (its documentation's heart-attack rates) and, for other counts, the
conditional binomial's p-value and Clopper-Pearson interval computed by hand from the pmf
(``math.comb``) and bisection."""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest

from proxy.stats.poisson import compare_rates


def test_rs_worked_example_of_two_poisson_rates() -> None:
    """``poisson.test(c(11, 6+8+7), c(800, 1083+1050+878))`` in R prints count1 = 11, p-value =
    0.07967, 95 % interval 0.8584264 4.2772659, rate ratio 1.971488 (arm 1 against arm 2)."""
    found = compare_rates(6 + 8 + 7, 1083 + 1050 + 878, 11, 800)
    assert found is not None
    assert found.p_value == pytest.approx(0.07967, abs=5e-6)
    assert found.ratio == pytest.approx(1.971488, abs=5e-7)
    low, high = found.ratio_ci
    assert low == pytest.approx(0.8584264, abs=5e-8)
    assert high == pytest.approx(4.2772659, abs=5e-8)
    assert found.lift == pytest.approx(0.971488, abs=5e-7)


def _pmf(k: int, n: int, q: float) -> float:
    return math.comb(n, k) * q**k * (1 - q) ** (n - k)


def binomial_two_sided_p(x: int, n: int, q: float) -> float:
    """By hand: the probability under Binomial(n, q) of every count no likelier than ``x`` (the
    two-sided exact p, with R's relative tolerance 1e-7)."""
    observed = _pmf(x, n, q)
    return min(1.0, sum(p for k in range(n + 1) if (p := _pmf(k, n, q)) <= observed * (1 + 1e-7)))


def _root(increasing: Callable[[float], float]) -> float:
    """Where an increasing function of q in (0, 1) crosses 0, by bisection."""
    low, high = 0.0, 1.0
    for _ in range(200):
        mid = (low + high) / 2
        low, high = (mid, high) if increasing(mid) < 0 else (low, mid)
    return (low + high) / 2


def _hand_share_interval(x: int, n: int, alpha: float = 0.05) -> tuple[float, float]:
    """Clopper-Pearson: P(X >= x | q_lo) = α/2 and P(X <= x | q_hi) = α/2."""
    lower = 0.0
    if x > 0:
        lower = _root(lambda q: sum(_pmf(k, n, q) for k in range(x, n + 1)) - alpha / 2)
    upper = 1.0
    if x < n:
        upper = _root(lambda q: alpha / 2 - sum(_pmf(k, n, q) for k in range(x + 1)))
    return lower, upper


@pytest.mark.parametrize(
    ("conv_c", "visitors_c", "conv", "visitors"),
    [(10, 500, 25, 480), (3, 90, 0, 110), (0, 40, 4, 60), (17, 1000, 17, 1000), (30, 120, 41, 95)],
)
def test_p_and_interval_match_the_conditional_binomial_by_hand(
    conv_c: int, visitors_c: int, conv: int, visitors: int
) -> None:
    found = compare_rates(conv_c, visitors_c, conv, visitors)
    assert found is not None
    n, share = conv_c + conv, visitors / (visitors + visitors_c)
    assert found.p_value == pytest.approx(binomial_two_sided_p(conv, n, share), rel=1e-9)
    q_lo, q_hi = _hand_share_interval(conv, n)
    odds = visitors_c / visitors
    low, high = found.ratio_ci
    assert low == pytest.approx(q_lo / (1 - q_lo) * odds, rel=1e-7, abs=1e-12)
    if q_hi == 1.0:
        assert high is None and found.ratio is None and found.lift is None
        assert found.lift_ci == (low - 1, None)
    else:
        assert high == pytest.approx(q_hi / (1 - q_hi) * odds, rel=1e-7)
        assert found.ratio == pytest.approx((conv / visitors) / (conv_c / visitors_c))


def test_undefined_without_exposure_or_any_event_and_negative_input_is_refused() -> None:
    assert compare_rates(0, 100, 0, 100) is None
    assert compare_rates(5, 0, 3, 100) is None
    assert compare_rates(5, 100, 3, 0) is None
    with pytest.raises(ValueError, match="counts and exposures"):
        compare_rates(-1, 100, 3, 100)


def test_several_events_per_unit_of_exposure_are_allowed() -> None:
    """Poisson, not binomial: more conversions than visitors is a rate above 1, not an error."""
    found = compare_rates(30, 20, 90, 30)
    assert found is not None and found.ratio == pytest.approx(2.0)
    assert found.p_value < 1e-3
