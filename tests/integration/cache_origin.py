"""An origin that caches and validates as static servers and CDNs expect: strong ETags, a
``Last-Modified``, ``Accept-Ranges`` and real 206s, 304s (with both validators, as nginx sends
them) for ``If-None-Match`` (first, as RFC 9110 §13.2.2 says) or ``If-Modified-Since``, and
extra response fields from ``?add=Name:value`` (a CSP among them repeated on its 304s). It records the conditional and range fields of
every request it gets, for tests that check what Vernier forwards."""

from __future__ import annotations

import re

from aiohttp import web

LAST_MODIFIED = "Wed, 01 Jan 2025 00:00:00 GMT"
ORIGIN_ETAG = '"pg-v1"'
FILLER = b"<p>" + b"lorem ipsum dolor sit amet " * 60 + b"</p>"
PAGE = (
    b"<!doctype html><html><head><title>Cached</title></head><body>"
    b"<div id=hero><h1 class=t>Hero A</h1></div><p id=msg>plain</p>" + FILLER + b"</body></html>"
)
ASKED = web.AppKey("asked", list[dict[str, str]])
RECORDED = ("if-", "range")


def _tags(value: str) -> set[str]:
    return set(re.findall(r'(?:W/)?"([^"]*)"', value))


async def cached_page(request: web.Request) -> web.Response:
    request.app[ASKED].append(
        {k: v for k, v in request.headers.items() if k.lower().startswith(RECORDED)}
    )
    headers = {
        "ETag": ORIGIN_ETAG,
        "Last-Modified": LAST_MODIFIED,
        "Cache-Control": request.query.get("cc", "public, max-age=60, s-maxage=600"),
        "Content-Type": "text/html; charset=utf-8",
        "Accept-Ranges": "bytes",
    }
    for added in request.query.getall("add", []):
        name, _, value = added.partition(":")
        headers[name] = value
    if_none_match = request.headers.get("If-None-Match")
    validated = (
        bool(_tags(if_none_match) & _tags(ORIGIN_ETAG)) or if_none_match.strip() == "*"
        if if_none_match is not None
        else request.headers.get("If-Modified-Since") == LAST_MODIFIED
    )
    if validated:
        repeated = ("ETag", "Last-Modified", "Cache-Control", "Content-Security-Policy")
        kept = {k: v for k, v in headers.items() if k in repeated}  # nginx's add_header always
        return web.Response(status=304, headers=kept)
    asked_range = request.headers.get("Range", "")
    if_range = request.headers.get("If-Range")
    if asked_range.startswith("bytes=") and if_range in (None, ORIGIN_ETAG, LAST_MODIFIED):
        first, _, last = asked_range[6:].partition("-")
        start, end = int(first), int(last) if last else len(PAGE) - 1
        headers["Content-Range"] = f"bytes {start}-{end}/{len(PAGE)}"
        return web.Response(status=206, body=PAGE[start : end + 1], headers=headers)
    return web.Response(body=PAGE, headers=headers)


def create_cache_origin() -> web.Application:
    app = web.Application()
    app[ASKED] = []
    app.router.add_get("/{name}", cached_page)
    return app
