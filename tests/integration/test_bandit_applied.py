"""A bandit slot through the proxy: the model's draw is served and logged with its probability,
a published snapshot is picked up by the running proxy, and bots are never explored on."""

from __future__ import annotations

import asyncio
import re
import secrets
import time
from pathlib import Path

import aiohttp
import orjson
import pytest

from proxy.bandit.model import BanditModel
from proxy.bandit.snapshot import make_snapshot
from proxy.records.decision import LoggedDecision
from proxy.rules import load_rules
from proxy.store import models
from proxy.store.client import Store
from proxy.store.connection import StoreSettings
from tests.integration.decision_stream import read_decision_log
from tests.integration.test_rules_applied import DESKTOP
from tests.proxy_fixtures import StartProxy

TOKEN = "debug-token-0123456789"
RULES = """
slots:
  - id: hero
    selector: "#hero"
    control: a
    policy: bandit
    bandit: {explorer: {type: epsilon, epsilon: 0.1}, features: [device, referrer]}
    variants:
      a: []
      b: [{op: set_text, selector: "#hero", value: "B"}]
      c: [{op: set_text, selector: "#hero", value: "C"}]
"""
pytestmark = pytest.mark.rules_file("bandit.yaml", RULES)
MARK = re.compile(r'data-vernier-variant="(\w)" data-vernier-decision="([\w-]+)"')
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"


async def fresh_visit(url: str, **headers: str) -> tuple[str, dict[str, object]]:
    async with aiohttp.ClientSession() as client:
        sent = {"User-Agent": DESKTOP, "X-Vernier-Debug": TOKEN, **headers}
        async with client.get(url, headers=sent) as response:
            body = await response.text()
            report = orjson.loads(response.headers["X-Vernier-Debug"])
    mark = MARK.search(body)
    assert mark is not None
    [slot] = report["slots"]
    assert slot["decision"] == mark[2] and slot["variant"] == mark[1]
    return mark[1], slot


async def test_the_bandit_decides_logs_and_picks_up_a_published_model(
    origin: str, start_proxy: StartProxy, rules_dir: Path, embedded_store_url: str
) -> None:
    prefix = f"t{secrets.token_hex(4)}:"
    proxy = await start_proxy(
        origin, rules=str(rules_dir), **{"admin.token": TOKEN, "store.key_prefix": prefix}
    )
    variant, slot = await fresh_visit(proxy + "/page")
    assert slot["reason"] == "bandit" and 0 < float(str(slot["probability"])) <= 1
    store = Store(embedded_store_url, StoreSettings(key_prefix=prefix))
    try:
        [record] = await read_decision_log(store)
        assert isinstance(record, LoggedDecision)
        assert record.id == slot["decision"] and record.chosen == variant
        assert record.actions == ("a", "b", "c") and record.reason == "bandit"
        assert record.pmf is not None and abs(sum(record.pmf) - 1) < 1e-3
        assert record.model_version is not None and record.model_version.endswith("/0")

        # a model that learned c is best: published, the running proxy serves it within seconds
        # (past the policy's uniform start, until which every draw is uniform)
        hero = load_rules(rules_dir).slots[0]
        learner = hero.learner
        assert learner is not None
        model = BanditModel(learner.policy)
        shared = {"D": ["dev=desktop"], "R": ["ref=direct"]}
        for i in range(learner.policy.uniform_first + 300):
            chosen = i % 3
            model.learn(
                shared, learner.actions, chosen, reward=float(chosen == 2), probability=1 / 3
            )
        snapshot = make_snapshot(
            model,
            learner.actions,
            slot="hero",
            model_version=7,
            feature_space=learner.feature_space,
            created_at_ms=int(time.time() * 1000),
        )
        assert await models.publish(store, snapshot)
        async with asyncio.timeout(10):
            while True:
                picks = [await fresh_visit(proxy + "/page") for _ in range(10)]
                if sum(v == "c" for v, _ in picks) >= 7:
                    break
                await asyncio.sleep(0.5)
    finally:
        await store.close()
    bot_variant, bot_slot = await fresh_visit(proxy + "/page", **{"User-Agent": GOOGLEBOT})
    assert (bot_variant, bot_slot["reason"]) == ("a", "default")


async def test_a_restarted_proxy_decides_with_the_learned_model(
    origin: str, start_proxy: StartProxy, rules_dir: Path, embedded_store_url: str
) -> None:
    prefix = f"t{secrets.token_hex(4)}:"
    settings = {"admin.token": TOKEN, "store.key_prefix": prefix}
    store = Store(embedded_store_url, StoreSettings(key_prefix=prefix))
    try:
        learner = load_rules(rules_dir).slots[0].learner
        assert learner is not None
        model = BanditModel(learner.policy)
        snapshot = make_snapshot(
            model,
            learner.actions,
            slot="hero",
            model_version=3,
            feature_space=learner.feature_space,
            created_at_ms=int(time.time() * 1000),
        )
        assert await models.publish(store, snapshot)  # what a learner left before the restart
        proxy = await start_proxy(origin, rules=str(rules_dir), **settings)  # a fresh process
        _, slot = await fresh_visit(proxy + "/page")
        records = await read_decision_log(store)
    finally:
        await store.close()
    [record] = [r for r in records if isinstance(r, LoggedDecision) and r.id == slot["decision"]]
    assert record.model_version == f"{learner.feature_space}/3"
