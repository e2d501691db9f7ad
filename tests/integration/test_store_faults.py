"""Pages are served whatever the store does (docs/reliability.md FO-06..FO-08): killed mid-load and
restarted, or hung with SIGSTOP. Returning visitors make the proxy read their profile from the
store on every page, so the store really is on the request path here."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable

import aiohttp

from tests.proxy_fixtures import StartProxy
from tests.redis_server import RedisServerProcess

TAG = b"/__vernier/t.js"


async def run_load(
    url: str, duration_s: float, *, concurrency: int = 6, timeline: Callable[[float], None]
) -> tuple[list[int], list[float], int]:
    """Returning visitors fetching ``url`` until ``duration_s``; returns statuses and latencies."""
    statuses: list[int] = []
    latencies: list[float] = []
    missing_tag = 0
    loop = asyncio.get_running_loop()
    start = loop.time()

    async def visitor() -> None:
        nonlocal missing_tag
        jar = aiohttp.CookieJar(unsafe=True)
        async with aiohttp.ClientSession(cookie_jar=jar) as client:
            while (now := loop.time()) - start < duration_s:
                timeline(now - start)
                async with client.get(url) as response:
                    body = await response.read()
                    statuses.append(response.status)
                    missing_tag += TAG not in body
                latencies.append(loop.time() - now)

    await asyncio.gather(*(visitor() for _ in range(concurrency)))
    return statuses, latencies, missing_tag


def hgetall_calls(server: RedisServerProcess) -> int:
    stats = server.client().info("commandstats")
    return int(stats.get("cmdstat_hgetall", {}).get("calls", 0))


async def test_store_killed_and_restarted_mid_load(
    origin: str, start_proxy: StartProxy, redis_server: RedisServerProcess
) -> None:
    proxy = await start_proxy(origin, store_url=redis_server.url)
    events: list[str] = []
    lock = threading.Lock()

    def timeline(t: float) -> None:
        with lock:
            if t > 1.0 and "killed" not in events:
                events.append("killed")
                events.append(f"calls_before:{hgetall_calls(redis_server)}")
                redis_server.kill()
            elif t > 2.5 and "restarted" not in events:
                events.append("restarted")
                redis_server.start()

    statuses, latencies, missing = await run_load(proxy + "/page", 5.0, timeline=timeline)
    assert "restarted" in events
    calls_before = int(next(e for e in events if e.startswith("calls_before:")).split(":")[1])
    assert calls_before > 0, "the proxy never read a profile: the store was not on the path"
    assert len(statuses) > 50
    assert set(statuses) == {200}
    assert missing == 0
    assert max(latencies) < 1.0
    # after the breaker's open period the store is used again, without restarting the proxy
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as client:
        for _ in range(2):
            async with client.get(proxy + "/page"):
                pass
        deadline = asyncio.get_running_loop().time() + 8
        while hgetall_calls(redis_server) == 0:
            assert asyncio.get_running_loop().time() < deadline, "store never used again"
            async with client.get(proxy + "/page") as response:
                assert response.status == 200
            await asyncio.sleep(0.2)


async def test_hung_store_adds_bounded_latency(
    origin: str, start_proxy: StartProxy, redis_server: RedisServerProcess
) -> None:
    proxy = await start_proxy(origin, store_url=redis_server.url)
    paused = redis_server.paused()
    state: list[str] = []

    def timeline(t: float) -> None:
        if t > 1.0 and not state:
            state.append("paused")
            paused.__enter__()
        elif t > 3.0 and state == ["paused"]:
            state.append("resumed")
            paused.__exit__(None, None, None)

    try:
        statuses, latencies, missing = await run_load(proxy + "/page", 4.0, timeline=timeline)
    finally:
        if state == ["paused"]:
            paused.__exit__(None, None, None)
    assert set(statuses) == {200}
    assert missing == 0
    # each store call is bounded by its 50 ms timeout; then the breaker short-circuits
    assert max(latencies) < 0.5
