"""The learned-segment model and the profile scan against real servers; the frozen segments."""

from __future__ import annotations

from redis.asyncio import Redis

from proxy.records.segment_model import SegmentModel, decode_model
from proxy.segments.vectors import FEATURES
from proxy.store import segment_models
from proxy.store.profiles import forget, freeze_fields, load_profile, save_profile
from tests.redis_server import RELAXED_STORE

from .conftest import MakeStore

MODEL = SegmentModel(
    version=3,
    created_ms=1,
    method="kmeans",
    features=FEATURES,
    mean=(0.0,) * len(FEATURES),
    scale=(1.0,) * len(FEATURES),
    labels=("c1", "c2"),
    centroids=((0.0,) * len(FEATURES), (1.0,) * len(FEATURES)),
    sizes=(5, 5),
    descriptions=("a", "b"),
    visitors=10,
    next_label=3,
)


async def test_publish_then_poll_and_fetch(server_url: str, make_store: MakeStore) -> None:
    store = make_store(server_url, RELAXED_STORE)
    assert await segment_models.latest_version(store) is None
    assert await segment_models.fetch(store) is None
    assert await segment_models.publish(store, MODEL)
    assert await segment_models.latest_version(store) == 3
    data = await segment_models.fetch(store)
    assert data is not None and decode_model(data) == MODEL


async def test_scan_reads_every_profile_up_to_the_limit(
    server_url: str, make_store: MakeStore
) -> None:
    store = make_store(server_url, RELAXED_STORE)
    for i in range(25):
        written = await save_profile(
            store,
            f"visitor-{i:03d}",
            expected_version="",
            fields={"visits": str(i)},
            state=b"{}",
            recent=[],
            ttl_s=3600,
        )
        assert written == 1
    found = await segment_models.scan_profiles(store, limit=1000)
    assert found is not None
    assert sorted(int(p["visits"]) for p in found) == list(range(25))
    limited = await segment_models.scan_profiles(store, limit=10)
    assert limited is not None and len(limited) == 10


async def test_frozen_fields_are_written_once_and_never_after_erasure(
    server_url: str, make_store: MakeStore
) -> None:
    store = make_store(server_url, RELAXED_STORE)
    key = store.keys.visitor_key("visitor-f")
    assert await freeze_fields(store, "visitor-f", {"segments_at:hero": "vip"}, ttl_s=600) == 1
    assert await freeze_fields(store, "visitor-f", {"segments_at:hero": "other"}, ttl_s=600) == 0
    assert (await load_profile(store, "visitor-f"))["segments_at:hero"] == "vip"

    async def ttl(client: Redis) -> int:
        return int(await client.ttl(key))

    assert 0 < await store.run(ttl, default=-2) <= 600  # a new profile key never lives forever
    assert await forget(store, "visitor-f", [], tombstone_s=60)
    assert await freeze_fields(store, "visitor-f", {"segments_at:hero": "vip"}, ttl_s=600) == -1
    assert await load_profile(store, "visitor-f") == {}
