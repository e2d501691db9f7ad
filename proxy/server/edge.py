"""Where a request served by aiohttp becomes Vernier's own :class:`RequestView`.

Everything a stage reads is copied here once, so stages depend on the view, not on aiohttp's
request; only the stages that move bodies over the client's connection (forward, gate, decode)
use the live request the exchange also keeps.
"""

from __future__ import annotations

from aiohttp import web

from proxy.request_view import RequestView
from proxy.server.protocol import CLAIMED_VERSION


def request_view(request: web.BaseRequest) -> RequestView:
    return RequestView(
        method=request.method,
        raw_target=request.raw_path,
        path=request.path,
        query=request.query,
        headers=request.headers,
        cookies=request.cookies,
        host=request.host,
        scheme=request.scheme,
        remote=request.remote,
        version=request.version,
        claimed_version=request.get(CLAIMED_VERSION),
        body_exists=request.body_exists,
    )
