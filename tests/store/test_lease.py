"""The lease: one holder at a time, renewed after a third of it, freed only by its holder."""

from __future__ import annotations

from pathlib import Path

from redis.asyncio import Redis

from proxy.store.client import Store
from proxy.store.connection import StoreSettings
from proxy.store.lease import Lease

from .conftest import FakeClock


def lease(store: Store, owner: str, clock: FakeClock | None = None) -> Lease:
    key = store.keys.learner_lease_key()
    return Lease(store, key, owner, ttl_ms=30_000, timeout_s=2.0, clock=clock or FakeClock())


async def holder(store: Store) -> bytes | None:
    async def read(client: Redis) -> bytes | None:
        value = await client.get(store.keys.learner_lease_key())
        return value if isinstance(value, bytes) else None

    return await store.run(read, default=None)


async def test_one_holder_at_a_time(own_store: Store) -> None:
    first, second = lease(own_store, "first"), lease(own_store, "second")
    assert await first.hold() is True
    assert await second.hold() is False and second.held_until == 0.0
    await second.release()  # not ours: nothing happens
    assert await holder(own_store) == b"first"
    await first.release()
    assert await holder(own_store) is None
    assert await second.hold() is True


async def test_renewed_only_after_a_third_has_passed(own_store: Store) -> None:
    clock = FakeClock()
    held = lease(own_store, "first", clock)
    assert await held.hold() is True
    await own_store.run(
        lambda client: client.set(own_store.keys.learner_lease_key(), "thief"), default=None
    )
    clock.advance(9.0)
    assert await held.hold() is True  # no store call yet
    clock.advance(2.0)
    assert await held.hold() is False  # renewal finds another holder
    assert held.held_until == 0.0


async def test_no_answer_is_none(tmp_path: Path) -> None:
    store = Store(f"unix://{tmp_path}/nothing.sock", StoreSettings(op_timeout_s=0.05))
    try:
        assert await lease(store, "first").hold() is None
    finally:
        await store.close()
