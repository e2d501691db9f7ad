"""First-party ids and the visitor's privacy choices (docs/reliability.md SE-06, EV-07, EV-11)."""

from __future__ import annotations

from http.cookies import SimpleCookie

import aiohttp
import pytest

from tests.integration.origin_app import PAGE
from tests.proxy_fixtures import StartProxy

TAG = b"/__vernier/t.js"


def set_cookies(response: aiohttp.ClientResponse) -> dict[str, str]:
    return {c.split("=", 1)[0]: c for c in response.headers.getall("Set-Cookie", [])}


async def test_ids_are_signed_http_only_lax_cookies(origin: str, start_proxy: StartProxy) -> None:
    proxy = await start_proxy(origin)
    async with aiohttp.ClientSession() as client, client.get(proxy + "/page") as response:
        cookies = set_cookies(response)
    for name in ("vernier_sid", "vernier_vid"):
        parsed = SimpleCookie(cookies[name])[name]
        assert parsed["httponly"] and parsed["samesite"] == "Lax" and parsed["path"] == "/"
        assert not parsed["domain"]
        assert parsed.value.startswith("v1.")


async def test_https_public_url_uses_host_prefixed_secure_cookies(
    origin: str, start_proxy: StartProxy
) -> None:
    proxy = await start_proxy(origin, **{"origin.public_url": "https://shop.example"})
    async with aiohttp.ClientSession() as client, client.get(proxy + "/page") as response:
        cookies = set_cookies(response)
    assert set(cookies) == {"__Host-vernier_sid", "__Host-vernier_vid"}
    assert all("Secure" in c for c in cookies.values())


@pytest.mark.parametrize(
    "forged",
    [
        "v1.k1.00000000000000000000000000000000.tow2g8.AAAAAAAAAAAAAAAAAAAAAA",
        "x" * 8000,
        "é",
        "",
        "v1.zz.1.2.3",
    ],
)
async def test_forged_session_cookie_gets_a_new_session(
    origin: str, start_proxy: StartProxy, forged: str
) -> None:
    proxy = await start_proxy(origin)
    async with (
        aiohttp.ClientSession() as client,
        client.get(proxy + "/page", headers={"Cookie": f"vernier_sid={forged}"}) as response,
    ):
        assert response.status == 200
        cookies = set_cookies(response)
    assert "vernier_sid" in cookies
    assert cookies["vernier_sid"].split(";")[0] != f"vernier_sid={forged}"


@pytest.mark.parametrize("header", [{"Sec-GPC": "1"}, {"DNT": "1"}])
async def test_privacy_signals_mean_no_ids_and_no_tracker(
    origin: str, start_proxy: StartProxy, header: dict[str, str]
) -> None:
    proxy = await start_proxy(origin)
    async with aiohttp.ClientSession() as client:
        async with client.get(proxy + "/page", headers=header) as response:
            assert "Set-Cookie" not in response.headers
            assert await response.read() == PAGE


async def test_required_consent_injects_pending_tracker_without_ids(
    origin: str, start_proxy: StartProxy
) -> None:
    proxy = await start_proxy(origin, **{"session.consent": "required"})
    async with aiohttp.ClientSession() as client:
        async with client.get(proxy + "/page") as response:
            body = await response.read()
            assert "Set-Cookie" not in response.headers
        assert b'data-vernier-consent="pending"' in body
        async with client.get(
            proxy + "/page", headers={"Cookie": "vernier_consent=1"}
        ) as consented:
            assert "vernier_sid" in set_cookies(consented)
            assert b"data-vernier-consent" not in await consented.read()
