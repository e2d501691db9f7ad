"""One EVALSHA per call; the script is sent in full only after the server forgot it."""

from __future__ import annotations

import hashlib
from typing import Any

from redis.asyncio import Redis

from proxy.store.client import Store
from proxy.store.scripts import Script

ECHO = Script("return {KEYS[1], ARGV[1]}")


async def calls(store: Store, command: str) -> int:
    async def info(client: Redis) -> Any:
        return await client.info("commandstats")

    stats: dict[str, Any] = await store.run(info, default={}, timeout_s=2.0)
    return int(stats.get(f"cmdstat_{command}", {}).get("calls", 0))


def test_the_sha_is_the_scripts_sha1() -> None:
    assert ECHO.sha == hashlib.sha1(b"return {KEYS[1], ARGV[1]}").hexdigest()


async def test_a_flushed_script_is_sent_again_once(own_store: Store) -> None:
    async def run(client: Redis) -> Any:
        return await ECHO.run(client, ["k"], ["v"])

    assert await own_store.run(lambda client: client.script_flush(), default=None)
    evals = await calls(own_store, "eval")
    assert await own_store.run(run, default=None) == [b"k", b"v"]  # NOSCRIPT, then EVAL
    assert await calls(own_store, "eval") == evals + 1
    assert await own_store.run(run, default=None) == [b"k", b"v"]  # cached: EVALSHA only
    assert await calls(own_store, "eval") == evals + 1
