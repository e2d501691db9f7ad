"""A rule on live slot metrics: the hero swaps to b only once the control's smoothed CTR over
the window has fallen below the threshold with enough impressions, through the real proxy (the
counting consumer, the metrics cache and the match stage)."""

from __future__ import annotations

import asyncio
import re
import secrets
import time
import uuid
from pathlib import Path

import aiohttp
import pytest

from proxy.records.event_record import EventRecord
from proxy.records.events import Click, Event, Impression
from proxy.store.client import Store
from proxy.store.connection import StoreSettings
from proxy.store.event_log import EventLog
from proxy.store.slot_metrics import read_slot_windows
from tests.integration.test_rules_applied import DESKTOP
from tests.proxy_fixtures import StartProxy

RULES = """
governance: {sticky: page}
slots:
  - id: hero
    selector: "#hero"
    control: a
    variants:
      a: []
      b: [{op: set_text, selector: "#hero", value: "Try this instead"}]
    pin:
      - when: "metric.hero.a.impressions_5m >= 200 and metric.hero.a.ctr_ema < 0.02"
        variant: b
"""
pytestmark = pytest.mark.rules_file("m.yaml", RULES)
MARK = re.compile(r'data-vernier-variant="(\w)"')


def visit_record(event: Event, *, page: str, session: str, now: int) -> EventRecord:
    return EventRecord(
        event=event, page=page, session=session, visitor=f"v-{session}", received_ms=now
    )


def records(n: int, *, clicks_every: int, now: int) -> list[EventRecord]:
    out = []
    for i in range(n):
        session, page = f"sess-{uuid.uuid4().hex[:12]}", f"page-{uuid.uuid4().hex[:12]}"
        seen = Impression(
            id=uuid.uuid4().hex[:16], ts=1, slot="hero", variant="a", decision="d" * 16
        )
        out.append(visit_record(seen, page=page, session=session, now=now))
        if clicks_every and i % clicks_every == 0:
            hit = Click(id=uuid.uuid4().hex[:16], ts=1, target="a", slot="hero", variant="a")
            out.append(visit_record(hit, page=page, session=session, now=now))
    return out


async def counted(store: Store, impressions: int) -> None:
    """Until the counting consumer has the control's ``impressions`` in the store (bounded)."""
    async with asyncio.timeout(10):
        while True:
            windows = await read_slot_windows(store, "hero", int(time.time() * 1000))
            seen = (
                sum(c.impressions for c in windows.counts.get("a", {}).values()) if windows else 0
            )
            if seen >= impressions:
                return
            await asyncio.sleep(0.05)


async def served(url: str) -> str:
    async with aiohttp.ClientSession() as client:
        async with client.get(url, headers={"User-Agent": DESKTOP}) as response:
            mark = MARK.search(await response.text())
    assert mark is not None
    return mark[1]


async def test_content_swaps_only_once_the_smoothed_ctr_crosses(
    origin: str, start_proxy: StartProxy, rules_dir: Path, embedded_store_url: str
) -> None:
    prefix = f"t{secrets.token_hex(4)}:"
    proxy = await start_proxy(origin, rules=str(rules_dir), **{"store.key_prefix": prefix})
    store = Store(embedded_store_url, StoreSettings(key_prefix=prefix, op_timeout_s=2.0))
    log = EventLog(store)
    try:
        # a healthy 10 % CTR on 300 impressions: the rule holds back
        # every event in one minute's bucket: the EMA smooths across minutes, and a test that
        # crossed a minute boundary would (rightly) need more than one bad minute to swap
        now = int(time.time() * 1000)
        appended = await log.append(records(300, clicks_every=10, now=now))
        assert appended is not None and appended > 300
        await counted(store, 300)
        # over the next two metric-cache refreshes (1 s each), every page keeps the control
        deadline = asyncio.get_running_loop().time() + 2.5
        while asyncio.get_running_loop().time() < deadline:
            assert await served(proxy + "/page") == "a"
        # the CTR collapses: 3,000 more impressions without a click bring the EMA under 2 %
        assert await log.append(records(3000, clicks_every=0, now=now)) == 3000
        async with asyncio.timeout(15):
            while True:
                if await served(proxy + "/page") == "b":
                    break
                await asyncio.sleep(0.2)
    finally:
        await store.close()
