"""Profile storage against real servers: the versioned write, recent list, tombstone, erasure."""

from __future__ import annotations

from functools import partial

from redis.asyncio import Redis

from proxy.store.client import Store
from proxy.store.profiles import forget, load_profile, load_recent, load_tally, save_profile
from tests.redis_server import RELAXED_STORE, RedisServerProcess

from .conftest import MakeStore

# generous call timeouts: these tests check behaviour, not timing, on a possibly busy machine
RELAXED = RELAXED_STORE


async def ttl_of(store: Store, key: str) -> int:
    async def ttl(client: Redis) -> int:
        return int(await client.ttl(key))

    return await store.run(ttl, default=-2)


async def set_field(key: str, client: Redis) -> None:
    await client.hset(key, "visits", "1")


async def test_versioned_write_and_conflict(server_url: str, make_store: MakeStore) -> None:
    store = make_store(server_url, RELAXED)
    assert await load_tally(store, "vis-1") == ("", None)
    common = {"ttl_s": 3600, "recent_max": 3}
    assert (
        await save_profile(
            store, "vis-1", expected_version="", fields={"visits": "1"}, state=b"{}",
            recent=[b"e1", b"e2"], **common,
        )
        == 1
    )  # fmt: skip
    # a second writer that read before the first wrote loses, and must re-read
    assert (
        await save_profile(
            store, "vis-1", expected_version="", fields={"visits": "9"}, state=b"{}",
            recent=[], **common,
        )
        == 0
    )  # fmt: skip
    assert await load_tally(store, "vis-1") == ("1", b"{}")
    assert (
        await save_profile(
            store, "vis-1", expected_version="1", fields={"visits": "2", "pageviews": "3"},
            state=b'{"visits":2}', recent=[b"e3", b"e4"], **common,
        )
        == 2
    )  # fmt: skip
    assert await load_profile(store, "vis-1") == {"visits": "2", "pageviews": "3"}
    assert await load_recent(store, "vis-1") == [b"e4", b"e3", b"e2"]  # newest first, capped
    for key in (store.keys.visitor_key("vis-1"), store.keys.visitor_recent_key("vis-1")):
        assert 3590 <= await ttl_of(store, key) <= 3600


async def test_forget_deletes_visitor_and_session_keys(
    server_url: str, make_store: MakeStore
) -> None:
    store = make_store(server_url, RELAXED)
    keys = store.keys
    await save_profile(
        store, "vis-2", expected_version="", fields={"visits": "1"}, state=b"{}",
        recent=[b"e1"], ttl_s=3600,
    )  # fmt: skip
    session_keys = [
        keys.session_key("ses-2"),
        keys.session_budget_key("ses-2"),
        keys.session_decisions_key("ses-2"),
    ]
    for key in [*session_keys, keys.visitor_key("other")]:
        await store.run(partial(set_field, key), default=None)

    assert await forget(store, "vis-2", ["ses-2"], tombstone_s=60) is True

    all_keys = sorted(await store.run(lambda r: r.keys("*"), default=[]))
    assert all_keys == [b"vernier:{v:other}:profile", b"vernier:{v:vis-2}:forgotten"]
    # queued events of the forgotten visitor cannot rebuild the profile
    assert (
        await save_profile(
            store, "vis-2", expected_version="", fields={"visits": "1"}, state=b"{}",
            recent=[], ttl_s=3600,
        )
        == -1
    )  # fmt: skip
    assert await load_profile(store, "vis-2") == {}


async def test_unavailable_store(redis_server: RedisServerProcess, make_store: MakeStore) -> None:
    store = make_store(redis_server.url, RELAXED)
    redis_server.kill()
    assert await load_tally(store, "vis-3") is None
    assert await load_recent(store, "vis-3") is None
    assert await forget(store, "vis-3", [], tombstone_s=60) is False
    assert (
        await save_profile(
            store, "vis-3", expected_version="", fields={}, state=b"{}", recent=[], ttl_s=60
        )
        is None
    )
