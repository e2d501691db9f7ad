"""The visitor's own clock through the proxy (issue #12 item 6): a first page reads the configured
zone (UTC here); once a beacon reported the visitor's time zone and the profile took it, the next
pages' context — rule conditions and the bandit's features alike — is on the visitor's clock."""

from __future__ import annotations

import asyncio
import secrets
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import aiohttp
import orjson
import pytest

from proxy.records.decision import LoggedDecision
from proxy.store.client import Store
from proxy.store.connection import StoreSettings
from tests.integration.decision_stream import read_decision_log
from tests.integration.test_rules_applied import DESKTOP
from tests.proxy_fixtures import StartProxy

RULES = """
slots:
  - id: hero
    selector: "#hero"
    control: a
    policy: bandit
    bandit: {features: [device, hour, weekday]}
    governance: {sticky: page}
    variants:
      a: []
      b: [{op: set_text, selector: "#hero", value: "B"}]
"""
pytestmark = pytest.mark.rules_file("clock.yaml", RULES)
# +05:45 all year: its hour is never the UTC hour, so the two clocks cannot agree by chance
ZONE = "Asia/Kathmandu"


def clock_of(record: LoggedDecision, zone: str) -> tuple[int, str]:
    """What a wall clock in ``zone`` showed when the decision was made (hour, weekday)."""
    assert record.ts_ms is not None
    local = datetime.fromtimestamp(record.ts_ms / 1000, ZoneInfo(zone))
    return local.hour, local.strftime("%a").lower()


async def test_pages_after_the_beacon_use_the_visitors_time_zone(
    origin: str, start_proxy: StartProxy, rules_dir: Path, embedded_store_url: str
) -> None:
    prefix = f"t{secrets.token_hex(4)}:"
    proxy = await start_proxy(origin, rules=str(rules_dir), **{"store.key_prefix": prefix})
    store = Store(embedded_store_url, StoreSettings(key_prefix=prefix))
    beacon = {
        "v": 1,
        "page": "p_" + secrets.token_hex(6),
        "events": [
            {"id": "e_" + secrets.token_hex(6), "type": "pageview", "ts": 1, "url": "/page",
             "tz": ZONE},
        ],
    }  # fmt: skip
    try:
        async with aiohttp.ClientSession(
            cookie_jar=aiohttp.CookieJar(unsafe=True), headers={"User-Agent": DESKTOP}
        ) as client:

            async def page_view() -> LoggedDecision:
                async with client.get(proxy + "/page") as response:
                    assert response.status == 200
                decisions = [
                    r for r in await read_decision_log(store) if isinstance(r, LoggedDecision)
                ]
                return decisions[-1]

            first = await page_view()
            assert first.rule_context is not None and "tz" not in first.rule_context
            assert (first.rule_context["hour"], first.rule_context["weekday"]) == clock_of(
                first, "UTC"
            )

            async with client.post(
                proxy + "/__vernier/e",
                data=orjson.dumps(beacon),
                headers={"Content-Type": "text/plain"},
            ) as response:
                assert response.status == 202

            async with asyncio.timeout(20):  # the profile consumer applies the beacon meanwhile
                while True:
                    later = await page_view()
                    assert later.rule_context is not None
                    if later.rule_context.get("tz") == ZONE:
                        break
                    await asyncio.sleep(0.05)
    finally:
        await store.close()
    hour, weekday = clock_of(later, ZONE)
    assert (later.rule_context["hour"], later.rule_context["weekday"]) == (hour, weekday)
    assert hour != clock_of(later, "UTC")[0]
    assert f"h={hour}" in later.context["T"] and f"wd={weekday}" in later.context["T"]


async def test_a_first_page_uses_the_edges_time_zone_header(
    origin: str, start_proxy: StartProxy, rules_dir: Path, embedded_store_url: str
) -> None:
    """With ``context.time_zone_header`` configured, a first page view (no profile yet) is on
    the zone the edge names; the browser's own, once reported, wins (tests/rules/test_context)."""
    prefix = f"t{secrets.token_hex(4)}:"
    proxy = await start_proxy(
        origin,
        rules=str(rules_dir),
        **{"store.key_prefix": prefix, "context.time_zone_header": "X-Edge-Tz"},
    )
    store = Store(embedded_store_url, StoreSettings(key_prefix=prefix))
    try:
        async with aiohttp.ClientSession(
            headers={"User-Agent": DESKTOP, "X-Edge-Tz": ZONE}
        ) as client:
            async with client.get(proxy + "/page") as response:
                assert response.status == 200
        [first] = [r for r in await read_decision_log(store) if isinstance(r, LoggedDecision)]
    finally:
        await store.close()
    assert first.rule_context is not None and first.rule_context["tz"] == ZONE
    hour, weekday = clock_of(first, ZONE)
    assert (first.rule_context["hour"], first.rule_context["weekday"]) == (hour, weekday)
    assert f"h={hour}" in first.context["T"]
