"""The session's change budget, checked and consumed in one Lua script (one round trip per page).

For each slot the proxy proposes a variant (with a fresh decision id); the script answers, per
slot, atomically against every other request of the session:

- ``new``: nothing was held: the proposal is served and now held;
- ``sticky``: the proposal is the held variant: served under the held decision id;
- ``changed``: a different variant, and the budget allows it: served, held, budget consumed;
- ``held``: a different variant the budget refuses: the held variant is served, its decision id.

The budget (docs/design.md §8): ``changes_per_session`` switches per slot, ``cooldown_ms`` after a
slot's switch; session-wide, ``session_changes`` switches, ``min_interval_ms`` apart, at most
``max_slots_per_page`` on one page view. Both keys carry the session's hash tag, so the script
runs on one Cluster node, and parallel requests of a session are serialised by Redis itself.
A visitor-scoped slot starts a new session from the visitor's held variant (``seed``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from redis.asyncio import Redis

from proxy.store.client import Store
from proxy.store.scripts import Script

Verdict = Literal["new", "sticky", "changed", "held"]

SCRIPT = Script(
    """
local now, ttl = tonumber(ARGV[1]), tonumber(ARGV[2])
local session_max, interval, page_max = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local total = tonumber(redis.call('HGET', KEYS[2], 'n') or '0')
local last = tonumber(redis.call('HGET', KEYS[2], 'at') or '0')
local switched, out = 0, {}
for i = 6, #ARGV, 6 do
  local slot, proposed, decision = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local per_slot, cooldown, seed = tonumber(ARGV[i + 3]), tonumber(ARGV[i + 4]), ARGV[i + 5]
  local held = redis.call('HGET', KEYS[1], 'sticky:' .. slot) or seed
  local proposal = proposed .. '|' .. decision
  if held == '' then
    redis.call('HSET', KEYS[1], 'sticky:' .. slot, proposal)
    table.insert(out, 'new') table.insert(out, proposal)
  else
    local sep = string.find(held, '|', 1, true)
    local variant = string.sub(held, 1, sep - 1)
    if variant == proposed then
      redis.call('HSET', KEYS[1], 'sticky:' .. slot, held)
      table.insert(out, 'sticky') table.insert(out, held)
    else
      local count = tonumber(redis.call('HGET', KEYS[2], 'n:' .. slot) or '0')
      local at = tonumber(redis.call('HGET', KEYS[2], 'at:' .. slot) or '0')
      if count < per_slot and total < session_max and switched < page_max
          and now - last >= interval and now - at >= cooldown then
        redis.call('HSET', KEYS[1], 'sticky:' .. slot, proposal)
        redis.call('HSET', KEYS[2], 'n:' .. slot, count + 1, 'at:' .. slot, now, 'at', now)
        total, last, switched = total + 1, now, switched + 1
        redis.call('HSET', KEYS[2], 'n', total)
        table.insert(out, 'changed') table.insert(out, proposal)
      else
        redis.call('HSET', KEYS[1], 'sticky:' .. slot, held)
        table.insert(out, 'held') table.insert(out, held)
      end
    end
  end
end
redis.call('EXPIRE', KEYS[1], ttl)
redis.call('EXPIRE', KEYS[2], ttl)
return out
"""
)


@dataclass(frozen=True, slots=True)
class Proposal:
    slot: str
    variant: str
    decision: str
    changes_per_session: int
    cooldown_ms: int
    seed: str = ""  # "variant|decision" held for the visitor (visitor-scoped slots)


@dataclass(frozen=True, slots=True)
class Verdicts:
    """Per proposal, in order: the verdict, and the variant and decision id to serve."""

    items: tuple[tuple[Verdict, str, str], ...]


async def check_and_consume(
    store: Store,
    session_id: str,
    proposals: Sequence[Proposal],
    *,
    now_ms: int,
    ttl_s: int,
    session_changes: int,
    min_interval_ms: int,
    max_slots_per_page: int,
) -> Verdicts | None:
    """The script's verdicts, or None when the store cannot answer (nothing may change then)."""
    keys = (store.keys.session_key(session_id), store.keys.session_budget_key(session_id))
    args: list[str | int] = [now_ms, ttl_s, session_changes, min_interval_ms, max_slots_per_page]
    for p in proposals:
        args += [p.slot, p.variant, p.decision, p.changes_per_session, p.cooldown_ms, p.seed]

    async def run(client: Redis) -> Verdicts:
        reply = await SCRIPT.run(client, keys, args)
        texts = [item.decode() if isinstance(item, bytes) else str(item) for item in reply]
        items: list[tuple[Verdict, str, str]] = []
        for verdict, held in zip(texts[::2], texts[1::2], strict=True):
            variant, _, decision = held.partition("|")
            items.append((verdict, variant, decision))  # type: ignore[arg-type]
        return Verdicts(tuple(items))

    if not proposals:
        return Verdicts(())
    return await store.run(run, default=None)


HELD = "sticky:"  # a session hash's field of what it holds: sticky:<owner> = "variant|decision"


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


async def held_by_session(store: Store, session_id: str) -> dict[str, str] | None:
    """Everything the session holds (``owner -> "variant|decision"``), read only; None when
    the store cannot answer (what ``GET /__vernier/me`` shows)."""
    key = store.keys.session_key(session_id)

    async def read(client: Redis) -> dict[str, str]:
        fields = await client.hgetall(key)
        named = ((_text(name), value) for name, value in fields.items())
        return {
            field.removeprefix(HELD): _text(value)
            for field, value in named
            if field.startswith(HELD)
        }

    return await store.run(read, default=None)


async def held_in_session(
    store: Store, session_id: str, owners: Sequence[str]
) -> dict[str, str] | None:
    """What the session holds for ``owners`` (``owner -> "variant|decision"``, those it holds),
    read only: nothing is held, spent or renewed (a HEAD, which is not a page view). None when
    the store cannot answer."""
    if not owners:
        return {}
    key = store.keys.session_key(session_id)

    async def read(client: Redis) -> dict[str, str]:
        values = await client.hmget(key, [f"{HELD}{owner}" for owner in owners])
        return {
            owner: _text(value)
            for owner, value in zip(owners, values, strict=True)
            if value is not None
        }

    return await store.run(read, default=None)


async def hold_in_session(
    store: Store, session_id: str, held: dict[str, str], *, ttl_s: int
) -> None:
    """Record what the session holds outside the change budget (``owner -> "variant|decision"``,
    a rule's holdout arm), where the results fold reads a slot's held variant; no budget is
    counted or consumed. Fail-open: a lost write loses the session's later events for it."""
    if held:
        await _hold(store, store.keys.session_key(session_id), held, ttl_s)


async def hold_for_visitor(
    store: Store, visitor_id: str, held: dict[str, str], *, ttl_s: int
) -> None:
    """Record visitor-scoped variants (``slot -> "variant|decision"``) in the visitor's profile,
    where the profile stage reads them back (fail-open: a lost write costs stickiness only)."""
    if held:
        await _hold(store, store.keys.visitor_key(visitor_id), held, ttl_s)


async def _hold(store: Store, key: str, held: dict[str, str], ttl_s: int) -> None:
    """``sticky:<owner>`` fields of ``held`` into the hash ``key``, its TTL renewed."""

    async def write(client: Redis) -> None:
        async with client.pipeline(transaction=False) as pipe:
            pipe.hset(key, mapping={f"{HELD}{owner}": value for owner, value in held.items()})
            pipe.expire(key, ttl_s)
            await pipe.execute()

    await store.run(write, default=None)
