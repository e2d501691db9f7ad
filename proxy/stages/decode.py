"""decode: read the page (bounded by the size cap) and undo its content-coding.

A page too big to rewrite (over ``max_rewrite_bytes``, or over ``stream_inject_over_bytes`` when
no rule or slot may change it) is not read whole: only its head is, as ``ex.streaming_head``;
inject puts the tag in it and encode streams the rest, so memory stays flat and the page budget
covers a few kilobytes, whatever the page's size. An uncompressed page's size is known from its
length (then only :data:`HEAD_WINDOW_BYTES` are read); a compressed page is decoded as it is
read (``upstream/decoded_body.py``) until it ends or its decoded size passes the limit, and the
rest is decoded, and re-encoded, as it streams.

The origin's exact bytes are kept in ``ex.raw_body`` (``ex.streaming_raw`` for a page that
streams on): whatever goes wrong later, they are what the client gets. A body that turns out
larger than the cap (chunked, no length) streams on with what was read so far in front; an
origin that fails while we read answers 502 (nothing was sent yet, so the client sees an error,
not a truncated page).
"""

from __future__ import annotations

import logging

from aiohttp import ClientConnectionError, ClientPayloadError

from proxy.config.schema import HtmlConfig
from proxy.content.coding import parse_content_encoding
from proxy.errors import BodyError
from proxy.exchange import Exchange
from proxy.metrics import Metrics
from proxy.replies import error_reply
from proxy.upstream.decoded_body import DecodedBody
from proxy.upstream.origin_pool import OriginResponse
from proxy.upstream.relay import declared_length

log = logging.getLogger("vernier.decode")

HEAD_WINDOW_BYTES = 64 * 1024
"""What is read of a page injected as it streams before the tag goes in: the insertion point
(the end of the head) is in the first kilobytes of real pages; a page whose head runs past this
streams on without the tracker."""


async def read_capped(upstream: OriginResponse, cap_bytes: int) -> tuple[bytes, bool]:
    """Up to ``cap_bytes + 1`` bytes of the body and whether that was all of it."""
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = await upstream.content.readany()
        if not chunk:
            return b"".join(chunks), True
        chunks.append(chunk)
        size += len(chunk)
        if size > cap_bytes:
            return b"".join(chunks), False


class Decode:
    name = "decode"

    def __init__(self, config: HtmlConfig, metrics: Metrics) -> None:
        self._config = config
        self._metrics = metrics

    async def __call__(self, ex: Exchange) -> None:
        upstream = ex.upstream
        assert upstream is not None
        codings = parse_content_encoding(upstream.headers.get("Content-Encoding"))
        assert codings is not None  # the gate let only supported codings through
        try:
            if codings:
                await self._read_decoding(ex, upstream, codings)
            else:
                await self._read(ex, upstream)
        except (TimeoutError, ClientPayloadError, ClientConnectionError) as err:
            upstream.close()
            self._metrics.origin_errors.labels("mid_body").inc()
            log.warning("origin failed while sending a page: %s", type(err).__name__)
            ex.reply = error_reply(502, "The site stopped sending the page.")
            return
        # the budget covers Vernier's own HTML work; codecs are bounded by the size cap

    def _limit_bytes(self, ex: Exchange) -> int:
        """The most of a page read whole: beyond it, the page is injected as it streams."""
        cap = self._config.max_rewrite_bytes
        return cap if ex.owns_validator else min(cap, self._config.stream_inject_over_bytes)

    async def _read(self, ex: Exchange, upstream: OriginResponse) -> None:
        length = declared_length(upstream)
        head_only = length is not None and length > self._limit_bytes(ex)
        window = HEAD_WINDOW_BYTES if head_only else self._config.max_rewrite_bytes
        raw, complete = await read_capped(upstream, window)
        if not complete:  # too big to read whole: the tracker goes in as the page streams
            ex.streaming_head = ex.streaming_raw = ex.document = raw
            return
        upstream.release()
        ex.raw_body = ex.document = raw

    async def _read_decoding(
        self, ex: Exchange, upstream: OriginResponse, codings: tuple[str, ...]
    ) -> None:
        """Decode until the page ends or passes the limit (decoded, or the cap, compressed)."""
        limit, cap = self._limit_bytes(ex), self._config.max_rewrite_bytes
        body = DecodedBody(upstream, codings)
        pieces: list[bytes] = []
        size = 0
        ex.codings = codings
        try:
            async for piece in body.pieces:
                pieces.append(piece)
                size += len(piece)
                if size > limit or body.raw_bytes > cap:
                    break
            else:
                upstream.release()
                ex.raw_body, ex.document = body.raw(), b"".join(pieces)
                return
        except BodyError:
            ex.streaming_raw = body.raw()  # corrupt: the origin's bytes, as they are
            raise
        ex.streaming_head = ex.document = b"".join(pieces)
        ex.streaming_raw = body.raw()
        body.stop_keeping_raw()
        ex.decoded_rest = body.pieces
