"""docs/reliability.md §5.2: request smuggling and parser strictness at the front door, and
origin-side desync. The origin counts what reaches it; a smuggled request must never arrive."""

from __future__ import annotations

import asyncio
import re

import pytest

from tests.proxy_fixtures import StartProxy, StartRawOrigin, raw_exchange

BAD_REQUESTS = {
    "cl_te": b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    "te_cl": b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n0\r\n\r\n",
    "dup_cl": b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
    "dup_host": b"GET /echo HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n",
    "xchunked": b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n",
    "chunked_identity": b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n",
    "te_space_colon": b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n",
    "chunk_size_plus": b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n+1\r\na\r\n0\r\n\r\n",
    "chunk_size_hex_prefix": b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0x1\r\na\r\n0\r\n\r\n",
    "obs_fold": b"GET /echo HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n\r\n",
    "nul_in_value": b"GET /echo HTTP/1.1\r\nHost: x\r\nX-A: a\x00b\r\n\r\n",
    "space_in_name": b"GET /echo HTTP/1.1\r\nHost: x\r\nX A: b\r\n\r\n",
    "http10_te_pipelined": (
        b"POST /echo HTTP/1.0\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
        b"GET /echo/smuggled HTTP/1.1\r\nHost: x\r\n\r\n"
    ),
    "http2_version": b"GET /echo HTTP/2.0\r\nHost: x\r\n\r\n",
    "websocket_with_body": (
        b"GET /echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Content-Length: 35\r\n\r\nGET /echo/smuggled HTTP/1.1\r\nX: \r\n\r\n"
    ),
    "connect": b"CONNECT 127.0.0.1:1 HTTP/1.1\r\nHost: 127.0.0.1:1\r\n\r\n",
}


@pytest.mark.parametrize("name", sorted(BAD_REQUESTS))
async def test_malformed_request_refused_and_closed(
    origin: str, start_proxy: StartProxy, name: str
) -> None:
    proxy = await start_proxy(origin)
    raw = await raw_exchange(proxy, BAD_REQUESTS[name], timeout_s=3.0)
    assert re.match(rb"HTTP/1\.[01] [45]\d\d ", raw), raw[:200]
    assert b'"raw_path":"/echo/smuggled"' not in raw  # never served (aiohttp may quote it)
    assert b"aiohttp" not in raw and b"Python/" not in raw
    assert len(re.findall(rb"HTTP/\d\.\d \d{3} ", raw)) == 1, "a second (smuggled) response"
    assert not raw.startswith(b"HTTP/2")


async def test_pipelined_requests_answered_in_order(origin: str, start_proxy: StartProxy) -> None:
    proxy = await start_proxy(origin)
    requests = (
        b"".join(f"GET /echo/{i} HTTP/1.1\r\nHost: x\r\n\r\n".encode() for i in range(20))
        + b"GET /echo/last HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    raw = await raw_exchange(proxy, requests)
    positions = [raw.index(f'"raw_path":"/echo/{i}"'.encode()) for i in range(20)]
    assert positions == sorted(positions)
    assert b'"raw_path":"/echo/last"' in raw


@pytest.mark.parametrize(
    "response",
    [
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
        b"HTTP/1.1 200 OK\r\nX-Bad: a\rb\r\nContent-Length: 2\r\n\r\nok",
    ],
)
async def test_ambiguous_origin_response_is_502(
    raw_origin: StartRawOrigin,
    start_proxy: StartProxy,
    response: bytes,
) -> None:
    origin = await raw_origin(response)
    proxy = await start_proxy(origin)
    raw = await raw_exchange(proxy, b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert raw.startswith(b"HTTP/1.1 502")


async def test_lenient_origin_framing_is_reframed(
    raw_origin: StartRawOrigin, start_proxy: StartProxy
) -> None:
    origin = await raw_origin(
        b"HTTP/1.1 200 OK\nContent-Type: text/plain\nX-Folded: a\r\n b\r\nContent-Length: 2\n\nok"
    )
    proxy = await start_proxy(origin)
    raw = await raw_exchange(proxy, b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200")
    assert b"\n " not in head and body == b"ok"


async def test_origin_looping_back_to_proxy_is_508(start_proxy: StartProxy) -> None:
    import socket

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    # the proxy's origin is the proxy itself
    from aiohttp import web

    from proxy.app import create_app
    from proxy.config.load import load_config
    from proxy.server.workers import runner_for

    config = load_config(None, overrides={"origin.url": f"http://127.0.0.1:{port}"}, environ={})
    proxy_url = await start_proxy(f"http://127.0.0.1:{port}")  # keeps fixture cleanup
    del proxy_url
    app = create_app(config, store_url="unix:///nonexistent.sock")
    runner = runner_for(app, config)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    try:
        raw = await asyncio.wait_for(
            raw_exchange(
                f"http://127.0.0.1:{port}",
                b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            ),
            10,
        )
        assert raw.startswith(b"HTTP/1.1 508")
    finally:
        await runner.cleanup()
