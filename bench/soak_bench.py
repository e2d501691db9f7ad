"""Soak under CPU overload (issue #17): a mixed open-loop load on one worker while ``stress``
keeps twice the machine's cores busy.

Per second, by default 200 requests: slot pages (a rule's slot on ``/slot``), plain pages, a page
revalidated to 304, a 1 MiB binary, a client that hangs up mid-download (TCP reset), a malformed
request, and beacons (10 events each, sessions from earlier slot pages; the intake's rate limits
are lifted: this measures overload, not the flood guard). The origin is ``soak_origin.py`` (its own
process); Vernier runs ``--workers 1`` with its embedded Valkey and a short retention (2 min) so
that "store memory flat once retention applies" shows within the run.

Reported: beacons answered 503, unexpected 5xx (any 5xx but those), slot pages served with their
slot (%), the worker's RSS slope (MiB/min, least squares over the run after its first fifth), the
store's ``used_memory`` (first, peak, last), shed pages and breaker trips from ``/metrics``, and
the ERROR lines in Vernier's log. Done when (issue #17): 0 beacons 503, 0 unexpected 5xx, slot
pages >= 99 %, RSS slope <= 1 MiB/min.

    PYTHONPATH=. .venv/bin/python bench/soak_bench.py --duration 600 --stress 4
    PYTHONPATH=. .venv/bin/python bench/soak_bench.py --duration 60 --stress 0   # a quick look

Everything listens on 127.0.0.1 (and Unix sockets in a temp dir); the load, ``stress`` and every
child are bounded in time and stopped on exit.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import json
import os
import random
import re
import socket
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import redis

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

from intake_bench import USER_AGENT, batch_body, start_proxy  # noqa: E402
from load import rss_kib, serving_pids, vernier_memory  # noqa: E402
from servers import Children, clean_up, free_port, wait_http_ok  # noqa: E402

MIX = {  # requests per second at --rate 200
    "slot": 80,
    "plain": 36,
    "cached": 20,
    "big": 4,
    "hangup": 4,
    "malformed": 4,
    "beacon": 52,
}
EXPECTED = {"slot": 200, "plain": 200, "cached": 304, "big": 200, "malformed": 400, "beacon": 202}
SLOT_MARK = b'data-vernier-slot="hero"'
RULES = """slots:
  - id: hero
    selector: "#hero"
    where: {paths: ["/slot"]}
    control: a
    variants:
      a: []
      b: [{op: set_text, selector: "#hero", value: "Hello again"}]
"""


@dataclass
class Tally:
    statuses: collections.Counter[tuple[str, int]] = field(default_factory=collections.Counter)
    slot_pages: int = 0
    slot_served: int = 0
    errors: collections.Counter[str] = field(default_factory=collections.Counter)
    dropped: int = 0  # not started: the client's concurrency bound was full
    late_s: float = 0.0  # worst lateness of a scheduled start


def write_config(prefix: Path, admin_port: int) -> Path:
    rules = prefix / "rules"
    rules.mkdir()
    (rules / "soak.yaml").write_text(RULES)
    config = prefix / "vernier.soak.yaml"
    config.write_text(
        "# bench/soak_bench.py\n"
        f'admin:\n  listen: "127.0.0.1:{admin_port}"\n'
        "server:\n  access_log: false\n"
        f"rules: {json.dumps(str(rules))}\n"
        "intake:\n  session_events_per_min: 1000000000\n  address_events_per_min: 1000000000\n"
        "retention:\n  events_max_age_s: 120\n  decisions_max_age_s: 120\n"
        "  dedupe_s: 120\n  trim_every_s: 10\n"
    )
    return config


async def raw(port: int, data: bytes, *, read_bytes: int, reset: bool) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(data)
        await writer.drain()
        got = b""
        while len(got) < read_bytes:
            chunk = await reader.read(read_bytes - len(got))
            if not chunk:
                break
            got += chunk
        return got
    finally:
        if reset:
            sock = writer.get_extra_info("socket")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00" * 2)
            writer.transport.abort()
        else:
            writer.close()


class Load:
    def __init__(self, port: int, tally: Tally) -> None:
        self.port = port
        self.base = f"http://127.0.0.1:{port}"
        self.tally = tally
        self.cookies: list[str] = []
        self.etag = ""
        self.seq = 0

    async def one(self, http: aiohttp.ClientSession, kind: str) -> None:
        tally = self.tally
        try:
            async with asyncio.timeout(30):
                status = await getattr(self, kind)(http)
        except (TimeoutError, aiohttp.ClientError, OSError) as err:
            tally.errors[f"{kind}: {type(err).__name__}"] += 1
            return
        if status is not None:
            tally.statuses[kind, status] += 1

    async def slot(self, http: aiohttp.ClientSession) -> int:
        cookie = random.choice(self.cookies) if self.cookies else ""
        headers = {"User-Agent": USER_AGENT, **({"Cookie": cookie} if cookie else {})}
        async with http.get(self.base + "/slot", headers=headers) as response:
            body = await response.read()
            if response.status == 200:
                self.tally.slot_pages += 1
                self.tally.slot_served += SLOT_MARK in body
                pairs = {k: v.value for k, v in response.cookies.items()}
                if "vernier_sid" in pairs and len(self.cookies) < 200:
                    self.cookies.append("; ".join(f"{k}={v}" for k, v in pairs.items() if v))
            return response.status

    async def plain(self, http: aiohttp.ClientSession) -> int:
        async with http.get(self.base + "/plain", headers={"User-Agent": USER_AGENT}) as response:
            await response.read()
            return response.status

    async def cached(self, http: aiohttp.ClientSession) -> int:
        headers = {"User-Agent": USER_AGENT, "If-None-Match": self.etag}
        async with http.get(self.base + "/cached", headers=headers) as response:
            await response.read()
            if response.status == 200:
                self.etag = response.headers.get("ETag", "")
            return response.status

    async def big(self, http: aiohttp.ClientSession) -> int:
        async with http.get(self.base + "/big.bin") as response:
            size = len(await response.read())
            return response.status if size == 1 << 20 else 599

    async def hangup(self, http: aiohttp.ClientSession) -> None:
        request = b"GET /big.bin HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
        await raw(self.port, request, read_bytes=65536, reset=True)

    async def malformed(self, http: aiohttp.ClientSession) -> int:
        answer = await raw(
            self.port, b"GET / HTTP/1.1\r\nHost x\r\n\r\n", read_bytes=12, reset=False
        )
        match = re.match(rb"HTTP/1\.[01] (\d{3})", answer)
        return int(match[1]) if match else 0

    async def beacon(self, http: aiohttp.ClientSession) -> int | None:
        if not self.cookies:
            return None
        self.seq += 1
        headers = {
            "User-Agent": USER_AGENT,
            "Content-Type": "application/json",
            "Origin": self.base,
            "Sec-Fetch-Site": "same-origin",
            "Cookie": random.choice(self.cookies),
        }
        body = batch_body(f"s{os.getpid()}x{self.seq:08d}")
        async with http.post(self.base + "/__vernier/e", data=body, headers=headers) as response:
            await response.read()
            return response.status


async def drive(port: int, rate: float, duration_s: float, tally: Tally) -> None:
    """Open loop: one request every 1/rate s in a shuffled repeating mix, at most 512 at once."""
    scale = rate / sum(MIX.values())
    pattern = [kind for kind, n in MIX.items() for _ in range(max(1, round(n * scale)))]
    random.Random(17).shuffle(pattern)
    load = Load(port, tally)
    limit = asyncio.Semaphore(512)
    tasks: set[asyncio.Task[None]] = set()
    connector = aiohttp.TCPConnector(limit=512, force_close=False)
    async with aiohttp.ClientSession(
        connector=connector, cookie_jar=aiohttp.DummyCookieJar()
    ) as http:
        await load.cached(http)  # learn the proxy's ETag
        loop = asyncio.get_running_loop()
        start = loop.time()
        n = 0
        while (due := start + n / rate) < start + duration_s:
            now = loop.time()
            if due > now:
                await asyncio.sleep(due - now)
            tally.late_s = max(tally.late_s, loop.time() - due)
            kind = pattern[n % len(pattern)]
            n += 1
            if limit.locked():
                tally.dropped += 1
                continue

            async def run(kind: str = kind) -> None:
                async with limit:
                    await load.one(http, kind)

            task = asyncio.create_task(run())
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        await asyncio.gather(*tasks)


def used_memory(data_dir: Path) -> int:
    client = redis.Redis(unix_socket_path=str(data_dir / "valkey.sock"), socket_timeout=5)
    try:
        return int(client.info("memory")["used_memory"])
    finally:
        client.close()


def slope_per_min(samples: list[tuple[float, float]]) -> float:
    """Least-squares slope of (seconds, value) samples, per minute."""
    if len(samples) < 2:
        return float("nan")
    mean_t = sum(t for t, _ in samples) / len(samples)
    mean_v = sum(v for _, v in samples) / len(samples)
    num = sum((t - mean_t) * (v - mean_v) for t, v in samples)
    den = sum((t - mean_t) ** 2 for t, _ in samples)
    return num / den * 60.0 if den else float("nan")


def scrape(admin_port: int) -> dict[str, float]:
    """Overload-related counters from the worker's /metrics."""
    import urllib.request

    with urllib.request.urlopen(f"http://127.0.0.1:{admin_port}/metrics", timeout=10) as reply:
        text = reply.read().decode()
    wanted = (
        "vernier_shed_total",
        "vernier_client_gone_total",
        "vernier_fail_open_total",
        "vernier_origin_errors_total",
        "vernier_responses_total",
    )
    found: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith(wanted):
            name, value = line.rsplit(" ", 1)
            found[name] = float(value)
    return found


async def sample_resources(
    pid_root: int, data_dir: Path, stop: asyncio.Event, every_s: float
) -> tuple[list[tuple[float, float]], list[tuple[float, float]]]:
    rss: list[tuple[float, float]] = []
    store: list[tuple[float, float]] = []
    started = time.monotonic()
    while not stop.is_set():
        now = time.monotonic() - started
        pids = serving_pids(vernier_memory(pid_root, 1))
        kib = sum(rss_kib(pid) or 0 for pid in pids)
        rss.append((now, kib / 1024))
        with contextlib.suppress(redis.RedisError):
            store.append((now, await asyncio.to_thread(used_memory, data_dir) / 2**20))
        try:
            async with asyncio.timeout(every_s):
                await stop.wait()
        except TimeoutError:
            pass
    return rss, store


async def soak(options: argparse.Namespace, children: Children, prefix: Path) -> dict[str, Any]:
    origin_port, port, admin_port = free_port(), free_port(), free_port()
    origin = children.start(
        "origin",
        [sys.executable, str(BENCH_DIR / "soak_origin.py"), str(origin_port)],
        prefix / "origin.out",
    )
    config = write_config(prefix, admin_port)
    wait_http_ok(origin, origin_port, "/plain")
    vernier, data_dir = start_proxy(
        children, prefix, "vernier", port=port, origin_port=origin_port, config=config
    )
    if options.stress:
        children.start(
            "stress",
            ["stress", "-c", str(options.stress), "--timeout", f"{int(options.duration) + 30}s"],
            prefix / "stress.out",
        )
    tally = Tally()
    stop = asyncio.Event()
    sampler = asyncio.create_task(sample_resources(vernier.pid, data_dir, stop, options.sample_s))
    began = time.monotonic()
    await drive(port, options.rate, options.duration, tally)
    elapsed_s = time.monotonic() - began
    stop.set()
    rss, store = await sampler
    metrics = scrape(admin_port)
    errors = [
        line
        for line in vernier.log_tail(50_000_000).splitlines()
        if " ERROR " in line or '"level": "ERROR"' in line or "ERROR:" in line
    ]
    steady = [s for s in rss if s[0] >= elapsed_s / 5]
    beacons_503 = tally.statuses["beacon", 503]
    unexpected_5xx = sum(n for (kind, status), n in tally.statuses.items() if status >= 500) - (
        beacons_503
    )
    return {
        "duration_s": round(elapsed_s, 1),
        "rate": options.rate,
        "stress_workers": options.stress,
        "load_average": os.getloadavg(),
        "requests": sum(tally.statuses.values()),
        "statuses": {f"{k} {s}": n for (k, s), n in sorted(tally.statuses.items())},
        "unexpected_status": {
            f"{k} {s}": n
            for (k, s), n in tally.statuses.items()
            if EXPECTED.get(k) not in (None, s)
        },
        "client_errors": dict(tally.errors),
        "dropped_by_client": tally.dropped,
        "worst_start_lateness_s": round(tally.late_s, 3),
        "beacons_503": beacons_503,
        "unexpected_5xx": unexpected_5xx,
        "slot_pages": tally.slot_pages,
        "slot_served_pct": 100.0 * tally.slot_served / max(tally.slot_pages, 1),
        "rss_mib_first_last": (rss[0][1], rss[-1][1]) if rss else None,
        "rss_slope_mib_per_min": slope_per_min(steady),
        "store_mib_first_peak_last": (
            (store[0][1], max(v for _, v in store), store[-1][1]) if store else None
        ),
        "store_slope_mib_per_min_last_half": slope_per_min(
            [s for s in store if s[0] >= elapsed_s / 2]
        ),
        "metrics": metrics,
        "error_lines": len(errors),
        "error_samples": errors[:10],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=600.0, help="seconds of load")
    parser.add_argument("--rate", type=float, default=200.0, help="requests per second")
    parser.add_argument("--stress", type=int, default=2 * (os.cpu_count() or 1), help="stress -c N")
    parser.add_argument("--sample-s", type=float, default=10.0)
    parser.add_argument("--keep", action="store_true", help="keep the temp folder")
    options = parser.parse_args()
    children = Children()
    prefix = Path(tempfile.mkdtemp(prefix="vsoak-", dir="/tmp"))
    try:
        result = asyncio.run(soak(options, children, prefix))
    finally:
        clean_up(children, prefix, keep=options.keep)
    out = BENCH_DIR / "results"
    out.mkdir(exist_ok=True)
    (out / "soak.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    ok = (
        result["beacons_503"] == 0
        and result["unexpected_5xx"] == 0
        and result["slot_served_pct"] >= 99.0
        and result["rss_slope_mib_per_min"] <= 1.0
    )
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
