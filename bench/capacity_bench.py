"""Store capacity per event and per decision: memory (stream entry, dedupe key) and AOF bytes.

A fresh embedded Valkey; ``--events`` realistic event records (a page view with a URL and
referrer, then impressions, clicks, scrolls and engagement, 22-character random ids as the tracker
makes them) appended in batches of 10 through the intake's own append, and ``--decisions``
decision records (3 variants, pmf, a 12-feature context, model version) through the decision log.
``used_memory`` and the AOF size are read before and after each part.

Prints the per-item costs and the capacity table for ``docs/benchmarks.md``: steady-state store
memory = rate x (retention x stream entry + dedupe TTL x dedupe key), and AOF bytes per day
before a rewrite (after one, the AOF is about the steady-state dataset).

    PYTHONPATH=. .venv/bin/python bench/capacity_bench.py --events 20000 --decisions 5000
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import tempfile
from pathlib import Path
from typing import Any

from redis.asyncio import Redis

from proxy.config.schema import RetentionConfig
from proxy.records.decision import DecisionRecord
from proxy.records.event_record import EventRecord
from proxy.records.events import Click, Engaged, Impression, PageView, Scroll
from proxy.store.client import Store
from proxy.store.connection import StoreSettings
from proxy.store.decision_log import log_decisions
from proxy.store.embedded import EmbeddedStore
from proxy.store.event_log import EventLog

SETTINGS = StoreSettings(op_timeout_s=5.0, connect_timeout_s=2.0, pool_timeout_s=5.0)
RATES = (1, 10, 50, 100, 500)


def tracker_id() -> str:
    return secrets.token_hex(11)


def page_events(received_ms: int) -> list[EventRecord]:
    """The ten events of a typical page view, with the tracker's id shapes."""
    page, session, visitor, decision = tracker_id(), tracker_id(), tracker_id(), tracker_id()
    url = f"https://shop.example/products/{secrets.token_hex(6)}?utm_source=newsletter"
    events: list[Any] = [
        PageView(id=tracker_id(), ts=1, url=url, ref="https://www.google.com/", title="A product"),
        Impression(id=tracker_id(), ts=2, slot="hero", variant="b", decision=decision),
        Scroll(id=tracker_id(), ts=3, depth=0.5),
        Click(id=tracker_id(), ts=4, target="a.cta", slot="hero", variant="b", decision=decision),
        *(Engaged(id=tracker_id(), ts=5 + i, ms=5000) for i in range(6)),
    ]
    return [
        EventRecord(event=e, page=page, session=session, visitor=visitor, received_ms=received_ms)
        for e in events
    ]


def decision() -> DecisionRecord:
    return DecisionRecord(
        id=tracker_id(),
        slot="hero",
        actions=("a", "b", "c"),
        chosen="b",
        p=0.9,
        pmf=(0.05, 0.9, 0.05),
        context={
            "D": ("dev=mobile", "os=ios", "br=safari"),
            "T": ("hour=14", "weekday=3"),
            "R": ("ref=search", "landing=1", "utm=newsletter"),
            "P": ("visits=3", "cart=0", "country=FR", "page=product"),
        },
        ts_ms=1_732_250_000_000,
        session=tracker_id(),
        visitor=tracker_id(),
        model_version="hero-3f2a9c-000042",
    )


async def used(store: Store, embedded: EmbeddedStore) -> tuple[int, int]:
    async def memory(client: Redis) -> int:
        return int((await client.info("memory"))["used_memory"])

    aof = sum(p.stat().st_size for p in embedded.data_dir.rglob("*.aof"))
    return await store.run(memory, default=0, timeout_s=5.0), aof


async def measure(events: int, decisions: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="vcb-", dir="/tmp") as data_dir:
        with EmbeddedStore(Path(data_dir)) as embedded:
            store = Store(embedded.url, SETTINGS)
            log = EventLog(store)
            log.wait_for_fsync = False  # the bytes are the same; waiting only slows the bench
            mem0, aof0 = await used(store, embedded)
            for _ in range(events // 10):
                await log.append(page_events(1_732_250_000_000))

            async def dedupe_keys(client: Redis) -> int:
                return int(await client.dbsize()) - 1  # all but the stream

            keys = await store.run(dedupe_keys, default=0, timeout_s=5.0)
            mem1, aof1 = await used(store, embedded)
            for start in range(0, decisions, 50):
                await log_decisions(store, [decision() for _ in range(min(50, decisions - start))])
            mem2, aof2 = await used(store, embedded)
            await store.close()
    per_event_mem = (mem1 - mem0) / events
    return {
        "events": events,
        "dedupe_keys": keys,
        "event_memory_bytes": per_event_mem,
        "event_aof_bytes": (aof1 - aof0) / events,
        "decision_memory_bytes": (mem2 - mem1) / decisions,
        "decision_aof_bytes": (aof2 - aof1) / decisions,
    }


def table(costs: dict[str, float], retention: RetentionConfig) -> str:
    """Memory held at a steady rate under the default retention, and AOF growth per day."""
    ev_mem, dec_mem = costs["event_memory_bytes"], costs["decision_memory_bytes"]
    ev_aof, dec_aof = costs["event_aof_bytes"], costs["decision_aof_bytes"]
    lines = [
        "| events/s (decisions/s = events/10) | store memory, steady | AOF written per day "
        "| events kept | growth per day without an age bound |",
        "|---|---|---|---|---|",
    ]
    for rate in RATES:
        kept_s = max(retention.events_max_age_s, retention.dedupe_s)
        memory = rate * kept_s * ev_mem + rate / 10 * retention.decisions_max_age_s * dec_mem
        aof_day = 86400 * (rate * ev_aof + rate / 10 * dec_aof)
        unbounded = 86400 * (rate * ev_mem + rate / 10 * dec_mem)
        lines.append(
            f"| {rate} | {memory / 2**20:,.0f} MiB | {aof_day / 2**30:,.2f} GiB "
            f"| {rate * retention.events_max_age_s:,} | {unbounded / 2**30:,.1f} GiB |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--decisions", type=int, default=5_000)
    options = parser.parse_args()
    costs = asyncio.run(measure(options.events, options.decisions))
    for name, value in costs.items():
        print(f"{name}: {value:,.0f}")
    print(table(costs, RetentionConfig()))


if __name__ == "__main__":
    main()
