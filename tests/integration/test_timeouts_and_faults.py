"""docs/reliability.md §5.3–5.4: deadlines, limits, and failing open when something breaks."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket

import aiohttp
import pytest

from tests.proxy_fixtures import StartProxy, StartRawOrigin, raw_exchange

TAG = b"/__vernier/t.js"


def closed_port() -> int:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = int(sock.getsockname()[1])
    sock.close()
    return port


async def test_origin_down_is_a_fast_generic_502(start_proxy: StartProxy) -> None:
    proxy = await start_proxy(f"http://127.0.0.1:{closed_port()}")
    loop = asyncio.get_running_loop()
    started = loop.time()
    async with aiohttp.ClientSession() as client, client.get(proxy + "/") as response:
        body = await response.text()
        assert response.status == 502
    assert loop.time() - started < 1.0
    assert "Traceback" not in body and "127.0.0.1" not in body


async def test_slow_origin_is_504(origin: str, start_proxy: StartProxy) -> None:
    proxy = await start_proxy(origin, **{"origin.read_timeout_s": 0.5})
    async with aiohttp.ClientSession() as client:
        async with client.get(proxy + "/slow", params={"s": "3"}) as response:
            assert response.status == 504


def forward_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "vernier.forward" and r.levelno == logging.WARNING
    ]


async def test_slow_origin_is_logged_at_warning(
    origin: str, start_proxy: StartProxy, caplog: pytest.LogCaptureFixture
) -> None:
    proxy = await start_proxy(origin, **{"origin.read_timeout_s": 0.5})
    async with aiohttp.ClientSession() as client:
        async with client.get(proxy + "/slow", params={"s": "3"}) as response:
            assert response.status == 504
    assert forward_warnings(caplog) == [
        "origin did not answer GET /slow in time (origin.read_timeout_s): 504"
    ]


@pytest.mark.parametrize("code", [500, 503, 504])
async def test_origin_5xx_is_passed_on_and_logged_with_its_status(
    origin: str, start_proxy: StartProxy, caplog: pytest.LogCaptureFixture, code: int
) -> None:
    proxy = await start_proxy(origin)
    async with aiohttp.ClientSession() as client:
        async with client.get(proxy + f"/status/{code}") as response:
            assert response.status == code
        async with client.get(proxy + "/status/404") as response:
            assert response.status == 404  # a client error is the visitor's, not logged
    assert forward_warnings(caplog) == [f"origin answered {code} to GET /status/{code}"]


@pytest.mark.parametrize("content_type", ["text/html", "application/octet-stream"])
async def test_origin_stalling_mid_body_fails_the_client_response(
    origin: str, start_proxy: StartProxy, content_type: str
) -> None:
    proxy = await start_proxy(origin, **{"origin.read_timeout_s": 0.5})
    async with aiohttp.ClientSession() as client:
        async with client.get(
            proxy + "/stall", params={"type": content_type, "s": "3"}
        ) as response:
            if content_type == "text/html":
                # a page Vernier reads: nothing was sent yet, so the client gets a 502
                assert response.status == 502
            else:
                with pytest.raises(aiohttp.ClientPayloadError):
                    await response.read()


async def test_origin_reset_mid_body_is_not_a_complete_response(
    raw_origin: StartRawOrigin,
    start_proxy: StartProxy,
) -> None:
    async def reset_after_5k(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
            b"Content-Length: 100000\r\n\r\n" + b"a" * 5000
        )
        await writer.drain()
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        writer.transport.abort()

    origin = await raw_origin(reset_after_5k)
    proxy = await start_proxy(origin)
    async with aiohttp.ClientSession() as client, client.get(proxy + "/") as response:
        with pytest.raises(aiohttp.ClientPayloadError):
            await response.read()


async def test_header_read_deadline_closes_slowloris(origin: str, start_proxy: StartProxy) -> None:
    proxy = await start_proxy(origin, **{"server.header_timeout_s": 0.5})
    host, port = proxy.split("//")[1].split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    loop = asyncio.get_running_loop()
    started = loop.time()
    try:
        writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n")
        # keep dribbling header bytes; the proxy must close the connection at its deadline
        async with asyncio.timeout(3):
            while not reader.at_eof():
                with contextlib.suppress(ConnectionError):
                    writer.write(b"X")
                    await writer.drain()
                with contextlib.suppress(asyncio.TimeoutError):
                    if await asyncio.wait_for(reader.read(100), 0.1) == b"":
                        break
    finally:
        writer.close()
    assert loop.time() - started < 1.5


async def test_idle_keepalive_closed_after_configured_time(
    origin: str, start_proxy: StartProxy
) -> None:
    proxy = await start_proxy(origin, **{"server.keepalive_s": 0.5})
    host, port = proxy.split("//")[1].split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(b"GET /echo HTTP/1.1\r\nHost: x\r\n\r\n")
        await writer.drain()
        async with asyncio.timeout(5):
            while await reader.read(65536) != b"":
                pass
    finally:
        writer.close()


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 9000 + b"\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\n"
        + b"".join(b"X-%d: 1\r\n" % i for i in range(130))
        + b"\r\n",
    ],
)
async def test_oversized_request_heads_refused(
    origin: str, start_proxy: StartProxy, request_bytes: bytes
) -> None:
    proxy = await start_proxy(origin)
    raw = await raw_exchange(proxy, request_bytes, timeout_s=3)
    assert raw.split(b" ", 2)[1] in (b"400", b"414", b"431")


async def test_store_down_pages_still_served(origin: str, start_proxy: StartProxy) -> None:
    proxy = await start_proxy(origin, store_url=f"redis://127.0.0.1:{closed_port()}")
    async with aiohttp.ClientSession() as client:
        for _ in range(10):
            async with client.get(proxy + "/page") as response:
                assert response.status == 200
                assert TAG in await response.read()
        async with client.get(proxy + "/__vernier/healthz?ready=1") as health:
            data = await health.json()
            assert data["degraded"] is True and data["checks"]["store"] == "down"


async def test_vernier_paths_never_reach_origin(origin: str, start_proxy: StartProxy) -> None:
    proxy = await start_proxy(origin)
    async with aiohttp.ClientSession() as client:
        async with client.get(proxy + "/__vernier/echo") as response:
            assert response.status == 404
        async with client.get(proxy + "/__vernier/t.js") as response:
            assert response.status == 200
            assert response.headers["Content-Type"].startswith("text/javascript")
        async with client.get(proxy + "/__vernier/metrics") as response:
            assert response.status == 404  # metrics live on the admin listener
        async with client.get(proxy + "/__vernier/healthz") as response:
            assert await response.text() == "ok\n"
