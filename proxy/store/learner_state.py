"""The learner's own state in the store: its checkpoint, and the published model it continues.

The checkpoint (``P{model:_learner}:snapshot``) is opaque bytes here: the learner encodes and
checks it (:mod:`proxy.bandit.learner_state`). Reads tell "nothing stored" (``Stored(None)``)
from "the store did not answer" (``None``), because a learner must not start from scratch just
because Redis was slow: it waits and asks again.
"""

from __future__ import annotations

from typing import NamedTuple

from redis.asyncio import Redis

from proxy.store.client import Store


class Stored(NamedTuple):
    """What a key holds: its bytes, or ``None`` if it is absent."""

    data: bytes | None


class PublishedModel(NamedTuple):
    """A slot's published snapshot as stored: its version (0 if none) and encoded bytes."""

    version: int
    data: bytes | None


def _bytes(value: bytes | str | None) -> bytes | None:
    return value.encode() if isinstance(value, str) else value


async def load_checkpoint(store: Store, *, timeout_s: float) -> Stored | None:
    """The stored checkpoint, or ``None`` if the store did not answer."""
    key = store.keys.learner_checkpoint_key()

    async def read(client: Redis) -> Stored:
        return Stored(_bytes(await client.get(key)))

    return await store.run(read, default=None, timeout_s=timeout_s)


async def save_checkpoint(
    store: Store, data: bytes, *, timeout_s: float, guardrail: bytes | None = None
) -> bool:
    """Replace the checkpoint, and with it (one transaction) the guardrail's standing (JSON
    the dashboard reads, :func:`load_guardrail_standing`); whether the store took them."""
    key = store.keys.learner_checkpoint_key()
    standing_key = store.keys.guardrail_standing_key()

    async def write(client: Redis) -> bool:
        if guardrail is None:
            await client.set(key, data)
            return True
        async with client.pipeline(transaction=True) as pipe:
            pipe.set(key, data)
            pipe.set(standing_key, guardrail)
            await pipe.execute()
        return True

    return await store.run(write, default=False, timeout_s=timeout_s)


async def load_guardrail_standing(store: Store, *, timeout_s: float) -> Stored | None:
    """The guardrail's standing as the learner last checkpointed it (JSON bytes, or
    ``Stored(None)`` before the first); ``None`` if the store did not answer."""
    key = store.keys.guardrail_standing_key()

    async def read(client: Redis) -> Stored:
        return Stored(_bytes(await client.get(key)))

    return await store.run(read, default=None, timeout_s=timeout_s)


async def load_published(store: Store, slot: str, *, timeout_s: float) -> PublishedModel | None:
    """``slot``'s published snapshot and version, or ``None`` if the store did not answer."""
    snapshot_key = store.keys.model_key(slot)
    meta_key = store.keys.model_meta_key(slot)

    async def read(client: Redis) -> PublishedModel:
        data = _bytes(await client.get(snapshot_key))
        version = await client.hget(meta_key, "version")
        return PublishedModel(int(version) if version is not None else 0, data)

    return await store.run(read, default=None, timeout_s=timeout_s)
