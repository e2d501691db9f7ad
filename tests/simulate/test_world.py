"""The simulated world: seeded visitors, the hidden click table, each policy's expected CTR."""

from __future__ import annotations

import itertools

import pytest

from proxy.simulate.world import CLICK_TABLE, CONTROL, DEVICES, REFERRERS, VARIANTS, World


def test_the_same_seed_gives_the_same_visitors_and_another_seed_others() -> None:
    world = World()
    first = list(world.visitors(200, seed=7))
    assert first == list(world.visitors(200, seed=7))
    assert first != list(world.visitors(200, seed=8))
    assert [v.index for v in first] == list(range(200))


def test_visitors_reveal_their_context_through_their_headers() -> None:
    for visitor in World().visitors(500, seed=1):
        mobile = "Mobile" in visitor.user_agent
        assert mobile == (visitor.device == "mobile")
        if visitor.referrer == "direct":
            assert visitor.referer is None
        elif visitor.referrer == "search":
            assert visitor.referer is not None
            assert "google." in visitor.referer or "bing." in visitor.referer
        else:
            assert visitor.referer is not None
            assert "t.co" in visitor.referer or "facebook." in visitor.referer


def test_the_context_mix_follows_the_shares() -> None:
    visitors = list(World().visitors(20_000, seed=3))
    mobile = sum(v.device == "mobile" for v in visitors) / len(visitors)
    search = sum(v.referrer == "search" for v in visitors) / len(visitors)
    assert mobile == pytest.approx(0.5, abs=0.02)
    assert search == pytest.approx(0.4, abs=0.02)


def test_the_oracle_is_the_stated_preference_of_each_context() -> None:
    world = World()
    for device, referrer in itertools.product(DEVICES, REFERRERS):
        best, ctr = world.oracle((device, referrer))
        wanted = "b" if device == "mobile" else ("c" if referrer == "search" else "a")
        assert best == wanted
        assert ctr == max(CLICK_TABLE[(device, referrer)].values())


def test_expected_ctrs_of_the_policies() -> None:
    world = World()
    e = world.expected(("desktop", "search"), "b")
    assert e.served == 0.03
    assert e.uniform == pytest.approx((0.04 + 0.03 + 0.11 + 0.002) / 4)
    assert e.control == CLICK_TABLE[("desktop", "search")][CONTROL] == 0.04
    assert (e.oracle, e.oracle_variant) == (0.11, "c")
    # over the context mix: the oracle earns almost twice what uniform or the control earns
    assert world.mean_ctr("oracle") == pytest.approx(0.10025)
    assert world.mean_ctr("uniform") == pytest.approx(0.04275, abs=1e-5)
    assert world.mean_ctr("control") == pytest.approx(0.0535)


def test_a_click_happens_with_the_table_probability_of_the_variant_served() -> None:
    world = World()
    visitors = list(world.visitors(30_000, seed=11))
    mobile = [v for v in visitors if v.device == "mobile"]
    for variant in VARIANTS:
        rate = sum(world.clicks(v, variant) for v in mobile) / len(mobile)
        expected = sum(world.click_probability(v.context, variant) for v in mobile) / len(mobile)
        assert rate == pytest.approx(expected, abs=0.008)  # about 3 s.d. at 15,000 draws
    assert not any(world.clicks(v, "no-such-variant") for v in visitors[:100])


def test_a_visitor_who_clicks_the_worse_variant_clicks_the_better_one_too() -> None:
    """Common random numbers: one draw per visitor, compared with each variant's probability."""
    world = World()
    for v in world.visitors(2_000, seed=5):
        best, _ = world.oracle(v.context)
        for variant in VARIANTS:
            if world.clicks(v, variant):
                assert world.clicks(v, best)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"table": {**CLICK_TABLE, ("mobile", "search"): {"a": 0.1, "b": 0.1}}}, "every variant"),
        (
            {"table": {**CLICK_TABLE, ("mobile", "search"): {"a": 0.1, "b": 1.5, "c": 0, "d": 0}}},
            r"in \[0, 1\]",
        ),
        ({"devices": {"mobile": 0.7, "desktop": 0.7}}, "sum to 1"),
        ({"control": "z"}, "not one of the variants"),
    ],
)
def test_a_bad_world_is_refused(change: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        World(**change)  # type: ignore[arg-type]
