"""The change budget script against real servers: verdicts, limits, and atomicity under 50
parallel requests of one session."""

from __future__ import annotations

import asyncio
import itertools

from proxy.store.client import Store
from proxy.store.connection import StoreSettings
from proxy.store.governance import (
    Proposal,
    Verdicts,
    check_and_consume,
    held_by_session,
    held_in_session,
    hold_for_visitor,
)
from tests.redis_server import RELAXED_STORE
from tests.store.conftest import MakeStore

_ids = itertools.count()
SETTINGS = RELAXED_STORE


def propose(
    slot: str, variant: str, *, per_slot: int = 1, cooldown_ms: int = 0, seed: str = ""
) -> Proposal:
    return Proposal(slot, variant, f"decision{next(_ids):08d}", per_slot, cooldown_ms, seed)


async def page(
    store: Store,
    *proposals: Proposal,
    now_ms: int = 1_000_000,
    session: str = "s1",
    session_changes: int = 10,
    min_interval_ms: int = 0,
    max_slots_per_page: int = 10,
) -> list[tuple[str, str]]:
    verdicts = await check_and_consume(
        store,
        session,
        proposals,
        now_ms=now_ms,
        ttl_s=60,
        session_changes=session_changes,
        min_interval_ms=min_interval_ms,
        max_slots_per_page=max_slots_per_page,
    )
    assert isinstance(verdicts, Verdicts)
    return [(verdict, variant) for verdict, variant, _ in verdicts.items]


async def test_first_sight_sticks_and_one_change_is_allowed(
    server_url: str, make_store: MakeStore
) -> None:
    store = make_store(server_url, SETTINGS)
    first = propose("hero", "a")
    assert await page(store, first) == [("new", "a")]
    again = await check_and_consume(
        store,
        "s1",
        [propose("hero", "a")],
        now_ms=1,
        ttl_s=60,
        session_changes=10,
        min_interval_ms=0,
        max_slots_per_page=10,
    )
    assert again is not None and again.items == (("sticky", "a", first.decision),)
    assert await page(store, propose("hero", "b")) == [("changed", "b")]
    assert await page(store, propose("hero", "a")) == [("held", "b")]  # budget of 1 spent
    assert await page(store, propose("hero", "b")) == [("sticky", "b")]
    assert await page(store, propose("hero", "a"), session="s2") == [("new", "a")]  # new session


async def test_cooldown_interval_session_and_page_limits(
    server_url: str, make_store: MakeStore
) -> None:
    store = make_store(server_url, SETTINGS)
    await page(store, propose("a", "x"), propose("b", "x"), propose("c", "x"))
    # two slots want a change on one page: one is allowed
    assert await page(
        store, propose("a", "y", per_slot=5), propose("b", "y", per_slot=5), max_slots_per_page=1
    ) == [("changed", "y"), ("held", "x")]
    # min interval between any two changes of the session
    assert await page(
        store, propose("b", "y", per_slot=5), now_ms=1_000_500, min_interval_ms=1000
    ) == [("held", "x")]
    assert await page(
        store, propose("b", "y", per_slot=5), now_ms=1_001_000, min_interval_ms=1000
    ) == [("changed", "y")]
    # the slot's own cool-down
    assert await page(store, propose("a", "z", per_slot=5, cooldown_ms=5000), now_ms=1_002_000) == [
        ("held", "y")
    ]
    assert await page(store, propose("a", "z", per_slot=5, cooldown_ms=5000), now_ms=1_005_000) == [
        ("changed", "z")
    ]
    # three changes so far: a session budget of 3 refuses the fourth
    assert await page(store, propose("c", "y", per_slot=5), session_changes=3) == [("held", "x")]


async def test_visitor_seed_starts_a_new_session_from_the_held_variant(
    server_url: str, make_store: MakeStore
) -> None:
    store = make_store(server_url, SETTINGS)
    # a seed that differs from the proposal asks for a change, which a fresh session allows once
    assert await page(store, propose("hero", "a", seed="b|decisionold"), session="s9") == [
        ("changed", "a")
    ]
    assert await page(
        store, propose("hero", "a", seed="b|decisionold"), session="s8", session_changes=0
    ) == [("held", "b")]
    verdicts = await check_and_consume(
        store,
        "s10",
        [propose("hero", "b", seed="b|decisionold")],
        now_ms=1,
        ttl_s=60,
        session_changes=1,
        min_interval_ms=0,
        max_slots_per_page=1,
    )
    assert verdicts is not None and verdicts.items == (("sticky", "b", "decisionold"),)
    await hold_for_visitor(store, "v1", {"hero": "b|decisionold"}, ttl_s=60)

    async def read(client):  # type: ignore[no-untyped-def]
        return await client.hget(store.keys.visitor_key("v1"), "sticky:hero")

    assert await store.run(read, default=None) == b"b|decisionold"


async def test_fifty_parallel_requests_never_exceed_the_budget(
    server_url: str, make_store: MakeStore
) -> None:
    store = make_store(server_url, RELAXED_STORE)
    await page(store, propose("hero", "v0"), session="busy")
    variants = [f"v{i % 5}" for i in range(1, 51)]
    results = await asyncio.gather(
        *(
            page(store, propose("hero", v, per_slot=2), session="busy", session_changes=10)
            for v in variants
        )
    )
    changes = [variant for [(verdict, variant)] in results if verdict == "changed"]
    assert len(changes) == 2
    served = {variant for [(_, variant)] in results}
    assert served <= {"v0", *changes}


async def test_no_store_no_verdicts(make_store: MakeStore) -> None:
    store = make_store("redis://127.0.0.1:9", StoreSettings(op_timeout_s=0.2))
    verdicts = await check_and_consume(
        store,
        "s",
        [propose("hero", "a")],
        now_ms=1,
        ttl_s=60,
        session_changes=1,
        min_interval_ms=0,
        max_slots_per_page=1,
    )
    assert verdicts is None


async def test_what_a_session_holds_is_read_without_holding_or_spending(
    server_url: str, make_store: MakeStore
) -> None:
    store = make_store(server_url, SETTINGS)
    first = propose("hero", "a")
    await page(store, first, session="s9")
    held = await held_in_session(store, "s9", ["hero", "promo"])
    assert held == {"hero": f"a|{first.decision}"}  # promo: nothing held, nothing added
    assert await held_in_session(store, "s9", ["promo"]) == {}
    assert await held_in_session(store, "s10", ["hero"]) == {}  # no session key created
    assert await held_by_session(store, "s9") == {"hero": f"a|{first.decision}"}
    assert await held_by_session(store, "s11") == {}
    assert await page(store, propose("promo", "x"), session="s10") == [("new", "x")]
    # the budget is untouched by the reads: one change is still allowed
    assert await page(store, propose("hero", "b"), session="s9") == [("changed", "b")]
