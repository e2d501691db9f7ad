"""What fsync-confirmed decisions cost the page: the decision sink with and without its
confirmation (issue #17), on a fresh embedded Valkey (``appendfsync everysec``) per mode.

C concurrent "pages" each log one decision per call through :class:`DecisionSink` for
``--duration`` s; per mode: decisions/s, the page's ``log`` p50/p99 ms, then how long the sink
takes to see every decision fsync-ed (``flush``), and how many were confirmed or spooled. Ratios
are to the unconfirmed mode measured in the same run (the machine is shared).

    .venv/bin/python bench/decision_fsync_bench.py --duration 5 --concurrency 1,16

Unix sockets in a temp dir only; every load is bounded in time; every server is stopped on exit.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from proxy.decide.decision_sink import DecisionSink, decision_spool
from proxy.records.decision import LoggedDecision
from proxy.store.client import Store
from proxy.store.connection import StoreSettings
from proxy.store.embedded import EmbeddedStore

_ids = itertools.count()
CONTEXT = {
    "D": tuple(f"f{i}=v{i}" for i in range(6)),
    "T": ("hour=14", "weekday=3"),
    "R": ("ref=search", "country=de", "seg=a", "new=1"),
}


def decision() -> LoggedDecision:
    return LoggedDecision(
        id=f"bench{next(_ids):016d}",
        slot="hero",
        actions=("a", "b", "c"),
        chosen="b",
        p=0.34,
        context=CONTEXT,
        pmf=(0.33, 0.34, 0.33),
    )


async def run_mode(confirm: bool, concurrency: int, duration_s: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="vdf-", dir="/tmp") as tmp:
        with EmbeddedStore(Path(tmp) / "store") as server:
            store = Store(server.url, StoreSettings(op_timeout_s=0.05))
            sink = DecisionSink(store, decision_spool(Path(tmp)), confirm_fsync=confirm)
            latencies_ms: list[float] = []
            end = time.monotonic() + duration_s

            async def page() -> None:
                while time.monotonic() < end:
                    started = time.perf_counter()
                    await sink.log([decision()])
                    latencies_ms.append((time.perf_counter() - started) * 1000)

            await asyncio.gather(*(page() for _ in range(concurrency)))
            flush_started = time.perf_counter()
            flushed = await sink.flush(timeout_s=10.0)
            flush_ms = (time.perf_counter() - flush_started) * 1000
            cuts = statistics.quantiles(latencies_ms, n=100)
            result = {
                "mode": "fsync-confirmed" if confirm else "memory only (before)",
                "pages": concurrency,
                "decisions_per_s": round(len(latencies_ms) / duration_s),
                "log_p50_ms": round(cuts[49], 3),
                "log_p99_ms": round(cuts[98], 3),
                "flush_ms": round(flush_ms, 1),
                "flushed": flushed,
                "fsynced": sink.fsynced,
                "unfsynced": sink.unfsynced,
                "spooled": sink.spooled,
                "failed": sink.failed,
            }
            await sink.spool.close()
            await store.close()
            return result


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--concurrency", default="1,16")
    args = parser.parse_args()
    for concurrency in (int(c) for c in args.concurrency.split(",")):
        before = await run_mode(False, concurrency, args.duration)
        after = await run_mode(True, concurrency, args.duration)
        after["rate_vs_before"] = round(after["decisions_per_s"] / before["decisions_per_s"], 2)
        after["p50_vs_before"] = round(after["log_p50_ms"] / before["log_p50_ms"], 2)
        print(json.dumps(before))
        print(json.dumps(after))


if __name__ == "__main__":
    asyncio.run(main())
