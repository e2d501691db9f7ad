"""The control hash (``P{control}``): pauses and kill switches, one field each, value JSON
``{"why": ..., "by": ..., "at_ms": ...}`` (see :mod:`proxy.govern.control`)."""

from __future__ import annotations

import time

import orjson
from redis.asyncio import Redis

from proxy.store.client import Store


async def read(store: Store) -> dict[str, str] | None:
    key = store.keys.control_key()

    async def fetch(client: Redis) -> dict[str, str]:
        raw = await client.hgetall(key)
        return {
            (k.decode() if isinstance(k, bytes) else str(k)): (
                v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v)
            )
            for k, v in raw.items()
        }

    return await store.run(fetch, default=None)


async def pause(store: Store, target: str, *, why: str, by: str) -> bool:
    """Pause ``target`` (``slot:<id>``, ``rule:<id>`` or ``variant:<slot>:<id>``)."""
    key = store.keys.control_key()
    value = orjson.dumps({"why": why, "by": by, "at_ms": int(time.time() * 1000)})

    async def write(client: Redis) -> bool:
        await client.hset(key, target, value)
        return True

    return await store.run(write, default=False, timeout_s=2.0)


async def resume(store: Store, target: str) -> bool | None:
    """Lift the pause of ``target``: True if it was paused, False if not, None if unreachable."""
    key = store.keys.control_key()

    async def delete(client: Redis) -> bool:
        return bool(await client.hdel(key, target))

    return await store.run(delete, default=None, timeout_s=2.0)
