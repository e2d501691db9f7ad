"""A lean HTTP/1.1 client for the common origin request: a GET (or a HEAD asked as a GET) with
no body, to a plain ``http://`` origin.

aiohttp's ``ClientSession.request`` costs ~90–110 µs of CPU per request on this machine (URL and
header bookkeeping, tracing hooks, timers, the connector's key and the response wrapper), about
half of what a Cloudflare Worker spends on a whole small page (docs/benchmarks.md, issue #16).
This pool keeps aiohttp's own connection protocol (``ResponseHandler``: its C response parser,
size limits, read timeout, flow control and the payload ``StreamReader`` the stages already
read) and replaces only the per-request wrapper: one pre-encoded request head written to a pooled
connection, the same work in ~38 µs. Everything else — a request body, a WebSocket upgrade, an
``https://`` origin, a header value that could split the request — goes through aiohttp's client
as before (``stages/forward.py`` chooses).

Errors are aiohttp's own types, so callers map them as they always did: connect failures raise
:class:`OriginUnreachable`, a timeout ``asyncio.TimeoutError``/``ServerTimeoutError``, a malformed
answer ``ClientResponseError``, a dropped connection ``ClientConnectionError``. A request whose
reused (idle) connection turns out to be closed is sent once more on a new connection, as
aiohttp does for idempotent requests.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Mapping
from typing import Final

from aiohttp import (
    ClientOSError,
    ClientResponse,
    ClientResponseError,
    RequestInfo,
    ServerDisconnectedError,
)
from aiohttp.client_proto import ResponseHandler
from aiohttp.helpers import parse_content_type
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.streams import EofStream, StreamReader
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

READ_BUFSIZE_BYTES: Final = 256 * 1024
_NO_HEADERS: Final = CIMultiDictProxy(CIMultiDict[str]())


class OriginUnreachable(OSError):
    """The origin refused or dropped the TCP connection attempt (the 502 "not reachable")."""

    def __init__(self, os_error: OSError) -> None:
        super().__init__(os_error.errno, os_error.strerror)
        self.os_error = os_error


class _Connection:
    __slots__ = ("idle_since_s", "protocol", "transport")

    def __init__(self, transport: asyncio.Transport, protocol: ResponseHandler) -> None:
        self.transport = transport
        self.protocol = protocol
        self.idle_since_s = 0.0


class PooledResponse:
    """The origin's answer: the part of ``aiohttp.ClientResponse`` the stages use."""

    __slots__ = ("_connection", "_pool", "content", "headers", "reason", "status")

    def __init__(
        self,
        pool: OriginPool,
        connection: _Connection,
        status: int,
        reason: str | None,
        headers: CIMultiDictProxy[str],
        content: StreamReader,
    ) -> None:
        self._pool = pool
        self._connection: _Connection | None = connection
        self.status = status
        self.reason = reason
        self.headers = headers
        self.content = content

    @property
    def content_type(self) -> str:
        """The media type, as aiohttp's ``ClientResponse.content_type`` parses it."""
        raw = self.headers.get("Content-Type")
        return "application/octet-stream" if raw is None else parse_content_type(raw)[0]

    async def read(self) -> bytes:
        """The whole body (as ``ClientResponse.read``; the stages read ``content`` in parts)."""
        return await self.content.read()

    def release(self) -> None:
        """Back to the pool if the body was read to its end and the connection may be reused."""
        connection, self._connection = self._connection, None
        if connection is not None:
            self._pool.give_back(connection, reusable=self.content.is_eof())

    def close(self) -> None:
        """Close the connection (a body not read, or not to be trusted)."""
        connection, self._connection = self._connection, None
        if connection is not None:
            self._pool.give_back(connection, reusable=False)

    def __del__(self) -> None:  # a response nobody released must not hold a pool slot
        if self._connection is not None:
            with contextlib.suppress(RuntimeError):  # the loop may be closed already (shutdown)
                self.close()


class OriginPool:
    """Pooled keep-alive connections to one ``http://host:port`` origin, at most ``limit`` in
    use (more requests wait, within ``connect_timeout_s``, as aiohttp's connector makes them)."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        limit: int,
        keepalive_s: float,
        connect_timeout_s: float,
        read_timeout_s: float,
        max_header_bytes: int,
    ) -> None:
        self._host = host
        self._port = port
        self._url = URL.build(scheme="http", host=host, port=port)  # for error messages
        self._limit = limit
        self._keepalive_s = keepalive_s
        self._connect_timeout_s = connect_timeout_s
        self._read_timeout_s = read_timeout_s
        self._max_header_bytes = max_header_bytes
        self._idle: list[_Connection] = []  # most recently used last
        self._in_use = 0
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._closed = False

    @classmethod
    def for_origin(
        cls,
        origin: str,
        *,
        limit: int,
        keepalive_s: float,
        connect_timeout_s: float,
        read_timeout_s: float,
        max_header_bytes: int,
    ) -> OriginPool | None:
        """A pool for a plain-HTTP origin with no path; None for any other (aiohttp serves it)."""
        url = URL(origin)
        if url.scheme != "http" or not url.host or url.path not in ("", "/") or url.port is None:
            return None
        return cls(
            url.host,
            url.port,
            limit=limit,
            keepalive_s=keepalive_s,
            connect_timeout_s=connect_timeout_s,
            read_timeout_s=read_timeout_s,
            max_header_bytes=max_header_bytes,
        )

    @property
    def in_use(self) -> int:
        return self._in_use

    @property
    def idle(self) -> int:
        return len(self._idle)

    async def get(self, target: str, headers: Mapping[str, str]) -> PooledResponse | None:
        """GET ``target`` (origin-form) with ``headers`` (``Host`` included); None when the
        request cannot be written safely as given (the caller then uses aiohttp's client)."""
        head = request_head(target, headers)
        if head is None:
            return None
        await self._wait_for_slot()
        try:
            return await self._send(head)
        except BaseException:
            self._free_slot()
            raise

    async def _send(self, head: bytes) -> PooledResponse:
        connection = self._take_idle()
        if connection is not None:
            try:
                return await self._exchange(connection, head)
            except (ClientOSError, ServerDisconnectedError):
                pass  # the origin closed the idle connection: once more on a new one
        async with asyncio.timeout(self._connect_timeout_s):
            connection = await self._connect()
        return await self._exchange(connection, head)

    async def _connect(self) -> _Connection:
        loop = asyncio.get_running_loop()
        try:
            transport, protocol = await loop.create_connection(
                lambda: ResponseHandler(loop), self._host, self._port
            )
        except OSError as err:
            raise OriginUnreachable(err) from err
        return _Connection(transport, protocol)

    async def _exchange(self, connection: _Connection, head: bytes) -> PooledResponse:
        protocol = connection.protocol
        protocol.set_response_params(  # as aiohttp's ClientSession.request sets them
            read_until_eof=True,  # a body framed by the connection's close (RFC 9112 §6.3)
            read_timeout=self._read_timeout_s,
            read_bufsize=READ_BUFSIZE_BYTES,
            auto_decompress=False,
            max_line_size=self._max_header_bytes,
            max_field_size=self._max_header_bytes,
        )
        connection.transport.write(head)
        protocol.start_timeout()
        try:
            while True:
                message, payload = await protocol.read()
                if not (100 <= message.code < 200) or message.code == 101:
                    break  # 1xx (103 Early Hints) come before the answer; aiohttp skips them
        except HttpProcessingError as err:
            connection.transport.close()
            raise ClientResponseError(
                RequestInfo(self._url, "GET", _NO_HEADERS, self._url),
                (),
                status=err.code,
                message=err.message,
            ) from err
        except EofStream:
            connection.transport.close()
            raise ServerDisconnectedError() from None
        except BaseException:
            connection.transport.close()
            raise
        return PooledResponse(
            self, connection, message.code, message.reason, message.headers, payload
        )

    def _take_idle(self) -> _Connection | None:
        now = time.monotonic()
        while self._idle:
            connection = self._idle.pop()
            if now - connection.idle_since_s < self._keepalive_s and (
                connection.protocol.is_connected()
            ):
                return connection
            connection.transport.close()
        return None

    def give_back(self, connection: _Connection, *, reusable: bool) -> None:
        """A response is done with ``connection``: keep it for the next request or close it."""
        self._free_slot()
        if reusable and not self._closed and not connection.protocol.should_close:
            connection.idle_since_s = time.monotonic()
            self._idle.append(connection)
        else:
            connection.transport.close()

    async def _wait_for_slot(self) -> None:
        if self._in_use >= self._limit:
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                async with asyncio.timeout(self._connect_timeout_s):
                    await waiter
            except BaseException:
                if not waiter.cancelled() and waiter.done():
                    self._in_use -= 1  # handed a slot just as we gave up: pass it on
                    self._wake_next()
                else:
                    waiter.cancel()
                raise
            return  # the slot was handed over with the wake-up
        self._in_use += 1

    def _free_slot(self) -> None:
        self._in_use -= 1
        self._wake_next()

    def _wake_next(self) -> None:
        while self._waiters and self._in_use < self._limit:
            waiter = self._waiters.popleft()
            if not waiter.done():
                self._in_use += 1
                waiter.set_result(None)

    def close(self) -> None:
        """Close every idle connection; those in use close when their response is done."""
        self._closed = True
        while self._idle:
            self._idle.pop().transport.close()


def request_head(target: str, headers: Mapping[str, str]) -> bytes | None:
    """``GET target HTTP/1.1`` and the header block, or None if any part could end a line or
    the request (CR, LF, NUL; a space in the target), which aiohttp's client would refuse, or
    cannot be written as the bytes the client sent."""
    if " " in target:
        return None
    lines = [f"GET {target} HTTP/1.1", *[f"{name}: {value}" for name, value in headers.items()]]
    head = "\r\n".join(lines) + "\r\n\r\n"
    # one CR and one LF per line end and none elsewhere (faster than scanning each value)
    ends = len(lines) + 1
    if head.count("\r") != ends or head.count("\n") != ends or "\0" in head:
        return None
    try:  # the bytes a client sent that are not UTF-8 (latin-1 "caf\xe9") go on as they came
        return head.encode("utf-8", "surrogateescape")  # aiohttp's server decoded them so
    except UnicodeEncodeError:  # a surrogate no decoding made: aiohttp's client drops it
        return None


# what ``stages/forward.py`` leaves in ``Exchange.upstream``: either client's answer
OriginResponse = ClientResponse | PooledResponse
