"""admit: refuse requests a reverse proxy must not forward, before anything reaches the origin.

aiohttp's request parser is strict, but it leaves a few gaps to the application (docs/reliability.md
§0.3): HTTP/1.0 with ``Transfer-Encoding`` (RFC 9112 §6.1: faulty framing — close), request lines
claiming HTTP/2.0, absolute-form targets, CONNECT, and a request that loops back through ourselves.
"""

from __future__ import annotations

from aiohttp import HttpVersion10, HttpVersion11

from proxy.exchange import Exchange
from proxy.replies import error_reply
from proxy.upstream.client import origin_form
from proxy.upstream.headers import ForwardingPolicy
from proxy.upstream.websocket import is_websocket_upgrade


class Admit:
    name = "admit"

    def __init__(self, policy: ForwardingPolicy) -> None:
        self._policy = policy

    async def __call__(self, ex: Exchange) -> None:
        request = ex.request
        if request.claimed_version is not None or request.version not in (
            HttpVersion11,
            HttpVersion10,
        ):
            ex.reply = error_reply(505, "HTTP version not supported.", close=True)
            return
        if request.version == HttpVersion10 and "Transfer-Encoding" in request.headers:
            ex.reply = error_reply(400, "Transfer-Encoding is not allowed in HTTP/1.0.", close=True)
            return
        if request.method == "CONNECT":
            ex.reply = error_reply(405, "This is not a forward proxy.", close=True)
            return
        if is_websocket_upgrade(request) and request.body_exists:
            # an upgrade carrying a body is how requests get smuggled past the switch
            ex.reply = error_reply(400, "A protocol upgrade cannot carry a body.", close=True)
            return
        target = origin_form(request.raw_target)
        if target is None:
            ex.reply = error_reply(400, "Bad request target.", close=True)
            return
        if self._policy.is_loop(request.headers):
            ex.reply = error_reply(508, "The origin routes back to this proxy.", close=True)
            return
        ex.target = target
