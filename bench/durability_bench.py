"""What "202 means durable" costs: event appends under three AOF policies of the embedded store.

For each policy, a fresh embedded Valkey (``appendonly yes``) in a temp dir and C concurrent
writers appending batches of 10 event records (the intake's Lua append, dedupe keys included)
for ``--duration`` s, then a page-path write (``HSET`` of a session hash, what governance does per
page view) measured alone while the writers run:

* ``everysec``: the old default; a ``kill -9`` after a delayed fsync loses acknowledged events.
* ``waitaof``: ``everysec`` plus ``WAITAOF 1 0`` after each append on the same connection: the
  append is answered once Valkey's once-a-second fsync covered it (group commit by Valkey).
* ``always``: Valkey fsyncs before it answers any write (grouped per event-loop turn).

Reported per policy: batches/s, append p50/p99 ms, page write p50/p99 ms, and the ratio of each to
``everysec`` measured in the same run (the machine is shared; only ratios travel).

    .venv/bin/python bench/durability_bench.py --duration 10 --concurrency 1,16

Unix sockets in a temp dir only; every load is bounded in time; every server is stopped on exit.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from redis.asyncio import Redis

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.event_records

from proxy.records.event_record import EventRecord, encode_record
from proxy.store.client import Store
from proxy.store.connection import StoreSettings
from proxy.store.embedded import EmbeddedStore
from proxy.store.event_log import EventLog
from proxy.store.scripts import APPEND_ONCE
from tests.event_records import engaged_batch

SETTINGS = StoreSettings(op_timeout_s=5.0, connect_timeout_s=2.0, pool_timeout_s=5.0)
POLICIES = ("everysec", "waitaof", "always")


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


async def append_waitaof(store: Store, log: EventLog, records: list[EventRecord]) -> None:
    keys = [log.key, *(store.keys.event_seen_key(r.event.id, 0) for r in records)]
    args: list[Any] = [log.dedupe_ttl_s, log.max_len, "r", *(encode_record(r) for r in records)]

    async def run(client: Redis) -> None:
        pipe = client.pipeline(transaction=False)
        pipe.eval(APPEND_ONCE.source, len(keys), *keys, *args)
        pipe.execute_command("WAITAOF", 1, 0, 2000)
        await pipe.execute()

    await store.run(run, default=None)


async def measure(policy: str, concurrency: int, duration_s: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="vdb-", dir="/tmp") as data_dir:
        fsync = "always" if policy == "always" else "everysec"
        with EmbeddedStore(Path(data_dir), appendfsync=fsync) as embedded:
            store = Store(embedded.url, SETTINGS)
            log = EventLog(store)
            log.wait_for_fsync = False  # the baseline: the intake's append before issue #17
            appends: list[float] = []
            pages: list[float] = []
            deadline = time.perf_counter() + duration_s
            counter = iter(range(10**9))

            async def writer() -> None:
                while time.perf_counter() < deadline:
                    batch = engaged_batch(10, 10 * next(counter))
                    started = time.perf_counter()
                    if policy == "waitaof":
                        await append_waitaof(store, log, batch)
                    else:
                        await log.append(batch)
                    appends.append((time.perf_counter() - started) * 1000.0)

            async def page_writes() -> None:
                while time.perf_counter() < deadline:
                    started = time.perf_counter()
                    await store.run(lambda c: c.hset("S{s1}", "n", "1"), default=None)
                    pages.append((time.perf_counter() - started) * 1000.0)
                    await asyncio.sleep(0.01)

            await asyncio.gather(page_writes(), *(writer() for _ in range(concurrency)))
            await store.close()
    return {
        "policy": policy,
        "concurrency": concurrency,
        "batches_per_s": len(appends) / duration_s,
        "append_p50_ms": statistics.median(appends),
        "append_p99_ms": percentile(appends, 0.99),
        "page_p50_ms": statistics.median(pages),
        "page_p99_ms": percentile(pages, 0.99),
    }


def markdown(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| policy | writers | batches/s | vs everysec | append p50 ms | p99 ms "
        "| page write p50 ms | p99 ms | page p50 vs everysec |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        ref = next(
            r for r in rows if r["policy"] == "everysec" and r["concurrency"] == row["concurrency"]
        )
        lines.append(
            f"| {row['policy']} | {row['concurrency']} | {row['batches_per_s']:.0f} "
            f"| {row['batches_per_s'] / ref['batches_per_s']:.2f}x "
            f"| {row['append_p50_ms']:.2f} | {row['append_p99_ms']:.2f} "
            f"| {row['page_p50_ms']:.2f} | {row['page_p99_ms']:.2f} "
            f"| {row['page_p50_ms'] / ref['page_p50_ms']:.2f}x |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per run")
    parser.add_argument("--concurrency", default="1,16", help="writers, comma-separated")
    options = parser.parse_args()
    rows = [
        asyncio.run(measure(policy, int(c), options.duration))
        for c in options.concurrency.split(",")
        for policy in POLICIES
    ]
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    (out / "durability.json").write_text(json.dumps(rows, indent=2))
    print(markdown(rows))


if __name__ == "__main__":
    main()
