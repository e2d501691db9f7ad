"""The learner's checkpoint and its view of a published model, in a real store."""

from __future__ import annotations

from pathlib import Path

from redis.asyncio import Redis

from proxy.store.client import Store
from proxy.store.connection import StoreSettings
from proxy.store.learner_state import (
    PublishedModel,
    Stored,
    load_checkpoint,
    load_guardrail_standing,
    load_published,
    save_checkpoint,
)


async def test_a_checkpoint_is_stored_and_read_back(own_store: Store) -> None:
    assert await load_checkpoint(own_store, timeout_s=2.0) == Stored(None)
    assert await save_checkpoint(own_store, b"\x00state", timeout_s=2.0)
    assert await load_checkpoint(own_store, timeout_s=2.0) == Stored(b"\x00state")


async def test_a_published_model_is_its_bytes_and_version(own_store: Store) -> None:
    assert await load_published(own_store, "hero", timeout_s=2.0) == PublishedModel(0, None)
    keys = own_store.keys

    async def publish(client: Redis) -> None:
        await client.set(keys.model_key("hero"), b"model")
        await client.hset(keys.model_meta_key("hero"), "version", 7)

    await own_store.run(publish, default=None)
    assert await load_published(own_store, "hero", timeout_s=2.0) == PublishedModel(7, b"model")


async def test_no_answer_is_none(tmp_path: Path) -> None:
    store = Store(f"unix://{tmp_path}/nothing.sock", StoreSettings(op_timeout_s=0.05))
    try:
        assert await load_checkpoint(store, timeout_s=0.05) is None
        assert await save_checkpoint(store, b"x", timeout_s=0.05) is False
        assert await load_published(store, "hero", timeout_s=0.05) is None
    finally:
        await store.close()


async def test_the_guardrail_standing_is_written_with_the_checkpoint(own_store: Store) -> None:
    assert await load_guardrail_standing(own_store, timeout_s=2.0) == Stored(None)
    assert await save_checkpoint(own_store, b"state", timeout_s=2.0, guardrail=b'{"hero":[]}')
    assert await load_guardrail_standing(own_store, timeout_s=2.0) == Stored(b'{"hero":[]}')
    assert await load_checkpoint(own_store, timeout_s=2.0) == Stored(b"state")
