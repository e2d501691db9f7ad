"""A lease in the store: one holder at a time, for as long as it keeps renewing.

The learner takes one so a second learner (another worker, or ``vernier learn`` beside an
embedded one) stands by instead of splitting the streams and publishing a rival version line.
The lease is a string key holding its owner's id with an expiry (``PX``): taking and renewing
are one script that sets it only when it is free or already ours, and releasing deletes it only
when it is still ours, so a holder whose lease expired can never free its successor's.
A holder renews when a third of the lease has passed, so one slow renewal does not lose it.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from redis.asyncio import Redis

from proxy.store.client import Store
from proxy.store.scripts import Script

TAKE_SCRIPT = Script(
    """
local holder = redis.call('GET', KEYS[1])
if holder == false or holder == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
"""
)
RELEASE_SCRIPT = Script(
    """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
)


class Lease:
    """``owner``'s hold on the lease under ``key``, ``ttl_ms`` long from each renewal."""

    def __init__(
        self,
        store: Store,
        key: str,
        owner: str,
        *,
        ttl_ms: int,
        timeout_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.key = key
        self.owner = owner
        self.ttl_ms = ttl_ms
        self.timeout_s = timeout_s
        self.clock = clock
        self.held_until = 0.0  # by our clock; 0: not held

    async def hold(self) -> bool | None:
        """Take or renew the lease: ``True`` if it is ours, ``False`` if another owner holds it,
        ``None`` if the store did not answer. No store call while less than a third has passed."""
        now = self.clock()
        if now < self.held_until - self.ttl_ms / 1000 * 2 / 3:
            return True

        async def take(client: Redis) -> int:
            return int(await TAKE_SCRIPT.run(client, [self.key], [self.owner, self.ttl_ms]))

        taken = await self.store.run(take, default=None, timeout_s=self.timeout_s)
        if taken is None:
            return None
        self.held_until = now + self.ttl_ms / 1000 if taken else 0.0
        return bool(taken)

    async def release(self) -> None:
        """Free the lease if we may hold it (fail-open: otherwise it expires)."""
        if not self.held_until:
            return

        async def release(client: Redis) -> int:
            return int(await RELEASE_SCRIPT.run(client, [self.key], [self.owner]))

        await self.store.run(release, default=0, timeout_s=self.timeout_s)
        self.held_until = 0.0
