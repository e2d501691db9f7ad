"""Named segments end to end: a visitor's real beacons (collector, profile consumer) put them in
a segment, the next page serves that segment's content, and each logged decision carries the
visitor's segments and results covariate as of their first exposure to the slot."""

from __future__ import annotations

import asyncio
import secrets
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest

from proxy.records.decision import LoggedDecision
from proxy.store.client import Store
from proxy.store.connection import StoreSettings
from tests.integration.decision_stream import read_decision_log
from tests.proxy_fixtures import StartProxy

RULES = """
segments:
  - id: reader
    description: reads the blog to the end
    when: "max_scroll.blog >= 0.8 and interest.blog > 0.5"
slots:
  - id: hero
    selector: "#hero"
    control: a
    mode: log-only
    governance: {sticky: page}
    variants:
      a: []
      b: [{op: set_text, selector: "#hero", value: "Hello, reader"}]
    pin: [{when: "segment == 'reader'", variant: b}]
  - id: body
    selector: "p"
    where: {query: {second: "1"}}
    control: a
    mode: log-only
    governance: {sticky: page}
    variants:
      a: []
      b: [{op: set_text, selector: "p", value: "More posts for you."}]
    pin: [{when: "'reader' in segments", variant: b}]
"""
pytestmark = pytest.mark.rules_file("segments.yaml", RULES)


async def page(client: aiohttp.ClientSession, url: str) -> str:
    async with client.get(url) as response:
        assert response.status == 200
        return await response.text()


async def profile_until(client: aiohttp.ClientSession, proxy: str, field: str) -> dict[str, Any]:
    """The visitor's profile once the profile consumer has written ``field``."""
    async with asyncio.timeout(10):
        while True:
            async with client.get(proxy + "/__vernier/me") as response:
                profile: dict[str, Any] = (await response.json())["profile"]
            if field in profile:
                return profile
            await asyncio.sleep(0.05)


async def test_beacons_put_the_visitor_in_a_segment_and_the_next_page_shows_it(
    origin: str, start_proxy: StartProxy, rules_dir: Path, embedded_store_url: str
) -> None:
    prefix = f"t{secrets.token_hex(4)}:"
    proxy = await start_proxy(origin, rules=str(rules_dir), **{"store.key_prefix": prefix})
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as client:
        assert 'data-vernier-variant="a" data-vernier-decision' in await page(
            client, proxy + "/page"
        )
        first = await profile_until(client, proxy, "segments_at:hero")  # frozen: in no segment
        assert first["cluster_at:hero"] == ""  # in the same write: no learned segment (no model)
        assert first["covariate_at:hero"] == "0.0"  # no visits before the first exposure
        ts = 1_732_250_000_000
        beacon = {
            "v": 1,
            "page": "p_blog000001",
            "events": [
                {"id": "e_seg0000001", "type": "pageview", "ts": ts, "url": "/blog/long-read"},
                {"id": "e_seg0000002", "type": "scroll", "ts": ts, "depth": 0.95},
                {"id": "e_seg0000003", "type": "engaged", "ts": ts, "ms": 240_000},
            ],
        }
        async with client.post(
            proxy + "/__vernier/e",
            data=orjson.dumps(beacon),
            headers={"Content-Type": "text/plain"},
        ) as response:
            assert response.status == 202
        profile = await profile_until(client, proxy, "interest:blog")
        assert float(profile["interest:blog"]) == 1.0
        served = await page(client, proxy + "/page?second=1")
        async with client.get(proxy + "/__vernier/me") as response:
            mine = await response.json()
    assert "Hello, reader" in served
    # what the visitor is shown of their data: the segments recorded, the variants held
    assert mine["segments"] == ["reader"] and mine["available"] is True
    assert "More posts for you." in served

    store = Store(embedded_store_url, StoreSettings(key_prefix=prefix))
    try:
        logged = [r for r in await read_decision_log(store) if isinstance(r, LoggedDecision)]
    finally:
        await store.close()
    seen = [(d.slot, d.chosen, d.segments) for d in logged]
    assert [d.cluster for d in logged] == ["", "", ""]
    # hero: first seen outside any segment, and analysed that way for good; body: first seen
    # as a reader
    assert seen == [("hero", "a", ()), ("hero", "b", ()), ("body", "b", ("reader",))]
    assert mine["sticky"] == {}  # both slots are sticky per page: the session holds nothing
    assert logged[1].rule_context is not None and logged[1].rule_context["segment"] == "reader"
    # CUPED's covariate: hero keeps the value of its first exposure although the visitor has
    # visited since; body, first shown now, logs today's
    later = [d.rule_context or {} for d in logged[1:]]
    visits = later[0]["visits_30d"]
    assert isinstance(visits, int) and visits >= 1 and later[1]["visits_30d"] == visits
    assert [d.covariate for d in logged] == [0.0, 0.0, float(visits)]
