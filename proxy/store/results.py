"""The durable per-variant sums of every slot, per hour and per UTC day (issue #13, item 1).

Keys (all under the slot's tag ``r:<slot>``, so one script folds a slot's batch on one Cluster
node; see :mod:`proxy.store.keys`): ``h:<hour>`` and ``d:<day>`` hashes with fields
``<variant>|<measure>`` (``HINCRBYFLOAT``), ``u:<day>:<variant>`` HyperLogLogs of visitor ids,
``seen:<day>`` sets of folded members. Every write goes to both the hour and the day bucket, so
a 90-day report reads 90 hashes per slot, not 2,160.

**Once only.** :data:`FOLD_SCRIPT` adds a tally's fields only when its member (an event or
decision id, ``x:<decision>`` for an exposure) is in neither today's nor yesterday's ``seen`` set,
then adds it to today's: a redelivered record, and a second impression of one decision (a sticky
re-serve) within a day or two, count once. Sets live two days; buckets and HyperLogLogs live the
configured retention (90 days), renewed by each write. With the embedded store (AOF, fsync every
second) they survive a restart.

Sums are added by every worker's consumer of one group, so they are the totals of all proxies.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from redis.asyncio import Redis

from proxy.records.results_buckets import Buckets, Period, Tally, day_of_hour
from proxy.store.client import Store
from proxy.store.scripts import Script

SEEN_TTL_S = 2 * 86_400

FOLD_SCRIPT = Script(
    """
local ttl, seen_ttl, data_keys = ARGV[1], ARGV[2], tonumber(ARGV[3])
local i = 4
local flags = {}
while i <= #ARGV do
  local h, d, s, p, u = tonumber(ARGV[i]), tonumber(ARGV[i + 1]), tonumber(ARGV[i + 2]),
    tonumber(ARGV[i + 3]), tonumber(ARGV[i + 4])
  local visitor, member, n = ARGV[i + 5], ARGV[i + 6], tonumber(ARGV[i + 7])
  i = i + 8
  if redis.call('SISMEMBER', KEYS[p], member) == 0 and redis.call('SADD', KEYS[s], member) == 1 then
    for j = 0, n - 1 do
      redis.call('HINCRBYFLOAT', KEYS[h], ARGV[i + 2 * j], ARGV[i + 2 * j + 1])
      redis.call('HINCRBYFLOAT', KEYS[d], ARGV[i + 2 * j], ARGV[i + 2 * j + 1])
    end
    if u > 0 then redis.call('PFADD', KEYS[u], visitor) end
    flags[#flags + 1] = '1'
  else
    flags[#flags + 1] = '0'
  end
  i = i + 2 * n
end
for k = 1, #KEYS do
  if k <= data_keys then redis.call('EXPIRE', KEYS[k], ttl) else redis.call('EXPIRE', KEYS[k], seen_ttl) end
end
return table.concat(flags)
"""
)

READ_SCRIPT = Script(
    """
local out = {}
local buckets = tonumber(ARGV[1])
for i = 1, buckets do
  local fields = redis.call('HGETALL', KEYS[i])
  for j = 1, #fields, 2 do
    out[#out + 1] = i .. ' ' .. fields[j] .. ' ' .. fields[j + 1]
  end
end
local k = buckets + 1
local a = 2
while a <= #ARGV do
  local variant, n = ARGV[a], tonumber(ARGV[a + 1])
  local keys = {}
  for m = 0, n - 1 do keys[#keys + 1] = KEYS[k + m] end
  out[#out + 1] = 'u ' .. variant .. ' ' .. redis.call('PFCOUNT', unpack(keys))
  k = k + n
  a = a + 2
end
return table.concat(out, '\\n')
"""
)


class _KeyIndex:
    """KEYS of one script call: data keys first, then the ``seen`` sets (renewed differently)."""

    def __init__(self) -> None:
        self.data: dict[str, int] = {}
        self.seen: dict[str, int] = {}

    def of(self, key: str, seen: bool = False) -> int:
        table = self.seen if seen else self.data
        if key not in table:
            table[key] = len(table) + 1
        return table[key]

    def keys(self) -> tuple[list[str], int]:
        data = list(self.data)
        offset = len(data)
        return data + list(self.seen), offset


async def fold_slot(
    store: Store,
    slot: str,
    tallies: Sequence[Tally],
    *,
    ttl_s: int,
    timeout_s: float | None = None,
) -> list[bool] | None:
    """Add ``slot``'s tallies in one script; which were new, ``None`` if unavailable."""
    index = _KeyIndex()
    body: list[Any] = []
    key = store.keys.results_key
    for tally in tallies:
        day = day_of_hour(tally.hour)
        hll = 0
        if tally.visitor is not None:
            hll = index.of(key(slot, f"u:{day}:{tally.visitor[0]}"))
        h, d = index.of(key(slot, f"h:{tally.hour}")), index.of(key(slot, f"d:{day}"))
        body += [h, d, -index.of(key(slot, f"seen:{day}"), True)]
        body += [-index.of(key(slot, f"seen:{day - 1}"), True), hll]
        body += [tally.visitor[1] if tally.visitor else "", tally.member, len(tally.adds)]
        for field, amount in tally.adds:
            body += [field, repr(float(amount))]
    keys, offset = index.keys()
    # seen-set indices were written negative: shift them past the data keys
    fixed = [offset - x if isinstance(x, int) and x < 0 else x for x in body]
    args: list[Any] = [ttl_s, SEEN_TTL_S, offset, *fixed]

    async def run(client: Redis) -> list[bool]:
        return [flag == "1" for flag in _text(await FOLD_SCRIPT.run(client, keys, args))]

    if not tallies:
        return []
    return await store.run(run, default=None, timeout_s=timeout_s)


async def fold(
    store: Store, tallies: Sequence[Tally], *, ttl_s: int, timeout_s: float | None = None
) -> list[Tally] | None:
    """Add tallies of any slots (one script per slot); the ones that were new, or ``None`` if a
    script did not run (some may have: calling again is safe, it is idempotent)."""
    by_slot: dict[str, list[Tally]] = {}
    for tally in tallies:
        by_slot.setdefault(tally.slot, []).append(tally)
    new: list[Tally] = []
    for slot, items in by_slot.items():
        flags = await fold_slot(store, slot, items, ttl_s=ttl_s, timeout_s=timeout_s)
        if flags is None:
            return None
        new += [tally for tally, flag in zip(items, flags, strict=True) if flag]
    return new


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


async def read_slot(
    store: Store,
    slot: str,
    variants: Sequence[str],
    period: Period,
    *,
    timeout_s: float | None = None,
) -> Buckets | None:
    """A slot's buckets over ``period`` and each variant's distinct visitors (over the days the
    period touches), in one round trip; ``None`` if the store cannot answer."""
    key = store.keys.results_key
    buckets = [key(slot, f"{period.kind}:{i}") for i in period.indices]
    keys = list(buckets)
    args: list[Any] = [len(buckets)]
    days = period.days()
    for variant in variants:
        keys += [key(slot, f"u:{day}:{variant}") for day in days]
        args += [variant, len(days)]
    indices = list(period.indices)

    async def run(client: Redis) -> Buckets:
        reply = _text(await READ_SCRIPT.run(client, keys, args))
        sums: dict[int, dict[str, float]] = {}
        visitors: dict[str, int] = {}
        for line in reply.split("\n"):
            head, _, rest = line.partition(" ")
            name, _, value = rest.rpartition(" ")
            if head == "u":
                visitors[name] = int(value)
            elif head.isdigit() and name:
                sums.setdefault(indices[int(head) - 1], {})[name] = float(value)
        return Buckets(sums, visitors)

    return await store.run(run, default=None, timeout_s=timeout_s)
