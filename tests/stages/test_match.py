"""match alone: the rules and slots of a page, the context they read, and added fields."""

from __future__ import annotations

from pathlib import Path

from proxy.config.schema import ContextConfig
from proxy.exchange import Exchange
from proxy.preview import PinnedFields
from proxy.rules.engine import FixedRules
from proxy.rules.health import RuleHealth
from proxy.stages.match import ContextFields, Match, page_type
from tests.integration.origin_app import PAGE
from tests.stages.factory import make_config, make_engine, make_exchange

IPHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_5 like Mac OS X) Mobile/15E148 Safari/604.1"


async def matched(
    tmp_path: Path, ex: Exchange, *fields: ContextFields, context: ContextConfig | None = None
) -> Exchange:
    ex.document = PAGE
    match = Match(
        FixedRules(make_engine(tmp_path)),
        context or make_config().context,
        RuleHealth(),
        own_hosts=frozenset({"shop.test"}),
        hidden_cookies=frozenset(),
        context_fields=fields,
    )
    await match(ex)
    return ex


async def test_a_page_in_scope_gets_its_slots_and_the_rules_whose_conditions_hold(
    tmp_path: Path,
) -> None:
    mobile = await matched(tmp_path, make_exchange(target="/page", headers={"User-Agent": IPHONE}))
    assert [r.id for r in mobile.rules] == ["greet"] and [s.id for s in mobile.slots] == ["hero"]
    assert mobile.context is not None and mobile.context["device"] == "mobile"
    assert mobile.personalised and mobile.engine is not None
    desktop = await matched(tmp_path, make_exchange(target="/page"))
    assert desktop.rules == () and [s.id for s in desktop.slots] == ["hero"]


async def test_a_page_out_of_scope_matches_nothing(tmp_path: Path) -> None:
    ex = await matched(tmp_path, make_exchange(target="/about", headers={"User-Agent": IPHONE}))
    assert ex.engine is not None and ex.rules == () and ex.slots == () and ex.context is None


async def test_added_fields_win_over_what_the_request_implies(tmp_path: Path) -> None:
    ex = await matched(tmp_path, make_exchange(target="/page"), PinnedFields({"device": "mobile"}))
    assert [r.id for r in ex.rules] == ["greet"]


async def test_the_exchange_names_the_zone_whose_clock_the_hour_reads(tmp_path: Path) -> None:
    """The configured zone, or the one the edge's header names when the server knows it (what
    X-Vernier-Debug shows)."""
    settings = {"context.time_zone": "Europe/Oslo", "context.time_zone_header": "X-Edge-Tz"}
    context = make_config(**settings).context

    async def zone(headers: dict[str, str]) -> str | None:
        ex = await matched(
            tmp_path, make_exchange(target="/page", headers=headers), context=context
        )
        return ex.time_zone

    assert await zone({}) == "Europe/Oslo"
    assert await zone({"X-Edge-Tz": "Asia/Kathmandu"}) == "Asia/Kathmandu"
    assert await zone({"X-Edge-Tz": "Mars/Olympus_Mons"}) == "Europe/Oslo"
    out_of_scope = await matched(tmp_path, make_exchange(target="/about"), context=context)
    assert out_of_scope.time_zone is None


def test_the_page_type_is_the_first_path_segment() -> None:
    assert [page_type(p) for p in ("/", "/products/7", "/cart")] == ["home", "products", "cart"]
