"""Results throughput: folding events into the aggregates, and a 90-day report.

    .venv/bin/python bench/results_bench.py [--events N] [--days D] [--slots S] [--variants V]
        [--examples N]

- ``fold``: the pure fold of N event records (impressions, clicks, engaged time) into tallies,
  and the same plus writing them with the once-only script to a real embedded Valkey (one
  process, one core), in events/s; the reference in the same run is msgspec decoding the same
  records from the stream's bytes (what every consumer pays anyway). Target >= 20,000 events/s.
- ``report``: ``vernier report --format json`` work over D days x S slots x V variants of full
  day buckets (with the learner's off-policy and CUPED sums): reading them from the store and
  computing the statistics; then the same for bandit slots with the doubly robust section over
  N joined examples per slot (default ``results.examples_kept``) read from the store; the
  reference is ``json.dumps`` of the resulting report. Target <= 1 s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import secrets
import tempfile
import time
from pathlib import Path

from proxy.config.schema import ResultsConfig
from proxy.records.decision import LoggedDecision, Scalar
from proxy.records.event_record import EventRecord, decode_record, encode_record
from proxy.records.events import Click, Engaged, Impression
from proxy.records.results_buckets import DAY_HOURS, Period, hour_of
from proxy.results.doubly_robust import ExampleSet
from proxy.results.fold import TARGETS, WEIGHT_SUMS, fold_event
from proxy.results.report import SlotInfo, report
from proxy.rules.compiled import CompiledPin
from proxy.rules.condition_parser import parse_condition
from proxy.store.client import Store
from proxy.store.connection import StoreSettings
from proxy.store.embedded import EmbeddedStore
from proxy.store.joined_examples import keep_examples, read_examples
from proxy.store.results import fold, read_slot


def events(n: int, now_ms: int) -> list[EventRecord]:
    out = []
    for i in range(n):
        decision = f"d{i // 3:015d}"
        kind = i % 3
        event: Impression | Click | Engaged
        if kind == 0:
            event = Impression(
                id=f"e{i:015d}", ts=1, slot="hero", variant="ab"[i % 2], decision=decision
            )
        elif kind == 1:
            event = Click(
                id=f"e{i:015d}",
                ts=1,
                target="#x",
                slot="hero",
                variant="ab"[i % 2],
                decision=decision,
            )
        else:
            event = Engaged(id=f"e{i:015d}", ts=1, ms=1200)
        out.append(
            EventRecord(
                event=event,
                page="p" * 10,
                session=f"s{i % 500:09d}",
                visitor="v" * 10,
                received_ms=now_ms,
            )
        )
    return out  # fmt: skip


async def bench_fold(store: Store, n: int) -> None:
    now_ms = int(time.time() * 1000)
    records = events(n, now_ms)
    raw = [encode_record(r) for r in records]
    known = {"hero": frozenset({"a", "b"})}
    showing = {"hero": "a"}
    start = time.perf_counter()
    for data in raw:
        decode_record(data)
    decode_s = time.perf_counter() - start
    start = time.perf_counter()
    tallies = [t for r in records for t in fold_event(r, showing, known)]
    fold_s = time.perf_counter() - start
    start = time.perf_counter()
    for i in range(0, len(tallies), 500):
        assert await fold(store, tallies[i : i + 500], ttl_s=86_400, timeout_s=10) is not None
    write_s = time.perf_counter() - start
    print(f"fold (pure)         {n / fold_s:12,.0f} events/s  ({fold_s / decode_s:.2f}x decoding)")
    print(f"fold + store write  {n / (fold_s + write_s):12,.0f} events/s  ({(fold_s + write_s) / decode_s:.2f}x decoding)")  # fmt: skip


async def bench_report(store: Store, days: int, slots: int, variants: int, examples: int) -> None:
    today = hour_of(int(time.time() * 1000)) // DAY_HOURS
    client = store.keys
    names = [chr(ord("a") + v) for v in range(variants)]
    measures = (
        "decisions",
        "exposures",
        "clicks",
        "conversions",
        "value",
        "engaged_n",
        "engaged_s",
    )

    # the learner's off-policy and CUPED sums too: every part of the report is computed
    owners = [*names, *TARGETS]
    joined = (*WEIGHT_SUMS, "cuped_y", "cuped_y_sq", "cuped_x", "cuped_x_sq", "cuped_xy")

    async def fill(redis: object) -> None:
        pipe = redis.pipeline(transaction=False)  # type: ignore[attr-defined]
        for s in range(slots):
            for d in range(today - days + 1, today + 1):
                fields = {f"{v}|{m}": 1000 + (d * 7 + s) % 97 for v in names for m in measures}
                fields |= {f"{v}|{m}": 500 + (d * 3 + s) % 89 for v in owners for m in joined}
                pipe.hset(client.results_key(f"slot-{s}", f"d:{d}"), mapping=fields)
                # distinct visitors per day: every variant's conversions are compared per visitor
                for v in names:
                    ids = [f"{d}-{i}" for i in range(100 + (d + s) % 13)]
                    pipe.pfadd(client.results_key(f"slot-{s}", f"u:{d}:{v}"), *ids)
        await pipe.execute()

    await store.run(fill, default=None, timeout_s=60)
    pins = (CompiledPin(parse_condition("device == 'mobile'"), names[-1]),)
    period = Period("d", today - days + 1, today)
    split = [SlotInfo(f"slot-{s}", "split", "a", tuple(names), {v: 1.0 for v in names}) for s in range(slots)]  # fmt: skip
    bandit = [SlotInfo(f"slot-{s}", "bandit", "a", tuple(names), pins=pins) for s in range(slots)]  # fmt: skip
    for s in range(slots):
        kept = bandit_examples(f"slot-{s}", names, examples, period.start_ms)
        assert await keep_examples(store, kept, kept=examples, ttl_s=86_400, timeout_s=60)
    for infos, limit, what in ((split, 0, "before DR"), (bandit, examples, f"with DR over {examples} examples per slot")):  # fmt: skip
        start, cpu = time.perf_counter(), time.process_time()
        found = []
        for info in infos:
            buckets = await read_slot(store, info.id, info.variants, period, timeout_s=10)
            assert buckets is not None
            found.append((info, buckets))
        samples = {}
        for info in infos if limit else ():
            sample = await read_examples(store, info.id, since_ms=period.start_ms, limit=limit)
            assert sample is not None
            samples[info.id] = ExampleSet(sample.records, limit, sample.limited)
        read_s, read_cpu_s = time.perf_counter() - start, time.process_time() - cpu
        start, cpu = time.perf_counter(), time.process_time()
        data = report(found, bucket="d", first=period.first, last=period.last, now_ms=0, examples=samples)  # fmt: skip
        stats_s, stats_cpu_s = time.perf_counter() - start, time.process_time() - cpu
        start = time.perf_counter()
        json.dumps(data)
        dump_s = time.perf_counter() - start
        assert all(slot["off_policy"] and slot["cuped"] for slot in data["slots"])
        assert not limit or all(slot["doubly_robust"]["policies"] for slot in data["slots"])
        total = read_s + stats_s
        print(f"report {days} d x {slots} slots x {variants} variants, {what}: {total:.3f} s (read {read_s:.3f} s, {read_cpu_s:.3f} s CPU; statistics {stats_s:.3f} s, {stats_cpu_s:.3f} s CPU; {total / dump_s:.1f}x json.dumps of it)")  # fmt: skip


def bandit_examples(slot: str, names: list[str], n: int, since_ms: int) -> list[LoggedDecision]:
    """``n`` joined examples of a bandit slot, as the learner keeps them: a pmf, a reward, a
    request context with a few fields and VW namespaces."""
    rng = random.Random(slot)
    pmf = tuple(1 / len(names) for _ in names)
    out = []
    for i in range(n):
        device = rng.choice(("mobile", "desktop", "tablet"))
        k = rng.randrange(len(names))
        context: dict[str, Scalar] = {"device": device, "hour": i % 24, "visits_30d": i % 7, "path": "/page",
                   "referrer.class": "search", "utm.source": "news"}  # fmt: skip
        out.append(
            LoggedDecision(
                id=f"{slot}-{i:07d}", slot=slot, actions=tuple(names), chosen=names[k],
                p=pmf[k], pmf=pmf, reward=float(rng.random() < 0.1), ts_ms=since_ms + i,
                context={"D": (device,), "T": (f"h{i % 24}",), "R": ("search",)},
                rule_context=context,
            )
        )  # fmt: skip
    return out


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=60_000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--slots", type=int, default=20)
    parser.add_argument("--variants", type=int, default=5)
    parser.add_argument("--examples", type=int, default=ResultsConfig().examples_kept)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="vr-", dir="/tmp") as folder:
        with EmbeddedStore(Path(folder)) as embedded:
            store = Store(
                embedded.url,
                StoreSettings(op_timeout_s=10.0, key_prefix=f"b{secrets.token_hex(3)}:"),
            )
            try:
                await bench_fold(store, args.events)
                await bench_report(store, args.days, args.slots, args.variants, args.examples)
            finally:
                await store.close()


if __name__ == "__main__":
    asyncio.run(main())
