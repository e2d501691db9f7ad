"""Governance check + consume: one Lua round trip per page view, wall time p50/p90.

    .venv/bin/python bench/governance_bench.py [--seconds S] [--slots N]

Against the embedded Valkey (Unix socket, what `vernier serve` runs by default) and, if
installed, Debian's redis-server on loopback TCP; the same Store client the proxy uses. Each
call is a page view of a fresh or returning session proposing N slots (a mix of first sights,
sticky re-serves and change requests). Target: <= 250 us p50 on loopback. Bounded in time.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from proxy.store.client import Store
from proxy.store.connection import StoreSettings
from proxy.store.embedded import EmbeddedStore
from proxy.store.governance import Proposal, check_and_consume


async def measure(url: str, seconds: float, slots: int) -> tuple[float, float, int, float]:
    """p50, p90 and count of the governance call, and p50 of a PING (the round trip itself)."""
    store = Store(url, StoreSettings(op_timeout_s=1.0, key_prefix="bench:"))
    rng = random.Random(1)
    samples: list[float] = []
    pings: list[float] = []
    try:
        await store.open()
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            started = time.perf_counter()
            await store.ping()
            pings.append((time.perf_counter() - started) * 1e6)
            session = f"session-{rng.randrange(2000):06d}"
            proposals = [
                Proposal(f"slot{i}", rng.choice("abc"), f"decision{rng.randrange(10**8):08d}", 1, 0)
                for i in range(slots)
            ]
            started = time.perf_counter()
            verdicts = await check_and_consume(
                store,
                session,
                proposals,
                now_ms=int(time.time() * 1000),
                ttl_s=600,
                session_changes=3,
                min_interval_ms=0,
                max_slots_per_page=1,
            )
            samples.append((time.perf_counter() - started) * 1e6)
            assert verdicts is not None
    finally:
        await store.close()
    deciles = statistics.quantiles(samples, n=10)
    return statistics.median(samples), deciles[8], len(samples), statistics.median(pings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="per server (default 5)")
    parser.add_argument("--slots", type=int, default=2, help="slots per page view (default 2)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="vgb-", dir="/tmp") as folder:
        with EmbeddedStore(Path(folder)) as embedded:
            p50, p90, n, ping = asyncio.run(measure(embedded.url, args.seconds, args.slots))
            print(
                f"embedded valkey (unix)  p50 {p50:6.0f} us  p90 {p90:6.0f} us  ({n} calls; "
                f"PING p50 {ping:.0f} us)"
            )
    server = shutil.which("redis-server")
    if server is None:
        print("redis-server not installed: skipped")
        return
    port = 6391
    process = subprocess.Popen(
        [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    try:
        time.sleep(0.3)
        p50, p90, n, ping = asyncio.run(
            measure(f"redis://127.0.0.1:{port}", args.seconds, args.slots)
        )
        print(
            f"redis-server (tcp)      p50 {p50:6.0f} us  p90 {p90:6.0f} us  ({n} calls; "
            f"PING p50 {ping:.0f} us)"
        )
    finally:
        process.terminate()
        process.wait(10)


if __name__ == "__main__":
    main()
