"""POST /__vernier/api/decide and /api/reward: the same decisions as pages, for apps and
server code that pass their own session ids."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from proxy.records.decision import LoggedDecision, RewardNote
from proxy.store.client import Store
from proxy.store.connection import StoreSettings
from tests.integration.decision_stream import read_decision_log
from tests.integration.report_runs import SLOW_MACHINE
from tests.proxy_fixtures import StartProxy

TOKEN = "api-token-0123456789abcdef"
RULES = """
slots:
  - id: hero
    selector: "#hero"
    control: a
    policy: bandit
    variants: {a: [], b: [{op: hide, selector: p}]}
    pin: [{when: "device == 'mobile'", variant: b}]
"""
pytestmark = pytest.mark.rules_file("api.yaml", RULES)
AUTH = {"Authorization": f"Bearer {TOKEN}"}


async def post(url: str, body: Any, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as client:
        kwargs: dict[str, Any] = {"data": body} if isinstance(body, bytes) else {"json": body}
        async with client.post(url, headers=headers or AUTH, **kwargs) as response:
            text = await response.text()
            is_json = response.content_type == "application/json"
            return response.status, (await response.json()) if is_json and text else text


async def test_decide_and_reward(
    origin: str, start_proxy: StartProxy, rules_dir: Path, embedded_store_url: str
) -> None:
    prefix = f"t{secrets.token_hex(4)}:"
    proxy = await start_proxy(
        origin,
        rules=str(rules_dir),
        **{"admin.token": TOKEN, "store.key_prefix": prefix, **SLOW_MACHINE},
    )
    ask = {"slot": "hero", "session": "app-session-1", "context": {"device": "desktop"}}
    status, first = await post(proxy + "/__vernier/api/decide", ask)
    assert status == 200 and first["reason"] == "bandit" and first["variant"] in ("a", "b")
    assert 0 < first["probability"] <= 1
    status, again = await post(proxy + "/__vernier/api/decide", ask)
    assert (again["decision"], again["reason"]) == (first["decision"], "sticky")
    mobile = {"slot": "hero", "session": "app-session-2", "context": {"device": "mobile"}}
    status, pinned = await post(proxy + "/__vernier/api/decide", mobile)
    assert (pinned["variant"], pinned["reason"], pinned["probability"]) == ("b", "rule", 1.0)
    reward = {"decision": first["decision"], "reward": 1.0}
    assert (await post(proxy + "/__vernier/api/reward", reward))[0] == 202

    store = Store(embedded_store_url, StoreSettings(key_prefix=prefix))
    try:
        logged = await read_decision_log(store)
    finally:
        await store.close()
    decisions = [r for r in logged if isinstance(r, LoggedDecision)]
    assert [d.id for d in decisions] == [first["decision"], pinned["decision"]]  # sticky: once
    assert decisions[0].session == "app-session-1" and decisions[0].context["D"] == ("dev=desktop",)
    reward_note = logged[-1]
    assert isinstance(reward_note, RewardNote)
    assert reward_note == RewardNote(first["decision"], 1.0, reward_note.ts_ms)


async def test_bad_requests_get_a_reason(
    origin: str, start_proxy: StartProxy, rules_dir: Path
) -> None:
    off = await start_proxy(origin, rules=str(rules_dir))
    assert (await post(off + "/__vernier/api/decide", {}))[0] == 404
    proxy = await start_proxy(
        origin, rules=str(rules_dir), **{"admin.token": TOKEN, **SLOW_MACHINE}
    )
    url = proxy + "/__vernier/api/decide"
    cases = [
        ({"slot": "hero", "session": "s-12345678"}, {"Authorization": "Bearer nope"}, 401),
        (b"{}", {**AUTH, "Content-Type": "text/plain"}, 415),
        (b"x" * 20_000, {**AUTH, "Content-Type": "application/json"}, 413),
        (b"{", {**AUTH, "Content-Type": "application/json"}, 400),
        ({"slot": "hero", "session": "short"}, AUTH, 400),
        ({"slot": "hero", "session": "s-12345678", "extra": 1}, AUTH, 400),
        ({"slot": "nope", "session": "s-12345678"}, AUTH, 404),
        ({"slot": "hero", "session": "s-12345678", "context": {"devce": "mobile"}}, AUTH, 400),
        ({"slot": "hero", "session": "s-12345678", "context": {"hour": "20"}}, AUTH, 400),
        ({"slot": "hero", "session": "s-12345678", "context": {"weekday": "Monday"}}, AUTH, 400),
        # a body its Content-Encoding does not describe (was a 500), or any coding at all
        (
            b"not gzip",
            {**AUTH, "Content-Type": "application/json", "Content-Encoding": "gzip"},
            415,
        ),
        (b"{}", {**AUTH, "Content-Type": "application/json", "Content-Encoding": "identity"}, 415),
        # a key written twice: the last would win here, the first elsewhere
        (
            b'{"slot": "hero", "session": "s-12345678", "slot": "other"}',
            {**AUTH, "Content-Type": "application/json"},
            400,
        ),
    ]
    for body, headers, expected in cases:
        status, answer = await post(url, body, headers)
        assert status == expected, (body, answer)
        assert answer["error"]
    misspelt = {"slot": "hero", "session": "s-12345678", "context": {"devce": "mobile"}}
    status, answer = await post(url, misspelt)
    assert answer["error"] == "$.context.devce: unknown context field (did you mean device?)"
    status, answer = await post(proxy + "/__vernier/api/reward", {"decision": "d", "reward": 1})
    assert status == 400 and "decision" in answer["error"]
    reward = proxy + "/__vernier/api/reward"
    gzipped = {**AUTH, "Content-Type": "application/json", "Content-Encoding": "gzip"}
    assert (await post(reward, b"not gzip", gzipped))[0] == 415
