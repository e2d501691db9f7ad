"""Streaming edges of docs/reliability.md §5.1: backpressure from a slow client (PX-24), codings the
proxy must decode or refuse (PX-17/19: zstd, ``gzip, gzip``), and chunked trailers (PX-30)."""

from __future__ import annotations

import asyncio
import gzip
import socket

import aiohttp
from aiohttp import web

from tests.proxy_fixtures import StartProxy, StartRawOrigin, raw_exchange, raw_response, serve_app

try:
    from compression import zstd  # type: ignore[import-not-found]
except ImportError:  # Python < 3.14
    from backports import zstd

PAGE = b"<!doctype html><html><head><title>z</title></head><body>zstd page</body></html>"


async def test_slow_client_pauses_the_origin(start_proxy: StartProxy) -> None:
    sent = [0]
    total = 200 * 1024 * 1024

    async def endless(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/octet-stream"})
        response.content_length = total
        await response.prepare(request)
        chunk = b"x" * 65536
        while sent[0] < total:
            await response.write(chunk)
            sent[0] += len(chunk)
        return response

    app = web.Application()
    app.router.add_get("/", endless)
    async with serve_app(app) as origin:
        proxy = await start_proxy(origin)
        host, port = proxy.split("//")[1].split(":")
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, (host, int(port)))
        reader, writer = await asyncio.open_connection(sock=sock)
        writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        await writer.drain()
        await reader.readuntil(b"\r\n\r\n")
        # the client reads nothing for a while: the proxy must stop pulling from the origin
        for _ in range(20):
            await asyncio.sleep(0.05)
        stalled_at = sent[0]
        assert stalled_at < 32 * 1024 * 1024, f"proxy buffered {stalled_at} bytes"
        # and it resumes when the client reads again
        received = 0
        async with asyncio.timeout(10):
            while received < 8 * 1024 * 1024:
                received += len(await reader.read(1 << 20))
        assert sent[0] > stalled_at
        writer.close()


async def test_zstd_page_is_injected_and_recompressed(
    raw_origin: StartRawOrigin, start_proxy: StartProxy
) -> None:
    body = zstd.compress(PAGE)
    origin = await raw_origin(
        raw_response(body, "Content-Type: text/html", "Content-Encoding: zstd")
    )
    proxy = await start_proxy(origin)
    async with aiohttp.ClientSession(auto_decompress=False) as client:
        async with client.get(proxy + "/") as response:
            assert response.headers["Content-Encoding"] == "zstd"
            served = zstd.decompress(await response.read())
    assert b"/__vernier/t.js" in served
    assert (
        served.replace(served[served.index(b"<script") : served.index(b"</script>") + 9], b"")
        == PAGE
    )


async def test_double_gzip_label_on_single_gzip_passes_unchanged(
    raw_origin: StartRawOrigin,
    start_proxy: StartProxy,
) -> None:
    body = gzip.compress(PAGE, mtime=0)
    origin = await raw_origin(
        raw_response(body, "Content-Type: text/html", "Content-Encoding: gzip, gzip")
    )
    proxy = await start_proxy(origin)
    async with aiohttp.ClientSession(auto_decompress=False) as client:
        async with client.get(proxy + "/") as response:
            assert response.status == 200
            assert response.headers["Content-Encoding"] == "gzip, gzip"
            assert await response.read() == body


async def test_chunked_response_with_trailers_keeps_its_body(
    raw_origin: StartRawOrigin, start_proxy: StartProxy
) -> None:
    origin = await raw_origin(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
        b"Transfer-Encoding: chunked\r\nTrailer: X-Checksum\r\n\r\n"
        b"5\r\nhello\r\n6\r\n world\r\n0\r\nX-Checksum: abc\r\n\r\n"
    )
    proxy = await start_proxy(origin)
    raw = await raw_exchange(proxy, b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200")
    assert b"hello" in body and b" world" in body
    assert b"Trailer:" not in head  # hop-by-hop: trailers are not forwarded
