"""``POST /__vernier/e``: from a beacon on the wire to stored :class:`EventRecord`s.

The contract is docs/design.md §6.

Checks run cheapest-first and everything that needs no body is decided before a byte of it is
read: a 10 MB ``Content-Length`` is answered 413 at once and the connection closed, so an
attacker's upload costs one header parse (docs/reliability.md EV-02). Every answer carries a short
``text/plain`` reason and ``Cache-Control: no-store``; 202 has no body. No answer is ever a 500: an
unexpected failure is logged and answered 503, which the tracker treats as "keep the batch, retry".

Who sent the events comes from the verified cookie (``identity``), never from the body — the
schema has no place for a session id, so a body that carries one is a 400 (EV-07).
Deduplication by event id belongs to the sink, which sees every id and the store's dedupe set.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from aiohttp import ClientError, hdrs, web
from aiohttp.http_exceptions import HttpProcessingError

from proxy.records.event_record import EventRecord
from proxy.tracker.bots import BotFilter
from proxy.tracker.events import EventRejected, parse_batch
from proxy.tracker.ratelimit import TokenBucketLimiter
from proxy.tracker.same_origin import cross_site_reason

log = logging.getLogger("vernier.intake")

CONTENT_TYPES = frozenset({"application/json", "text/plain"})
STORE_RETRY_AFTER_S = 5
_MAX_RETRY_AFTER_S = 60


class IdentityLike(Protocol):
    """What the intake reads of ``proxy.exchange.Identity`` (set from the signed cookies)."""

    @property
    def session_id(self) -> str | None: ...

    @property
    def visitor_id(self) -> str | None: ...

    @property
    def trackable(self) -> bool: ...


class EventSink(Protocol):
    """Where accepted records go: the Redis stream, or the local spool while Redis is away.

    ``store`` returns True only once the records are durable (and deduplicated by event id);
    False means "nowhere to put them", answered 503 so the tracker keeps the batch and retries.
    """

    async def store(self, records: list[EventRecord]) -> bool: ...


@dataclass(frozen=True, slots=True)
class IntakeLimits:
    """Browsers cap keep-alive/``sendBeacon`` bodies at 64 KiB (Fetch, whatwg/fetch#419), so a
    bigger beacon is not from our tracker; 5 s is docs/reliability.md §6's total budget for a
    beacon."""

    max_body_bytes: int = 65_536
    max_events: int = 50
    read_timeout_s: float = 5.0


def _peer_address(request: web.Request) -> str:
    return request.remote or ""


class EventIntake:
    """The handler for ``POST /__vernier/e``; one per worker, built at startup.

    ``session_limiter`` and ``address_limiter`` spend one token per event (docs/reliability.md
    EV-08). ``public_hosts``: the host names the site is served under; an ``Origin`` must name one
    of them (when None, it must name the request's own ``Host``). ``client_address`` keys the
    address limiter (the peer address unless the app knows a trusted front proxy's header).
    ``clock`` is wall time in seconds, for ``received_ms``.
    """

    def __init__(
        self,
        sink: EventSink,
        *,
        session_limiter: TokenBucketLimiter,
        address_limiter: TokenBucketLimiter,
        public_hosts: frozenset[str] | None = None,
        limits: IntakeLimits | None = None,
        bots: BotFilter | None = None,
        client_address: Callable[[web.Request], str] = _peer_address,
        clock: Callable[[], float] = time.time,
        answered: Callable[[int], None] = lambda status: None,
    ) -> None:
        self._sink = sink
        self._answered = answered  # counts each answer by its status
        self._session_limiter = session_limiter
        self._address_limiter = address_limiter
        self._public_hosts = (
            None if public_hosts is None else frozenset(h.lower() for h in public_hosts)
        )
        self._limits = limits or IntakeLimits()
        self._bots = bots or BotFilter()
        self._client_address = client_address
        self._clock = clock

    async def handle(self, request: web.Request, identity: IdentityLike) -> web.Response:
        try:
            response = await self._handle(request, identity)
        except Exception:
            log.exception("event intake failed")
            response = _answer(503, "unavailable", close=True, retry_after_s=STORE_RETRY_AFTER_S)
        self._answered(response.status)
        return response

    async def _handle(self, request: web.Request, identity: IdentityLike) -> web.Response:
        refusal = self._refuse_before_body(request, identity)
        if refusal is not None:
            if refusal.status == 413:
                return await _finish_early(request, refusal)
            if request.body_exists:  # the unread body ends this connection
                refusal.force_close()
            return refusal
        session_id = identity.session_id
        assert session_id is not None  # checked by _refuse_before_body
        try:
            body = await self._read_body(request)
        except _TooLarge:
            return await _finish_early(request, _answer(413, "body too large"))
        except TimeoutError:
            return await _finish_early(request, _answer(408, "body too slow"))
        except (HttpProcessingError, ClientError, ConnectionError):
            return _answer(400, "body: incomplete or malformed framing", close=True)
        try:
            batch = parse_batch(body)
        except EventRejected as exc:
            return _answer(exc.status, exc.reason)
        cost = len(batch.events)
        if cost > self._limits.max_events:
            return _answer(400, f"schema: $.events: more than {self._limits.max_events} events")
        refusal = self._rate_limit(session_id, self._client_address(request), cost)
        if refusal is not None:
            return refusal
        received_ms = int(self._clock() * 1000)
        bot = self._bots.is_bot(request.headers.get(hdrs.USER_AGENT), request.headers)
        visitor = identity.visitor_id or ""
        records = [
            EventRecord(
                event=event,
                page=batch.page,
                session=session_id,
                visitor=visitor,
                received_ms=received_ms,
                bot=bot,
            )
            for event in batch.events
        ]
        if not await self._sink.store(records):
            return _answer(503, "not stored", retry_after_s=STORE_RETRY_AFTER_S)
        return web.Response(status=202, headers={hdrs.CACHE_CONTROL: "no-store"})

    def _refuse_before_body(
        self, request: web.Request, identity: IdentityLike
    ) -> web.Response | None:
        if request.method != hdrs.METH_POST:
            return _answer(405, "method not allowed", headers={hdrs.ALLOW: hdrs.METH_POST})
        length = request.content_length
        if length is not None and length > self._limits.max_body_bytes:
            return _answer(413, "body too large")
        headers = request.headers
        if hdrs.CONTENT_ENCODING in headers:  # no decompression bombs (CVE-2025-69223)
            return _answer(415, "content-encoding not accepted")
        content_type = headers.get(hdrs.CONTENT_TYPE)
        if content_type is None:
            return _answer(415, "no content-type")
        if content_type.partition(";")[0].strip().lower() not in CONTENT_TYPES:
            return _answer(415, "content-type not accepted")
        cross_site = cross_site_reason(headers, request.host, self._public_hosts)
        if cross_site is not None:
            return _answer(403, cross_site)
        if not identity.trackable:
            return _answer(403, "no consent")
        if not identity.session_id:
            return _answer(403, "no session")
        return None

    async def _read_body(self, request: web.Request) -> bytes:
        """The whole body, stopping one byte past the cap (chunked bodies have no length to
        check up front) and giving up after ``read_timeout_s`` in total, not per read."""
        cap = self._limits.max_body_bytes
        body = bytearray()
        async with asyncio.timeout(self._limits.read_timeout_s):
            while chunk := await request.content.readany():
                body += chunk
                if len(body) > cap:
                    raise _TooLarge
        return bytes(body)

    def _rate_limit(self, session_id: str, address: str, cost: int) -> web.Response | None:
        sessions, addresses = self._session_limiter, self._address_limiter
        if not sessions.allow(session_id, cost):
            return _too_many(sessions.retry_after_s(session_id, cost), "session")
        if not addresses.allow(address, cost):
            sessions.refund(session_id, cost)  # the batch was not taken; don't charge it twice
            return _too_many(addresses.retry_after_s(address, cost), "address")
        return None


class _TooLarge(Exception):
    pass


async def _finish_early(request: web.Request, response: web.Response) -> web.Response:
    """Send ``response`` now and half-close, while the client may still be sending a body.

    A 10 MB ``Content-Length`` is answered before any of it arrives, but aiohttp then lingers
    (``lingering_time``, 10 s) reading and discarding the body before it closes, so the client
    would wait that long for the end of the connection. Shutting our write side right after the
    answer gives the client the answer and EOF at once; aiohttp's lingering keeps draining what
    is already in flight, so the kernel never resets the connection over unread data, which
    could destroy the answer before the client reads it (the reason for lingering close,
    RFC 9112 §9.6). TLS transports cannot half-close; there the answer just ends keep-alive.
    """
    response.force_close()
    with contextlib.suppress(ConnectionError):  # the client is gone; aiohttp notices on its own
        await response.prepare(request)
        await response.write_eof()
        transport = request.transport
        if transport is not None and transport.can_write_eof():
            transport.write_eof()
    return response


def _too_many(retry_after_s: float, what: str) -> web.Response:
    seconds = _MAX_RETRY_AFTER_S if math.isinf(retry_after_s) else math.ceil(retry_after_s)
    return _answer(
        429,
        f"too many events for this {what}",
        retry_after_s=max(1, min(seconds, _MAX_RETRY_AFTER_S)),
    )


def _answer(
    status: int,
    reason: str,
    *,
    close: bool = False,
    retry_after_s: int | None = None,
    headers: dict[str, str] | None = None,
) -> web.Response:
    all_headers = {hdrs.CACHE_CONTROL: "no-store", "X-Content-Type-Options": "nosniff"}
    if retry_after_s is not None:
        all_headers[hdrs.RETRY_AFTER] = str(retry_after_s)
    if headers:
        all_headers.update(headers)
    response = web.Response(status=status, text=reason, headers=all_headers)
    if close:
        response.force_close()
    return response
