"""forward: send the request to the configured origin and wait for its response headers.

The URL is the configured origin plus the request's raw origin-form target, never derived from
``Host`` or an absolute-form target. Request bodies stream through with their own framing
(``Content-Length`` kept, chunked re-chunked). Connect failures answer 502, timeouts 504, an origin
that sends an ambiguous or malformed response 502 — the connection to it is discarded.

A HEAD is asked of the origin as a GET (RFC 9110 §9.3.2: HEAD's fields are GET's): the length,
validator and caching fields of a page Vernier changes can only be known from the page. The
origin's body is never read for anything Vernier does not rewrite, and its connection is then
closed rather than drained. A range of a page Vernier would change is answered whole: the
origin's part (206) is of its own bytes, so the page is asked for again without ``Range``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable

from aiohttp import (
    ClientConnectionError,
    ClientConnectorError,
    ClientResponseError,
    ClientSession,
    ServerTimeoutError,
    web,
)
from multidict import CIMultiDict

from proxy.exchange import Exchange
from proxy.metrics import Metrics
from proxy.replies import error_reply
from proxy.upstream.client import origin_url
from proxy.upstream.conditional import (
    asks_for_a_page,
    only_our_validators,
    take_conditions,
    without_dates_beside_tags,
)
from proxy.upstream.etag import origin_if_none_match, tracker_mark
from proxy.upstream.headers import ForwardingPolicy
from proxy.upstream.log_limit import LogLimit, held_back
from proxy.upstream.origin_pool import OriginPool, OriginResponse, OriginUnreachable
from proxy.upstream.public_address import PublicAddress
from proxy.upstream.websocket import is_websocket_upgrade, tunnel

log = logging.getLogger("vernier.forward")

_POOLED = frozenset({"GET", "HEAD"})  # a HEAD is asked as a GET (see above)
RANGE_FIELDS = ("Range", "If-Range")
WantsWhole = Callable[[Exchange, OriginResponse], bool]


class ClientBody:
    """The client's request body as the origin request's data, with an idle deadline.

    aiohttp's server has no timeout while a handler reads a body: a client that stops sending
    would hold a handler and an origin connection forever. The body is read by aiohttp's writer
    task, whose failure does not end the wait for the origin's answer, so a stall cancels the
    waiting task itself (as ``asyncio.timeout`` does); ``stalled`` tells that apart from any
    other cancellation.
    """

    def __init__(self, request: web.BaseRequest, idle_timeout_s: float) -> None:
        self._content = request.content
        self._idle_timeout_s = idle_timeout_s
        self._waiter = asyncio.current_task()
        self.stalled = False

    async def chunks(self) -> AsyncIterator[bytes]:
        while True:
            try:
                async with asyncio.timeout(self._idle_timeout_s):
                    chunk = await self._content.readany()
            except TimeoutError:
                self.stalled = True
                if self._waiter is not None:
                    self._waiter.cancel()
                raise
            if not chunk:
                return
            yield chunk


class Forward:
    name = "forward"

    def __init__(
        self,
        session: ClientSession,
        origin: str,
        policy: ForwardingPolicy,
        metrics: Metrics,
        tag_digest: str,
        body_idle_timeout_s: float,
        public: PublicAddress,
        log_limit: LogLimit | None = None,
        pool: OriginPool | None = None,
        wants_whole: WantsWhole | None = None,
        injects_tracker: bool = False,
    ) -> None:
        # the origin's addresses in a refused WebSocket upgrade's headers (others: the gate)
        self._public = public
        # every page Vernier serves with the tracker has a validator of its own: a page asked for
        # with the origin's (a copy from before Vernier, or served unchanged on a failure) is
        # asked for whole, so it is not kept without the tracker for good
        self._injects_tracker = injects_tracker
        # a part (206) of a page Vernier changes: asked again for the whole (stages/gate.py)
        self._wants_whole = wants_whole
        # the plain GETs (and HEADs) without a body, when the origin is http:// (upstream/origin_pool.py)
        self._pool = pool
        self._body_idle_timeout_s = body_idle_timeout_s
        # origin 5xx: one warning line per status per minute, saying how many it stands for
        self._log_limit = log_limit or LogLimit()
        self._session = session
        self._origin = origin
        self._policy = policy
        self._metrics = metrics
        self._tag_digest = tag_digest

    async def __call__(self, ex: Exchange) -> None:
        request = ex.request
        headers = self._policy.request_headers(
            request.headers, peer=request.remote, scheme=request.scheme
        )
        if ex.owns_validator:
            ex.conditions = take_conditions(headers)
        else:
            self._origins_validators(ex, headers)
        if is_websocket_upgrade(request):
            url = origin_url(self._origin, ex.target)
            ex.reply = await tunnel(ex.connection(), self._session, str(url), headers, self._public)
            return
        await self._ask(ex, headers)
        upstream = ex.upstream
        if (
            upstream is not None
            and ex.reply is None
            and "Range" in headers
            and not request.body_exists
            and self._wants_whole is not None
            and self._wants_whole(ex, upstream)
        ):
            upstream.close()
            for name in RANGE_FIELDS:
                headers.popall(name, None)
            ex.upstream = None
            await self._ask(ex, headers)

    async def _ask(self, ex: Exchange, headers: CIMultiDict[str]) -> None:
        """Send the request; ``ex.upstream`` is the origin's answer, or ``ex.reply`` an error."""
        request = ex.request
        pooled = self._pool is not None and not request.body_exists and request.method in _POOLED
        if pooled and await self._pooled(ex, headers):
            return
        url = origin_url(self._origin, ex.target)
        body = None
        if request.body_exists:
            client = ex.connection()
            if (
                request.headers.get("Expect", "").lower() == "100-continue"
                and request.version >= (1, 1)  # never a 1xx to HTTP/1.0 (RFC 9110 §15.2)
            ):
                # the origin never sees Expect (we stream anyway); tell the client to send
                await client.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            body = ClientBody(client, self._body_idle_timeout_s)
        try:
            ex.upstream = await self._session.request(
                # a HEAD gets the headers GET would: those of the page Vernier would serve
                "GET" if request.method == "HEAD" else request.method,
                url,
                headers=headers,
                data=body.chunks() if body is not None else None,
                allow_redirects=False,
            )
        except BaseException as err:
            if body is not None and body.stalled and _take_back_cancel():
                ex.reply = error_reply(408, "The request body stopped arriving.", close=True)
                return
            if not isinstance(err, Exception):
                raise
            ex.reply = self._origin_failure(err, f"{request.method} {url.path}")
            return
        if ex.upstream.status >= 500:  # passed on as it is; the operator should still hear of it
            self._warn_5xx(ex.upstream.status, f"{request.method} {url.path}")

    def _origins_validators(self, ex: Exchange, headers: CIMultiDict[str]) -> None:
        """The client's validators as the origin issued them: ours translated back, tags of a
        body Vernier no longer serves dropped, and never a date beside tags; for a page (a
        browser's navigation), only ours."""
        gets_tracker = ex.identity.tracker_state() != "absent"  # else the origin's bytes
        if self._injects_tracker and gets_tracker and asks_for_a_page(ex.request.headers):
            only_our_validators(headers)
        validator = headers.get("If-None-Match")
        without_dates_beside_tags(headers)
        if validator is not None and "-vn" in validator:
            mark = tracker_mark(self._tag_digest, ex.identity.tracker_state())
            translated = origin_if_none_match(validator, mark)
            ex.translated_validator = True
            if translated:
                headers["If-None-Match"] = translated
            else:
                del headers["If-None-Match"]

    async def _pooled(self, ex: Exchange, headers: CIMultiDict[str]) -> bool:
        """Ask through the lean pool; False when it declines (aiohttp's client then asks)."""
        assert self._pool is not None
        asked = f"{ex.request.method} {ex.target.partition('?')[0]}"
        try:
            upstream = await self._pool.get(ex.target, headers)
        except Exception as err:
            ex.reply = self._origin_failure(err, asked)
            return True
        if upstream is None:
            return False
        ex.upstream = upstream
        if upstream.status >= 500:
            self._warn_5xx(upstream.status, asked)
        return True

    def _warn_5xx(self, status: int, asked: str) -> None:
        suppressed = self._log_limit.admit(status)
        if suppressed is not None:
            log.warning("origin answered %d to %s%s", status, asked, held_back(suppressed))

    def _origin_failure(self, err: Exception, asked: str) -> web.Response:
        """The client's answer when the origin could not be asked or did not answer."""
        if isinstance(err, (ServerTimeoutError, asyncio.TimeoutError)):
            self._metrics.origin_errors.labels("timeout").inc()
            log.warning("origin did not answer %s in time (origin.read_timeout_s): 504", asked)
            return error_reply(504, "The site did not answer in time.")
        if isinstance(err, OriginUnreachable):
            self._metrics.origin_errors.labels("connect").inc()
            log.warning(
                "origin unreachable: %s", err.os_error.strerror or type(err.os_error).__name__
            )
            return error_reply(502, "The site is not reachable right now.")
        if isinstance(err, ClientConnectorError):
            self._metrics.origin_errors.labels("connect").inc()
            log.warning(
                "origin unreachable: %s", err.os_error.strerror or type(err.os_error).__name__
            )
            return error_reply(502, "The site is not reachable right now.")
        if isinstance(err, ClientResponseError):
            self._metrics.origin_errors.labels("protocol").inc()
            log.warning("origin sent a malformed response: %s", err.message)
            return error_reply(502, "The site sent a malformed response.")
        if isinstance(err, ClientConnectionError):
            self._metrics.origin_errors.labels("connection").inc()
            log.warning("origin connection failed: %s", type(err).__name__)
            return error_reply(502, "The site closed the connection.")
        raise err


def _take_back_cancel() -> bool:
    """Undo the cancel a body stall sent this task; False if someone else cancelled it too."""
    task = asyncio.current_task()
    if task is None:
        return False
    if task.cancelling():
        task.uncancel()
    return task.cancelling() == 0
