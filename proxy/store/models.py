"""Model snapshots in the store: the learner publishes, every proxy polls and loads.

``P{model:<slot>}:snapshot`` holds the encoded :class:`proxy.records.snapshot.Snapshot` and
``P{model:<slot>}:meta`` its version and feature space, written together in one transaction so
a reader never sees the meta of one snapshot with the bytes of another.
"""

from __future__ import annotations

from typing import NamedTuple

from redis.asyncio import Redis

from proxy.records.snapshot import Snapshot, decode_snapshot, encode_snapshot
from proxy.store.client import Store


class ModelVersion(NamedTuple):
    feature_space: str
    version: int


async def publish(store: Store, snapshot: Snapshot) -> bool:
    keys = store.keys
    data = encode_snapshot(snapshot)

    async def write(client: Redis) -> bool:
        async with client.pipeline(transaction=True) as pipe:
            pipe.set(keys.model_key(snapshot.slot), data)
            pipe.hset(
                keys.model_meta_key(snapshot.slot),
                mapping={
                    "feature_space": snapshot.feature_space,
                    "version": snapshot.model_version,
                    "sha256": snapshot.sha256,
                    "created_at_ms": snapshot.created_at_ms,
                    "examples": snapshot.examples,
                },
            )
            await pipe.execute()
        return True

    return await store.run(write, default=False, timeout_s=2.0)


async def latest_version(store: Store, slot: str) -> ModelVersion | None:
    """The published snapshot's version, or None (none yet, or the store cannot answer)."""
    key = store.keys.model_meta_key(slot)

    async def read(client: Redis) -> ModelVersion | None:
        space, version = await client.hmget(key, ["feature_space", "version"])
        if space is None or version is None:
            return None
        text = space.decode() if isinstance(space, bytes) else str(space)
        return ModelVersion(text, int(version))

    return await store.run(read, default=None)


async def fetch(store: Store, slot: str) -> Snapshot | None:
    """The published snapshot (``SnapshotRefused`` if its bytes are malformed), or None."""
    key = store.keys.model_key(slot)

    async def read(client: Redis) -> bytes | None:
        data = await client.get(key)
        return data.encode() if isinstance(data, str) else data

    data = await store.run(read, default=None, timeout_s=2.0)
    return None if data is None else decode_snapshot(data)
