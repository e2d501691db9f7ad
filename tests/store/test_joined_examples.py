"""The joined examples kept per slot in a real store: the most recent over a period, capped,
each decision once, and a read that says when it stopped at its limit."""

from __future__ import annotations

import msgspec
from redis.asyncio import Redis

from proxy.records.decision import LoggedDecision
from proxy.store.client import Store
from proxy.store.joined_examples import PART, keep_examples, read_examples

DAY_MS = 86_400_000


def example(i: int, slot: str = "hero", ts_ms: int = 10 * DAY_MS) -> LoggedDecision:
    return LoggedDecision(
        id=f"d{i:04d}",
        slot=slot,
        actions=("a", "b"),
        chosen="ab"[i % 2],
        p=0.5,
        pmf=(0.5, 0.5),
        reward=float(i % 3 == 0),
        ts_ms=ts_ms + i,
        rule_context={"device": "mobile" if i % 2 else "desktop"},
    )


async def test_examples_come_back_oldest_first_with_their_context_not_who(
    own_store: Store,
) -> None:
    records = [example(i) for i in range(5)] + [example(9, slot="other")]
    identified = [msgspec.structs.replace(r, session="s1", visitor="v1") for r in records]
    assert await keep_examples(own_store, identified, kept=100, ttl_s=3600, timeout_s=2.0)
    found = await read_examples(own_store, "hero", since_ms=0, limit=10, timeout_s=2.0)
    assert found is not None and not found.limited
    assert found.records == tuple(records[:5])  # no session, no visitor
    assert found.records[1].rule_context == {"device": "mobile"}


async def test_the_period_the_limit_and_repeats(own_store: Store) -> None:
    old = [example(i, ts_ms=1 * DAY_MS) for i in range(3)]  # decided before the period
    new = [example(i) for i in range(3, 9)]
    assert await keep_examples(own_store, old + new + new[:2], kept=100, ttl_s=3600)
    everything = await read_examples(own_store, "hero", since_ms=10 * DAY_MS, limit=50)
    assert everything is not None and not everything.limited
    assert [r.id for r in everything.records] == [r.id for r in new]  # repeats once, old out
    recent = await read_examples(own_store, "hero", since_ms=10 * DAY_MS, limit=4)
    assert recent is not None and recent.limited
    # the four most recently pushed (the two repeats, d0007, d0008), in the order decided
    assert [r.id for r in recent.records] == ["d0003", "d0004", "d0007", "d0008"]
    reaching_back = await read_examples(own_store, "hero", since_ms=10 * DAY_MS, limit=11)
    assert reaching_back is not None and not reaching_back.limited  # the 11th is before it


async def test_the_list_is_capped_and_expires(own_store: Store) -> None:
    records = [example(i) for i in range(300)]
    assert await keep_examples(own_store, records, kept=100, ttl_s=3600)
    key = own_store.keys.results_key("hero", PART)

    async def length_and_ttl(client: Redis) -> tuple[int, int]:
        return int(await client.llen(key)), int(await client.ttl(key))

    length, ttl = await own_store.run(length_and_ttl, default=(0, 0))
    assert length == 100
    assert 0 < ttl <= 3600
    found = await read_examples(own_store, "hero", since_ms=0, limit=100)
    assert found is not None and found.limited
    assert found.records[-1].id == "d0299"


async def test_nothing_kept_with_a_cap_of_0_and_unreadable_entries_skipped(
    own_store: Store,
) -> None:
    assert await keep_examples(own_store, [example(1)], kept=0, ttl_s=3600)
    key = own_store.keys.results_key("hero", PART)

    async def add_garbage(client: Redis) -> None:
        await client.lpush(key, b"{not json", b'{"id": 1}', msgspec.json.encode(example(2)))

    await own_store.run(add_garbage, default=None)
    found = await read_examples(own_store, "hero", since_ms=0, limit=10)
    assert found is not None
    assert [r.id for r in found.records] == ["d0002"]
    empty = await read_examples(own_store, "hero", since_ms=0, limit=0)
    assert empty is not None and empty.records == ()
