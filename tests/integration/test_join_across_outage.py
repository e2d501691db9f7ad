"""No seen decision lost from the reward join across a store outage: new visitors load a page
with a bandit slot (a 1 s reward window, as ``vernier simulate``'s) and send its impression while
redis-server is killed and restarted; both spools replay, and the learner joins every decision
served into decisions.jsonl.

The two spools replay on their own schedules (and, with several workers, in other processes), so
the learner may read a replayed decision before its replayed impression. The test makes that
order certain: the event spool's replay waits until the learner has read every decision and its
clock has passed their deadlines."""

from __future__ import annotations

import asyncio
import itertools
import time
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest

from proxy.bandit.join import Counts
from proxy.bandit.learner import DECISIONS_FILE, Learner
from proxy.evaluate.log import read_log
from proxy.resources import DECISION_SINK, EVENT_SINK, RULES
from proxy.store.client import Store
from proxy.tracker.spool import EventSpool
from tests import proxy_fixtures
from tests.integration.test_bandit_applied import MARK
from tests.integration.test_decisions_durable import store_outage
from tests.integration.test_rules_applied import DESKTOP
from tests.proxy_fixtures import StartProxy
from tests.redis_server import RELAXED_STORE, RedisServerProcess
from tests.waiting import until

RULES_TEXT = """
slots:
  - id: hero
    selector: "#hero"
    control: a
    policy: bandit
    bandit: {explorer: {type: epsilon, epsilon: 0.1}, features: [device]}
    variants:
      a: []
      b: [{op: set_text, selector: "#hero", value: "B"}]
    reward: {window_s: 1, click: 1}
"""
pytestmark = pytest.mark.rules_file("bandit.yaml", RULES_TEXT)
# the outage's schedule (not a wait for a condition): the store is killed 1 s into the load and
# restarted 3 s later (longer than the reward window); the load goes on for 1 s after
KILL_AFTER_S, DOWN_FOR_S, LOAD_AFTER_S = 1.0, 3.0, 1.0
GRACE_MS = 30_000
_event_ids = itertools.count()


async def visit(proxy: str) -> str:
    """A new visitor: the page, then a beacon with the slot's impression; the decision id."""
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as client:
        async with client.get(proxy + "/page", headers={"User-Agent": DESKTOP}) as response:
            assert response.status == 200
            body = await response.text()
        mark = MARK.search(body)
        assert mark is not None, "the slot was not served"
        variant, decision = mark[1], mark[2]
        impression = {
            "id": f"e_impression{next(_event_ids):08d}",
            "type": "impression",
            "ts": 1_732_250_000_000,
            "slot": "hero",
            "variant": variant,
            "decision": decision,
        }
        beacon = orjson.dumps({"v": 1, "page": f"p_{decision}", "events": [impression]})
        headers = {"Content-Type": "text/plain", "User-Agent": DESKTOP}
        async with client.post(proxy + "/__vernier/e", data=beacon, headers=headers) as response:
            assert response.status == 202, await response.text()
    return decision


async def new_visitors(
    proxy: str, restarted: asyncio.Event, first_page: asyncio.Event
) -> list[str]:
    served: list[str] = []
    loop = asyncio.get_running_loop()
    done_at: list[float] = []

    async def visitor() -> None:
        while not done_at or loop.time() < done_at[0]:
            served.append(await visit(proxy))
            first_page.set()
            if restarted.is_set() and not done_at:
                done_at.append(loop.time() + LOAD_AFTER_S)

    await asyncio.gather(*(visitor() for _ in range(4)))
    return served


def hold_replay(spool: EventSpool) -> asyncio.Event:
    """Make ``spool``'s replays wait until the event returned is set."""
    held = asyncio.Event()
    replay = spool.replay

    async def held_replay(*args: Any, **kwargs: Any) -> int:
        await held.wait()
        return await replay(*args, **kwargs)

    spool.replay = held_replay  # type: ignore[method-assign]
    return held


async def test_every_seen_decision_is_joined_across_a_store_kill(
    origin: str,
    start_proxy: StartProxy,
    rules_dir: Path,
    redis_server: RedisServerProcess,
    tmp_path: Path,
) -> None:
    proxy = await start_proxy(
        origin,
        store_url=redis_server.url,
        rules=str(rules_dir),
        **{
            "store.url": redis_server.url,  # a shared store: the learner is this test's
            "store.breaker_open_s": 1.0,
            "intake.address_events_per_min": 1_000_000,
        },
    )
    app = proxy_fixtures.STARTED_APPS[-1]
    store = Store(redis_server.url, RELAXED_STORE)
    learner = Learner(
        store, app[RULES], tmp_path / "learner", block_ms=50, retry_s=0.05, max_retry_s=0.2
    )
    # the grace an unseen decision waits after its deadline, shortened from 2 minutes so the
    # test ends sooner: the event spool replays within seconds of the learner passing deadlines
    learner.state.unseen_grace_ms = GRACE_MS
    events_held = hold_replay(app[EVENT_SINK].spool)
    stop = asyncio.Event()
    learning = asyncio.create_task(learner.run(stop), name="test-learner")
    first_page, restarted = asyncio.Event(), asyncio.Event()
    outage = store_outage(redis_server, first_page, restarted, KILL_AFTER_S, DOWN_FOR_S)

    try:
        async with asyncio.timeout(60):
            served, _ = await asyncio.gather(new_visitors(proxy, restarted, first_page), outage)
        last_deadline_ms = int(time.time() * 1000) + 1000
        counts: Counts = learner.state.counts

        def past_deadlines() -> bool:
            clock_ms = learner.core.watermark_ms - learner.core.settle_ms
            return counts.decisions >= len(served) and clock_ms > last_deadline_ms

        await until(past_deadlines, "the learner to read every decision past its deadline", 60)
        events_held.set()

        def finished() -> bool:
            return counts.examples + counts.unseen + counts.bots >= len(served)

        await until(finished, "every decision served to finish its reward window", 60)
    finally:
        events_held.set()
        stop.set()
        async with asyncio.timeout(15):
            await learning
        await store.close()
    path = tmp_path / "learner" / DECISIONS_FILE
    joined = [r.id for r in read_log(path.read_bytes().splitlines(), source=str(path))]
    spooled = app[DECISION_SINK].spooled, app[EVENT_SINK].spooled
    print(f"{len(served)} served, {len(set(joined))} joined, spooled {spooled}, {counts}")
    assert app[DECISION_SINK].spooled > 0 and app[EVENT_SINK].spooled > 0
    assert counts.unseen == 0 and counts.early_dropped == 0
    assert sorted(set(joined)) == sorted(served)
