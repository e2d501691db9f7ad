"""docs/reliability.md §5.1: the proxy is transparent — headers, paths, cookies, redirects, methods,
statuses, caching, encodings and streaming all pass as the origin meant them."""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import io
import zlib
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import brotli  # type: ignore[import-untyped]  # brotli ships no type information
import pytest
from aiohttp import web

from tests.integration.origin_app import PAGE
from tests.integration.test_rules_applied import without_tracker
from tests.proxy_fixtures import StartProxy, StartRawOrigin, raw_exchange, raw_response, serve_app

TAG_START = b'<script src="/__vernier/t.js?v='


def spliced_out(body: bytes) -> bytes:
    """The body without Vernier's one inserted element."""
    start = body.index(TAG_START)
    end = body.index(b"</script>", start) + len(b"</script>")
    return body[:start] + body[end:]


async def get_json(url: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
    async with aiohttp.ClientSession() as client:
        async with client.get(url, headers=headers) as response:
            data: dict[str, Any] = await response.json()
            return data


async def test_hop_by_hop_removed_before_forwarding_headers_added(
    origin: str, start_proxy: StartProxy
) -> None:
    proxy = await start_proxy(origin)
    request = (
        b"GET /echo HTTP/1.1\r\nHost: example.test\r\n"
        b"Connection: keep-alive, X-Forwarded-For, X-Custom, Cookie\r\n"
        b"Keep-Alive: timeout=5\r\nTE: trailers\r\nProxy-Authorization: Basic eA==\r\n"
        b"Proxy-Connection: keep-alive\r\nUpgrade: h2c\r\nTrailer: X\r\nX-Custom: 1\r\n"
        b"X-Forwarded-For: 1.2.3.4\r\nX_Forwarded_For: 6.6.6.6\r\nCookie: a=1\r\n"
        b"X-Forwarded-Host: evil.example\r\nConnection: close\r\n\r\n"
    )
    raw = await raw_exchange(proxy, request)
    body = raw.split(b"\r\n\r\n", 1)[1]
    import orjson

    data = orjson.loads(body[body.index(b"{") : body.rindex(b"}") + 1])
    names = {k.lower(): v for k, v in data["headers"]}
    for hop in (
        "connection",
        "keep-alive",
        "te",
        "proxy-authorization",
        "proxy-connection",
        "upgrade",
        "trailer",
        "x-custom",
        "cookie",
        "x_forwarded_for",
    ):
        assert hop not in names, hop
    assert names["x-forwarded-for"] == "127.0.0.1"
    assert names["x-forwarded-host"] == "example.test"
    assert names["via"].startswith("1.1 vernier-")
    assert names["host"] == origin.split("//")[1]


async def test_trusted_peer_extends_forwarded_for(origin: str, start_proxy: StartProxy) -> None:
    proxy = await start_proxy(origin, **{"server.trusted_proxies": ["127.0.0.0/8"]})
    data = await get_json(proxy + "/echo", headers={"X-Forwarded-For": "1.2.3.4"})
    names = {k.lower(): v for k, v in data["headers"]}
    assert names["x-forwarded-for"] == "1.2.3.4, 127.0.0.1"


@pytest.mark.parametrize(
    "target",
    [
        "/echo/a%2Fb",
        "/echo//b",
        "/echo/./a/../b",
        "/echo/%E2%82%AC?x=%20&y=a+b",
        "/echo;p=1",
        "/echo?" + "q" * 2000,
    ],
)
async def test_path_and_query_reach_origin_byte_identical(
    origin: str, start_proxy: StartProxy, target: str
) -> None:
    proxy = await start_proxy(origin)
    raw = await raw_exchange(
        proxy, f"GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode()
    )
    assert f'"raw_path":"{target}"'.encode() in raw


@pytest.mark.parametrize(
    "header",
    [b"X-Foo: caf\xe9", b"User-Agent: Mozilla \xff", b"Cookie: a=\xff", b"X-Tz: \xff\xfe"],
)
async def test_header_bytes_that_are_not_utf_8_still_get_the_page(
    origin: str, start_proxy: StartProxy, header: bytes
) -> None:
    """Some clients send latin-1 header bytes: the page is served (was a 500 with a traceback
    from writing the origin request)."""
    proxy = await start_proxy(origin)
    raw = await raw_exchange(
        proxy, b"GET /page HTTP/1.1\r\nHost: x\r\n" + header + b"\r\nConnection: close\r\n\r\n"
    )
    assert raw.startswith(b"HTTP/1.1 200"), raw[:200]
    assert b"/__vernier/t.js" in raw


@pytest.mark.parametrize(
    "target", ["//evil.example/x", "/\\evil.example/", "/http://evil.example/"]
)
async def test_path_never_retargets_upstream(
    origin: str, start_proxy: StartProxy, target: str
) -> None:
    proxy = await start_proxy(origin)
    raw = await raw_exchange(
        proxy, f"GET {target} HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n".encode()
    )
    # served by the configured origin (404 from it, since it has no such route)
    assert raw.startswith(b"HTTP/1.1 404")


async def test_absolute_form_target_uses_configured_origin(
    origin: str, start_proxy: StartProxy
) -> None:
    proxy = await start_proxy(origin)
    raw = await raw_exchange(
        proxy,
        b"GET http://evil.example/echo?x=1 HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n",
    )
    assert raw.startswith(b"HTTP/1.1 200")
    assert b'"raw_path":"/echo?x=1"' in raw


async def test_multiple_set_cookie_and_link_preserved_in_order(
    origin: str, start_proxy: StartProxy
) -> None:
    proxy = await start_proxy(origin, **{"origin.public_url": "https://shop.example"})
    async with aiohttp.ClientSession() as client, client.get(proxy + "/cookies") as response:
        cookies = response.headers.getall("Set-Cookie")
        links = response.headers.getall("Link")
    origin_cookies = [c for c in cookies if c[0] in "abc" and c[1] == "="]
    assert [c[0] for c in origin_cookies] == ["a", "b", "c"]
    assert all("Domain=shop.example" in c for c in origin_cookies)
    assert links == ["</x.css>; rel=preload", "</y.js>; rel=preload"]


async def test_origin_cookie_domain_dropped_without_public_url(
    origin: str, start_proxy: StartProxy
) -> None:
    proxy = await start_proxy(origin)
    async with aiohttp.ClientSession() as client, client.get(proxy + "/cookies") as response:
        cookies = response.headers.getall("Set-Cookie")
    assert [c for c in cookies if c.startswith("a=")] == ["a=1; Path=/"]


@pytest.mark.parametrize(
    ("to", "expected"),
    [
        ("self", "https://shop.example/x"),
        ("/relative", "/relative"),
        ("https://other.example/", "https://other.example/"),
    ],
)
async def test_location_rewritten_to_public_origin(
    origin: str, start_proxy: StartProxy, to: str, expected: str
) -> None:
    proxy = await start_proxy(origin, **{"origin.public_url": "https://shop.example"})
    async with aiohttp.ClientSession() as client:
        async with client.get(proxy + "/redirect", params={"to": to}, allow_redirects=False) as r:
            assert r.status == 302
            assert r.headers["Location"] == expected


async def test_location_becomes_relative_without_public_url(
    origin: str, start_proxy: StartProxy
) -> None:
    proxy = await start_proxy(origin)
    async with (
        aiohttp.ClientSession() as client,
        client.get(
            proxy + "/redirect",
            params={"to": "self"},
            headers={"Host": "evil.example"},
            allow_redirects=False,
        ) as r,
    ):
        assert r.headers["Location"] == "/x"


async def test_head_sends_gets_length_and_no_body_on_the_wire(
    origin: str, start_proxy: StartProxy
) -> None:
    proxy = await start_proxy(origin)
    request = b" /page HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    raw = await raw_exchange(proxy, b"HEAD" + request)
    head, _, body = raw.partition(b"\r\n\r\n")
    _, _, page = (await raw_exchange(proxy, b"GET" + request)).partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200") and len(page) > len(PAGE)  # the tracker's tag
    assert f"Content-Length: {len(page)}".encode() in head  # issue #14: GET's, not the origin's
    assert body == b""


@pytest.mark.parametrize("code", [204, 304])
async def test_no_body_statuses(origin: str, start_proxy: StartProxy, code: int) -> None:
    proxy = await start_proxy(origin)
    raw = await raw_exchange(
        proxy, f"GET /status/{code} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode()
    )
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.startswith(f"HTTP/1.1 {code}".encode())
    assert b"Transfer-Encoding" not in head
    assert body == b""
    if code == 304:
        assert b'etag: "s"' in head.lower() and b"cache-control: max-age=5" in head.lower()


async def test_nonstandard_status_forwarded(
    raw_origin: StartRawOrigin, start_proxy: StartProxy
) -> None:
    origin = await raw_origin(b"HTTP/1.1 299 Odd\x7f Reason\r\nContent-Length: 2\r\n\r\nok")
    proxy = await start_proxy(origin)
    raw = await raw_exchange(proxy, b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    status_line = raw.split(b"\r\n", 1)[0]
    assert status_line.startswith(b"HTTP/1.1 299")
    assert b"\x7f" not in status_line
    assert raw.endswith(b"ok")


async def test_injected_page_etag_is_weak_and_revalidates(
    origin: str, start_proxy: StartProxy
) -> None:
    proxy = await start_proxy(origin)
    async with aiohttp.ClientSession() as client:
        async with client.get(proxy + "/conditional") as first:
            etag = first.headers["ETag"]
            assert etag.startswith('W/"page-v1-vn')
            assert TAG_START in await first.read()
        async with client.get(proxy + "/conditional", headers={"If-None-Match": etag}) as again:
            assert again.status == 304
            assert again.headers["ETag"] == etag
        async with client.get(
            proxy + "/conditional", headers={"If-None-Match": 'W/"page-v1-vnold"'}
        ) as stale:
            assert stale.status == 200


async def test_new_ids_make_page_private(origin: str, start_proxy: StartProxy) -> None:
    proxy = await start_proxy(origin)
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as client:
        async with client.get(proxy + "/page") as response:
            assert response.headers["Cache-Control"].startswith("private")
            names = [c.split("=", 1)[0] for c in response.headers.getall("Set-Cookie")]
            assert names == ["vernier_sid", "vernier_vid"]
        # the ids come back: no new cookies, origin caching untouched
        async with client.get(proxy + "/page") as again:
            assert "Set-Cookie" not in again.headers
            assert "Cache-Control" not in again.headers


async def test_a_range_the_origin_answers_whole_is_a_whole_page(
    origin: str, start_proxy: StartProxy
) -> None:
    # RFC 9110 §14.2: the origin may ignore Range; its 200 is the page, which gets the tracker
    # like any other (a part of a page is never changed: tests/integration/test_cache_safety.py)
    proxy = await start_proxy(origin)
    async with aiohttp.ClientSession() as client:
        async with client.get(proxy + "/page", headers={"Range": "bytes=0-9"}) as response:
            body = await response.read()
            assert response.status == 200 and "Content-Range" not in response.headers
    assert TAG_START in body and without_tracker(body) == PAGE


async def test_no_transform_is_respected(origin: str, start_proxy: StartProxy) -> None:
    proxy = await start_proxy(origin)
    async with aiohttp.ClientSession() as client:
        async with client.get(proxy + "/no-transform") as response:
            assert await response.read() == PAGE


@pytest.mark.parametrize("kind", ["plain", "attachment", "json", "none"])
async def test_only_html_is_injected(origin: str, start_proxy: StartProxy, kind: str) -> None:
    proxy = await start_proxy(origin)
    async with aiohttp.ClientSession() as client:
        async with client.get(proxy + f"/typed/{kind}") as response:
            assert await response.read() == PAGE


async def test_untyped_body_gets_no_content_type(
    raw_origin: StartRawOrigin, start_proxy: StartProxy
) -> None:
    # a browser sniffs an untyped page and renders it; application/octet-stream is a download
    origin = await raw_origin(raw_response(PAGE, "Cache-Control: max-age=60"))
    proxy = await start_proxy(origin)
    raw = await raw_exchange(proxy, b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    head, body = raw.split(b"\r\n\r\n", 1)
    assert head.startswith(b"HTTP/1.1 200")
    assert b"content-type" not in head.lower()
    assert body == PAGE


async def test_a_page_typed_twice_is_left_alone(
    raw_origin: StartRawOrigin, start_proxy: StartProxy
) -> None:
    """``text/html`` then ``text/plain``: a browser takes the last and shows the page as text,
    where a tag would show too (an outside tester's page); Vernier does not guess."""
    origin = await raw_origin(
        raw_response(PAGE, "Content-Type: text/html", "Content-Type: text/plain")
    )
    proxy = await start_proxy(origin)
    raw = await raw_exchange(proxy, b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    head, body = raw.split(b"\r\n\r\n", 1)
    assert head.startswith(b"HTTP/1.1 200") and body == PAGE


@pytest.mark.parametrize("coding", ["identity", "gzip", "deflate", "br"])
async def test_encoded_html_injected_and_recoded(
    origin: str, start_proxy: StartProxy, coding: str
) -> None:
    proxy = await start_proxy(origin)
    async with aiohttp.ClientSession(auto_decompress=False) as client:
        async with client.get(proxy + f"/encoded/{coding}") as response:
            raw = await response.read()
            assert response.headers.get("Content-Encoding", "identity") == coding
            assert int(response.headers["Content-Length"]) == len(raw)
    decoded = {
        "identity": lambda b: b,
        "gzip": gzip.decompress,
        "deflate": zlib.decompress,
        "br": brotli.decompress,
    }[coding](raw)
    assert spliced_out(decoded) == PAGE


@pytest.mark.parametrize("kind", ["text/plain", "text/html"])
async def test_a_control_character_in_an_origin_header_still_gets_the_page(
    raw_origin: StartRawOrigin, start_proxy: StartProxy, kind: str
) -> None:
    """Browsers take ``X-Foo: a<0x01>b``; aiohttp refuses to write it (was a 500, or no answer
    for HTML): the value goes out with a space for the character (RFC 9110 §5.5)."""
    body = PAGE if kind == "text/html" else b"plain"
    origin = await raw_origin(raw_response(body, f"Content-Type: {kind}", "X-Foo: a\x01b\x7fc"))
    proxy = await start_proxy(origin)
    async with aiohttp.ClientSession() as client:
        async with client.get(proxy + "/", headers={"Accept": "text/html"}) as response:
            assert response.status == 200 and response.headers["X-Foo"] == "a b c"
            got = await response.read()
            assert (without_tracker(got) if kind == "text/html" else got) == body


async def test_lying_content_encoding_passes_raw_bytes(
    raw_origin: StartRawOrigin, start_proxy: StartProxy
) -> None:
    body = b"<html><head></head><body>not gzip</body></html>"
    origin = await raw_origin(
        raw_response(body, "Content-Type: text/html", "Content-Encoding: gzip")
    )
    proxy = await start_proxy(origin)
    async with aiohttp.ClientSession(auto_decompress=False) as client:
        async with client.get(proxy + "/") as response:
            assert response.status == 200
            assert response.headers["Content-Encoding"] == "gzip"
            assert await response.read() == body


async def test_binary_passthrough_is_byte_identical(origin: str, start_proxy: StartProxy) -> None:
    proxy = await start_proxy(origin)
    async with aiohttp.ClientSession() as client:
        async with client.get(proxy + "/big", params={"bytes": "3000000"}) as response:
            assert response.headers["Content-Length"] == "3000000"
            digest = hashlib.sha256(await response.read()).hexdigest()
    assert digest == hashlib.sha256(b"x" * 3_000_000).hexdigest()


async def test_large_origin_headers_delivered(origin: str, start_proxy: StartProxy) -> None:
    proxy = await start_proxy(origin)
    async with aiohttp.ClientSession(max_field_size=65536, max_line_size=65536) as client:
        async with client.get(proxy + "/big-header") as response:
            assert response.status == 200
            assert any(
                c.startswith("big=" + "v" * 8000) for c in response.headers.getall("Set-Cookie")
            )
            assert len(response.headers["Content-Security-Policy"]) > 16000


async def test_event_stream_is_not_buffered(origin: str, start_proxy: StartProxy) -> None:
    proxy = await start_proxy(origin)
    async with aiohttp.ClientSession() as client, client.get(proxy + "/sse") as response:
        loop = asyncio.get_running_loop()
        start = loop.time()
        first = await response.content.readuntil(b"\n\n")
        assert first == b"data: 0\n\n"
        assert loop.time() - start < 0.15  # the origin's next event is 200 ms away


async def test_streamed_upload_reaches_origin_intact(origin: str, start_proxy: StartProxy) -> None:
    proxy = await start_proxy(origin)
    payload = bytes(range(256)) * 40_000  # ~10 MB

    async def chunks() -> AsyncIterator[bytes]:
        for i in range(0, len(payload), 65536):
            yield payload[i : i + 65536]

    async with aiohttp.ClientSession() as client:
        async with client.post(proxy + "/echo", data=io.BytesIO(payload)) as response:
            data = await response.json()
            assert data["body_sha256"] == hashlib.sha256(payload).hexdigest()
            names = {k.lower(): v for k, v in data["headers"]}
            assert names["content-length"] == str(len(payload))
        async with client.post(proxy + "/echo", data=chunks()) as response:
            data = await response.json()
            assert data["body_sha256"] == hashlib.sha256(payload).hexdigest()


async def _raw_echo(request: web.Request) -> web.Response:
    """What reached the origin, as it arrived (the origin's server decodes nothing)."""
    body = await request.read()
    return web.json_response(
        {
            "coding": request.headers.get("Content-Encoding"),
            "length": request.headers.get("Content-Length"),
            "sha256": hashlib.sha256(body).hexdigest(),
        }
    )


@pytest.mark.parametrize(
    "body",
    [gzip.compress(b'{"k": "' + b"v" * 3000 + b'"}', mtime=0), b"not gzip"],
    ids=["gzip", "bad"],
)
async def test_an_encoded_request_body_reaches_the_origin_as_the_client_sent_it(
    start_proxy: StartProxy, body: bytes
) -> None:
    """A POST with ``Content-Encoding: gzip`` is the client's bytes for the origin: Vernier
    decodes none of it (not even a body that does not decode), with a length or chunked."""
    app = web.Application()
    app.router.add_post("/api", _raw_echo)
    async with serve_app(app, auto_decompress=False) as origin:
        proxy = await start_proxy(origin)

        async def chunks() -> AsyncIterator[bytes]:
            yield body[:10]
            yield body[10:]

        headers = {"Content-Encoding": "gzip", "Content-Type": "application/json"}
        async with aiohttp.ClientSession() as client:
            for data, length in ((body, str(len(body))), (chunks(), None)):
                async with client.post(proxy + "/api", data=data, headers=headers) as response:
                    assert response.status == 200
                    assert await response.json() == {
                        "coding": "gzip",
                        "length": length,
                        "sha256": hashlib.sha256(body).hexdigest(),
                    }


async def test_websocket_passthrough(origin: str, start_proxy: StartProxy) -> None:
    proxy = await start_proxy(origin)
    async with aiohttp.ClientSession() as client:
        async with client.ws_connect(proxy + "/ws", protocols=("chat",)) as ws:
            assert ws.protocol == "chat"
            for i in range(200):
                await ws.send_str(f"m{i}")
                assert (await ws.receive_str()) == f"m{i}"
                await ws.send_bytes(bytes([i % 256]) * 10)
                assert (await ws.receive_bytes()) == bytes([i % 256]) * 10
            await ws.send_str("close")
            message = await ws.receive()
            assert message.type == aiohttp.WSMsgType.CLOSE
            assert ws.close_code == 4001


@pytest.mark.parametrize(
    ("answer", "status", "header"),
    [
        (b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Bearer\r\nContent-Length: 4\r\n\r\nnope",
         401, ("WWW-Authenticate", "Bearer")),
        (b"HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:9/elsewhere\r\nContent-Length: 0\r\n\r\n",
         302, ("Location", "http://127.0.0.1:9/elsewhere")),
        (b"", 502, ("Server", "vernier")),  # the origin closes the connection
    ],
)  # fmt: skip
async def test_an_upgrade_the_origin_does_not_accept_is_relayed_never_followed(
    raw_origin: StartRawOrigin,
    start_proxy: StartProxy,
    answer: bytes,
    status: int,
    header: tuple[str, str],
) -> None:
    """Its status and headers reach the client (a 401's challenge, a 302's Location: aiohttp's
    ws_connect would have followed it, with the visitor's cookie); a dropped connection is a
    502, never a 500."""
    origin = await raw_origin(answer)
    proxy = await start_proxy(origin)
    raw = await raw_exchange(
        proxy,
        b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
        b"Cookie: sid=secret\r\n\r\n",
    )  # by hand: a client library would follow the relayed redirect itself
    head = raw.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
    assert head[0].startswith(f"HTTP/1.1 {status} "), head
    assert f"{header[0]}: {header[1]}" in head[1:]


async def test_a_relayed_upgrade_redirect_names_the_public_address_not_the_origin(
    raw_origin: StartRawOrigin, start_proxy: StartProxy
) -> None:
    """The origin's own address in a refused upgrade's Location and cookie Domain is mapped as
    on any other response (docs/reliability.md PX-09, PX-10): relative without a public URL."""

    async def redirect_to_itself(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        await reader.readuntil(b"\r\n\r\n")
        port = writer.get_extra_info("sockname")[1]
        writer.write(
            f"HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:{port}/login\r\n"
            "Set-Cookie: next=ws; Domain=127.0.0.1; Path=/\r\nContent-Length: 0\r\n\r\n".encode()
        )
        await writer.drain()

    proxy = await start_proxy(await raw_origin(redirect_to_itself))
    raw = await raw_exchange(
        proxy,
        b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    )
    head = raw.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
    assert head[0].startswith("HTTP/1.1 302 "), head
    assert "Location: /login" in head[1:]
    assert "Set-Cookie: next=ws; Path=/" in head[1:]


async def test_websocket_refused_by_origin_is_plain_http(
    origin: str, start_proxy: StartProxy
) -> None:
    proxy = await start_proxy(origin)
    async with aiohttp.ClientSession() as client:
        with pytest.raises(aiohttp.WSServerHandshakeError) as err:
            await client.ws_connect(proxy + "/page")
    assert err.value.status != 101
