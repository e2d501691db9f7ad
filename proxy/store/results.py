"""The durable per-variant sums of every slot, per hour and per UTC day (issue #13, item 1).

Keys (all under the slot's tag ``r:<slot>``, so one script folds a slot's batch on one Cluster
node; see :mod:`proxy.store.keys`): ``h:<hour>`` and ``d:<day>`` hashes with fields
``<variant>|<measure>`` (``HINCRBYFLOAT``), ``u:<day>:<variant>`` HyperLogLogs of visitor ids,
``seen:<day>`` sets of folded members. Every write goes to both the hour and the day bucket, so
a 90-day report reads 90 hashes per slot, not 2,160.

**Once only.** :data:`FOLD_SCRIPT` adds a batch's tallies only when none of their members (an
event or decision id, ``x:<decision>`` for an exposure) is in today's or yesterday's ``seen`` set,
then adds them to today's: a redelivered record, and a second impression of one decision (a
sticky re-serve) within a day or two, count once. The batch's additions are merged per bucket
and field before the call (one ``HINCRBYFLOAT`` per field, not per tally: the store write was
what kept the fold under 20,000 events/s); a batch holding a member folded before is written
again without it. Sets live two days; buckets and HyperLogLogs live the
configured retention (90 days), renewed by each write. With the embedded store (AOF, fsync every
second) they survive a restart.

Sums are added by every worker's consumer of one group, so they are the totals of all proxies.

**Reading.** :data:`READ_SCRIPT` returns every bucket's fields, except the measures the report
only uses over the whole period (the learner's off-policy and CUPED sums,
:data:`~proxy.records.results_buckets.TOTAL_ONLY_PREFIXES`), which it sums itself: they are
most of a bucket's fields, and parsing them per day took the 90-day report near its 1 s target.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from redis.asyncio import Redis

from proxy.records.results_buckets import Buckets, Period, Tally, day_of_hour
from proxy.store.client import Store
from proxy.store.scripts import Script

SEEN_TTL_S = 2 * 86_400

FOLD_SCRIPT = Script(
    """
local ttl, seen_ttl, data_keys = ARGV[1], ARGV[2], tonumber(ARGV[3])
local i = 5
local seen, base, plan = {}, 0, {}
for g = 1, tonumber(ARGV[4]) do
  local today, yesterday, m = tonumber(ARGV[i]), tonumber(ARGV[i + 1]), tonumber(ARGV[i + 2])
  i = i + 3
  for j = 0, m - 1 do
    local member = ARGV[i + j]
    if redis.call('SISMEMBER', KEYS[today], member) == 1
      or redis.call('SISMEMBER', KEYS[yesterday], member) == 1 then
      seen[#seen + 1] = base + j
    end
  end
  plan[#plan + 1] = {today, i, m}
  base, i = base + m, i + m
end
if #seen > 0 then return table.concat(seen, ',') end
for _, p in ipairs(plan) do
  for j = 0, p[3] - 1 do redis.call('SADD', KEYS[p[1]], ARGV[p[2] + j]) end
end
for s = 1, tonumber(ARGV[i]) do
  redis.call('HINCRBYFLOAT', KEYS[tonumber(ARGV[i + 3 * s - 2])], ARGV[i + 3 * s - 1], ARGV[i + 3 * s])
end
i = i + 3 * tonumber(ARGV[i]) + 1
while i <= #ARGV do
  local key, n = tonumber(ARGV[i]), tonumber(ARGV[i + 1])
  for j = 0, n - 1, 200 do
    redis.call('PFADD', KEYS[key], unpack(ARGV, i + 2 + j, i + 1 + math.min(n, j + 200)))
  end
  i = i + 2 + n
end
for k = 1, #KEYS do
  if k <= data_keys then redis.call('EXPIRE', KEYS[k], ttl) else redis.call('EXPIRE', KEYS[k], seen_ttl) end
end
return ''
"""
)

READ_SCRIPT = Script(
    """
local out, totals, order = {}, {}, {}
local buckets = tonumber(ARGV[1])
for i = 1, buckets do
  local fields = redis.call('HGETALL', KEYS[i])
  for j = 1, #fields, 2 do
    local name = fields[j]
    local measure = string.sub(name, (string.find(name, '|', 1, true) or 0) + 1)
    if string.sub(measure, 1, 4) == 'ips_' or string.sub(measure, 1, 6) == 'cuped_' then
      if totals[name] == nil then order[#order + 1] = name; totals[name] = 0 end
      totals[name] = totals[name] + tonumber(fields[j + 1])
    else
      out[#out + 1] = i .. ' ' .. name .. ' ' .. fields[j + 1]
    end
  end
end
for _, name in ipairs(order) do
  out[#out + 1] = 't ' .. name .. ' ' .. string.format('%.17g', totals[name])
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


def fold_call(
    slot: str, tallies: Sequence[Tally], key: Callable[[str, str], str], ttl_s: int
) -> tuple[list[str], list[Any], list[int]]:
    """KEYS and ARGV of one :data:`FOLD_SCRIPT` call (pure): the members grouped by day, then
    the tallies' additions merged per bucket and field, then each day's visitors per variant;
    and the order in which the script numbers the tallies (indices into ``tallies``)."""
    index = _KeyIndex()
    members: dict[int, list[int]] = {}
    sums: dict[tuple[int, str], float] = {}
    visitors: dict[int, list[str]] = {}
    for at, tally in enumerate(tallies):
        day = day_of_hour(tally.hour)
        members.setdefault(day, []).append(at)
        for bucket in (key(slot, f"h:{tally.hour}"), key(slot, f"d:{day}")):
            place = index.of(bucket)
            for field, amount in tally.adds:
                sums[place, field] = sums.get((place, field), 0.0) + amount
        if tally.visitor is not None:
            hll = index.of(key(slot, f"u:{day}:{tally.visitor[0]}"))
            visitors.setdefault(hll, []).append(tally.visitor[1])
    body: list[Any] = [len(members)]
    for day, ats in members.items():
        today = -index.of(key(slot, f"seen:{day}"), True)
        body += [today, -index.of(key(slot, f"seen:{day - 1}"), True), len(ats)]
        body += [tallies[at].member for at in ats]
    keys, offset = index.keys()
    # seen-set indices were written negative: shift them past the data keys
    body = [offset - x if isinstance(x, int) and x < 0 else x for x in body]
    body.append(len(sums))
    for (place, field), amount in sums.items():
        body += [place, field, repr(amount)]
    for hll, names in visitors.items():
        body += [hll, len(names), *names]
    return keys, [ttl_s, SEEN_TTL_S, offset, *body], [at for ats in members.values() for at in ats]


async def fold_slot(
    store: Store,
    slot: str,
    tallies: Sequence[Tally],
    *,
    ttl_s: int,
    timeout_s: float | None = None,
) -> list[bool] | None:
    """Add ``slot``'s new tallies; which were new, ``None`` if the store did not answer.

    A member twice in the batch counts once (the first). The script adds all or nothing: if
    any member was folded before it writes nothing and names them, and the call is repeated
    without them (each repeat drops at least one, so the loop ends): one call per batch and
    slot when nothing is redelivered, which is the usual case."""
    flags = [False] * len(tallies)
    first: dict[str, int] = {}
    for at, tally in enumerate(tallies):
        first.setdefault(tally.member, at)
    pending = list(first.values())
    while pending:
        batch = [tallies[at] for at in pending]
        keys, args, order = fold_call(slot, batch, store.keys.results_key, ttl_s)

        async def run(client: Redis, keys: list[str] = keys, args: list[Any] = args) -> str:
            return _text(await FOLD_SCRIPT.run(client, keys, args))

        reply = await store.run(run, default=None, timeout_s=timeout_s)
        if reply is None:
            return None
        if not reply:
            for at in pending:
                flags[at] = True
            return flags
        seen = {pending[order[int(position)]] for position in reply.split(",")}
        pending = [at for at in pending if at not in seen]
    return flags


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
        totals: dict[str, float] = {}
        for line in reply.split("\n"):
            head, _, rest = line.partition(" ")
            name, _, value = rest.rpartition(" ")
            if head == "u":
                visitors[name] = int(value)
            elif head == "t":
                totals[name] = float(value)
            elif head.isdigit() and name:
                sums.setdefault(indices[int(head) - 1], {})[name] = float(value)
        return Buckets(sums, visitors, totals)

    return await store.run(run, default=None, timeout_s=timeout_s)
