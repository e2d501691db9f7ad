"""Under overload a worker sheds decisions and rewriting, then the tag, never the page, and is
back to normal as soon as the pressure is gone (issue #17, docs/overload.md)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

import aiohttp
import pytest

from proxy.govern.overload import Shed
from proxy.resources import LOAD, METRICS
from tests.integration.origin_app import PAGE
from tests.integration.test_slots_applied import MARK, RULES, get
from tests.proxy_fixtures import STARTED_APPS, StartProxy

pytestmark = pytest.mark.rules_file("slots.yaml", RULES)
TAG = b"/__vernier/t.js"


async def until(condition: Callable[[], bool], what: str, timeout_s: float = 15.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"not within {timeout_s} s: {what}")
        await asyncio.sleep(0.01)


async def test_a_lagging_loop_sheds_changes_then_the_tag_and_recovers_at_once(
    origin: str, start_proxy: StartProxy, rules_dir: Path
) -> None:
    proxy = await start_proxy(
        origin,
        rules=str(rules_dir),
        **{
            "overload.shed_changes_lag_ms": 100.0,
            "overload.shed_tag_lag_ms": 400.0,
            "overload.sample_ms": 10.0,
            "overload.window_s": 2.0,
        },
    )
    app = STARTED_APPS[-1]
    load, metrics = app[LOAD], app[METRICS]
    async with aiohttp.ClientSession() as client:
        # a busy machine can lag a starting proxy's loop past 100 ms: start from a settled one
        await until(lambda: load.level() is Shed.NOTHING, "a settled loop")
        normal, _ = await get(client, proxy + "/page")
        assert MARK.search(normal) and TAG in normal

        for lag_s, level in ((0.2, Shed.CHANGES), (0.6, Shed.TAG)):
            # a loop that stays this late (the gauge's measurement has its own test): samples
            # enough to outvote the real ones, and the previous level's, for the whole window
            for _ in range(1000 * level.value):
                load.record_lag(lag_s)
            assert load.level() is level
            body, _ = await get(client, proxy + "/page")
            assert MARK.search(body) is None  # no decision, no rewrite
            if level is Shed.CHANGES:
                assert TAG in body  # the origin's bytes with the tag: visits still count
            else:
                assert body == PAGE  # exactly the origin's bytes, never an error

        await until(lambda: load.level() is Shed.NOTHING, "recovery")
        again, _ = await get(client, proxy + "/page")
        assert MARK.search(again) and TAG in again
    assert metrics.shed.labels("changes")._value.get() == 1
    assert metrics.shed.labels("tag")._value.get() == 1
