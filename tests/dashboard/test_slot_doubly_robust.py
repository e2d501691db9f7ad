"""A bandit slot's page shows the report's doubly robust values, from the examples the learner
keeps in a real store (read with the configured limit)."""

from __future__ import annotations

import time
from pathlib import Path

import aiohttp
import msgspec
from aiohttp import web

from proxy.dashboard.handler import Dashboard
from proxy.records.results_buckets import Tally, hour_of
from proxy.rules.engine import FixedRules, RuleEngine
from proxy.rules.load import load_rules
from proxy.store.client import Store
from proxy.store.connection import StoreSettings
from proxy.store.joined_examples import keep_examples
from proxy.store.results import fold
from tests.dashboard.conftest import TOKEN
from tests.dashboard.test_handler import client, sign_in
from tests.integration.test_report_doubly_robust import RULES
from tests.proxy_fixtures import serve_app
from tests.redis_server import RedisServerProcess
from tests.results.test_doubly_robust import TINY

__all__ = ["client"]  # the fixture, shared with test_handler


async def test_a_bandit_slots_page_shows_dr_of_variants_and_policies(
    redis_server: RedisServerProcess, tmp_path: Path, client: aiohttp.ClientSession
) -> None:
    rules_file = tmp_path / "rules.yaml"
    rules_file.write_text(RULES)
    store = Store(redis_server.url, StoreSettings(op_timeout_s=2.0))
    now_ms = int(time.time() * 1000)
    recent = [msgspec.structs.replace(r, ts_ms=now_ms - 1000 + i) for i, r in enumerate(TINY)]
    decided = Tally("hero", hour_of(now_ms), "d:1", (("a|decisions", 1.0),))
    handler = Dashboard(
        FixedRules(RuleEngine.build(load_rules(rules_file))),
        store,
        TOKEN,
        retention_days=90,
        examples_limit=100,
    )

    async def handle(request: web.Request) -> web.StreamResponse:
        return await handler.handle(request)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    try:
        assert await fold(store, [decided], ttl_s=3600) is not None
        assert await keep_examples(store, recent, kept=100, ttl_s=3600)
        async with serve_app(app) as url:
            base = url + "/__vernier/admin/"
            await sign_in(client, base)
            async with client.get(base + "slots/hero?since=24h") as response:
                assert response.status == 200
                page = await response.text()
    finally:
        await store.close()
    assert "Doubly robust values from 12 joined decisions (at most 100;" in page
    for row in ("always a", "always c", "served", "model", "uniform", "control (a)", "rules"):
        assert f"<td>{row}</td>" in page
