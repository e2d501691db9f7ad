"""Slots through the proxy: the decided variant, the markup contract (docs/design.md §5), triggers,
the admin debug header, and rules that fail being served around."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import aiohttp
import orjson
import pytest

from tests.integration.origin_app import PAGE
from tests.integration.test_rules_applied import DESKTOP, IPHONE, without_tracker
from tests.proxy_fixtures import StartProxy

TOKEN = "debug-token-0123456789"
RULES = """
slots:
  - id: hero
    selector: "#hero"
    where: {paths: ["/page"]}
    control: a
    variants:
      a: []
      b: [{op: set_text, selector: "#hero", value: "Hi, phone"}]
      c: [{op: set_text, selector: "#hero", value: "Still there?"}]
    pin:
      - {when: "device == 'mobile'", variant: b}
    triggers:
      - {id: idle, variant: c, after_s: 20, max_scroll: 0.25}
"""
pytestmark = pytest.mark.rules_file("slots.yaml", RULES)
MARK = re.compile(
    rb'<h1 id=hero data-vernier-slot="hero" data-vernier-variant="(\w)" '
    rb'data-vernier-decision="([\w-]{16})">'
)


async def get(
    client: aiohttp.ClientSession, url: str, **headers: str
) -> tuple[bytes, Mapping[str, str]]:
    async with client.get(url, headers=headers) as response:
        assert response.status == 200
        return await response.read(), response.headers


async def test_the_decided_variant_is_served_and_marked(
    origin: str, start_proxy: StartProxy, rules_dir: Path
) -> None:
    proxy = await start_proxy(origin, rules=str(rules_dir))
    async with aiohttp.ClientSession() as client:
        desktop, headers = await get(client, proxy + "/page", **{"User-Agent": DESKTOP})
        mobile, _ = await get(client, proxy + "/page", **{"User-Agent": IPHONE})
        again, _ = await get(client, proxy + "/page", **{"User-Agent": DESKTOP})
    desktop_mark, mobile_mark, again_mark = (MARK.search(b) for b in (desktop, mobile, again))
    assert desktop_mark and mobile_mark and again_mark
    assert desktop_mark[1] == b"a" and mobile_mark[1] == b"b"
    assert len({desktop_mark[2], mobile_mark[2], again_mark[2]}) == 3  # one decision per view
    assert b">Hi, phone</h1>" in mobile
    # the control shows the page as it was, plus the mark and the triggered variant's template
    page = without_tracker(desktop)
    template = re.search(rb"<template data-vernier-trigger=.*?</template>", page)
    assert template is not None
    assert page.replace(template[0], b"") == PAGE.replace(b"<h1 id=hero>", desktop_mark[0])
    assert b'data-vernier-variant="c"' in template[0] and b"Still there?</h1>" in template[0]
    assert headers["Cache-Control"].startswith("private")  # decision ids are per page view
    assert "Cookie" in headers["Vary"]
    assert b"data-vernier-trigger" not in mobile  # triggers are offered from the control only


async def test_admins_see_why_with_the_debug_header(
    origin: str, start_proxy: StartProxy, rules_dir: Path
) -> None:
    settings = {"admin.token": TOKEN, "context.time_zone_header": "X-Edge-Tz"}
    proxy = await start_proxy(origin, rules=str(rules_dir), **settings)
    zone = ZoneInfo("Asia/Kathmandu")
    async with aiohttp.ClientSession() as client:
        before = datetime.now(zone).hour
        body, headers = await get(
            client,
            proxy + "/page",
            **{"User-Agent": IPHONE, "X-Vernier-Debug": TOKEN, "X-Edge-Tz": "Asia/Kathmandu"},
        )
        after = datetime.now(zone).hour
        _, anonymous = await get(client, proxy + "/page", **{"X-Vernier-Debug": "wrong" * 4})
        echoed, _ = await get(client, proxy + "/echo", **{"X-Vernier-Debug": TOKEN})
    report = orjson.loads(headers["X-Vernier-Debug"])
    mark = MARK.search(body)
    assert mark is not None
    assert (
        report["rules"] == [] and report["changed"] is True and len(report["rules_version"]) == 16
    )
    assert report["slots"] == [
        {
            "slot": "hero",
            "variant": "b",
            "reason": "rule",
            "probability": 1.0,
            "decision": mark[2].decode(),
            "triggers": [],
        }
    ]
    assert report["time_zone"] == "Asia/Kathmandu" and report["hour"] in (before, after)
    assert "X-Vernier-Debug" not in anonymous
    sent = {name.lower() for name, _ in orjson.loads(echoed)["headers"]}
    assert "x-vernier-debug" not in sent  # the token never reaches the origin


async def test_a_rule_that_keeps_failing_is_skipped(
    origin: str,
    start_proxy: StartProxy,
    rules_dir: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # a budget no rewrite can meet: every page is the origin's (with the tracker: it needs only
    # the insertion point), and the slot's breaker opens
    proxy = await start_proxy(
        origin, rules=str(rules_dir), **{"admin.token": TOKEN, "html.budget_ms": 0.000001}
    )
    reports = []
    async with aiohttp.ClientSession() as client:
        for _ in range(6):
            body, headers = await get(client, proxy + "/page", **{"X-Vernier-Debug": TOKEN})
            assert without_tracker(body) == PAGE and body.count(b"/__vernier/t.js") == 1
            reports.append(orjson.loads(headers["X-Vernier-Debug"]))
    assert [r["fail_open"] for r in reports[:5]] == ["rewrite: TimeoutError"] * 5
    assert [r["slots"] for r in reports] == [[]] * 6  # none served; then skipped (breaker)
    assert "rule breaker opened: hero failed 5 times" in caplog.text
    over_budget = [r for r in caplog.records if "over html.budget_ms" in r.getMessage()]
    assert len(over_budget) == 1  # one line a minute, not one per page


async def test_unknown_rules_path_ok_and_no_rules_means_no_mark(
    origin: str, start_proxy: StartProxy
) -> None:
    proxy = await start_proxy(origin)
    async with aiohttp.ClientSession() as client:
        body, headers = await get(client, proxy + "/page")
    assert without_tracker(body) == PAGE
    assert "Cookie" not in headers.get("Vary", "")  # nothing here depends on who asks
