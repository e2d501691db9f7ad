"""Visitor profiles: what rules and the bandit read as context about a returning visitor.

The chassis only reads (one round trip per page Vernier may change, none for anything else); the
profile updater (``tracker/visitor_data.py``) writes them with the functions below. Fields are flat hash fields so a rule can read one without decoding
a document, e.g. ``visits_7d``, ``engaged_s``, ``clicks:hero``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import NamedTuple

from redis.asyncio import Redis

from proxy.store.client import Store
from proxy.store.scripts import Script

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


# -- the profile updater's side --------------------------------------------------------------------
#
# The updater reads a visitor's tally (version + state JSON) in one round trip, folds events into
# the state in Python, and writes profile, tally and recent-events list in one script that checks
# the version first (optimistic concurrency: two consumers updating one visitor cannot lose an
# update; the loser re-reads and re-applies). All keys carry the visitor's hash tag ``{v:<id>}``,
# so the script runs on one Cluster node. The script refuses to write while the visitor's erasure
# tombstone exists, so events still in the stream cannot rebuild a forgotten profile.

SAVE_SCRIPT = Script(
    """
if redis.call('EXISTS', KEYS[4]) == 1 then return -1 end
local version = redis.call('HGET', KEYS[2], 'v') or ''
if version ~= ARGV[1] then return 0 end
local next_version = (tonumber(version) or 0) + 1
local ttl, keep, npairs = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
if npairs > 0 then redis.call('HSET', KEYS[1], unpack(ARGV, 6, 5 + 2 * npairs)) end
redis.call('HSET', KEYS[2], 'v', next_version, 'state', ARGV[5])
for i = 6 + 2 * npairs, #ARGV do redis.call('LPUSH', KEYS[3], ARGV[i]) end
redis.call('LTRIM', KEYS[3], 0, keep - 1)
for i = 1, 3 do redis.call('EXPIRE', KEYS[i], ttl) end
return next_version
"""
)


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _bytes(value: bytes | str | None) -> bytes | None:
    return value.encode() if isinstance(value, str) else value


class Tally(NamedTuple):
    """The updater's stored state of one visitor: its version ("" for none) and JSON."""

    version: str
    state: bytes | None


async def load_tally(store: Store, visitor_id: str) -> Tally | None:
    """The visitor's tally, or ``None`` if the store cannot answer."""
    key = store.keys.visitor_tally_key(visitor_id)

    async def read(client: Redis) -> Tally:
        version, state = await client.hmget(key, ["v", "state"])
        return Tally(_text(version) if version is not None else "", _bytes(state))

    return await store.run(read, default=None)


async def save_profile(
    store: Store,
    visitor_id: str,
    *,
    expected_version: str,
    fields: Mapping[str, str],
    state: bytes,
    recent: Sequence[bytes],
    ttl_s: int,
    recent_max: int = 50,
) -> int | None:
    """Write profile fields, tally state and new recent events if the tally is still at
    ``expected_version``. Returns the new version (> 0), 0 on a version conflict, -1 when the
    visitor was forgotten, ``None`` if the store cannot answer (the write may then have happened:
    re-applying is harmless, the state remembers applied event ids).
    """
    keys = store.keys
    script_keys = [
        keys.visitor_key(visitor_id),
        keys.visitor_tally_key(visitor_id),
        keys.visitor_recent_key(visitor_id),
        keys.visitor_forgotten_key(visitor_id),
    ]
    pairs = [item for field, value in fields.items() for item in (field, value)]
    args: list[str | int | bytes] = [
        expected_version,
        ttl_s,
        recent_max,
        len(fields),
        state,
        *pairs,
        *recent,
    ]

    async def write(client: Redis) -> int:
        return int(await SAVE_SCRIPT.run(client, script_keys, args))

    return await store.run(write, default=None)


FREEZE_SCRIPT = Script(
    """
if redis.call('EXISTS', KEYS[2]) == 1 then return -1 end
local written = 0
for i = 2, #ARGV, 2 do written = written + redis.call('HSETNX', KEYS[1], ARGV[i], ARGV[i + 1]) end
if redis.call('TTL', KEYS[1]) == -1 then redis.call('EXPIRE', KEYS[1], tonumber(ARGV[1])) end
return written
"""
)


async def freeze_fields(
    store: Store, visitor_id: str, fields: Mapping[str, str], *, ttl_s: int
) -> int | None:
    """Set profile fields that are not set yet (never overwrite), unless the visitor was
    forgotten; a profile that did not exist gets ``ttl_s``. The number of fields written, -1 for
    a forgotten visitor, ``None`` if the store cannot answer (the decision is served anyway)."""
    if not fields:
        return 0
    script_keys = [store.keys.visitor_key(visitor_id), store.keys.visitor_forgotten_key(visitor_id)]
    args: list[str | int] = [ttl_s, *(item for pair in fields.items() for item in pair)]

    async def write(client: Redis) -> int:
        return int(await FREEZE_SCRIPT.run(client, script_keys, args))

    return await store.run(write, default=None)


async def load_recent(store: Store, visitor_id: str, limit: int = 50) -> list[bytes] | None:
    """The visitor's most recent encoded records, newest first; ``None`` if unavailable."""
    key = store.keys.visitor_recent_key(visitor_id)

    async def read(client: Redis) -> list[bytes]:
        return [_bytes(item) or b"" for item in await client.lrange(key, 0, limit - 1)]

    return await store.run(read, default=None)


async def forget(
    store: Store, visitor_id: str, session_ids: Sequence[str], *, tombstone_s: int
) -> bool:
    """Delete the visitor's keys and those of its sessions; tombstone the visitor for
    ``tombstone_s`` so queued events do not rebuild the profile. ``False`` if unavailable.
    """
    keys = store.keys
    visitor_keys = [
        keys.visitor_key(visitor_id),
        keys.visitor_tally_key(visitor_id),
        keys.visitor_recent_key(visitor_id),
    ]
    session_keys = [
        key
        for sid in session_ids
        for key in (
            keys.session_key(sid),
            keys.session_budget_key(sid),
            keys.session_decisions_key(sid),
        )
    ]

    async def delete(client: Redis) -> bool:
        # one command per key: keys of different sessions may live on different Cluster nodes
        async with client.pipeline(transaction=False) as pipe:
            pipe.set(keys.visitor_forgotten_key(visitor_id), b"1", ex=tombstone_s)
            for key in (*visitor_keys, *session_keys):
                pipe.delete(key)
            await pipe.execute()
        return True

    return await store.run(delete, default=False, timeout_s=store.settings.startup_timeout_s)
