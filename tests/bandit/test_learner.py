"""The learner against a real store: decisions and events in, examples learned, snapshots out."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import os
import random
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis

from proxy.bandit.interaction_choice import SELECT_AT
from proxy.bandit.learner import Learner
from proxy.bandit.learner_streams import GROUP
from proxy.bandit.snapshot import load_snapshot
from proxy.evaluate.log import read_log
from proxy.records.decision import DecisionRecord, RewardNote
from proxy.records.event_record import EventRecord
from proxy.records.events import Click, Impression, PageView
from proxy.records.results_buckets import DAY_HOURS, Period, hour_of
from proxy.records.snapshot import Snapshot
from proxy.rules.compiled import SlotLearner
from proxy.rules.engine import RuleEngine
from proxy.rules.load import load_rules
from proxy.store import models
from proxy.store.client import Store
from proxy.store.connection import StoreSettings
from proxy.store.decision_log import log_decisions, log_reward
from proxy.store.event_log import EventLog
from proxy.store.learner_state import load_guardrail_standing
from proxy.store.results import read_slot
from proxy.worker_metrics import LEARNER_COUNTERS, WorkerMetrics
from tests.waiting import until

RULES = """
slots:
  - id: hero
    selector: "#hero"
    control: a
    policy: bandit
    variants:
      a: []
      b: [{{op: set_text, selector: "#hero h1", value: "B"}}]
    bandit:
      explorer: {{type: epsilon, epsilon: 0.2}}
      features: [{features}]
      {interactions}
    reward:
      window_s: {window_s}
  - id: footer
    selector: "#footer"
    control: a
    mode: log-only
    variants:
      a: []
      b: [{{op: hide, selector: "#footer"}}]
    reward:
      window_s: {window_s}
"""
MOBILE: dict[str, tuple[str, ...]] = {"D": ("dev=mobile",)}
_ids = itertools.count()


class Rules:
    """A rule source whose engine the test swaps (as LiveRules does on reload)."""

    def __init__(self, engine: RuleEngine) -> None:
        self.current = engine


def build_rules(
    directory: Path,
    *,
    features: str = "device",
    window_s: float = 0.2,
    name: str = "r",
    interactions: str = "interactions: [DA]",
) -> RuleEngine:
    path = directory / f"{name}.yaml"
    path.write_text(RULES.format(features=features, window_s=window_s, interactions=interactions))
    return RuleEngine.build(load_rules(path))


def hero(engine: RuleEngine) -> SlotLearner:
    learner = next(slot.learner for slot in engine.ruleset.slots if slot.id == "hero")
    assert learner is not None
    return learner


@pytest.fixture
def rules(tmp_path: Path) -> Rules:
    return Rules(build_rules(tmp_path))


def make_learner(store: Store, rules: Rules, data_dir: Path, **options: Any) -> Learner:
    settings: dict[str, Any] = {
        "snapshot_every_examples": 10,
        "snapshot_every_s": 0.3,
        "settle_s": 0.0,
        "block_ms": 50,
        "retry_s": 0.05,
        "max_retry_s": 0.2,
        **options,
    }
    return Learner(store, rules, data_dir, **settings)


@contextlib.asynccontextmanager
async def running(learner: Learner) -> AsyncIterator[Learner]:
    stop = asyncio.Event()
    task = asyncio.create_task(learner.run(stop), name="test-learner")
    try:
        yield learner
    finally:
        stop.set()
        async with asyncio.timeout(15):
            await task


def now_ms() -> int:
    return int(time.time() * 1000)


def decisions(
    n: int, *, chosen: Callable[[int], str] = lambda i: "b", slot: str = "hero", **fields: Any
) -> list[DecisionRecord]:
    return [
        DecisionRecord(
            id=f"dec-{next(_ids):08d}",
            slot=slot,
            actions=("a", "b"),
            chosen=chosen(i),
            p=0.5,
            context=MOBILE,
            ts_ms=now_ms(),
            session=f"sess-{i % 7}",
            visitor=f"vis-{i % 7}",
            **fields,
        )
        for i in range(n)
    ]


def event_of(record: DecisionRecord, kind: str, *, bot: bool = False) -> EventRecord:
    event_id = f"evt-{next(_ids):08d}"
    event: Impression | Click | PageView
    if kind == "impression":
        event = Impression(
            id=event_id, ts=1, slot=record.slot, variant=record.chosen, decision=record.id
        )
    elif kind == "click":
        event = Click(id=event_id, ts=1, target="a", slot=record.slot, decision=record.id)
    else:
        event = PageView(id=event_id, ts=1, url="/")
    assert record.session is not None and record.visitor is not None
    return EventRecord(
        event=event,
        page="page-0001",
        session=record.session,
        visitor=record.visitor,
        # at the decision's time: inside its reward window however slowly a busy machine runs
        received_ms=record.ts_ms if record.ts_ms is not None else now_ms(),
        bot=bot,
    )


async def send(
    store: Store, records: list[DecisionRecord], *, clicked: Callable[[DecisionRecord], bool]
) -> None:
    """Log the decisions, then their impressions and the clicks ``clicked`` picks."""
    assert await log_decisions(store, records)
    events = [event_of(r, "impression") for r in records]
    events += [event_of(r, "click") for r in records if clicked(r)]
    for start in range(0, len(events), 200):
        assert await EventLog(store).append(events[start : start + 200]) is not None


def logged(data_dir: Path) -> dict[str, DecisionRecord]:
    path = data_dir / "decisions.jsonl"
    if not path.exists():
        return {}
    return {r.id: r for r in read_log(path.read_bytes().splitlines(), source=str(path))}


async def published(store: Store) -> Snapshot | None:
    return await models.fetch(store, "hero")


async def pending_entries(store: Store) -> int:
    async def read(client: Redis) -> int:
        total = 0
        for key in (store.keys.events_key(0), store.keys.decisions_key(0)):
            info: Any = await client.xpending(key, GROUP)
            total += int(info["pending"])
        return total

    result: int = await store.run(read, default=-1, timeout_s=2.0)
    return result


async def test_learns_logs_publishes_and_acknowledges(
    store: Store, rules: Rules, tmp_path: Path
) -> None:
    records = decisions(20, chosen=lambda i: "ab"[i % 2])
    unseen = decisions(3)
    footer = decisions(4, slot="footer")
    assert await log_decisions(store, unseen)
    await send(store, records + footer, clicked=lambda r: r.chosen == "b")
    learner = make_learner(store, rules, tmp_path)
    async with running(learner):
        await until(lambda: learner.learned == 20 and learner.published >= 1, "20 learned")
        await until(lambda: len(logged(tmp_path)) == 24, "24 logged")
    log = logged(tmp_path)
    assert {r.id: log[r.id].reward for r in records} == {
        r.id: (1.0 if r.chosen == "b" else 0.0) for r in records
    }
    assert all(log[r.id].reward == 1.0 for r in footer)  # log-only: logged, not learned
    assert not any(r.id in log for r in unseen)  # never seen: not an example
    assert learner.pending == 3 and learner.state.counts.unseen == 0  # a grace for a late event
    version = await models.latest_version(store, "hero")
    assert version is not None and version.feature_space == hero(rules.current).feature_space
    snapshot = await published(store)
    assert snapshot is not None and snapshot.examples == 20
    assert snapshot.model_version == version.version
    spec = hero(rules.current)
    load_snapshot(snapshot, spec.policy, spec.actions, feature_space=spec.feature_space).finish()
    assert await models.latest_version(store, "footer") is None
    assert await pending_entries(store) == 0
    assert await weight_sums(store, "hero") == {
        "~logged|ips_n": 20.0,
        "a|ips_n": 10.0,
        "b|ips_n": 10.0,
        "b|ips_wr": 20.0,  # ten clicks (reward 1) of b, each weighted 1/p = 2
        "~logged|ips_wr": 10.0,  # w = 1
        "~uniform|ips_n": 20.0,
        "~uniform|ips_wr": 10.0,  # w = 1/(2 variants x p) = 1
        "~greedy|ips_n": 20.0,  # no pmf logged: the chosen variant was the model's choice
        "~greedy|ips_wr": 20.0,
    }
    assert (await weight_sums(store, "footer"))["~logged|ips_n"] == 4.0
    standing = await load_guardrail_standing(store, timeout_s=2.0)
    assert standing is not None and standing.data is not None
    assert json.loads(standing.data) == {"hero": [], "footer": []}  # no pmf: nothing judged


async def weight_sums(store: Store, slot: str) -> dict[str, float]:
    """The report's off-policy sums the learner folded (some of them), over today and
    its neighbours (the test may cross midnight)."""
    today = hour_of(now_ms()) // DAY_HOURS
    found = await read_slot(store, slot, ["a", "b"], Period("d", today - 1, today + 1))
    assert found is not None
    return {name: v for name, v in found.totals.items() if name.endswith(("|ips_n", "|ips_wr"))}


async def test_a_restart_continues_the_model_and_its_version_line(
    store: Store, rules: Rules, tmp_path: Path
) -> None:
    first = make_learner(store, rules, tmp_path)
    await send(store, decisions(12), clicked=lambda r: True)
    async with running(first):
        await until(lambda: first.learned == 12, "12 learned")
    before = await published(store)
    assert before is not None and before.examples == 12
    second = make_learner(store, rules, tmp_path)
    await send(store, decisions(8), clicked=lambda r: False)
    async with running(second):
        await until(lambda: second.learned == 8, "8 more learned")
    after = await published(store)
    assert after is not None and after.examples == 20
    assert after.feature_space == before.feature_space
    assert after.model_version > before.model_version
    assert len(logged(tmp_path)) == 20


async def test_pending_decisions_survive_a_restart_in_the_checkpoint(
    store: Store, tmp_path: Path
) -> None:
    rules = Rules(build_rules(tmp_path, window_s=1.5))
    records = decisions(5)
    assert await log_decisions(store, records)
    first = make_learner(store, rules, tmp_path)
    async with running(first):
        await until(lambda: len(first.state) == 5, "5 decisions pending")
    assert await pending_entries(store) == 0  # acknowledged: they live in the checkpoint
    second = make_learner(store, rules, tmp_path)
    async with running(second):
        await until(lambda: second._started, "started")
        assert len(second.state) == 5
        events = [event_of(r, "impression") for r in records] + [event_of(records[0], "click")]
        assert await EventLog(store).append(events) == 6
        await until(lambda: second.learned == 5, "5 learned after the restart")
    assert sorted(r.reward or 0.0 for r in logged(tmp_path).values()) == [0.0, 0.0, 0.0, 0.0, 1.0]


async def test_entries_read_again_after_a_crash_count_once(store: Store, tmp_path: Path) -> None:
    """A learner that dies before acknowledging leaves its entries pending: the next one reads
    them again, and the join is idempotent."""
    rules = Rules(build_rules(tmp_path, window_s=1.5))
    records = decisions(6)
    await send(store, records, clicked=lambda r: True)
    crashed = make_learner(store, rules, tmp_path, snapshot_every_s=3600.0)
    for _ in range(3):  # its own pending entries (none), then everything new
        assert await crashed.step()
    assert len(crashed.state) == 6 and crashed.learned == 0
    assert await pending_entries(store) == 18  # 6 decisions, 12 events: none acknowledged
    crashed.lease.held_until = 0.0  # it died: its lease would expire; free it for the test
    await store.run(lambda client: client.delete(store.keys.learner_lease_key()), default=None)
    second = make_learner(store, rules, tmp_path)
    async with running(second):
        await until(lambda: second.learned == 6, "6 learned")
        await until(lambda: acknowledged(store), "everything acknowledged")
    assert second.learned == 6  # the entries read twice were applied once
    assert sorted(r.reward or 0.0 for r in logged(tmp_path).values()) == [1.0] * 6
    assert await pending_entries(store) == 0


async def test_a_feature_space_change_starts_a_new_model_version(
    store: Store, rules: Rules, tmp_path: Path
) -> None:
    learner = make_learner(store, rules, tmp_path)
    old_space = hero(rules.current).feature_space
    async with running(learner):
        await send(store, decisions(10), clicked=lambda r: True)
        await until(lambda: learner.learned == 10 and learner.published >= 1, "first model")
        first = await published(store)
        assert first is not None and first.feature_space == old_space
        rules.current = build_rules(tmp_path, features="device, hour", name="r2")
        new_space = hero(rules.current).feature_space
        assert new_space != old_space
        await until(lambda: learner.core.models["hero"].spec.feature_space == new_space, "reload")
        # a decision logged under the old model is not learned into the new one
        await send(store, decisions(3, model_version=f"{old_space}/1"), clicked=lambda r: True)
        await send(store, decisions(4), clicked=lambda r: True)
        await until(lambda: learner.learned == 14, "4 more learned")

        async def republished() -> bool:
            snapshot = await published(store)
            return snapshot is not None and snapshot.feature_space == new_space

        await until(republished, "a snapshot in the new feature space")
    second = await published(store)
    assert second is not None
    assert second.model_version > first.model_version
    assert second.examples == 4  # a fresh model: no weights carried over
    assert learner.stale == 3


async def test_a_corrupt_published_snapshot_is_refused_and_a_fresh_model_starts(
    store: Store, rules: Rules, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async def corrupt(client: Redis) -> None:
        await client.set(store.keys.model_key("hero"), b"\x85not a snapshot")
        await client.hset(store.keys.model_meta_key("hero"), mapping={"version": 5})

    await store.run(corrupt, default=None, timeout_s=2.0)
    learner = make_learner(store, rules, tmp_path)
    with caplog.at_level(logging.INFO, logger="vernier.learner"):
        async with running(learner):
            await send(store, decisions(10), clicked=lambda r: True)
            await until(lambda: learner.published >= 1, "a publication")
    assert learner.refused == 1
    assert "published model of hero refused" in caplog.text
    assert "starts a fresh model" in caplog.text
    snapshot = await published(store)
    assert snapshot is not None and snapshot.model_version == 6 and snapshot.examples == 10


async def test_a_snapshot_that_fails_its_checks_is_refused(
    store: Store, rules: Rules, tmp_path: Path
) -> None:
    first = make_learner(store, rules, tmp_path)
    await send(store, decisions(10), clicked=lambda r: True)
    async with running(first):
        await until(lambda: first.published >= 1, "a publication")
    good = await published(store)
    assert good is not None
    # tamper with the model bytes (checksum mismatch) in the snapshot and the checkpoint
    flipped = bytes([good.model[-1] ^ 0xFF])  # a changed byte, whatever the last one was
    bad = Snapshot(**{**_fields(good), "model": good.model[:-1] + flipped})
    assert await models.publish(store, bad)
    await store.run(lambda client: client.delete(store.keys.learner_checkpoint_key()), default=None)
    second = make_learner(store, rules, tmp_path)
    async with running(second):
        await until(lambda: second._started and "hero" in second.core.models, "started")
        assert second.core.models["hero"].model.examples_learned == 0  # fresh
    assert second.refused == 1


def _fields(snapshot: Snapshot) -> dict[str, Any]:
    return {name: getattr(snapshot, name) for name in snapshot.__struct_fields__}


async def test_bots_are_excluded_and_api_rewards_count(
    store: Store, rules: Rules, tmp_path: Path
) -> None:
    human, bot, api = decisions(1), decisions(1), decisions(1)
    bot = [DecisionRecord(**{**_record_fields(bot[0]), "session": "bot-session"})]
    await send(store, human + bot, clicked=lambda r: True)
    assert await EventLog(store).append([event_of(bot[0], "pageview", bot=True)]) == 1
    assert await log_decisions(store, api)
    assert await log_reward(
        store, RewardNote(decision=api[0].id, reward=0.25, ts_ms=api[0].ts_ms or 0)
    )
    learner = make_learner(store, rules, tmp_path)
    async with running(learner):
        # ">=": had the bot's decision been learned too, the exact check below says so by id
        await until(lambda: learner.learned >= 2 and learner.state.counts.bots >= 1, "joined", 60)
    log = logged(tmp_path)
    assert {i: r.reward for i, r in log.items()} == {human[0].id: 1.0, api[0].id: 0.25}
    assert learner.state.counts.bots == 1


async def acknowledged(store: Store) -> bool:
    return await pending_entries(store) == 0


def _record_fields(record: DecisionRecord) -> dict[str, Any]:
    return {name: getattr(record, name) for name in record.__struct_fields__}


async def test_a_second_learner_stands_by(
    store: Store, rules: Rules, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    first = make_learner(store, rules, tmp_path)
    second = make_learner(store, rules, tmp_path / "other")
    async with running(first):
        await until(lambda: first._started, "first started")
        with caplog.at_level(logging.INFO, logger="vernier.learner"):
            assert not await second.step()
        assert second._standby and not second._started
    # normal beside another instance's learner: not a warning
    [standing_by] = [r for r in caplog.records if "standing by" in r.getMessage()]
    assert standing_by.levelno == logging.INFO


async def test_an_unreachable_store_is_waited_for(tmp_path: Path, rules: Rules) -> None:
    store = Store(f"unix://{tmp_path}/nothing.sock", StoreSettings(op_timeout_s=0.05))
    learner = make_learner(store, rules, tmp_path)
    try:
        async with running(learner):
            await until(lambda: learner.failures >= 3, "a few failed rounds")
    finally:
        await store.close()
    assert learner.learned == 0


async def test_the_published_model_prefers_the_clicked_variant(
    store: Store, rules: Rules, tmp_path: Path
) -> None:
    """b is always clicked and a never: after a few hundred examples b is the greedy choice."""
    records = decisions(400, chosen=lambda i: "ab"[i % 2])
    await send(store, records, clicked=lambda r: r.chosen == "b")
    learner = make_learner(store, rules, tmp_path, snapshot_every_examples=100)
    async with running(learner):
        await until(lambda: learner.learned == 400, "400 learned", timeout_s=60)
    snapshot = await published(store)
    assert snapshot is not None and snapshot.examples == 400
    spec = hero(rules.current)
    model = load_snapshot(snapshot, spec.policy, spec.actions, feature_space=spec.feature_space)
    try:
        pmf = model.predict(MOBILE, spec.actions)
    finally:
        model.finish()
    assert pmf[spec.actions.index("b")] == pytest.approx(0.9, abs=0.01)  # 1 - epsilon + epsilon/2


def learn_command(cwd: Path, *args: str) -> subprocess.Popen[str]:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(cwd)}
    return subprocess.Popen(
        [sys.executable, "-m", "proxy", "learn", *args],
        cwd=cwd,
        env=env,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )


def test_learn_without_a_store_is_a_one_line_error(tmp_path: Path) -> None:
    process = learn_command(Path.cwd(), "--data-dir", str(tmp_path), "--rules", str(tmp_path))
    _, err = process.communicate(timeout=60)
    assert process.returncode == 2
    assert err.startswith("vernier: error: no store to learn from")
    assert "Traceback" not in err and err.count("\n") == 1


async def test_learn_runs_until_sigterm_and_stops_cleanly(
    embedded_store_url: str, tmp_path: Path
) -> None:
    build_rules(tmp_path)
    config = tmp_path / "vernier.yaml"
    config.write_text(f"store:\n  key_prefix: 't{secrets.token_hex(4)}:'\n")
    process = learn_command(
        Path.cwd(),
        "--config", str(config),
        "--store", embedded_store_url,
        "--rules", str(tmp_path / "r.yaml"),
        "--data-dir", str(tmp_path / "data"),
    )  # fmt: skip
    try:
        assert process.stderr is not None
        line = await asyncio.to_thread(process.stderr.readline)
        assert "vernier: learning from" in line and "1 bandit slots" in line
        process.send_signal(signal.SIGTERM)
        _, rest = await asyncio.to_thread(process.communicate, timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, rest
    assert "learner stopped" in rest and "Traceback" not in rest


async def test_a_checkpointed_model_whose_publication_was_lost_is_published_again(
    store: Store, rules: Rules, tmp_path: Path
) -> None:
    first = make_learner(store, rules, tmp_path)
    await send(store, decisions(10), clicked=lambda r: True)
    async with running(first):
        await until(lambda: first.published >= 1, "a publication")
    before = await published(store)
    assert before is not None

    async def lose_publication(client: Redis) -> None:
        await client.delete(store.keys.model_key("hero"), store.keys.model_meta_key("hero"))

    await store.run(lose_publication, default=None, timeout_s=2.0)
    second = make_learner(store, rules, tmp_path)
    async with running(second):
        await until(lambda: second.published == 1, "published again")
    again = await published(store)
    assert again is not None and again.sha256 == before.sha256
    assert again.model_version == before.model_version and again.examples == 10


async def test_past_its_bound_the_oldest_pending_decisions_are_dropped_and_counted(
    store: Store, tmp_path: Path
) -> None:
    """``learner.max_pending_decisions``: the oldest waiting decisions go first, never learned,
    and the count is on /metrics as the learner's ``evicted``."""
    rules = Rules(build_rules(tmp_path, window_s=600))
    records = decisions(5)
    assert await log_decisions(store, records)
    learner = make_learner(store, rules, tmp_path, max_pending=3)
    metrics = WorkerMetrics()
    metrics.watch("learner", learner, LEARNER_COUNTERS)
    async with running(learner):
        await until(lambda: learner.evicted == 2, "2 decisions evicted")
        assert learner.pending == 3 and learner.learned == 0
        assert sorted(learner.state._pending) == sorted(r.id for r in records[2:])
    samples = {
        s.labels["counter"]: s.value
        for family in metrics.collect()
        for s in family.samples
        if s.labels.get("worker") == "learner"
    }
    assert samples["evicted"] == 2


async def test_a_slot_without_interactions_gets_the_chosen_ones_as_a_new_version(
    store: Store, tmp_path: Path
) -> None:
    # b wins on mobile, a on desktop; the referrer does not matter: the chooser keeps device x
    # variant only, and publishes a model retrained with it as the slot's next version, after a
    # restart too
    # (a window long enough for every click to be read before it closes)
    rules = Rules(build_rules(tmp_path, features="device, referrer", interactions="", window_s=3))
    spec = hero(rules.current)
    assert spec.policy.interactions is None
    rng = random.Random(7)
    records = [
        DecisionRecord(
            **{
                **_record_fields(record),
                "context": {
                    "D": (f"dev={rng.choice(('mobile', 'desktop'))}",),
                    "R": (f"ref={rng.choice(('search', 'social', 'direct'))}",),
                },
                "chosen": rng.choice("ab"),
            }
        )
        for record in decisions(SELECT_AT[0])
    ]
    wins: dict[tuple[str, ...], str] = {("dev=mobile",): "b", ("dev=desktop",): "a"}
    rates = {r.id: 0.6 if wins[r.context["D"]] == r.chosen else 0.1 for r in records}
    clicks = {r.id for r in records if rng.random() < rates[r.id]}
    first, rest = records[:600], records[600:]
    learner = make_learner(store, rules, tmp_path, snapshot_every_examples=100)
    async with running(learner):
        await send(store, first, clicked=lambda r: r.id in clicks)
        await until(lambda: learner.learned == len(first) and learner.published > 0, "600 learned")
    before = await published(store)
    # a restarted learner kept none of the first 600 examples: it reads them back from
    # decisions.jsonl when the choice is due
    learner = make_learner(store, rules, tmp_path, snapshot_every_examples=100)
    async with running(learner):
        rest = [DecisionRecord(**{**_record_fields(r), "ts_ms": now_ms()}) for r in rest]
        await send(store, rest, clicked=lambda r: r.id in clicks)

        async def chosen_published() -> bool:
            snapshot = await published(store)
            return snapshot is not None and snapshot.interactions is not None

        await until(chosen_published, "a model with chosen interactions published", 120)
    assert before is not None and before.interactions is None
    after = await published(store)
    assert after is not None and after.interactions == ("DA",)
    assert after.feature_space == before.feature_space == spec.feature_space
    assert after.model_version > before.model_version
    assert after.examples == SELECT_AT[0]
    # a proxy opens it with the configured policy, and it learned the device effect
    model = load_snapshot(after, spec.policy, spec.actions, feature_space=spec.feature_space)
    try:
        assert model.policy.interactions == ("DA",)
        for device, best in (("mobile", 1), ("desktop", 0)):
            pmf = model.predict({"D": [f"dev={device}"]}, spec.actions, floor=False)
            assert max(range(2), key=pmf.__getitem__) == best
    finally:
        model.finish()
