"""Visitor profiles: what rules and the bandit read as context about a returning visitor.

The chassis only reads (one round trip per page Vernier may change, none for anything else); the
event collector writes them. Fields are flat hash fields so a rule can read one without decoding
a document, e.g. ``visits_7d``, ``engaged_s``, ``clicks:hero``.
"""

from __future__ import annotations

from collections.abc import Mapping

from redis.asyncio import Redis

from proxy.store.client import Store

Profile = Mapping[str, str]
EMPTY_PROFILE: Profile = {}


async def load_profile(store: Store, visitor_id: str) -> Profile:
    """The visitor's profile, or an empty one when the store is down, slow or has none."""
    key = store.keys.visitor_key(visitor_id)

    async def read(client: Redis) -> Profile:
        raw = await client.hgetall(key)
        return {
            (k.decode() if isinstance(k, bytes) else str(k)): (
                v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v)
            )
            for k, v in raw.items()
        }

    return await store.run(read, default=EMPTY_PROFILE)
