"""The learner: decisions + tracker events → VW ``learn`` → published model snapshots.

One :class:`Learner` runs per store (in the proxy in the embedded mode, or ``vernier learn``).
Each round it reads a batch of the event stream, then the decision stream until it is caught up,
feeds both to the reward join (:class:`~proxy.bandit.join.JoinState`), and learns every example
whose reward window has passed: for a slot with ``policy: bandit`` in mode ``live`` or
``apprentice`` (the control served in apprentice mode is logged with ``p = 1``). Every joined
decision, learned or not (``log-only`` slots too), is appended to ``<data_dir>/decisions.jsonl``,
the log ``vernier evaluate`` reads.

**Versions.** A slot's published ``model_version`` counts its publications and only grows: each
publication is the previous one's version + 1, whatever the feature space, so a proxy knows a
snapshot is new when ``(feature_space, version)`` changed. The feature space says which model
line it belongs to: when the configuration changes a slot's feature space
(:func:`~proxy.bandit.policy_config.feature_space_hash`), a fresh model starts and its first
snapshot carries the next version; old weights are never loaded into a new feature space. A
decision logged under another feature space (its ``model_version`` is ``<feature space>/<n>``)
or with other actions than the slot's is logged but not learned.

**Checkpoints and delivery.** Both streams are read in the consumer group ``learner``;
entries are acknowledged only after a checkpoint holding their effect is stored: every
``snapshot_every_examples`` learned examples or ``snapshot_every_s`` seconds, and on stop, the
learner (1) snapshots the models that learned (in an executor thread), (2) stores the checkpoint
— the join state and those snapshots — under the reserved model name :data:`CHECKPOINT_NAME`,
(3) publishes the snapshots (:func:`proxy.store.models.publish`), (4) acknowledges. A crash
anywhere re-reads the unacknowledged entries on the next start, after restoring the checkpoint;
the join is idempotent, so nothing is counted twice (decisions.jsonl, appended as examples are
made, may repeat a few records after a crash: ids are unique, readers can drop repeats). At start
a slot's model comes from the newest of its checkpointed and published snapshots that passes the
snapshot checks (:func:`~proxy.bandit.snapshot.load_snapshot`), else it starts fresh (logged).

**One learner per store.** A lease (``SET`` with a 30 s expiry under :data:`LEASE_NAME`,
renewed while running) keeps a second learner — another worker, or ``vernier learn`` next to an
embedded one — standing by instead of splitting the streams and publishing a rival version line.

**Store outages** never end the loop: calls fail open, the learner waits with a bounded backoff
(logged once per outage) and re-reads its unacknowledged entries when the store answers again.
Learning runs on the event loop in slices of :data:`LEARN_SLICE` examples (~60 µs each);
snapshots, checkpoints and file appends run in the default executor.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import logging
import os
import secrets
import socket
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

import msgspec
from redis.asyncio import Redis
from redis.exceptions import ResponseError

from proxy.bandit.join import JoinState
from proxy.bandit.model import BanditModel
from proxy.bandit.snapshot import (
    Snapshot,
    SnapshotRefused,
    decode_snapshot,
    encode_snapshot,
    load_snapshot,
    make_snapshot,
)
from proxy.evaluate.log import DecisionRecord, encode_record
from proxy.rules.load import CompiledSlot, RuleSet, SlotLearner
from proxy.store import models
from proxy.store.client import Store
from proxy.store.decision_log import RewardNote, parse_entry
from proxy.tracker.record import EventRecord, decode_record

log = logging.getLogger("vernier.learner")

GROUP = "learner"
CONSUMER = "learner"  # one learner per store (the lease): its pending entries are all of them
# reserved model names: slot ids are [a-z0-9-], so these can never collide with a slot's model
CHECKPOINT_NAME = "_learner"
LEASE_NAME = "_learner-lease"
DECISIONS_FILE = "decisions.jsonl"
LEARN_SLICE = 50  # examples learned between yields to the event loop
_CHECKPOINT_FORMAT = 1
_LEASE_SCRIPT = """
local holder = redis.call('GET', KEYS[1])
if holder == false or holder == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
"""
_RELEASE_SCRIPT = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

T = TypeVar("T")


class RulesSource(Protocol):
    """What the learner needs of the live rules (``LiveRules``): the current engine."""

    @property
    def current(self) -> Any: ...  # a RuleEngine: ``.ruleset.slots``


class Checkpoint(msgspec.Struct, frozen=True):
    """The learner's state as of its last acknowledgement (msgpack, in the store)."""

    format: int
    created_at_ms: int
    state: bytes  # JoinState.to_bytes()
    snapshots: dict[str, bytes]  # slot -> encoded Snapshot of its model at that moment
    versions: dict[str, int]  # slot -> last version given to a snapshot


_checkpoint_encoder = msgspec.msgpack.Encoder()
_checkpoint_decoder = msgspec.msgpack.Decoder(Checkpoint)


@dataclasses.dataclass(slots=True)
class _SlotModel:
    slot: str
    spec: SlotLearner
    model: BanditModel
    learned_since: int = 0  # examples since the last checkpoint
    snapshot: Snapshot | None = None  # the last one checkpointed


Entry = tuple[str, T | None]


class _Stream(Generic[T]):
    """One stream read in the learner's group: its own pending entries first, then new ones."""

    def __init__(
        self, store: Store, key: str, parse: Callable[[dict[Any, Any]], T | None], timeout_s: float
    ) -> None:
        self.store = store
        self.key = key
        self.parse = parse
        self.timeout_s = timeout_s
        self.cursor: str | None = "0"  # reading our pending entries from here; None: new ones
        self.unacked: list[str] = []

    async def create_group(self) -> bool:
        async def run(client: Redis) -> bool:
            try:
                await client.xgroup_create(self.key, GROUP, id="0", mkstream=True)
            except ResponseError as err:
                if "BUSYGROUP" not in str(err):
                    raise
            return True

        return await self.store.run(run, default=False, timeout_s=self.timeout_s)

    async def read(self, count: int, block_ms: int) -> list[Entry[T]] | None:
        """The next entries (``None``: the store did not answer; read pending ones again)."""
        cursor = self.cursor

        async def run(client: Redis) -> list[Entry[T]]:
            try:
                reply = await client.xreadgroup(
                    GROUP,
                    CONSUMER,
                    {self.key: cursor if cursor is not None else ">"},
                    count=count,
                    block=None if cursor is not None or block_ms <= 0 else block_ms,
                )
            except ResponseError as err:
                if "NOGROUP" not in str(err):
                    raise
                await client.xgroup_create(self.key, GROUP, id="0", mkstream=True)
                return []
            streams: list[Any] = list(reply or ())
            raw = streams[0][1] if streams else []
            return [(_text(entry_id), self._parse(fields)) for entry_id, fields in raw]

        block_s = 0.0 if cursor is not None else max(0, block_ms) / 1000
        entries = await self.store.run(run, default=None, timeout_s=self.timeout_s + block_s)
        if entries is None:
            self.cursor = "0"
            return None
        if cursor is not None:
            self.cursor = entries[-1][0] if entries else None
        self.unacked.extend(entry_id for entry_id, _ in entries)
        return entries

    def _parse(self, fields: Any) -> T | None:
        try:
            return self.parse(dict(fields or {}))
        except (msgspec.DecodeError, msgspec.ValidationError, ValueError, TypeError):
            return None

    async def ack(self, entry_ids: Sequence[str]) -> bool:
        for start in range(0, len(entry_ids), 1000):
            chunk = list(entry_ids[start : start + 1000])

            async def run(client: Redis, chunk: list[str] = chunk) -> bool:
                await client.xack(self.key, GROUP, *chunk)
                return True

            if not await self.store.run(run, default=False, timeout_s=self.timeout_s):
                return False
        return True


def _reloaded(model: BanditModel, spec: SlotLearner) -> BanditModel:
    """``model`` under ``spec``'s policy (same feature space, e.g. a new exploration rate)."""
    reloaded = BanditModel.from_bytes(model.to_bytes(), spec.policy)
    reloaded.examples_learned = model.examples_learned
    model.finish()
    return reloaded


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _parse_event(fields: dict[Any, Any]) -> EventRecord | None:
    data = fields.get(b"r", fields.get("r"))
    if not isinstance(data, bytes | str):
        return None
    return decode_record(data.encode() if isinstance(data, str) else data)


def _entry_ms(entry_id: str) -> int:
    return int(entry_id.partition("-")[0])


def learning_slots(ruleset: RuleSet) -> dict[str, SlotLearner]:
    """The slots the learner trains a model for: ``policy: bandit``, mode live or apprentice."""
    return {
        slot.id: slot.learner
        for slot in ruleset.slots
        if slot.learner is not None and slot.learner.bandit and slot.learner.mode != "log-only"
    }


class Learner:
    """Joins, learns and publishes; run one per store (see the module docstring).

    Counters: ``learned`` examples, ``logged`` records appended to decisions.jsonl,
    ``published`` snapshots, ``unknown_slot`` decisions of slots without a learner config,
    ``stale`` examples of another feature space or action set, ``refused`` snapshots that failed
    their checks at start, ``failures`` rounds the store did not answer. ``state.counts`` has the
    join's own counters.
    """

    def __init__(
        self,
        store: Store,
        rules: RulesSource,
        data_dir: Path,
        *,
        snapshot_every_examples: int = 100,
        snapshot_every_s: float = 10.0,
        clock: Callable[[], float] = time.time,
        settle_s: float = 2.0,
        count: int = 500,
        block_ms: int = 200,
        call_timeout_s: float = 2.0,
        retry_s: float = 0.5,
        max_retry_s: float = 5.0,
        lease_s: float = 30.0,
        max_pending: int = 100_000,
    ) -> None:
        self.store = store
        self.rules = rules
        self.data_dir = Path(data_dir)
        self.log_path = self.data_dir / DECISIONS_FILE
        self.snapshot_every_examples = snapshot_every_examples
        self.snapshot_every_s = snapshot_every_s
        self.clock = clock
        self.settle_ms = round(settle_s * 1000)
        self.count = count
        self.block_ms = block_ms
        self.call_timeout_s = call_timeout_s
        self.retry_s = retry_s
        self.max_retry_s = max_retry_s
        self.lease_ms = round(lease_s * 1000)
        self.max_pending = max_pending
        self.owner = f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(4)}"
        self.learned = 0
        self.logged = 0
        self.published = 0
        self.unknown_slot = 0
        self.stale = 0
        self.refused = 0
        self.failures = 0
        self.state = JoinState(max_pending=max_pending)
        self._events = _Stream(store, store.keys.events_key(0), _parse_event, call_timeout_s)
        self._decisions: _Stream[DecisionRecord | RewardNote] = _Stream(
            store, store.keys.decisions_key(0), parse_entry, call_timeout_s
        )
        self._models: dict[str, _SlotModel] = {}
        self._versions: dict[str, int] = {}  # slot -> last version given to a snapshot
        self._checkpointed: dict[str, Snapshot] = {}  # from the restored checkpoint
        self._unpublished: dict[str, Snapshot] = {}
        self._slots: Mapping[str, CompiledSlot] = {}
        self._engine: object = None
        self._started = False
        self._lease_until = 0.0
        self._last_commit = 0.0
        self._outage = False
        self._standby = False  # another learner holds the lease
        self._watermark_ms = 0

    # -- the loop -------------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Learn until ``stop`` is set; then a last checkpoint, publication and acknowledgement."""
        delay = self.retry_s
        try:
            while not stop.is_set():
                try:
                    answered = await self.step()
                except Exception:  # a bug: log it, keep going after a pause
                    log.exception("learner: round failed")
                    answered = False
                if answered:
                    delay = self.retry_s
                    if self._outage:
                        self._outage = False
                        log.warning("learner: store answers again; resuming")
                    continue
                self.failures += 1
                if not self._outage and not self._standby:
                    self._outage = True
                    log.warning(
                        "learner: store unavailable; retrying every %.1f s at most",
                        self.max_retry_s,
                    )
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(delay):
                        await stop.wait()
                delay = min(delay * 2, self.max_retry_s)
            if self._started and await self._hold_lease() and not await self.commit():
                log.warning(
                    "learner: last checkpoint not stored; unacknowledged entries will be read again"
                )
        finally:
            await self._close()

    async def step(self) -> bool:
        """One round; ``False`` when the store did not answer or another learner holds the lease."""
        if not await self._hold_lease():
            return False
        if not self._started and not await self._start():
            return False
        engine = self.rules.current
        if engine is not self._engine and not await self._sync(engine):
            return False
        reading_new = self._events.cursor is None
        events = await self._events.read(self.count, self.block_ms)
        if events is None:
            return False
        decisions: list[Entry[DecisionRecord | RewardNote]] = []
        for _ in range(20):  # drain the decision stream: events rarely precede their decision
            batch = await self._decisions.read(self.count, 0)
            if batch is None:
                return False
            decisions += batch
            if len(batch) < self.count:
                break
        now_ms = self._now_ms()
        for entry_id, item in decisions:
            if isinstance(item, DecisionRecord):
                slot = self._slots.get(item.slot)
                if slot is None or slot.learner is None:
                    self.unknown_slot += 1
                else:
                    self.state.on_decision(item, slot.learner.reward, now_ms=now_ms)
            elif isinstance(item, RewardNote):
                self.state.on_reward(item, event_id=entry_id)
        for _, record in events:
            if record is not None:
                self.state.on_event(record)
        # every event up to the last one read is in; once caught up, every event up to now
        if reading_new and len(events) < self.count:
            self._watermark_ms = now_ms
        elif events:
            self._watermark_ms = _entry_ms(events[-1][0])
        examples = self.state.due(min(now_ms, self._watermark_ms) - self.settle_ms)
        if examples:
            await self._learn(examples)
        if self._commit_due():
            return await self.commit()
        return True

    def _commit_due(self) -> bool:
        if any(m.learned_since >= self.snapshot_every_examples for m in self._models.values()):
            return True
        if time.monotonic() - self._last_commit < self.snapshot_every_s:
            return False
        return bool(
            self._events.unacked
            or self._decisions.unacked
            or self._unpublished
            or any(m.learned_since for m in self._models.values())
        )

    # -- learning -------------------------------------------------------------------------------

    async def _learn(self, examples: list[DecisionRecord]) -> None:
        for start in range(0, len(examples), LEARN_SLICE):
            for record in examples[start : start + LEARN_SLICE]:
                self._learn_one(record)
            await asyncio.sleep(0)
        lines = b"".join(encode_record(record) + b"\n" for record in examples)
        try:
            await asyncio.get_running_loop().run_in_executor(None, self._append, lines)
        except OSError as err:
            log.error("learner: cannot append to %s: %s", self.log_path, err)
        else:
            self.logged += len(examples)

    def _learn_one(self, record: DecisionRecord) -> None:
        held = self._models.get(record.slot)
        if held is None or record.reward is None:
            return  # log-only or rules slot: logged for evaluation, not learned
        space = (record.model_version or "").partition("/")[0]
        if (space.startswith("fs") and space != held.spec.feature_space) or (
            record.actions != held.spec.actions.ids
        ):
            self.stale += 1
            return
        try:
            held.model.learn(
                record.context,
                held.spec.actions,
                record.chosen_index,
                reward=record.reward,
                probability=record.p,
            )
        except ValueError as err:
            self.stale += 1
            log.debug("learner: example %s not learned: %s", record.id, err)
            return
        held.learned_since += 1
        self.learned += 1

    def _append(self, lines: bytes) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as file:
            file.write(lines)
            file.flush()

    # -- checkpoint, publication, acknowledgement -----------------------------------------------

    async def commit(self) -> bool:
        """Snapshot what learned, store the checkpoint, publish, acknowledge; ``False`` if the
        store did not take the checkpoint (nothing is acknowledged then)."""
        loop = asyncio.get_running_loop()
        now_ms = self._now_ms()
        made: dict[str, Snapshot] = {}
        for slot, held in self._models.items():
            if held.learned_since:
                snapshot = functools.partial(
                    make_snapshot,
                    held.model,
                    held.spec.actions,
                    slot=slot,
                    model_version=self._versions.get(slot, 0) + 1,
                    feature_space=held.spec.feature_space,
                    created_at_ms=now_ms,
                )
                made[slot] = await loop.run_in_executor(None, snapshot)
        snapshots = {slot: m.snapshot for slot, m in self._models.items() if m.snapshot} | made
        versions = self._versions | {slot: snap.model_version for slot, snap in made.items()}
        acks = (list(self._events.unacked), list(self._decisions.unacked))
        state = await loop.run_in_executor(None, self.state.to_bytes)
        checkpoint = Checkpoint(
            format=_CHECKPOINT_FORMAT,
            created_at_ms=now_ms,
            state=state,
            snapshots={slot: encode_snapshot(snap) for slot, snap in snapshots.items()},
            versions=versions,
        )
        if not await self._store_checkpoint(_checkpoint_encoder.encode(checkpoint)):
            return False
        self._last_commit = time.monotonic()
        self._versions = versions
        for slot, snap in made.items():
            self._models[slot].snapshot = snap
            self._models[slot].learned_since = 0
            self._unpublished[slot] = snap
        for slot, snap in list(self._unpublished.items()):
            if await models.publish(self.store, snap):
                del self._unpublished[slot]
                self.published += 1
                log.info(
                    "learner: published %s %s/%d (%d examples)",
                    slot,
                    snap.feature_space,
                    snap.model_version,
                    snap.examples,
                )
        events, decisions = acks
        if await self._events.ack(events):
            del self._events.unacked[: len(events)]
        if await self._decisions.ack(decisions):
            del self._decisions.unacked[: len(decisions)]
        return True

    async def _store_checkpoint(self, data: bytes) -> bool:
        key = self.store.keys.model_key(CHECKPOINT_NAME)

        async def write(client: Redis) -> bool:
            await client.set(key, data)
            return True

        return await self.store.run(write, default=False, timeout_s=self.call_timeout_s * 2)

    # -- start ----------------------------------------------------------------------------------

    async def _start(self) -> bool:
        """Create the groups, restore the checkpoint; ``False`` if the store did not answer."""
        if not await self._events.create_group() or not await self._decisions.create_group():
            return False
        found = await self._get(self.store.keys.model_key(CHECKPOINT_NAME))
        if found is None:
            return False
        (data,) = found
        if data is not None:
            self._restore(data)
        self._events.cursor = self._decisions.cursor = "0"
        self._started = True
        self._last_commit = time.monotonic()
        log.info("learner %s started: %d decisions awaiting rewards", self.owner, len(self.state))
        return True

    def _restore(self, data: bytes) -> None:
        try:
            checkpoint = _checkpoint_decoder.decode(data)
            if checkpoint.format != _CHECKPOINT_FORMAT:
                raise ValueError(f"format {checkpoint.format}, expected {_CHECKPOINT_FORMAT}")
            state = JoinState.from_bytes(checkpoint.state, max_pending=self.max_pending)
        except (msgspec.DecodeError, msgspec.ValidationError, ValueError) as err:
            log.error(
                "learner: checkpoint refused (%s); starting from the streams' pending entries", err
            )
            return
        self.state = state
        self._versions = dict(checkpoint.versions)
        for slot, encoded in checkpoint.snapshots.items():
            try:
                self._checkpointed[slot] = decode_snapshot(encoded)
            except SnapshotRefused as err:
                log.error("learner: checkpointed model of %s refused: %s", slot, err)

    async def _sync(self, engine: Any) -> bool:
        """Models for the slots of ``engine``'s rule set: kept, reloaded, or started fresh."""
        ruleset: RuleSet = engine.ruleset
        wanted = learning_slots(ruleset)
        for slot in [s for s in self._models if s not in wanted]:
            self._models.pop(slot).model.finish()
        for slot, spec in wanted.items():
            held = self._models.get(slot)
            if held is not None and held.spec.feature_space == spec.feature_space:
                if held.spec.policy != spec.policy:  # same shape, new rates: reload with them
                    held.model = await asyncio.get_running_loop().run_in_executor(
                        None, _reloaded, held.model, spec
                    )
                held.spec = spec
                continue
            opened = await self._open_model(slot, spec)
            if opened is None:
                return False
            if held is not None:
                held.model.finish()
                log.warning(
                    "learner: slot %s: feature space %s → %s, a new model starts at version %d",
                    slot,
                    held.spec.feature_space,
                    spec.feature_space,
                    self._versions.get(slot, 0) + 1,
                )
            self._models[slot] = opened
        self._slots = {slot.id: slot for slot in ruleset.slots}
        self._engine = engine
        return True

    async def _open_model(self, slot: str, spec: SlotLearner) -> _SlotModel | None:
        """The newest usable snapshot of ``slot`` in ``spec``'s feature space, or a fresh model;
        ``None`` if the store did not answer."""
        published = await self._published(slot)
        if published is None:
            return None
        version, snapshot = published
        self._versions[slot] = max(self._versions.get(slot, 0), version)
        candidates = [s for s in (self._checkpointed.pop(slot, None), snapshot) if s is not None]
        candidates.sort(key=lambda s: s.model_version, reverse=True)
        loop = asyncio.get_running_loop()
        for candidate in candidates:
            if candidate.feature_space != spec.feature_space:
                continue
            try:
                load = functools.partial(
                    load_snapshot,
                    candidate,
                    spec.policy,
                    spec.actions,
                    feature_space=spec.feature_space,
                )
                model = await loop.run_in_executor(None, load)
            except SnapshotRefused as err:
                self.refused += 1
                log.error("learner: %s", err)
                continue
            self._versions[slot] = max(self._versions[slot], candidate.model_version)
            if candidate.model_version > version:  # checkpointed, then the publication failed
                self._unpublished[slot] = candidate
            log.info(
                "learner: slot %s continues from %s/%d (%d examples)",
                slot,
                candidate.feature_space,
                candidate.model_version,
                candidate.examples,
            )
            return _SlotModel(slot, spec, model, snapshot=candidate)
        log.info(
            "learner: slot %s starts a fresh model in feature space %s", slot, spec.feature_space
        )
        fresh = await loop.run_in_executor(None, BanditModel, spec.policy)  # VW init: ~20 ms
        return _SlotModel(slot, spec, fresh)

    async def _published(self, slot: str) -> tuple[int, Snapshot | None] | None:
        """The published version (0 if none) and snapshot (``None`` if absent or malformed)."""
        meta_key = self.store.keys.model_meta_key(slot)
        found = await self._get(self.store.keys.model_key(slot))
        if found is None:
            return None

        async def read_version(client: Redis) -> tuple[Any]:
            return (await client.hget(meta_key, "version"),)

        version = await self.store.run(read_version, default=None, timeout_s=self.call_timeout_s)
        if version is None:
            return None
        number = int(version[0]) if version[0] is not None else 0
        (data,) = found
        if data is None:
            return number, None
        try:
            return number, decode_snapshot(data)
        except SnapshotRefused as err:
            self.refused += 1
            log.error("learner: published model of %s refused: %s", slot, err)
            return number, None

    async def _get(self, key: str) -> tuple[bytes | None] | None:
        """``(value,)`` of a string key (``(None,)`` if absent), ``None`` if no answer."""

        async def read(client: Redis) -> tuple[bytes | None]:
            value = await client.get(key)
            return (value.encode() if isinstance(value, str) else value,)

        return await self.store.run(read, default=None, timeout_s=self.call_timeout_s * 2)

    # -- the lease ------------------------------------------------------------------------------

    async def _hold_lease(self) -> bool:
        """Take or renew the lease (renewed when a third of it has passed)."""
        now = time.monotonic()
        if now < self._lease_until - self.lease_ms / 1000 * 2 / 3:
            return True
        key = self.store.keys.model_key(LEASE_NAME)

        async def renew(client: Redis) -> int:
            return int(await client.eval(_LEASE_SCRIPT, 1, key, self.owner, self.lease_ms))

        held = await self.store.run(renew, default=None, timeout_s=self.call_timeout_s)
        if held is None:
            return False
        if held:
            if self._standby:
                self._standby = False
                log.info("learner %s: lease taken", self.owner)
            self._lease_until = now + self.lease_ms / 1000
            return True
        if not self._standby:
            self._standby = True
            log.warning("learner %s: another learner holds the lease; standing by", self.owner)
        if self._started:
            self._reset()
        self._lease_until = 0.0
        return False

    def _reset(self) -> None:
        """Drop everything in memory (the lease was lost: another learner continues)."""
        for held in self._models.values():
            held.model.finish()
        self._models.clear()
        self._versions.clear()
        self._checkpointed.clear()
        self._unpublished.clear()
        self._events.unacked.clear()
        self._decisions.unacked.clear()
        self.state = JoinState(max_pending=self.max_pending)
        self._engine = None
        self._started = False

    async def _close(self) -> None:
        if self._lease_until:
            key = self.store.keys.model_key(LEASE_NAME)

            async def release(client: Redis) -> int:
                return int(await client.eval(_RELEASE_SCRIPT, 1, key, self.owner))

            await self.store.run(release, default=0, timeout_s=self.call_timeout_s)
            self._lease_until = 0.0
        for held in self._models.values():
            held.model.finish()
        self._models.clear()

    def _now_ms(self) -> int:
        return int(self.clock() * 1000)
