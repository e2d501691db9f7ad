"""WebSocket passthrough: accept the client's upgrade only after the origin accepted its own.

If the origin answers the upgrade with anything but 101, that answer's status and headers are
relayed as an ordinary HTTP response and no tunnel opens (the CVE-2026-69243 class: never switch
protocols on a guess). A redirect is relayed too, never followed: aiohttp's ``ws_connect`` would
follow it, with the visitor's headers, wherever the origin points (:func:`no_redirects_followed`
stops it, on the origin session). An origin that drops the connection is a 502.
"""

from __future__ import annotations

import asyncio
import contextlib
from types import SimpleNamespace

from aiohttp import (
    ClientError,
    ClientSession,
    TraceConfig,
    TraceRequestRedirectParams,
    WSMsgType,
    WSServerHandshakeError,
    web,
)
from aiohttp.client_ws import ClientWebSocketResponse
from multidict import CIMultiDict, CIMultiDictProxy

from proxy.request_view import RequestView
from proxy.upstream.headers import response_headers
from proxy.upstream.public_address import PublicAddress

_WS_OWN = frozenset(
    {
        "sec-websocket-key",
        "sec-websocket-version",
        "sec-websocket-extensions",
        "sec-websocket-protocol",
    }
)


def is_websocket_upgrade(request: RequestView) -> bool:
    upgrade = request.headers.get("Upgrade", "").lower()
    connection = request.headers.get("Connection", "").lower()
    return request.method == "GET" and upgrade == "websocket" and "upgrade" in connection


WebSocket = web.WebSocketResponse | ClientWebSocketResponse


class RedirectNotFollowed(Exception):
    """The origin answered with a redirect, which the proxy relays instead of following."""

    def __init__(self, status: int, headers: CIMultiDictProxy[str]) -> None:
        super().__init__(status)
        self.status = status
        self.headers = headers


async def _refuse_redirect(
    session: ClientSession, context: SimpleNamespace, params: TraceRequestRedirectParams
) -> None:
    params.response.release()
    raise RedirectNotFollowed(params.response.status, params.response.headers)


def no_redirects_followed() -> TraceConfig:
    """For the origin session: a redirect about to be followed raises
    :class:`RedirectNotFollowed` (every other request asks with ``allow_redirects=False``)."""
    trace = TraceConfig()
    trace.on_request_redirect.append(_refuse_redirect)
    return trace


def _relayed(status: int, headers: CIMultiDictProxy[str], public: PublicAddress) -> web.Response:
    out = response_headers(headers)
    out.popall("Content-Encoding", None)  # the body is not relayed
    out["Server"] = "vernier"
    public.map_headers(out)
    return web.Response(status=status if 300 <= status < 600 else 502, headers=out)


async def _pump(source: WebSocket, sink: WebSocket) -> None:
    """Relay data frames from ``source`` to ``sink``; pass ``source``'s close code on."""
    async for msg in source:
        if msg.type == WSMsgType.TEXT:
            await sink.send_str(msg.data)
        elif msg.type == WSMsgType.BINARY:
            await sink.send_bytes(msg.data)
    await sink.close(code=source.close_code or 1000)


async def tunnel(
    request: web.Request,
    session: ClientSession,
    url: str,
    headers: CIMultiDict[str],
    public: PublicAddress,
) -> web.StreamResponse:
    """Connect to the origin's WebSocket, then accept the client's and relay both ways; a
    refusal is relayed with the origin's addresses in it mapped by ``public``."""
    protocols = [
        p.strip() for p in request.headers.get("Sec-WebSocket-Protocol", "").split(",") if p.strip()
    ]
    forward = CIMultiDict((k, v) for k, v in headers.items() if k.lower() not in _WS_OWN)
    try:
        origin = await session.ws_connect(
            url, headers=forward, protocols=protocols, autoping=True, max_msg_size=0
        )
    except WSServerHandshakeError as err:
        return _relayed(err.status, CIMultiDictProxy(CIMultiDict(err.headers or {})), public)
    except RedirectNotFollowed as redirect:
        return _relayed(redirect.status, redirect.headers, public)
    except (TimeoutError, ClientError, OSError):
        return web.Response(
            status=502, text="The site closed the connection.\n", headers={"Server": "vernier"}
        )
    client = web.WebSocketResponse(
        protocols=[origin.protocol] if origin.protocol else (), autoping=True, max_msg_size=0
    )
    await client.prepare(request)
    to_origin = asyncio.ensure_future(_pump(client, origin))
    to_client = asyncio.ensure_future(_pump(origin, client))
    try:
        await asyncio.wait({to_origin, to_client}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (to_origin, to_client):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await origin.close()
        await client.close()
    return client
