"""The learned-segment model in the store, and the profiles a fit reads.

``P{model:_segments}:snapshot`` holds the encoded :class:`~proxy.records.segment_model.SegmentModel`
and ``:meta`` its version, written together in one transaction (as bandit snapshots are, see
``proxy/store/models.py``), so a proxy polling the version never fetches the bytes of another.
"""

from __future__ import annotations

from collections.abc import Mapping

from redis.asyncio import Redis

from proxy.records.segment_model import SegmentModel, encode_model
from proxy.store.client import Store

SCAN_BATCH = 1000
FIT_TIMEOUT_S = 120.0


async def publish(store: Store, model: SegmentModel) -> bool:
    keys = store.keys
    data = encode_model(model)

    async def write(client: Redis) -> bool:
        async with client.pipeline(transaction=True) as pipe:
            pipe.set(keys.segment_model_key(), data)
            pipe.hset(
                keys.segment_model_meta_key(),
                mapping={
                    "version": model.version,
                    "created_at_ms": model.created_ms,
                    "visitors": model.visitors,
                },
            )
            await pipe.execute()
        return True

    return await store.run(write, default=False, timeout_s=2.0)


async def latest_version(store: Store) -> int | None:
    """The published model's version; None if there is none or the store cannot answer."""
    key = store.keys.segment_model_meta_key()

    async def read(client: Redis) -> int | None:
        version = await client.hget(key, "version")
        return None if version is None else int(version)

    return await store.run(read, default=None)


async def fetch(store: Store) -> bytes | None:
    """The published model's bytes (decode them with ``decode_model``), or None."""
    key = store.keys.segment_model_key()

    async def read(client: Redis) -> bytes | None:
        data = await client.get(key)
        return data.encode() if isinstance(data, str) else data

    return await store.run(read, default=None, timeout_s=2.0)


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


async def scan_profiles(store: Store, limit: int) -> list[Mapping[str, str]] | None:
    """Up to ``limit`` visitor profiles, in no particular order (SCAN, then HGETALL in
    pipelined batches); None if the store cannot answer. Offline work: never the request path."""
    pattern = store.keys.visitor_profiles_pattern()

    async def read(client: Redis) -> list[Mapping[str, str]]:
        found: list[Mapping[str, str]] = []
        batch: list[bytes | str] = []

        async def flush() -> None:
            async with client.pipeline(transaction=False) as pipe:
                for key in batch:
                    pipe.hgetall(key)
                for raw in await pipe.execute():
                    if raw:
                        found.append({_text(k): _text(v) for k, v in raw.items()})
            batch.clear()

        async for key in client.scan_iter(match=pattern, count=SCAN_BATCH):
            batch.append(key)
            if len(batch) >= SCAN_BATCH:
                await flush()
            if len(found) + len(batch) >= limit:
                break
        if batch:
            await flush()
        return found[:limit]

    return await store.run(read, default=None, timeout_s=FIT_TIMEOUT_S)
