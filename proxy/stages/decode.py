"""decode: read the page (bounded by the size cap) and undo its content-coding.

An uncompressed page too big to rewrite (over ``max_rewrite_bytes``, or over
``stream_inject_over_bytes`` when no rule or slot may change it) is not read whole: only its
first :data:`HEAD_WINDOW_BYTES` (or, with no length, as far as the cap) are, as
``ex.streaming_head``; inject puts the tag in them and encode streams the rest, so memory stays
flat and the page budget covers a few kilobytes, whatever the page's size.

The origin's exact bytes are kept in ``ex.raw_body``: whatever goes wrong later, they are what the
client gets. A body that turns out larger than the cap (chunked, no length) streams on with what
was read so far in front; an origin that fails while we read answers 502 (nothing was sent yet, so
the client sees an error, not a truncated page).
"""

from __future__ import annotations

import logging
import time

from aiohttp import ClientConnectionError, ClientPayloadError, ClientResponse

from proxy.config.schema import HtmlConfig
from proxy.content.coding import decode_body, parse_content_encoding
from proxy.content.offload import run_sized
from proxy.exchange import Exchange
from proxy.metrics import Metrics
from proxy.replies import error_reply
from proxy.upstream.relay import declared_length, stream_through

log = logging.getLogger("vernier.decode")

HEAD_WINDOW_BYTES = 64 * 1024
"""What is read of a page injected as it streams before the tag goes in: the insertion point
(the end of the head) is in the first kilobytes of real pages; a page whose head runs past this
streams on without the tracker."""


async def read_capped(upstream: ClientResponse, cap_bytes: int) -> tuple[bytes, bool]:
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
        cap = self._config.max_rewrite_bytes
        length = declared_length(upstream)
        head_only = (
            not codings
            and length is not None
            and (
                length > cap
                or (length > self._config.stream_inject_over_bytes and not ex.owns_validator)
            )
        )
        try:
            raw, complete = await read_capped(upstream, HEAD_WINDOW_BYTES if head_only else cap)
        except (TimeoutError, ClientPayloadError, ClientConnectionError) as err:
            upstream.close()
            self._metrics.origin_errors.labels("mid_body").inc()
            log.warning("origin failed while sending a page: %s", type(err).__name__)
            ex.reply = error_reply(502, "The site stopped sending the page.")
            return
        if not complete and codings:
            self._metrics.responses.labels("streamed").inc()
            ex.reply = await stream_through(ex.connection(), upstream, ex.headers, prefix=raw)
            return
        if not complete:  # too big to read whole: the tracker goes in as the page streams
            ex.streaming_head = ex.document = raw
            ex.work_started_s = time.perf_counter()
            return
        upstream.release()
        ex.raw_body = raw
        ex.codings = codings
        ex.document = (
            await run_sized(
                len(raw), decode_body, raw, codings, max_bytes=self._config.max_rewrite_bytes
            )
            if codings
            else raw
        )
        # the budget covers Vernier's own HTML work; codecs are bounded by the size cap
        ex.work_started_s = time.perf_counter()
