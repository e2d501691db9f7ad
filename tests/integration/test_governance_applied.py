"""Change governance through the proxy: a visitor keeps the variant seen (same decision id)
until the budget allows a change, refused changes are held, and with the store down nothing
changes (the variants of the visitor's cookie, else the controls)."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import aiohttp
import pytest

from proxy.records.decision import is_outage_id
from tests.proxy_fixtures import StartProxy

RULES = """
governance: {changes_per_session: 1, cooldown_s: 0, min_interval_s: 0}
slots:
  - id: hero
    selector: "#hero"
    control: a
    variants:
      a: []
      b: [{op: set_text, selector: "#hero", value: "Pro"}]
    pin:
      - {when: "cookie.plan == 'pro'", variant: b}
  - id: fresh
    selector: "p"
    control: a
    variants: {a: [], b: [{op: add_class, selector: p, value: x}]}
    pin: [{when: "cookie.plan == 'pro'", variant: b}]
    governance: {sticky: page}
"""
pytestmark = pytest.mark.rules_file("g.yaml", RULES)
MARK = re.compile(
    r'data-vernier-slot="(\w+)" data-vernier-variant="(\w)" data-vernier-decision="([\w-]+)"'
)


async def view(client: aiohttp.ClientSession, url: str, plan: str) -> dict[str, tuple[str, str]]:
    client.cookie_jar.update_cookies({"plan": plan})
    async with client.get(url) as response:
        assert response.status == 200
        return {
            slot: (variant, decision)
            for slot, variant, decision in MARK.findall(await response.text())
        }


async def test_variants_stick_change_once_and_then_hold(
    origin: str, start_proxy: StartProxy, rules_dir: Path
) -> None:
    proxy = await start_proxy(origin, rules=str(rules_dir))
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as client:
        first = await view(client, proxy + "/page", "free")
        same = await view(client, proxy + "/page", "free")
        changed = await view(client, proxy + "/page", "pro")
        back = await view(client, proxy + "/page", "free")
    assert first["hero"][0] == "a" and same["hero"] == first["hero"]  # sticky: same decision
    assert changed["hero"][0] == "b" and changed["hero"][1] != first["hero"][1]
    assert back["hero"] == changed["hero"]  # held: the budget of one change is spent
    # a page-scoped slot follows the rules on every view, each a new decision
    assert [v["fresh"][0] for v in (first, same, changed, back)] == ["a", "a", "b", "a"]
    assert len({v["fresh"][1] for v in (first, same, changed, back)}) == 4


async def test_twenty_reloads_never_change_more_than_the_budget(
    origin: str, start_proxy: StartProxy, rules_dir: Path
) -> None:
    proxy = await start_proxy(origin, rules=str(rules_dir))
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as client:
        shown = [
            (await view(client, proxy + "/page", ("free", "pro")[i % 2]))["hero"] for i in range(20)
        ]
    switches = sum(1 for before, after in itertools.pairwise(shown) if before != after)
    assert switches == 1


async def test_with_the_store_down_nothing_changes(
    origin: str, start_proxy: StartProxy, rules_dir: Path
) -> None:
    proxy = await start_proxy(
        origin, "redis://127.0.0.1:9", rules=str(rules_dir), **{"store.op_timeout_ms": 20}
    )
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as client:
        control = await view(client, proxy + "/page", "pro")
        client.cookie_jar.update_cookies({"vernier_seen": "hero:b:remembered01"})
        remembered = await view(client, proxy + "/page", "free")
    assert control["hero"][0] == "a"  # the pin says b, but nothing may change
    assert is_outage_id(control["hero"][1])  # outside the experiments: results count it not
    assert remembered["hero"] == ("b", "remembered01")


TRIGGER_RULES = """
slots:
  - id: nudge
    selector: "#hero"
    control: a
    variants: {a: [], c: [{op: set_text, selector: "#hero", value: "Still there?"}]}
    triggers:
      - {id: idle, variant: c, after_s: 20}
  - id: fresh
    selector: "p"
    control: a
    variants: {a: [], b: [{op: add_class, selector: p, value: pro}]}
    pin: [{when: "cookie.plan == 'pro'", variant: b}]
    governance: {sticky: page}
"""


@pytest.mark.rules_file("t.yaml", TRIGGER_RULES)
async def test_with_the_store_down_a_head_agrees_with_the_get(
    origin: str, start_proxy: StartProxy, rules_dir: Path
) -> None:
    """The GET shows the control outside the experiments, offering no trigger: so does the HEAD
    (its length is the GET's), the same from one HEAD to the next."""
    proxy = await start_proxy(
        origin, "redis://127.0.0.1:9", rules=str(rules_dir), **{"store.op_timeout_ms": 20}
    )
    plain = {"Accept-Encoding": "identity"}
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as client:
        client.cookie_jar.update_cookies({"plan": "pro"})  # a page-scoped slot follows its pin
        async with client.get(proxy + "/page", headers=plain) as response:
            body = await response.read()
        lengths = set()
        for _ in range(2):
            async with client.head(proxy + "/page", headers=plain) as response:
                lengths.add(response.headers["Content-Length"])
    assert b"data-vernier-trigger" not in body and b'class="pro"' in body
    decisions = re.findall(rb'data-vernier-slot="(\w+)" data-vernier-variant="(\w)" '
                           rb'data-vernier-decision="([\w-]+)"', body)  # fmt: skip
    assert [(slot, variant) for slot, variant, _ in decisions] == [
        (b"nudge", b"a"),
        (b"fresh", b"b"),
    ]
    assert is_outage_id(decisions[0][2].decode())
    assert lengths == {str(len(body))}
    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as stranger:
        async with stranger.get(proxy + "/page", headers=plain) as response:
            first = await response.read()  # a first page, ids issued: no trigger offered
        async with stranger.head(proxy + "/page", headers=plain) as response:
            assert response.headers["Content-Length"] == str(len(first))
