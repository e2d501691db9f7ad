"""Streaming an origin response to the client without buffering it.

Backpressure comes from ``StreamResponse.write``, which waits for the socket to drain, so a slow
client pauses our reads from the origin instead of growing memory. When the origin fails mid-body the
client's connection is aborted: a truncated body must never look complete (LiteLLM#33222 is the
same bug for SSE).

Reading from the origin and writing to the client fail for different reasons and are reported
apart: a visitor who closes the tab mid-download is :class:`ClientGone` (an info line, counted as
``vernier_client_gone_total``), never an origin failure. aiohttp raises
``ClientConnectionResetError`` (a ``ClientConnectionError``) for a write to a closed client, so the
two sides are told apart by *where* the error came from, not by its type.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import AsyncIterator, Iterator

from aiohttp import ClientConnectionError, ClientPayloadError, hdrs, web
from multidict import CIMultiDict

from proxy.content.compress import StreamCompressor
from proxy.errors import BodyError
from proxy.upstream.origin_pool import OriginResponse

log = logging.getLogger("vernier.relay")

CHUNK_BYTES = 64 * 1024
_SAFE_REASON = re.compile(r"[\x20-\x7e]{0,128}")
_NO_BODY_STATUS = frozenset({204, 304})


class UntypedKept(web.StreamResponse):
    """An answer carrying the origin's headers: no ``Content-Type`` when the origin sent none.

    aiohttp gives every body without one ``application/octet-stream``; a browser sniffs an
    untyped body (an HTML page renders) but downloads an octet-stream, so adding it would break
    the site (RFC 9110 §8.3 leaves an untyped body to the recipient, not to an intermediary)."""

    async def _prepare_headers(self) -> None:
        untyped = hdrs.CONTENT_TYPE not in self.headers
        await super()._prepare_headers()
        if untyped:
            self.headers.popall(hdrs.CONTENT_TYPE, None)


class OriginBody(UntypedKept, web.Response):
    """A whole body in answer of the origin's (read, perhaps changed): see :class:`UntypedKept`."""


class OriginBroken(ConnectionError):
    """The origin failed after its headers were relayed; the client's response was aborted."""


class ClientGone(ConnectionError):
    """The client hung up while its response was written: nobody's fault, nothing to repair."""


@contextlib.contextmanager
def writing_to_client() -> Iterator[None]:
    """Around a write to the client: its connection failures mean the client went away."""
    try:
        yield
    except (ClientConnectionError, ConnectionError) as err:
        raise ClientGone(type(err).__name__) from None


async def send(response: web.StreamResponse, data: bytes) -> None:
    """``response.write(data)``; a client that hung up raises :class:`ClientGone`."""
    with writing_to_client():
        await response.write(data)


def safe_reason(reason: str | None) -> str | None:
    """The origin's reason phrase if printable ASCII, else None (aiohttp generates one)."""
    if reason and _SAFE_REASON.fullmatch(reason):
        return reason
    return None


def abort_client(request: web.BaseRequest) -> None:
    """Reset the client connection so the response can't be mistaken for a complete one."""
    transport = request.transport
    if transport is not None:
        transport.abort()


def declared_length(upstream: OriginResponse) -> int | None:
    """The origin's Content-Length when it is the body's framing (not chunked), else None."""
    if "Transfer-Encoding" in upstream.headers:
        return None
    value = upstream.headers.get("Content-Length")
    if value is None or not value.isdigit():
        return None
    return int(value)


async def stream_through(
    request: web.BaseRequest,
    upstream: OriginResponse,
    headers: CIMultiDict[str],
    *,
    prefix: bytes = b"",
    compressor: StreamCompressor | None = None,
    added_bytes: int = 0,
    rest: AsyncIterator[bytes] | None = None,
) -> web.StreamResponse:
    """Relay ``upstream`` to the client as it arrives; releases ``upstream`` in every case.

    ``prefix`` is body already read from ``upstream`` (a page that turned out to be over the cap).
    With a ``compressor`` (``headers`` already say so), each chunk is sent compressed and flushed.
    ``added_bytes``: how much longer ``prefix`` is than the bytes it replaces (an injected tag).
    ``rest``: what follows ``prefix`` when it is not ``upstream``'s own bytes (a content-coded
    page decoded as it streams, ``upstream/decoded_body.py``); its length is not known.
    """
    response = UntypedKept(status=upstream.status, reason=safe_reason(upstream.reason))
    response.headers.extend(headers)
    length = declared_length(upstream)
    no_body = (
        request.method == "HEAD" or upstream.status in _NO_BODY_STATUS or upstream.status < 200
    )
    if compressor is not None or rest is not None:
        length = None  # the compressed length is known only at the end: chunked
    elif length is not None:
        length += added_bytes
    if length is not None and (request.method == "HEAD" or upstream.status not in _NO_BODY_STATUS):
        # keep the origin's length: downloads show progress, HEAD matches GET (RFC 9110 §9.3.2)
        response.headers["Content-Length"] = str(length)
    try:
        with writing_to_client():
            await response.prepare(request)
        if not no_body:
            chunks = rest if rest is not None else upstream.content.iter_chunked(CHUNK_BYTES)
            await _relay_body(response, chunks, prefix, compressor)
    except (TimeoutError, ClientPayloadError, ClientConnectionError, BodyError) as err:
        upstream.close()
        log.warning("origin failed mid-body for %s: %s", request.path, type(err).__name__)
        abort_client(request)
        raise OriginBroken(str(err)) from None
    except BaseException:
        upstream.close()  # client gone or cancelled: don't reuse a half-read connection
        raise
    if request.method == "HEAD":
        upstream.close()  # the origin was asked a GET (stages/forward.py): don't drain its body
    else:
        upstream.release()
    with writing_to_client():
        await response.write_eof()
    return response


async def _relay_body(
    response: web.StreamResponse,
    chunks: AsyncIterator[bytes],
    prefix: bytes,
    compressor: StreamCompressor | None,
) -> None:
    if compressor is None:
        if prefix:
            await send(response, prefix)
        async for chunk in chunks:
            await send(response, chunk)
        return
    for start in range(0, len(prefix), CHUNK_BYTES):  # a head of megabytes: not in one go
        await send(response, compressor.feed(prefix[start : start + CHUNK_BYTES]))
    async for chunk in chunks:
        await send(response, compressor.feed(chunk))
    await send(response, compressor.finish())
