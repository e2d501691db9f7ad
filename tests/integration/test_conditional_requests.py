"""Conditional requests never hide a change (issue #14): on a page some rule or slot may change,
Vernier answers ``If-None-Match``/``If-Modified-Since`` itself from what it serves, so a decision
change, a rule edit or a pause reaches a revalidating browser on its next request; a page out
of scope keeps the origin's 304s."""

from __future__ import annotations

import secrets
from pathlib import Path

import aiohttp
import pytest
from multidict import CIMultiDictProxy

from proxy.app import create_admin_app
from tests import proxy_fixtures
from tests.integration.origin_app import DATED
from tests.integration.test_kill_switch import until
from tests.proxy_fixtures import StartProxy, serve_app

TOKEN = "admin-token-0123456789"
RULES = """
governance: {changes_per_session: 5, cooldown_s: 0, min_interval_s: 0}
rules:
  - id: greeting
    where: {paths: ["/conditional", "/dated/in-scope"]}
    then: [{op: set_text, selector: "p", value: "Greetings"}]
slots:
  - id: hero
    selector: "#hero"
    where: {paths: ["/conditional"]}
    control: a
    variants:
      a: []
      b: [{op: set_text, selector: "#hero", value: "Pro"}]
    pin: [{when: "cookie.plan == 'pro'", variant: b}]
"""
pytestmark = pytest.mark.rules_file("r.yaml", RULES)


async def get(
    client: aiohttp.ClientSession, url: str, **headers: str
) -> tuple[int, str, CIMultiDictProxy[str]]:
    async with client.get(url, headers=headers) as response:
        return response.status, await response.text(), response.headers


def visitor() -> aiohttp.ClientSession:
    return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))


async def pause(target: str) -> None:
    """Pause ``target`` through the last started proxy's admin API."""
    async with serve_app(create_admin_app(proxy_fixtures.STARTED_APPS[-1])) as admin:
        auth = {"Authorization": f"Bearer {TOKEN}"}
        async with aiohttp.ClientSession(headers=auth) as operator:
            asked = {"target": target}
            async with operator.post(admin + "/__vernier/admin/pause", json=asked) as reply:
                assert reply.status == 200


async def test_a_decision_change_a_rule_edit_and_a_pause_reach_a_revalidating_visitor(
    origin: str, start_proxy: StartProxy, rules_dir: Path
) -> None:
    prefix = f"t{secrets.token_hex(4)}:"  # the pause must not reach other tests' proxies
    proxy = await start_proxy(
        origin, rules=str(rules_dir), **{"admin.token": TOKEN, "store.key_prefix": prefix}
    )
    page = proxy + "/conditional"
    async with visitor() as client:
        status, body, headers = await get(client, page)
        assert status == 200 and "Greetings" in body and ">Hello</h1>" in body
        etag = headers["ETag"]
        assert etag.startswith('W/"vs-') and "Last-Modified" not in headers
        # nothing changed: Vernier answers 304 itself (the origin was asked without conditions)
        status, body, headers = await get(client, page, **{"If-None-Match": etag})
        assert (status, body, headers["ETag"]) == (304, "", etag)
        assert "Content-Security-Policy" not in headers

        # a decision change (the visitor's cookie pins another variant)
        client.cookie_jar.update_cookies({"plan": "pro"})
        status, body, headers = await get(client, page, **{"If-None-Match": etag})
        assert status == 200 and ">Pro</h1>" in body and headers["ETag"] != etag
        etag = headers["ETag"]
        assert (await get(client, page, **{"If-None-Match": etag}))[0] == 304

        # a rule edit
        (rules_dir / "r.yaml").write_text(RULES.replace('"Greetings"', '"Salutations"'))

        async def edit_served() -> bool:
            return (await get(client, page, **{"If-None-Match": etag}))[0] == 200

        await until(edit_served)
        status, body, headers = await get(client, page, **{"If-None-Match": etag})
        assert status == 200 and "Salutations" in body and ">Pro</h1>" in body
        etag = headers["ETag"]
        assert (await get(client, page, **{"If-None-Match": etag}))[0] == 304

        # a pause
        await pause("greeting")

        async def pause_served() -> bool:
            return (await get(client, page, **{"If-None-Match": etag}))[0] == 200

        await until(pause_served)
        status, body, headers = await get(client, page, **{"If-None-Match": etag})
        assert status == 200 and "Salutations" not in body and "Body text." in body
        etag = headers["ETag"]

        # a paused slot: its control, the same page on every view (a 304, and HEAD agrees)
        await pause("hero")
        await until(pause_served)
        status, body, headers = await get(client, page, **{"If-None-Match": etag})
        assert status == 200 and ">Hello</h1>" in body and ">Pro</h1>" not in body
        etag = headers["ETag"]
        status, again, headers = await get(client, page)
        assert (status, again, headers["ETag"]) == (200, body, etag)
        assert (await get(client, page, **{"If-None-Match": etag}))[0] == 304
        async with client.head(page) as response:
            assert response.headers["ETag"] == etag


async def test_dates_are_not_validators_of_a_page_in_scope(
    origin: str, start_proxy: StartProxy, rules_dir: Path
) -> None:
    proxy = await start_proxy(origin, rules=str(rules_dir))
    since = {"If-Modified-Since": DATED}
    async with visitor() as client:
        status, body, headers = await get(client, proxy + "/dated/in-scope", **since)
        assert status == 200 and "Greetings" in body and "Last-Modified" not in headers
        status, _, headers = await get(client, proxy + "/dated/in-scope", **since)
        assert status == 200  # no date of ours to compare with, so never a stale 304
        # out of scope, the origin's date still decides
        status, body, headers = await get(client, proxy + "/dated/other", **since)
        assert (status, body, headers["Last-Modified"]) == (304, "", DATED)


async def test_a_page_out_of_scope_keeps_the_origins_304(
    origin: str, start_proxy: StartProxy, rules_dir: Path
) -> None:
    (rules_dir / "r.yaml").write_text(RULES.replace("/conditional", "/elsewhere"))
    proxy = await start_proxy(origin, rules=str(rules_dir))
    async with visitor() as client:
        status, _, headers = await get(client, proxy + "/conditional")
        etag = headers["ETag"]
        assert status == 200 and etag.startswith('W/"page-v1-vn')
        status, body, headers = await get(client, proxy + "/conditional", **{"If-None-Match": etag})
        assert (status, body, headers["ETag"]) == (304, "", etag)


async def test_a_page_in_scope_that_passes_unchanged_is_answered_on_the_origins_tag(
    origin: str, start_proxy: StartProxy, rules_dir: Path
) -> None:
    proxy = await start_proxy(origin, rules=str(rules_dir), **{"html.inject_tracker": False})
    async with aiohttp.ClientSession() as client:
        status, _, headers = await get(client, proxy + "/conditional")
        assert status == 200 and headers["ETag"] == '"page-v1"'
        status, _, headers = await get(
            client, proxy + "/conditional", **{"If-None-Match": '"page-v1"'}
        )
        assert status == 304 and headers["ETag"] == '"page-v1"'
        status, _, _ = await get(client, proxy + "/conditional", **{"If-None-Match": '"other"'})
        assert status == 200


async def test_vernier_s_304_of_a_compressed_page_names_it_as_the_200_did(
    origin: str, start_proxy: StartProxy, rules_dir: Path
) -> None:
    proxy = await start_proxy(
        origin,
        rules=str(rules_dir),
        **{"html.inject_tracker": False, "compression.min_bytes": 0},
    )
    gzip_only = {"Accept-Encoding": "gzip"}
    async with aiohttp.ClientSession() as client:
        status, _, headers = await get(client, proxy + "/conditional", **gzip_only)
        assert (status, headers["Content-Encoding"]) == (200, "gzip")
        assert headers["ETag"] == 'W/"page-v1"'  # compressed: no longer the origin's bytes
        status, _, headers = await get(
            client, proxy + "/conditional", **gzip_only, **{"If-None-Match": 'W/"page-v1"'}
        )
        assert (status, headers["ETag"]) == (304, 'W/"page-v1"')
