"""profile alone, against the real store: a returning visitor's fields, and failing open."""

from __future__ import annotations

import uuid

from proxy.stages.profile import Profile
from proxy.store.client import Store
from proxy.store.connection import StoreSettings
from proxy.store.profiles import save_profile
from tests.stages.factory import make_exchange

# generous call timeouts: these tests check behaviour, not timing, on a possibly busy machine
RELAXED = StoreSettings(op_timeout_s=1.0, connect_timeout_s=1.0)


async def test_a_returning_visitor_gets_their_profile(embedded_store_url: str) -> None:
    store = Store(embedded_store_url, RELAXED)
    visitor = f"vis-{uuid.uuid4().hex}"
    try:
        saved = await save_profile(
            store, visitor, expected_version="", fields={"visits": "3"}, state=b"{}", recent=[],
            ttl_s=60,
        )  # fmt: skip
        assert saved == 1
        ex = make_exchange()
        ex.identity.visitor_id = visitor
        await Profile(store)(ex)
        assert ex.profile == {"visits": "3"}
        newcomer = make_exchange()
        await Profile(store)(newcomer)
        assert newcomer.profile == {}
    finally:
        await store.close()


async def test_a_store_that_is_down_yields_an_empty_profile() -> None:
    dead = Store("redis://127.0.0.1:1/0", StoreSettings(connect_timeout_s=0.2, op_timeout_s=0.2))
    try:
        ex = make_exchange()
        ex.identity.visitor_id = "vis-1"
        await Profile(dead)(ex)
        assert ex.profile == {}
    finally:
        await dead.close()
