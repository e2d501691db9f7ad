"""The collector, consent and ``/me`` endpoints through the running proxy, store included."""

from __future__ import annotations

import asyncio
import gzip
import logging
from typing import Any

import aiohttp
import orjson
import pytest

from proxy.resources import METRICS
from tests import proxy_fixtures
from tests.proxy_fixtures import StartProxy


def batch(*events: dict[str, Any], page: str = "p_0123456789") -> bytes:
    return orjson.dumps({"v": 1, "page": page, "events": list(events)})


def scroll(event_id: str, depth: float = 0.5) -> dict[str, Any]:
    return {"id": event_id, "type": "scroll", "ts": 1_732_250_000_000, "depth": depth}


async def visit(client: aiohttp.ClientSession, proxy: str) -> None:
    async with client.get(proxy + "/page") as response:
        assert response.status == 200


async def recent(client: aiohttp.ClientSession, proxy: str, want: int) -> list[dict[str, Any]]:
    async with asyncio.timeout(10):
        while True:
            async with client.get(proxy + "/__vernier/me") as response:
                events: list[dict[str, Any]] = (await response.json())["recent_events"]
            if len(events) >= want:
                return events
            await asyncio.sleep(0.1)


async def test_beacon_is_stored_once_and_shown_to_the_visitor(
    origin: str, start_proxy: StartProxy
) -> None:
    proxy = await start_proxy(origin)
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as client:
        await visit(client, proxy)
        view = {"id": "e_aaaaaaaa0", "type": "pageview", "ts": 1_732_250_000_000, "url": "/blog/x"}
        body = batch(view, scroll("e_aaaaaaaa1", 0.4), scroll("e_aaaaaaaa2", 0.9))
        for _ in range(3):  # retries of the same beacon
            async with client.post(
                proxy + "/__vernier/e", data=body, headers={"Content-Type": "text/plain"}
            ) as response:
                assert response.status == 202
        events = await recent(client, proxy, want=3)
        assert sorted(e["id"] for e in events) == ["e_aaaaaaaa0", "e_aaaaaaaa1", "e_aaaaaaaa2"]
        async with client.get(proxy + "/__vernier/me") as response:
            profile = (await response.json())["profile"]
        assert float(profile["max_scroll:blog"]) == 0.9
        assert profile["pageviews"] == "1"


async def test_beacon_without_session_or_from_another_site_is_refused(
    origin: str, start_proxy: StartProxy
) -> None:
    proxy = await start_proxy(origin)
    body = batch(scroll("e_bbbbbbbb1"))
    async with aiohttp.ClientSession() as client:
        async with client.post(
            proxy + "/__vernier/e", data=body, headers={"Content-Type": "application/json"}
        ) as response:
            assert response.status == 403
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as client:
        await visit(client, proxy)
        async with client.post(
            proxy + "/__vernier/e",
            data=body,
            headers={"Content-Type": "application/json", "Sec-Fetch-Site": "cross-site"},
        ) as response:
            assert response.status == 403
        async with client.post(
            proxy + "/__vernier/e", data=b"{", headers={"Content-Type": "application/json"}
        ) as response:
            assert response.status == 400
            assert "json" in await response.text()
    intake = proxy_fixtures.STARTED_APPS[-1][METRICS].intake  # counted by status
    assert {s: intake.labels(s)._value.get() for s in ("403", "400", "202")} == {
        "403": 2,
        "400": 1,
        "202": 0,
    }


async def test_consent_required_flow(origin: str, start_proxy: StartProxy) -> None:
    proxy = await start_proxy(origin, **{"session.consent": "required"})
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as client:
        await visit(client, proxy)
        async with client.post(
            proxy + "/__vernier/e",
            data=batch(scroll("e_cccccccc1")),
            headers={"Content-Type": "application/json"},
        ) as response:
            assert response.status == 403  # no consent yet, no session
        async with client.post(proxy + "/__vernier/consent", json={"granted": True}) as response:
            assert response.status == 204
            names = {c.split("=", 1)[0] for c in response.headers.getall("Set-Cookie")}
            assert names == {"vernier_consent", "vernier_sid", "vernier_vid"}
        async with client.post(
            proxy + "/__vernier/e",
            data=batch(scroll("e_cccccccc2")),
            headers={"Content-Type": "application/json"},
        ) as response:
            assert response.status == 202
        async with client.post(proxy + "/__vernier/consent", json={"granted": False}) as response:
            assert response.status == 204
        async with client.get(proxy + "/page") as response:
            assert "Set-Cookie" not in response.headers  # withdrawn: no new ids


async def test_forget_me_erases_profile_and_ids(origin: str, start_proxy: StartProxy) -> None:
    proxy = await start_proxy(origin)
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as client:
        await visit(client, proxy)
        async with client.post(
            proxy + "/__vernier/e",
            data=batch(scroll("e_dddddddd1")),
            headers={"Content-Type": "application/json"},
        ) as response:
            assert response.status == 202
        await recent(client, proxy, want=1)
        async with client.delete(proxy + "/__vernier/me") as response:
            assert response.status == 204
            cleared = response.headers.getall("Set-Cookie")
            assert all("Max-Age=0" in c for c in cleared)
            # the variants shown name decisions: a newcomer found the year-long cookie kept
            names = {c.split("=", 1)[0] for c in cleared}
            assert {"vernier_sid", "vernier_vid", "vernier_seen"} <= names
        async with client.get(proxy + "/__vernier/me") as response:
            data = await response.json()
        assert data["recent_events"] == [] and data["profile"] == {}
        # no ids left: the same shape as for a visitor with data, empty
        assert data == {"visitor": None, "session": None, "available": True, "profile": {},
                        "segments": [], "sticky": {}, "recent_events": []}  # fmt: skip


async def test_an_encoded_beacon_is_refused_without_decoding_it(
    origin: str, start_proxy: StartProxy, caplog: pytest.LogCaptureFixture
) -> None:
    """A body that says it is gzip (and is not) gets Vernier's 415, and nothing tries to
    decode it after the answer: no traceback in the log for anyone who sends one."""
    proxy = await start_proxy(origin)
    caplog.set_level(logging.ERROR)
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as client:
        await visit(client, proxy)
        headers = {"Content-Type": "text/plain", "Content-Encoding": "gzip"}
        async with client.post(proxy + "/__vernier/e", data=b"not gzip", headers=headers) as reply:
            assert (reply.status, await reply.text()) == (415, "content-encoding not accepted")
        granted = gzip.compress(b'{"granted": true}')  # well-formed, and still not decoded
        async with client.post(
            proxy + "/__vernier/consent", data=granted, headers=headers
        ) as reply:
            assert (reply.status, await reply.text()) == (415, "content-encoding not accepted")
        await visit(client, proxy)  # the refused bodies were never decoded (nothing to log)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
