"""A dashboard on loopback over a real redis-server, with a split slot and a rule, and helpers to
put known results and live counts into the store."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiohttp import web

from proxy.dashboard.handler import Dashboard
from proxy.records.results_buckets import Tally, hour_of
from proxy.records.slot_counts import minute_of
from proxy.rules.engine import FixedRules, RuleEngine
from proxy.rules.load import load_rules
from proxy.store.client import Store
from proxy.store.connection import StoreSettings
from proxy.store.results import fold
from proxy.store.slot_metrics import Increment, count
from tests.proxy_fixtures import serve_app
from tests.redis_server import RedisServerProcess

TOKEN = "dashboard-test-token-0123456789"
RULES = """
rules:
  - id: greeting
    where: {paths: ["/page"]}
    then: [{op: set_text, selector: "p", value: "Greetings"}]
  - id: measured
    holdout: 20
    then: [{op: hide, selector: ".banner"}]
slots:
  - id: hero
    selector: "#hero"
    control: a
    policy: split
    split: {a: 50, b: 50}
    variants:
      a: []
      b: [{op: set_text, selector: "#hero", value: "B"}]
"""
# per variant: decisions, exposures, clicks folded into the current hour
RESULTS = {"a": (120, 100, 10), "b": (118, 100, 20)}
HOLDOUT_RESULTS = {"holdout": 7, "applied": 33}  # the holdout rule's page views per arm


@dataclass
class Running:
    url: str
    store: Store
    server: RedisServerProcess
    decision_log: Path  # read per slot page; not written until a test writes it


async def put_results(store: Store, now_ms: int) -> None:
    hour = hour_of(now_ms)
    tallies = []
    for variant, (decisions, exposures, clicks) in RESULTS.items():
        adds = (
            (f"{variant}|decisions", float(decisions)),
            (f"{variant}|exposures", float(exposures)),
            (f"{variant}|clicks", float(clicks)),
        )
        tallies.append(Tally("hero", hour, f"m-{variant}", adds, (variant, f"v-{variant}")))
    for arm, pages in HOLDOUT_RESULTS.items():
        views = ((f"{arm}|decisions", float(pages)), (f"{arm}|exposures", float(pages)))
        tallies.append(Tally("measured", hour, f"r-{arm}", views, (arm, f"v-{arm}")))
    assert await fold(store, tallies, ttl_s=3600) is not None


async def put_live(store: Store, now_ms: int, impressions: int = 30) -> None:
    minute = minute_of(now_ms) - 1  # a whole minute: the live chart leaves out the current one
    increments = [
        Increment("hero", variant, "impressions", minute, f"{variant}-{i}")
        for variant in ("a", "b")
        for i in range(impressions)
    ]
    assert await count(store, increments) == len(increments)


@pytest.fixture
async def dashboard(redis_server: RedisServerProcess, tmp_path: Path) -> AsyncIterator[Running]:
    rules_file = tmp_path / "rules.yaml"
    rules_file.write_text(RULES)
    store = Store(redis_server.url, StoreSettings(op_timeout_s=2.0))
    decision_log = tmp_path / "decisions.jsonl"
    handler = Dashboard(
        FixedRules(RuleEngine.build(load_rules(rules_file))),
        store,
        TOKEN,
        retention_days=90,
        decision_log=decision_log,
    )

    async def handle(request: web.Request) -> web.StreamResponse:
        if handler.handles(request.path):
            return await handler.handle(request)
        return web.Response(status=404, text="not the dashboard")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    now_ms = int(time.time() * 1000)
    await put_results(store, now_ms)
    await put_live(store, now_ms)
    try:
        async with serve_app(app) as url:
            yield Running(url + "/__vernier/admin/", store, redis_server, decision_log)
    finally:
        await store.close()
