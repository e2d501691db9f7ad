"""Compressing what the origin sent uncompressed, for clients that accept it (issue #14).

Behind nginx with its default ``gzip_proxied off``, a request that carries Vernier's ``Via``
gets identity bodies from nginx; without this, text went out 3–4× larger than the site intended.
The rules follow nginx's and RFC 9110's: only a 200 (not a 206 or a ``Range`` request), no
``Cache-Control: no-transform`` (RFC 9110 §7.7), nothing already content-coded, compressible
types only (text, JS, JSON, XML, SVG), at least ``min_bytes`` when the length is known, a coding
from ``Accept-Encoding`` (:func:`proxy.content.coding.accepts`) in the configured preference.

A compressed representation is a different one: its ETag is weakened, its length and digests
dropped, ``Accept-Ranges`` removed (ranges would address the compressed bytes) and the answer
says ``Vary: Accept-Encoding``, as does the identity copy of a response that would have been
compressed for a client accepting a coding, and a 200 the origin sent for a ``Range`` request
(:func:`compress_as_accepted`). Everything here is synchronous; streaming is
:class:`StreamCompressor`, fed chunk by chunk and flushed after each so nothing the origin sent
is held back from the client.
"""

from __future__ import annotations

import gzip
import sys
import zlib
from collections.abc import Mapping, Sequence
from typing import Literal, cast

import brotli  # type: ignore[import-untyped]  # brotli ships no type information
from multidict import CIMultiDict

from proxy.config.schema import CompressionConfig
from proxy.content.coding import accepts

if sys.version_info >= (3, 14):
    from compression import zstd
else:
    from backports import zstd

Coding = Literal["zstd", "br", "gzip"]

TEXT_TYPES = frozenset(
    {
        "application/javascript",
        "application/json",
        "application/ld+json",
        "application/manifest+json",
        "application/rss+xml",
        "application/atom+xml",
        "application/xhtml+xml",
        "application/xml",
        "image/svg+xml",
    }
)
# media types text/* that are already compressed or are streams a client reads as they arrive
NOT_COMPRESSED_TEXT = frozenset({"text/event-stream"})
STALE_DIGESTS = ("Content-MD5", "Digest", "Content-Digest", "Repr-Digest")


def compressible_type(content_type: str | None) -> bool:
    """Whether a media type (``Content-Type``, parameters allowed) is worth compressing."""
    if not content_type:
        return False
    media = content_type.split(";", 1)[0].strip().lower()
    if media in NOT_COMPRESSED_TEXT:
        return False
    return media.startswith("text/") or media in TEXT_TYPES or media.endswith(("+json", "+xml"))


def accepted_coding(policy: CompressionConfig, request_headers: Mapping[str, str]) -> Coding | None:
    """The first of the configured codings the client accepts, if any."""
    accept = request_headers.get("Accept-Encoding")
    return next((coding for coding in policy.codings if accepts(accept, coding)), None)


def compressible(
    policy: CompressionConfig,
    *,
    method: str,
    status: int,
    headers: Mapping[str, str],
    length: int | None,
) -> bool:
    """Whether this response goes out compressed to a client that accepts a configured coding
    (and asked for the whole of it: see :func:`compress_as_accepted`)."""
    if not policy.enabled or status != 200 or method not in ("GET", "HEAD", "POST"):
        return False
    if "Content-Range" in headers:
        return False
    if headers.get("Content-Encoding", "identity").strip().lower() != "identity":
        return False
    if any("no-transform" in value.lower() for value in _all(headers, "Cache-Control")):
        return False
    if not compressible_type(headers.get("Content-Type")):
        return False
    return length is None or length >= policy.min_bytes


def compress_as_accepted(
    policy: CompressionConfig,
    *,
    method: str,
    request_headers: Mapping[str, str],
    headers: CIMultiDict[str],
    status: int,
    length: int | None,
) -> Coding | None:
    """The coding to compress this response with (None: as the origin sent it), with
    ``headers`` changed to say what went out.

    A response compressed for some clients varies on ``Accept-Encoding`` for all, also for one
    that accepts no coding: a cache must not hand that client's identity copy to every client,
    and a 304 varies as the 200 it validates (RFC 9110 §12.5.5)."""
    if not compressible(policy, method=method, status=status, headers=headers, length=length):
        return None
    if "Range" in request_headers:  # never compressed; but the origin ignored the range, and this
        vary_on(headers, "Accept-Encoding")  # 200 is the page a plain GET gets compressed
        return None
    coding = accepted_coding(policy, request_headers)
    if coding is None:
        vary_on(headers, "Accept-Encoding")
    else:
        mark_compressed(headers, coding)
    return coding


def mark_compressed(headers: CIMultiDict[str], coding: Coding) -> None:
    """Turn the origin's headers into those of the ``coding``-compressed representation."""
    headers["Content-Encoding"] = coding
    headers.popall("Content-Length", None)
    headers.popall("Accept-Ranges", None)
    for name in STALE_DIGESTS:
        headers.popall(name, None)
    etag = headers.get("ETag")
    if etag is not None and not etag.lstrip().startswith("W/"):
        headers["ETag"] = "W/" + etag.strip()  # RFC 9110 §8.8.1: not the same bytes any more
    vary_on(headers, "Accept-Encoding")


def vary_on(headers: CIMultiDict[str], field: str) -> None:
    """Add ``field`` to ``Vary`` unless it (or ``*``) is already named; one ``Vary`` field
    after (a reader taking the first of several would miss the rest)."""
    values = headers.getall("Vary", ())
    named = {v.strip().lower() for value in values for v in value.split(",")}
    if named & {field.lower(), "*"}:
        return
    kept = [value.strip() for value in values if value.strip()]
    headers.popall("Vary", None)
    headers["Vary"] = ", ".join([*kept, field])


def compress_whole(body: bytes, coding: Coding, level: int) -> bytes:
    """``body`` in ``coding`` at ``level`` (gzip with mtime 0: equal pages, equal bytes)."""
    if coding == "gzip":
        return gzip.compress(body, compresslevel=level, mtime=0)
    if coding == "br":
        return cast(bytes, brotli.compress(body, quality=level))
    return zstd.compress(body, level=level)


def reencoding(
    codings: tuple[str, ...], policy: CompressionConfig, request_headers: Mapping[str, str]
) -> Coding | None:
    """The coding a page decoded as it streams goes out in again, or None for identity: the
    origin's own when it is one Vernier writes (the client accepted it: the origin chose it from
    the same ``Accept-Encoding``; ``x-gzip`` is gzip), otherwise (``deflate``, several layers) the
    client's preferred one of the configured codings."""
    if len(codings) == 1 and codings[0] in ("gzip", "x-gzip", "br", "zstd"):
        return cast(Coding, "gzip" if codings[0] == "x-gzip" else codings[0])
    return accepted_coding(policy, request_headers)


def level_of(policy: CompressionConfig, coding: Coding) -> int:
    return {"zstd": policy.zstd_level, "br": policy.br_level, "gzip": policy.gzip_level}[coding]


class StreamCompressor:
    """One response's compressor: :meth:`feed` each chunk, :meth:`finish` once."""

    def __init__(self, coding: Coding, level: int) -> None:
        self.coding = coding
        self._gzip = zlib.compressobj(level, zlib.DEFLATED, 31) if coding == "gzip" else None
        self._br = brotli.Compressor(quality=level) if coding == "br" else None
        self._zstd = zstd.ZstdCompressor(level=level) if coding == "zstd" else None

    def feed(self, chunk: bytes) -> bytes:
        """The compressed bytes for ``chunk``, flushed so the client can decode all of it."""
        if self._gzip is not None:
            return self._gzip.compress(chunk) + self._gzip.flush(zlib.Z_SYNC_FLUSH)
        if self._br is not None:
            return cast(bytes, self._br.process(chunk)) + cast(bytes, self._br.flush())
        assert self._zstd is not None
        return self._zstd.compress(chunk, mode=zstd.ZstdCompressor.FLUSH_BLOCK)

    def finish(self) -> bytes:
        if self._gzip is not None:
            return self._gzip.flush(zlib.Z_FINISH)
        if self._br is not None:
            return cast(bytes, self._br.finish())
        assert self._zstd is not None
        return self._zstd.flush(zstd.ZstdCompressor.FLUSH_FRAME)


def _all(headers: Mapping[str, str], name: str) -> Sequence[str]:
    getall = getattr(headers, "getall", None)
    if getall is not None:
        return cast(Sequence[str], getall(name, ()))
    value = headers.get(name)
    return [value] if value is not None else []
