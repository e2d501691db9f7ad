"""How the demo shop serves bytes: static files, cache validators and compression.

This is what a typical framework adds around a site's handlers, written out so the proxy in front
of the shop meets the usual mix: weak ``ETag``\\s with ``304 Not Modified``, ``no-cache`` pages,
immutable versioned static files, ``Vary: Accept-Encoding`` and gzip only when the client asks.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web
from aiohttp.typedefs import Handler

STATIC_DIR = Path(__file__).parent / "static"
PAGE_CACHE_CONTROL = "no-cache"
STATIC_CACHE_CONTROL = "public, max-age=31536000, immutable"

_STATIC_TYPES = {".css": ("text/css", "utf-8"), ".svg": ("image/svg+xml", None)}
_COMPRESSIBLE_TYPES = frozenset({"text/html", "text/css", "image/svg+xml", "application/json"})
_MIN_COMPRESS_BYTES = 256


@dataclass(frozen=True, slots=True)
class StaticAsset:
    """A file under ``static/``, read once at startup; ``version`` busts caches when it changes."""

    body: bytes
    content_type: str
    charset: str | None
    version: str


def load_assets(static_dir: Path = STATIC_DIR) -> dict[str, StaticAsset]:
    """Every servable file in ``static_dir``, by file name (nothing else is reachable)."""
    assets = {}
    for path in sorted(static_dir.iterdir()):
        if path.suffix in _STATIC_TYPES and path.is_file():
            body = path.read_bytes()
            content_type, charset = _STATIC_TYPES[path.suffix]
            version = hashlib.sha256(body).hexdigest()[:10]
            assets[path.name] = StaticAsset(body, content_type, charset, version)
    return assets


def static_response(asset: StaticAsset) -> web.Response:
    return web.Response(
        body=asset.body,
        content_type=asset.content_type,
        charset=asset.charset,
        headers={"Cache-Control": STATIC_CACHE_CONTROL},
    )


def accepts_gzip(accept_encoding: str) -> bool:
    """Whether an ``Accept-Encoding`` value allows gzip (RFC 9110 §12.5.3; ``q=0`` refuses)."""
    wildcard = False
    for item in accept_encoding.lower().split(","):
        coding, _, params = item.partition(";")
        name, _, value = params.partition("=")
        q = 1.0
        if name.strip() == "q":
            try:
                q = float(value)
            except ValueError:
                q = 0.0
        if coding.strip() in ("gzip", "x-gzip"):
            return q > 0
        if coding.strip() == "*":
            wildcard = q > 0
    return wildcard


def etag_matches(if_none_match: str, etag: str) -> bool:
    """Weak comparison of ``If-None-Match`` with our ETag, as RFC 9110 §13.1.2 requires."""
    if if_none_match.strip() == "*":
        return True
    ours = etag.removeprefix("W/")
    return any(tag.strip().removeprefix("W/") == ours for tag in if_none_match.split(","))


@web.middleware
async def http_semantics(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Default cache policy, weak ETags with 304s, and gzip for text when the client accepts it.

    aiohttp's own ``enable_compression()`` prefers deflate whenever a client lists it; browsers list
    both, and gzip is what real sites send, so gzip is chosen explicitly.
    """
    response = await handler(request)
    response.headers.setdefault("Cache-Control", PAGE_CACHE_CONTROL)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    if not isinstance(response, web.Response) or not isinstance(response.body, bytes):
        return response
    body, compressible = response.body, response.content_type in _COMPRESSIBLE_TYPES
    if compressible:
        response.headers["Vary"] = "Accept-Encoding"
    cacheable = "no-store" not in response.headers["Cache-Control"] and not response.cookies
    if response.status == 200 and request.method in ("GET", "HEAD") and cacheable:
        # Weak: the same tag names the gzip and the identity representation.
        etag = f'W/"{hashlib.sha256(body).hexdigest()[:20]}"'
        response.headers["ETag"] = etag
        if etag_matches(request.headers.get("If-None-Match", ""), etag):
            kept = [k for k in ("ETag", "Cache-Control", "Vary") if k in response.headers]
            return web.Response(status=304, headers={k: response.headers[k] for k in kept})
    if (
        compressible
        and len(body) >= _MIN_COMPRESS_BYTES
        and accepts_gzip(request.headers.get("Accept-Encoding", ""))
    ):
        response.enable_compression(web.ContentCoding.gzip)
    return response
