"""The soak's origin, a child process of ``soak_bench.py``: a slot page, a plain page, a page with
an ETag (304 on revalidation) and a 1 MiB binary, on 127.0.0.1 only.

    python bench/soak_origin.py PORT
"""

from __future__ import annotations

import sys

from aiohttp import web

HEAD = b'<!doctype html><html><head><meta charset="utf-8"><title>Soak</title></head><body>'
FILLER = b"".join(
    b"<p>Paragraph %d of the article, long enough to be a page.</p>" % i for i in range(300)
)
SLOT_PAGE = HEAD + b'<h1 id="hero">Welcome</h1>' + FILLER + b"</body></html>"
PLAIN_PAGE = HEAD + b"<h1>About</h1>" + FILLER + b"</body></html>"
BINARY = bytes(range(256)) * 4096  # 1 MiB
ETAG = '"soak-v1"'


async def slot(request: web.Request) -> web.Response:
    return web.Response(body=SLOT_PAGE, content_type="text/html", charset="utf-8")


async def plain(request: web.Request) -> web.Response:
    return web.Response(body=PLAIN_PAGE, content_type="text/html", charset="utf-8")


async def cached(request: web.Request) -> web.Response:
    if request.headers.get("If-None-Match") == ETAG:
        return web.Response(status=304, headers={"ETag": ETAG})
    return web.Response(
        body=PLAIN_PAGE, content_type="text/html", charset="utf-8", headers={"ETag": ETAG}
    )


async def binary(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "application/octet-stream"})
    response.content_length = len(BINARY)
    await response.prepare(request)
    try:
        for start in range(0, len(BINARY), 65536):
            await response.write(BINARY[start : start + 65536])
    except ConnectionError:
        return response  # the proxy's client hung up, and so did the proxy
    await response.write_eof()
    return response


def main() -> None:
    app = web.Application()
    app.router.add_get("/slot", slot)
    app.router.add_get("/plain", plain)
    app.router.add_get("/cached", cached)
    app.router.add_get("/big.bin", binary)
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), access_log=None, print=None)


if __name__ == "__main__":
    main()
