"""The guardrail through the proxy: decisions asked over HTTP, rewards posted over HTTP, joined by
the embedded learner. In one run an A/A slot is never paused and a harmful variant is, with the
numbers that made it; ``guardrail: off`` keeps an equally harmful variant serving."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest

from proxy.store.client import Store
from proxy.store.connection import StoreSettings
from tests.integration.report_runs import SLOW_MACHINE, post_api
from tests.proxy_fixtures import StartProxy
from tests.waiting import until

TOKEN = "guard-token-0123456789abcdef"
SLOT = """
  - id: {id}
    selector: "#{id}"
    control: a
    policy: bandit
    bandit: {{explorer: {{type: epsilon, epsilon: 1.0}}}}
    reward: {{window_s: 1}}
    guardrail: {guardrail}
    variants: {{a: [], b: [{{op: hide, selector: p}}], c: [{{op: hide, selector: h1}}]}}
"""
RULES = "slots:" + "".join(
    SLOT.format(id=slot, guardrail=guardrail)
    for slot, guardrail in (("same", "on"), ("harm", "on"), ("unguarded", "off"))
)
pytestmark = pytest.mark.rules_file("guard.yaml", RULES)
VISITORS = 150
# P(reward) per variant, as a deterministic pattern per visitor: "same" clicks every other
# visitor whatever it serves; "harm" and "unguarded" always reward a and c, never b
REWARD: dict[str, Callable[[int, str], float]] = {
    "same": lambda i, variant: float(i % 2 == 0),
    "harm": lambda i, variant: float(variant != "b"),
    "unguarded": lambda i, variant: float(variant != "b"),
}


async def test_aa_slot_is_never_paused_and_a_harmful_variant_is(
    origin: str, start_proxy: StartProxy, rules_dir: Path, embedded_store_url: str, tmp_path: Path
) -> None:
    prefix = f"t{secrets.token_hex(4)}:"
    proxy = await start_proxy(
        origin,
        rules=str(rules_dir),
        **{"admin.token": TOKEN, "store.key_prefix": prefix, **SLOW_MACHINE},
    )
    served: dict[str, int] = {}
    async with aiohttp.ClientSession() as client:
        for i in range(VISITORS):
            for slot in REWARD:
                ask = {"slot": slot, "session": f"visitor-{i}", "context": {"device": "desktop"}}
                decision = await post_api(client, proxy + "/__vernier/api/decide", ask, TOKEN)
                if decision["reason"] != "bandit":
                    continue  # paused: the control, not an example
                served[slot] = served.get(slot, 0) + 1
                reward = {"decision": decision["decision"],
                          "reward": REWARD[slot](i, decision["variant"])}  # fmt: skip
                await post_api(client, proxy + "/__vernier/api/reward", reward, TOKEN)
    store = Store(embedded_store_url, StoreSettings(key_prefix=prefix))

    async def control() -> dict[str, dict[str, Any]]:
        async def read(client: Any) -> dict[bytes, bytes]:
            return dict(await client.hgetall(store.keys.control_key()))

        fields: dict[bytes, bytes] = await store.run(read, default={})
        return {k.decode(): orjson.loads(v) for k, v in fields.items()}

    log = tmp_path / "decisions.jsonl"

    async def all_joined() -> bool:
        lines = log.read_bytes().count(b"\n") if log.exists() else 0
        return lines >= sum(served.values())

    try:
        await until(all_joined, "every served decision judged by the learner", 30.0)
        pauses = await control()
    finally:
        await store.close()
    assert set(pauses) == {"variant:harm:b"}, pauses
    pause = pauses["variant:harm:b"]
    assert pause["by"] == "guardrail"
    assert pause["why"].startswith(
        "where it was served, b earned 0 per decision against the control's 1 there"
    )
    assert "always-valid test at 0.0005" in pause["why"]
