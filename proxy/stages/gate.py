"""gate: may Vernier change this response? If not, stream it through untouched and unbuffered.

Only complete HTML documents are changed: a 200 answer to a GET, HEAD (asked as a GET) or POST,
``text/html`` (XHTML only when enabled), not an attachment, no ``Cache-Control: no-transform``
(RFC 9110 §7.7, RFC 9111 §5.2.2.6), not a part (``forward`` asks for the whole page instead
of a part of one Vernier would change), a supported content-coding (of any size:
a page too big to read whole is injected as it streams, ``stages/decode.py``), and a visitor
whose privacy choices allow the tracker. Everything else is the origin's response, byte for
byte.
"""

from __future__ import annotations

from aiohttp import web
from multidict import CIMultiDict

from proxy.config.schema import CompressionConfig, HtmlConfig
from proxy.content.coding import parse_content_encoding
from proxy.content.compress import (
    StreamCompressor,
    compress_as_accepted,
    level_of,
    vary_on,
)
from proxy.exchange import Exchange
from proxy.html.csp import CSP_HEADERS
from proxy.html.media_types import HTML_TYPES, XHTML_TYPES
from proxy.metrics import Metrics
from proxy.upstream.caching import revalidate_privately
from proxy.upstream.conditional import not_modified, not_modified_headers
from proxy.upstream.etag import as_the_client_holds, changed_etag, tracker_mark
from proxy.upstream.headers import response_headers
from proxy.upstream.origin_pool import OriginResponse
from proxy.upstream.public_address import PublicAddress
from proxy.upstream.relay import declared_length, stream_through


def client_headers(upstream: OriginResponse, public: PublicAddress) -> CIMultiDict[str]:
    """The origin's headers as the client should see them (framing removed, addresses mapped)."""
    headers = response_headers(upstream.headers)
    # aiohttp would otherwise announce its own and Python's versions
    headers.setdefault("Server", "vernier")
    public.map_headers(headers)
    return headers


class Gate:
    name = "gate"

    def __init__(
        self,
        config: HtmlConfig,
        public: PublicAddress,
        metrics: Metrics,
        tag_digest: str,
        compression: CompressionConfig,
        opt_out_fields: tuple[str, ...] = (),
    ) -> None:
        self._config = config
        # the request fields that take the tracker off a page (Sec-GPC, DNT, as honoured)
        self._opt_out_fields = opt_out_fields
        self._compression = compression
        self._public = public
        self._metrics = metrics
        self._tag_digest = tag_digest
        self._types = HTML_TYPES | (XHTML_TYPES if config.inject_xhtml else frozenset())

    def touchable(self, ex: Exchange, upstream: OriginResponse) -> bool:
        """Whether Vernier may change this response: a whole page it changes, for a visitor
        whose choices allow the tracker. A 200 to a ``Range`` request (the origin ignored it,
        or ``If-Range`` failed) is a whole page like any other."""
        if upstream.status != 200 or "Content-Range" in upstream.headers:
            return False
        return self.tracker_allowed(ex) and self.changes_pages_like(ex, upstream)

    def _without_tracker(self, ex: Exchange, upstream: OriginResponse) -> bool:
        """A whole page that gets the tracker, sent without it to a visitor who opted out."""
        return (
            self._config.inject_tracker
            and not self.tracker_allowed(ex)
            and upstream.status == 200
            and "Content-Range" not in upstream.headers
            and self.changes_pages_like(ex, upstream)
        )

    def _mark(self, ex: Exchange) -> str:
        return tracker_mark(self._tag_digest, ex.identity.tracker_state())

    def wants_whole(self, ex: Exchange, upstream: OriginResponse) -> bool:
        """A part (206) of a page Vernier would change: ``forward`` asks for the whole page
        instead. The origin's bytes of a part are not those of the page this visitor gets, and
        a resumed download stitched from them would be neither (RFC 9110 §14.2 lets a server
        answer a range with the whole representation)."""
        return (
            upstream.status == 206
            and self.tracker_allowed(ex)
            and self.changes_pages_like(ex, upstream)
        )

    def tracker_allowed(self, ex: Exchange) -> bool:
        return self._config.inject_tracker and (
            ex.identity.trackable or ex.identity.consent_pending
        )

    def changes_pages_like(self, ex: Exchange, upstream: OriginResponse) -> bool:
        """Whether a page of this kind is changed (status and visitor aside)."""
        if ex.request.method not in ("GET", "HEAD", "POST"):
            return False
        if upstream.content_type not in self._types:
            return False
        if len(upstream.headers.getall("Content-Type")) > 1:  # browsers read the last one
            return False
        if "attachment" in upstream.headers.get("Content-Disposition", "").lower():
            return False
        if any("no-transform" in v.lower() for v in upstream.headers.getall("Cache-Control", ())):
            return False
        # a page of any size gets the tracker: too big to read whole, as it streams
        return parse_content_encoding(upstream.headers.get("Content-Encoding")) is not None

    async def __call__(self, ex: Exchange) -> None:
        upstream = ex.upstream
        assert upstream is not None
        ex.origin_headers = client_headers(upstream, self._public)
        if ex.in_scope and self.changes_pages_like(ex, upstream):
            # whatever happens next, even failing open (stages/conditional.py); an asset on the
            # same path (CSS, an image) is never changed and keeps the origin's caching
            revalidate_privately(ex.origin_headers)
        # a 304 has no type: it validates a page with the tracker when Vernier translated the tag
        page = (upstream.status == 200 and self.changes_pages_like(ex, upstream)) or (
            ex.translated_validator
        )
        if self._config.inject_tracker and page:
            for field in self._opt_out_fields:  # a shared cache keeps the page with and without
                vary_on(ex.origin_headers, field)
        ex.headers = ex.origin_headers.copy()
        if self.touchable(ex, upstream):
            ex.touch = True
            return
        if self._without_tracker(ex, upstream) and "ETag" in ex.headers:
            # the page others get with the tracker: this copy needs its own validator
            relabelled = changed_etag(ex.headers.popone("ETag"), self._mark(ex))
            if relabelled:  # an unparsable tag is dropped: no validator is better than a shared one
                ex.headers["ETag"] = relabelled
        if upstream.status == 304:
            if ex.translated_validator:  # it validates a page with the tracker, sent without a date
                ex.headers.popall("Last-Modified", None)
                # and with its CSP carrying the tracker's nonce: the origin's, which a 304
                # would store over it, does not (the tracker would be blocked on the next load)
                for name in CSP_HEADERS:
                    ex.headers.popall(name, None)
            if "ETag" in ex.headers:
                self._name_as_the_200_would(ex)
            if self._compression.enabled:  # the 200 may be one Vernier compressed: vary as it did
                vary_on(ex.headers, "Accept-Encoding")
        # chosen first: compressing weakens the tag, and a 304 names what the 200 would
        compressor = self.compressor(ex, upstream)
        if (
            ex.conditions is not None
            and upstream.status == 200
            and "Set-Cookie" not in ex.headers  # as encode's 304: the cookie comes with the page
            and not_modified(ex.conditions, ex.headers.get("ETag"), ex.headers.get("Last-Modified"))
        ):  # the page passes unchanged: the client's conditions, evaluated on the origin's tags
            upstream.close()
            self._metrics.responses.labels("not_modified").inc()
            ex.reply = web.Response(status=304, headers=not_modified_headers(ex.headers))
            return
        self._metrics.responses.labels("streamed").inc()
        ex.reply = await stream_through(
            ex.connection(), upstream, ex.headers, compressor=compressor
        )

    def _name_as_the_200_would(self, ex: Exchange) -> None:
        """The origin's 304 carries its own tag; the client holds the one Vernier served."""
        etag = ex.headers["ETag"]
        if ex.translated_validator:  # the client validated our changed representation
            ex.headers["ETag"] = changed_etag(etag, self._mark(ex)) or ""
        else:  # perhaps one Vernier compressed, whose tag it weakened
            ex.headers["ETag"] = (
                as_the_client_holds(etag, ex.request.headers.get("If-None-Match")) or ""
            )

    def compressor(self, ex: Exchange, upstream: OriginResponse) -> StreamCompressor | None:
        """A compressor for an identity body the client would rather get compressed; the
        headers are changed to say so."""
        coding = compress_as_accepted(
            self._compression,
            method=ex.request.method,
            request_headers=ex.request.headers,
            status=upstream.status,
            headers=ex.headers,
            length=declared_length(upstream),
        )
        if coding is None:
            return None
        return StreamCompressor(coding, level_of(self._compression, coding))
