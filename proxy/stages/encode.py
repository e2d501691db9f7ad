"""encode: the client's response for a page Vernier read — changed or not.

A changed page is re-compressed with the origin's own content-coding (which the client accepted,
since the origin chose it from the client's ``Accept-Encoding``); a page the origin sent
uncompressed is compressed as the client prefers (``content/compress.py``), gets a fresh ``Content-Length``,
a weakened ETag naming our insertion, and no digest headers of the old body. New first-party ids
are set here, and only here, on HTML pages — a response that sets them becomes
``Cache-Control: private`` so no shared cache replays one visitor's cookie to another.
"""

from __future__ import annotations

from aiohttp import web
from multidict import CIMultiDict

from proxy.config.schema import CompressionConfig, HtmlConfig
from proxy.content.coding import encode_body
from proxy.content.compress import (
    STALE_DIGESTS,
    Coding,
    StreamCompressor,
    compress_as_accepted,
    compress_whole,
    level_of,
    mark_compressed,
    reencoding,
    vary_on,
)
from proxy.content.offload import run_sized
from proxy.exchange import Exchange
from proxy.metrics import Metrics
from proxy.session.issuer import IdIssuer
from proxy.stages.debug import debug_report
from proxy.upstream.caching import make_private, revalidate_privately
from proxy.upstream.conditional import not_modified, not_modified_headers
from proxy.upstream.etag import changed_etag, tracker_mark
from proxy.upstream.relay import OriginBody, declared_length, safe_reason, stream_through


def add_debug_report(ex: Exchange, headers: CIMultiDict[str]) -> None:
    headers["X-Vernier-Debug"] = debug_report(ex)
    make_private(headers)


def origin_response(ex: Exchange, body: bytes, headers: CIMultiDict[str]) -> web.Response:
    assert ex.upstream is not None
    return OriginBody(
        body=body,
        status=ex.upstream.status,
        reason=safe_reason(ex.upstream.reason),
        headers=headers,
    )


class Encode:
    name = "encode"

    def __init__(
        self,
        html: HtmlConfig,
        issuer: IdIssuer,
        metrics: Metrics,
        tag_digest: str,
        compression: CompressionConfig,
    ) -> None:
        self._html = html
        self._compression = compression
        self._issuer = issuer
        self._metrics = metrics
        self._tag_digest = tag_digest

    async def __call__(self, ex: Exchange) -> None:
        if ex.debug:
            add_debug_report(ex, ex.headers)
        if ex.streaming_head is not None:
            await self._stream(ex, ex.streaming_head)
            return
        assert ex.raw_body is not None
        if not ex.changed or ex.document is None:
            if ex.personalised:
                ex.headers.popall("Accept-Ranges", None)
            coding = self._compress_as(ex, ex.headers, len(ex.raw_body))
            ex.reply = self._not_modified(ex, ex.headers)
            if ex.reply is None:
                self._metrics.responses.labels("unchanged").inc()
                body = await self._compress(ex.raw_body, coding)
                ex.reply = origin_response(ex, body, ex.headers)
            return
        self._metrics.html_work_seconds.observe(ex.work_cpu_s)
        headers = ex.headers
        self._changed_headers(ex, headers)
        coding = self._compress_as(ex, headers, len(ex.document))
        ex.reply = self._not_modified(ex, headers)
        if ex.reply is not None:
            return
        self._metrics.responses.labels("injected").inc()
        document = ex.document
        body = (
            await run_sized(len(document), encode_body, document, ex.codings)
            if ex.codings
            else await self._compress(document, coding)
        )
        ex.reply = origin_response(ex, body, headers)

    def _changed_headers(self, ex: Exchange, headers: CIMultiDict[str]) -> None:
        """Validators, caching and cookies of a page Vernier changed."""
        for name in STALE_DIGESTS:
            headers.popall(name, None)
        mark = tracker_mark(self._tag_digest, ex.identity.tracker_state())
        etag = ex.served_etag or changed_etag(headers.get("ETag"), mark)
        headers.popall("ETag", None)
        if etag:
            headers["ETag"] = etag
        # the origin's date names the origin's bytes, not these: a client revalidating by it
        # alone would get the origin's 304 for a page whose tag or rules changed since
        headers.popall("Last-Modified", None)
        # a range of it could only be had from the origin's bytes (forward asks for it whole)
        headers.popall("Accept-Ranges", None)
        if ex.personalised:
            revalidate_privately(headers)
        if ex.identity.trackable:
            cookies = ex.set_cookies + self._issuer.issue_missing(ex.identity)
            for cookie in cookies:
                headers.add("Set-Cookie", cookie)
            if cookies:
                make_private(headers)

    async def _stream(self, ex: Exchange, head: bytes) -> None:
        """A page too big to read whole: its head (with the tag, if it went in), then the rest
        as the origin sends it (``stages/decode.py``). A compressed page with the tag is
        re-encoded as it streams; without the tag, the origin's own bytes go out."""
        assert ex.upstream is not None
        headers = ex.headers
        changed = ex.changed and ex.document is not None
        if changed:
            self._metrics.html_work_seconds.observe(ex.work_cpu_s)
            self._changed_headers(ex, headers)
            self._metrics.responses.labels("injected").inc()
        else:
            self._metrics.responses.labels("streamed").inc()
        rest = ex.decoded_rest if changed and ex.codings else None
        if rest is not None:
            coding = self._reencode_as(ex, headers)
        else:
            coding = self._compress_as(ex, headers, declared_length(ex.upstream))
        ex.reply = self._not_modified(ex, headers)
        if ex.reply is not None:
            ex.upstream.close()
            return
        served = ex.document if changed else ex.streaming_raw
        assert served is not None
        ex.reply = await stream_through(
            ex.connection(),
            ex.upstream,
            headers,
            prefix=served,
            compressor=StreamCompressor(coding, level_of(self._compression, coding))
            if coding
            else None,
            added_bytes=len(served) - len(head),
            rest=rest,
        )

    def _reencode_as(self, ex: Exchange, headers: CIMultiDict[str]) -> Coding | None:
        """The coding a decoded page streams out in; the headers say so."""
        coding = reencoding(ex.codings, self._compression, ex.request.headers)
        headers.popall("Content-Encoding", None)
        headers.popall("Content-Length", None)
        headers.popall("Accept-Ranges", None)
        if coding is not None:
            mark_compressed(headers, coding)
        else:
            vary_on(headers, "Accept-Encoding")
        return coding

    def _compress_as(
        self, ex: Exchange, headers: CIMultiDict[str], length: int | None
    ) -> Coding | None:
        """The coding an identity page goes out in (``headers`` changed to say so), if any."""
        assert ex.upstream is not None
        if ex.codings:
            return None  # the origin compressed it; a changed page is re-compressed the same way
        return compress_as_accepted(
            self._compression,
            method=ex.request.method,
            request_headers=ex.request.headers,
            status=ex.upstream.status,
            headers=headers,
            length=length,
        )

    async def _compress(self, body: bytes, coding: Coding | None) -> bytes:
        if coding is None:
            return body
        level = level_of(self._compression, coding)
        return await run_sized(len(body), compress_whole, body, coding, level)

    def _not_modified(self, ex: Exchange, headers: CIMultiDict[str]) -> web.Response | None:
        """Vernier's own 304, when it owns the validator and the client already has this page.

        Never while the answer sets cookies: new ids must reach the browser with the page
        that carries them."""
        if ex.conditions is None or ex.debug or "Set-Cookie" in headers:
            return None
        if not not_modified(ex.conditions, headers.get("ETag"), headers.get("Last-Modified")):
            return None
        self._metrics.responses.labels("not_modified").inc()
        return web.Response(status=304, headers=not_modified_headers(headers))
