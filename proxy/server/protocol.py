"""aiohttp's server with a header-read deadline.

aiohttp has no deadline for receiving a request's header block: a client that sends one byte every
few seconds keeps a connection and a handler slot forever (slowloris; Go, hyper and cowboy all added
one). We start a timer when the first byte of a request head arrives and close the connection if
the head is not complete when it fires. Idle keep-alive connections are handled by aiohttp's own
``keepalive_timeout``; request bodies by the handler's read timeouts.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from typing import Any

from aiohttp import HttpVersion, HttpVersion10, HttpVersion11, web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_request import BaseRequest
from aiohttp.web_server import Server

from proxy.upstream.relay import ClientGone, OriginBroken

# the version a request line claimed when it was neither HTTP/1.0 nor HTTP/1.1
CLAIMED_VERSION = web.RequestKey("vernier.claimed_version", HttpVersion)
SERVER_NAME = "vernier"


class DeadlineRequestHandler(RequestHandler):
    """A RequestHandler that closes connections whose request head arrives too slowly."""

    header_timeout_s: float = 10.0

    def __init__(self, *args: Any, header_timeout_s: float, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.header_timeout_s = header_timeout_s
        self._head_deadline: asyncio.TimerHandle | None = None
        self._last_payload: Any = None

    def data_received(self, data: bytes) -> None:
        receiving_body = self._last_payload is not None and not self._last_payload.is_eof()
        before = self._request_count
        super().data_received(data)
        if self._request_count > before:
            # a head completed: its body (if any) is now what arrives
            self._cancel_head_deadline()
            self._last_payload = self._messages[-1][1] if self._messages else None
            return
        if not receiving_body and not self._upgraded and self._head_deadline is None:
            self._head_deadline = self._loop.call_later(self.header_timeout_s, self._head_timed_out)

    def _cancel_head_deadline(self) -> None:
        if self._head_deadline is not None:
            self._head_deadline.cancel()
            self._head_deadline = None

    def _head_timed_out(self) -> None:
        self._head_deadline = None
        if self.transport is not None:
            self.transport.close()

    def connection_lost(self, exc: BaseException | None) -> None:
        self._cancel_head_deadline()
        super().connection_lost(exc)

    def log_exception(self, *args: Any, **kw: Any) -> None:
        """Malformed requests and hang-ups are the client's doing: one info line, no traceback
        (no log floods); an origin that broke mid-body was logged where it broke. ERROR is kept
        for real faults."""
        exc = kw.get("exc_info")
        if isinstance(exc, HttpProcessingError):
            self.logger.info("refused malformed request: %s", exc.message.splitlines()[0][:200])
            return
        if isinstance(exc, ClientGone):
            self.logger.info("client hung up before its response was complete (%s)", exc)
            return
        if isinstance(exc, OriginBroken):
            return
        super().log_exception(*args, **kw)

    def handle_error(
        self,
        request: BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        """aiohttp's own error answers, made generic: no echo of the request, no versions."""
        self.log_exception("Error handling request", exc_info=exc)
        if request.writer.output_size > 0:
            raise ConnectionError("response already started; closing the connection")
        phrase = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Error"
        response = web.Response(
            status=status,
            text=f"{status} {phrase}\n",
            headers={"Server": SERVER_NAME, "Cache-Control": "no-store"},
        )
        response.force_close()
        return response


class DeadlineServer(Server):
    def __init__(self, *args: Any, header_timeout_s: float, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._header_timeout_s = header_timeout_s
        make_request = self.request_factory

        def request_factory(message: Any, *rest: Any) -> BaseRequest:
            # aiohttp accepts "HTTP/2.0" request lines and would answer "HTTP/2.0 ..." on an
            # HTTP/1.1 connection; remember the claim (admit refuses it) and speak HTTP/1.1
            claimed = message.version
            if claimed not in (HttpVersion10, HttpVersion11):
                message = message._replace(version=HttpVersion11)
            request = make_request(message, *rest)
            if claimed is not message.version:
                request[CLAIMED_VERSION] = claimed
            return request

        self.request_factory = request_factory

    def __call__(self) -> RequestHandler:
        return DeadlineRequestHandler(
            self, loop=self._loop, header_timeout_s=self._header_timeout_s, **self._kwargs
        )


Handler = Callable[[web.BaseRequest], Awaitable[web.StreamResponse]]


class DeadlineAppRunner(web.AppRunner):
    """Runs ``app`` (its startup, cleanup and state) with ``handler`` as the only way in.

    Requests go straight to ``handler`` instead of aiohttp's router: a proxy answers every target,
    including ones a URL router cannot match (``CONNECT host:443``, ``OPTIONS *``), and skips a
    regex match per request. Connections get a header-read deadline.
    """

    def __init__(
        self, app: web.Application, *, handler: Handler, header_timeout_s: float, **kwargs: Any
    ) -> None:
        super().__init__(app, **kwargs)
        self._handler = handler
        self._header_timeout_s = header_timeout_s

    async def _make_server(self) -> Server:
        loop = asyncio.get_running_loop()
        app = self.app
        app._set_loop(loop)
        app.on_startup.freeze()
        await app.startup()
        app.freeze()
        return DeadlineServer(
            self._handler,
            request_factory=app._make_request,
            loop=loop,
            header_timeout_s=self._header_timeout_s,
            **self._kwargs,
        )
