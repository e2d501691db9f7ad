"""The learner's models follow the rules: kept, reopened from a snapshot, or started fresh."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from redis.asyncio import Redis

from proxy.bandit.learner_state import LearnerState
from proxy.bandit.slot_models import open_model, sync
from proxy.rules.compiled import RuleSet
from proxy.rules.engine import RuleEngine
from proxy.rules.load import load_rules
from proxy.store.client import Store
from proxy.store.connection import StoreSettings
from tests.bandit.test_learner import build_rules, hero


async def test_a_slot_with_no_snapshot_starts_a_fresh_model(
    store: Store, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    core = LearnerState()
    with caplog.at_level(logging.INFO, logger="vernier.learner"):
        opened = await open_model(store, core, "hero", hero(build_rules(tmp_path)), timeout_s=2.0)
    assert opened is not None and opened.model.examples_learned == 0
    assert "slot hero starts a fresh model" in caplog.text
    opened.model.finish()


async def test_a_corrupt_published_snapshot_is_counted_and_passed_over(
    store: Store, tmp_path: Path
) -> None:
    async def corrupt(client: Redis) -> None:
        await client.set(store.keys.model_key("hero"), b"\x85not a snapshot")
        await client.hset(store.keys.model_meta_key("hero"), mapping={"version": 5})

    await store.run(corrupt, default=None, timeout_s=2.0)
    core = LearnerState()
    opened = await open_model(store, core, "hero", hero(build_rules(tmp_path)), timeout_s=2.0)
    assert opened is not None and opened.model.examples_learned == 0
    assert core.refused == 1
    opened.model.finish()


async def test_no_answer_from_the_store_opens_nothing(tmp_path: Path) -> None:
    down = Store(f"unix://{tmp_path}/nothing.sock", StoreSettings(op_timeout_s=0.05))
    try:
        core = LearnerState()
        ruleset = build_rules(tmp_path).ruleset
        assert (
            await open_model(down, core, "hero", hero(build_rules(tmp_path)), timeout_s=0.1) is None
        )
        assert not await sync(down, core, ruleset, timeout_s=0.1)
        assert core.models == {}
    finally:
        await down.close()


def without_learners(tmp_path: Path) -> RuleSet:
    path = tmp_path / "plain.yaml"
    path.write_text("slots:\n  - {id: hero, selector: '#hero', control: a, variants: {a: []}}\n")
    return load_rules(path)


async def test_sync_keeps_a_model_of_the_same_feature_space_and_finishes_dropped_ones(
    store: Store, tmp_path: Path
) -> None:
    core = LearnerState()
    engine: RuleEngine = build_rules(tmp_path)
    assert await sync(store, core, engine.ruleset, timeout_s=2.0)
    assert set(core.models) == {"hero"}  # the log-only footer learns nothing
    first = core.models["hero"]
    assert await sync(store, core, build_rules(tmp_path, name="again").ruleset, timeout_s=2.0)
    assert core.models["hero"] is first  # same feature space: kept as it is
    assert await sync(store, core, without_learners(tmp_path), timeout_s=2.0)
    assert core.models == {}
    assert set(core.slots) == {"hero"}
