"""Request edges: Expect: 100-continue, OPTIONS *, a stalled upload, and the admin listener."""

from __future__ import annotations

import asyncio

import aiohttp
from aiohttp import web

from proxy.app import create_admin_app
from proxy.resources import METRICS
from tests import proxy_fixtures
from tests.proxy_fixtures import StartProxy, bound_port, raw_exchange


async def test_expect_100_continue_is_answered_then_streamed(
    origin: str, start_proxy: StartProxy
) -> None:
    proxy = await start_proxy(origin)
    host, port = proxy.split("//")[1].split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(
            b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n"
            b"Connection: close\r\n\r\n"
        )
        await writer.drain()
        interim = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 3)
        assert interim.startswith(b"HTTP/1.1 100")
        writer.write(b"hello")
        await writer.drain()
        rest = await asyncio.wait_for(reader.read(), 3)
        assert rest.startswith(b"HTTP/1.1 200") and b'"body_length":5' in rest
        assert b"expect" not in rest.lower().split(b"\r\n\r\n", 1)[1]
    finally:
        writer.close()


async def test_an_http_1_0_client_gets_no_100_continue(
    origin: str, start_proxy: StartProxy
) -> None:
    """RFC 9110 §15.2: no 1xx to an HTTP/1.0 client (it would take it for the answer)."""
    proxy = await start_proxy(origin)
    raw = await raw_exchange(
        proxy,
        b"POST /echo HTTP/1.0\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\nhello",
    )
    assert raw.startswith(b"HTTP/1.0 200") and b'"body_length":5' in raw


async def test_options_asterisk_is_refused(origin: str, start_proxy: StartProxy) -> None:
    proxy = await start_proxy(origin)
    raw = await raw_exchange(proxy, b"OPTIONS * HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert raw.startswith(b"HTTP/1.1 400")


async def test_stalled_upload_is_408(origin: str, start_proxy: StartProxy) -> None:
    proxy = await start_proxy(origin, **{"server.body_idle_timeout_s": 0.3})
    host, port = proxy.split("//")[1].split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nonly-part")
        await writer.drain()
        # the answer comes at once; aiohttp then lingers up to 10 s reading the rest before closing
        answer = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        assert answer.startswith(b"HTTP/1.1 408")
    finally:
        writer.close()


async def test_admin_listener_serves_metrics(origin: str, start_proxy: StartProxy) -> None:
    proxy = await start_proxy(origin)
    async with aiohttp.ClientSession() as client, client.get(proxy + "/page") as response:
        await response.read()
    # the admin app shares the public app's runtime; find it through the started proxy
    public_app = proxy_fixtures.STARTED_APPS[-1]
    admin = create_admin_app(public_app)
    runner = web.AppRunner(admin, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        async with aiohttp.ClientSession() as client:
            async with client.get(f"http://127.0.0.1:{bound_port(site)}/metrics") as response:
                text = await response.text()
        assert 'vernier_responses_total{handling="injected"} 1.0' in text
        assert public_app[METRICS] is not None
    finally:
        await runner.cleanup()
