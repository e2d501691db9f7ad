"""No decision lost across a store outage (issue #12 item 3): new visitors load a page with a
bandit slot while redis-server is killed and restarted; afterwards the decision stream holds
exactly one entry per page served with the slot, once the spool is replayed."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
import pytest

from proxy.app import create_admin_app
from proxy.records.decision import LoggedDecision
from proxy.store.client import Store
from tests import proxy_fixtures
from tests.integration.decision_stream import read_decision_log
from tests.integration.test_background_metrics import counter, scrape
from tests.integration.test_bandit_applied import MARK, RULES
from tests.integration.test_rules_applied import DESKTOP
from tests.proxy_fixtures import StartProxy, serve_app
from tests.redis_server import RELAXED_STORE, RedisServerProcess

pytestmark = pytest.mark.rules_file("bandit.yaml", RULES)
# the outage's schedule (not a wait for a condition): the store is killed 1 s into the load and
# restarted 1.5 s later; the load goes on for 1.5 s after the restart
KILL_AFTER_S, DOWN_FOR_S, LOAD_AFTER_S = 1.0, 1.5, 1.5


async def new_visitors(url: str, restarted: asyncio.Event, first_page: asyncio.Event) -> list[str]:
    """New visitors (no cookies) fetch pages until ``LOAD_AFTER_S`` after the restart; the
    decision ids of the slot as served."""
    served: list[str] = []
    loop = asyncio.get_running_loop()
    done_at: list[float] = []

    async def visitor() -> None:
        async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as client:
            while not done_at or loop.time() < done_at[0]:
                async with client.get(url, headers={"User-Agent": DESKTOP}) as response:
                    assert response.status == 200
                    body = await response.read()
                mark = MARK.search(body.decode())
                assert mark is not None, "the slot was not served"
                served.append(mark[2])
                first_page.set()
                if restarted.is_set() and not done_at:
                    done_at.append(loop.time() + LOAD_AFTER_S)

    await asyncio.gather(*(visitor() for _ in range(4)))
    return served


async def store_outage(
    server: RedisServerProcess,
    first_page: asyncio.Event,
    restarted: asyncio.Event,
    kill_after_s: float,
    down_for_s: float,
) -> None:
    """Kill ``server`` ``kill_after_s`` after the first page, start it again (same port and AOF
    directory) ``down_for_s`` later, then set ``restarted``: a schedule, not a wait for a
    condition."""
    await first_page.wait()
    await asyncio.sleep(kill_after_s)
    await asyncio.to_thread(server.kill)
    await asyncio.sleep(down_for_s)
    await asyncio.to_thread(server.start)
    restarted.set()


async def test_decisions_logged_equal_pages_served_across_a_store_kill(
    origin: str, start_proxy: StartProxy, rules_dir: Path, redis_server: RedisServerProcess
) -> None:
    proxy = await start_proxy(
        origin, store_url=redis_server.url, rules=str(rules_dir), **{"store.breaker_open_s": 1.0}
    )
    first_page, restarted = asyncio.Event(), asyncio.Event()
    async with asyncio.timeout(60):
        served, _ = await asyncio.gather(
            new_visitors(proxy + "/page", restarted, first_page),
            store_outage(redis_server, first_page, restarted, KILL_AFTER_S, DOWN_FOR_S),
        )
    assert len(served) == len(set(served)) > 20

    store = Store(redis_server.url, RELAXED_STORE)
    try:
        async with asyncio.timeout(30):  # replayed every second once the breaker lets calls by
            while True:
                entries = await read_decision_log(store)
                logged = [r.id for r in entries if isinstance(r, LoggedDecision)]
                if len(logged) >= len(served):
                    break
                await asyncio.sleep(0.1)
    finally:
        await store.close()
    assert len(logged) == len(served)
    assert sorted(logged) == sorted(served)

    async with (
        serve_app(create_admin_app(proxy_fixtures.STARTED_APPS[-1])) as admin,
        aiohttp.ClientSession() as client,
    ):
        samples = await scrape(client, admin)
    spooled = counter(samples, "decision_sink", "spooled")
    assert spooled is not None and spooled > 0, "the outage should have spooled decisions"
    assert counter(samples, "decision_sink", "replayed") == spooled
    assert counter(samples, "decision_sink", "failed") == 0
    print(f"store outage: {len(served)} pages, {len(logged)} logged, {spooled:.0f} spooled")
