"""The origin used by integration tests: an ordinary aiohttp site with the odd corners the proxy
must get through (echoes, redirects, cookies, encodings, slow and broken responses)."""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import zlib

import brotli  # type: ignore[import-untyped]  # brotli ships no type information
import orjson
from aiohttp import web

PAGE = (
    b"<!doctype html>\n<html><head><meta charset=utf-8><title>Origin page</title></head>"
    b"<body><h1 id=hero>Hello</h1><p>Body text.</p></body></html>\n"
)


def html(body: bytes = PAGE, /, **headers: str) -> web.Response:
    return web.Response(body=body, headers={"Content-Type": "text/html; charset=utf-8", **headers})


async def echo(request: web.Request) -> web.Response:
    body = await request.read()
    data = {
        "method": request.method,
        "raw_path": request.raw_path,
        "headers": [[k, v] for k, v in request.headers.items()],
        "body_sha256": hashlib.sha256(body).hexdigest(),
        "body_length": len(body),
    }
    return web.Response(body=orjson.dumps(data), content_type="application/json")


async def page(request: web.Request) -> web.Response:
    return html(ETag='"page-v1"')


async def conditional_page(request: web.Request) -> web.Response:
    if request.headers.get("If-None-Match") in ('"page-v1"', 'W/"page-v1"'):
        return web.Response(status=304, headers={"ETag": '"page-v1"', "Cache-Control": "no-cache"})
    return html(ETag='"page-v1"', **{"Cache-Control": "no-cache"})


DATED = "Tue, 01 Dec 2026 10:00:00 GMT"


async def dated_page(request: web.Request) -> web.Response:
    """A page with only a date for a validator, as static file servers send."""
    if request.headers.get("If-Modified-Since") == DATED:
        return web.Response(status=304, headers={"Last-Modified": DATED})
    return html(**{"Last-Modified": DATED})


STYLES = b"".join(
    b".c%d { color: #%06x; margin: %dpx }\n" % (i, i * 997, i % 40) for i in range(600)
)


async def styles(request: web.Request) -> web.StreamResponse:
    """A stylesheet sent uncompressed (nginx behind a proxy, gzip_proxied off), in pieces
    (``?chunked=1``: no length), or with ``?cache_control=``; revalidated as nginx does (304 with
    its strong tag to a weak or strong ``If-None-Match``)."""
    headers = {"Content-Type": "text/css", "ETag": '"css-1"'}
    if request.headers.get("If-None-Match") in ('"css-1"', 'W/"css-1"'):
        return web.Response(status=304, headers={"ETag": '"css-1"'})
    if "cache_control" in request.query:
        headers["Cache-Control"] = request.query["cache_control"]
    if "chunked" not in request.query:
        return web.Response(body=STYLES, headers=headers)
    response = web.StreamResponse(headers=headers)
    await response.prepare(request)
    for start in range(0, len(STYLES), 4096):
        await response.write(STYLES[start : start + 4096])
    await response.write_eof()
    return response


HUGE_HEAD = b"<!doctype html>\n<html><head><meta charset=utf-8><title>Big</title></head><body>\n"
HUGE_ROW = b"<p>" + b"A row of a very long page. " * 37 + b"</p>\n"  # 1,007 bytes


class _Compressor:
    """gzip or brotli as the page is written (``?coding=``), as nginx compresses on the fly."""

    def __init__(self, coding: str) -> None:
        self._coding = coding
        self._gzip = zlib.compressobj(6, zlib.DEFLATED, 31)
        self._br = brotli.Compressor(quality=5)

    def feed(self, data: bytes) -> bytes:
        if self._coding == "gzip":
            return self._gzip.compress(data)
        return self._br.process(data)  # type: ignore[no-any-return]

    def finish(self) -> bytes:
        if self._coding == "gzip":
            return self._gzip.flush()
        return self._br.finish()  # type: ignore[no-any-return]


async def huge_page(request: web.Request) -> web.StreamResponse:
    """A page of ``?kib=`` rows of ~1 KB (default 5 MB), sent in pieces, never held whole (so a
    memory measurement sees only the proxy's): uncompressed with its length, or with
    ``?coding=gzip|br`` compressed as it goes (chunked); ``?head_metas=`` lengthens its head."""
    rows = int(request.query.get("kib", "5120"))
    metas = b"<meta name=filler content=x>\n" * int(request.query.get("head_metas", "0"))
    head = HUGE_HEAD.replace(b"</head>", metas + b"</head>")
    tail = b"</body></html>\n"
    response = web.StreamResponse(headers={"Content-Type": "text/html; charset=utf-8"})
    coding = request.query.get("coding")
    compressor = _Compressor(coding) if coding else None
    if compressor is None:
        response.content_length = len(head) + rows * len(HUGE_ROW) + len(tail)
    else:
        response.headers["Content-Encoding"] = request.query["coding"]
    await response.prepare(request)

    async def write(data: bytes) -> None:
        await response.write(compressor.feed(data) if compressor else data)

    await write(head)
    for _ in range(rows // 16):
        await write(HUGE_ROW * 16)
    for _ in range(rows % 16):
        await write(HUGE_ROW)
    await write(tail)
    await response.write_eof(compressor.finish() if compressor else b"")
    return response


async def encoded_page(request: web.Request) -> web.Response:
    coding = request.match_info["coding"]
    body = {
        "gzip": lambda b: gzip.compress(b, mtime=0),
        "deflate": zlib.compress,
        "br": brotli.compress,
        "identity": lambda b: b,
        "mislabelled": lambda b: b,  # plain bytes under a gzip label
    }[coding](PAGE)
    headers = {"Content-Type": "text/html; charset=utf-8"}
    if coding != "identity":
        headers["Content-Encoding"] = "gzip" if coding == "mislabelled" else coding
    return web.Response(body=body, headers=headers)


async def cookies(request: web.Request) -> web.Response:
    response = html()
    for name in ("a", "b", "c"):
        response.headers.add("Set-Cookie", f"{name}=1; Path=/; Domain=127.0.0.1")
    response.headers.add("Link", "</x.css>; rel=preload")
    response.headers.add("Link", "</y.js>; rel=preload")
    return response


async def redirect(request: web.Request) -> web.Response:
    target = request.query["to"]
    if target == "self":
        target = f"http://{request.host}/x"
    return web.Response(status=302, headers={"Location": target})


async def status(request: web.Request) -> web.Response:
    code = int(request.match_info["code"])
    if code in (204, 304):
        return web.Response(status=code, headers={"ETag": '"s"', "Cache-Control": "max-age=5"})
    return web.Response(status=code, text="status body")


async def no_transform(request: web.Request) -> web.Response:
    return html(**{"Cache-Control": "no-transform"})


async def typed(request: web.Request) -> web.Response:
    kind = request.match_info["kind"]
    headers = {
        "plain": {"Content-Type": "text/plain"},
        "attachment": {"Content-Type": "text/html", "Content-Disposition": "attachment"},
        "json": {"Content-Type": "application/json"},
        "none": {},
    }[kind]
    response = web.Response(body=PAGE, headers=headers)
    if kind == "none":
        response.headers.pop("Content-Type", None)
    return response


async def big(request: web.Request) -> web.StreamResponse:
    size = int(request.query.get("bytes", "1048576"))
    response = web.StreamResponse(headers={"Content-Type": "application/octet-stream"})
    response.content_length = size
    await response.prepare(request)
    chunk = b"x" * 65536
    sent = 0
    try:
        while sent < size:
            piece = chunk[: min(len(chunk), size - sent)]
            await response.write(piece)
            sent += len(piece)
    except ConnectionError:
        return response  # the proxy hung up (its client did): not this origin's error to log
    await response.write_eof()
    return response


async def slow(request: web.Request) -> web.Response:
    await asyncio.sleep(float(request.query.get("s", "5")))
    return html()


async def stall_mid_body(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": request.query.get("type", "text/html")})
    response.content_length = 100_000
    await response.prepare(request)
    await response.write(b"<html><head></head><body>" + b"a" * 5000)
    await asyncio.sleep(float(request.query.get("s", "5")))
    return response


async def sse(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await response.prepare(request)
    for i in range(3):
        await response.write(f"data: {i}\n\n".encode())
        await asyncio.sleep(0.2)
    await response.write_eof()
    return response


async def websocket(request: web.Request) -> web.WebSocketResponse:
    ws = web.WebSocketResponse(protocols=("chat",))
    await ws.prepare(request)
    async for msg in ws:
        if msg.type == web.WSMsgType.TEXT:
            if msg.data == "close":
                await ws.close(code=4001)
                break
            await ws.send_str(msg.data)
        elif msg.type == web.WSMsgType.BINARY:
            await ws.send_bytes(msg.data)
    return ws


async def csp_page(request: web.Request) -> web.Response:
    policy = request.query.get("policy", "script-src 'self'")
    return html(**{"Content-Security-Policy": policy})


async def big_header(request: web.Request) -> web.Response:
    return html(
        **{
            "Content-Security-Policy": "default-src 'self' "
            + " ".join(f"https://h{i}.example" for i in range(900)),
            "Set-Cookie": "big=" + "v" * 8000,
        }
    )


def create_origin_app() -> web.Application:
    app = web.Application(client_max_size=256 * 1024 * 1024)
    app.router.add_route("*", "/echo{tail:.*}", echo)
    app.router.add_get("/page", page)
    app.router.add_get("/conditional", conditional_page)
    app.router.add_get("/dated/{name}", dated_page)
    app.router.add_get("/encoded/{coding}", encoded_page)
    app.router.add_get("/styles.css", styles)
    app.router.add_get("/huge", huge_page)
    app.router.add_get("/cookies", cookies)
    app.router.add_get("/redirect", redirect)
    app.router.add_route("*", "/status/{code}", status)
    app.router.add_get("/no-transform", no_transform)
    app.router.add_get("/typed/{kind}", typed)
    app.router.add_get("/big", big)
    app.router.add_get("/slow", slow)
    app.router.add_get("/stall", stall_mid_body)
    app.router.add_get("/sse", sse)
    app.router.add_get("/ws", websocket)
    app.router.add_get("/csp", csp_page)
    app.router.add_get("/big-header", big_header)
    app.router.add_static("/static", __file__.rsplit("/", 1)[0])
    return app
