"""The results sums in a real store: batches merged before the script, each member once."""

from __future__ import annotations

from proxy.records.results_buckets import DAY_HOURS, Period, Tally
from proxy.store.client import Store
from proxy.store.results import fold, fold_call, read_slot

HOUR = 500_000 * DAY_HOURS + 5  # an hour of some day; the next day starts DAY_HOURS - 5 later
TTL_S = 86_400


def exposure(member: str, variant: str = "a", hour: int = HOUR, visitor: str = "v1") -> Tally:
    return Tally("hero", hour, member, ((f"{variant}|exposures", 1.0),), (variant, visitor))


def click(member: str, variant: str = "a", hour: int = HOUR) -> Tally:
    return Tally("hero", hour, member, ((f"{variant}|clicks", 1.0), (f"{variant}|value", 2.5)))


async def sums(store: Store, kind: str = "d", first: int = HOUR // DAY_HOURS) -> dict[str, float]:
    found = await read_slot(store, "hero", ["a", "b"], Period(kind, first, first), timeout_s=2.0)
    assert found is not None
    return dict(found.sums.get(first, {}))


def test_a_batch_is_merged_per_bucket_and_field() -> None:
    tallies = [exposure("x:1"), exposure("x:2", visitor="v2"), click("c:1"), click("c:2")]
    keys, args, order = fold_call("hero", tallies, lambda slot, part: f"{slot}/{part}", TTL_S)
    assert order == [0, 1, 2, 3]
    data = [f"hero/h:{HOUR}", f"hero/d:{HOUR // DAY_HOURS}", "hero/u:500000:a"]
    assert keys == [*data, "hero/seen:500000", "hero/seen:499999"]
    at = args.index(6) + 1  # six merged fields: 3 per bucket (the hour's and the day's)
    merged = {(args[i], args[i + 1]): args[i + 2] for i in range(at, at + 18, 3)}
    for bucket in (1, 2):
        assert merged[bucket, "a|exposures"] == "2.0"
        assert merged[bucket, "a|clicks"] == "2.0"
        assert merged[bucket, "a|value"] == "5.0"
    assert args[-4:] == [3, 2, "v1", "v2"]  # one PFADD of both visitors


async def test_a_redelivered_batch_counts_once(own_store: Store) -> None:
    batch = [exposure("x:1"), exposure("x:2", "b", visitor="v2"), click("c:1")]
    new = await fold(own_store, batch, ttl_s=TTL_S, timeout_s=2.0)
    assert new == batch
    assert await fold(own_store, batch, ttl_s=TTL_S, timeout_s=2.0) == []
    assert await sums(own_store) == {
        "a|exposures": 1.0,
        "b|exposures": 1.0,
        "a|clicks": 1.0,
        "a|value": 2.5,
    }
    assert await sums(own_store, "h", HOUR) == await sums(own_store)


async def test_old_members_are_dropped_and_the_rest_written(own_store: Store) -> None:
    assert await fold(own_store, [exposure("x:1"), click("c:1")], ttl_s=TTL_S, timeout_s=2.0)
    mixed = [exposure("x:3"), exposure("x:1"), click("c:3"), click("c:1"), exposure("x:3")]
    new = await fold(own_store, mixed, ttl_s=TTL_S, timeout_s=2.0)
    assert new == [mixed[0], mixed[2]]  # x:1 and c:1 were folded before, x:3 is twice here
    assert await sums(own_store) == {"a|exposures": 2.0, "a|clicks": 2.0, "a|value": 5.0}


async def test_a_member_of_yesterday_counts_once_today(own_store: Store) -> None:
    tomorrow = HOUR + DAY_HOURS
    assert await fold(own_store, [click("c:1")], ttl_s=TTL_S, timeout_s=2.0)
    batch = [click("c:2", hour=tomorrow), click("c:1", hour=tomorrow), exposure("x:9")]
    new = await fold(own_store, batch, ttl_s=TTL_S, timeout_s=2.0)
    assert new == [batch[0], batch[2]]
    assert await sums(own_store, "d", tomorrow // DAY_HOURS) == {"a|clicks": 1.0, "a|value": 2.5}
    found = await read_slot(
        own_store, "hero", ["a"], Period("d", HOUR // DAY_HOURS, tomorrow // DAY_HOURS)
    )
    assert found is not None and found.visitors == {"a": 1}


async def test_off_policy_sums_come_back_as_period_totals(own_store: Store) -> None:
    """Measures only used over the whole period are summed by the read script itself."""
    day = HOUR // DAY_HOURS
    batch = [
        Tally("hero", HOUR, "w:1", (("~logged|ips_n", 1.0), ("a|cuped_y", 0.5))),
        Tally("hero", HOUR + DAY_HOURS, "w:2", (("~logged|ips_n", 1.0), ("a|cuped_y", 0.25))),
        click("c:1"),
    ]
    assert await fold(own_store, batch, ttl_s=TTL_S, timeout_s=2.0) == batch
    found = await read_slot(own_store, "hero", ["a"], Period("d", day, day + 1), timeout_s=2.0)
    assert found is not None
    assert found.totals == {"~logged|ips_n": 2.0, "a|cuped_y": 0.75}
    assert found.sums == {day: {"a|clicks": 1.0, "a|value": 2.5}}
    assert found.total("a|cuped_y") == 0.75 and found.total("a|clicks") == 1.0
