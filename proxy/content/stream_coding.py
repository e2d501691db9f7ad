"""Undoing a body's content-codings as it streams, for pages too big to hold (issue #14).

A page the origin compressed and that is too big to rewrite still gets the tracker: its bytes
are decoded piece by piece, the tag goes in once the head has passed, and the rest is
re-encoded as it streams (``stages/decode.py``, ``stages/encode.py``). Memory stays flat: a
:class:`StreamDecoder` never produces more than one step (≤ 64 KiB) of output per piece, and its
pieces are produced lazily, so a decompression bomb costs what the client reading it allows
(the response's backpressure), never a buffer.

Gzip members and zstd frames are all decoded, as browsers do, up to :data:`MAX_MEMBERS`; zero
padding after gzip is tolerated; garbage after the data, truncation and zstd windows over RFC
9659's 8 MB are refused: any doubt raises :class:`~proxy.errors.BodyError`.
"""

from __future__ import annotations

import sys
import zlib
from collections.abc import Iterator
from typing import Final, Protocol, cast

import brotli  # type: ignore[import-untyped]  # brotli ships no type information

from proxy.errors import BodyError

if sys.version_info >= (3, 14):
    from compression import zstd
else:
    from backports import zstd

STEP_BYTES = 64 * 1024
"""Most decoded bytes one piece holds."""

MAX_MEMBERS: Final = 4096
"""Most gzip members or zstd frames in one body. Concatenated members are legal and browsers decode
them all, but a body of 20-byte empty members costs a Python loop turn each (aiohttp 3.14.4 fixed a
quadratic-time variant of this; docs/reliability.md §0.2); a page sent in more pieces than this
fails open."""

_FEED_BYTES = 4096
"""Compressed input is handed to a decoder in slices this size: what zlib copies of the unread
rest at a member's end (``unused_data``) or per output step (``unconsumed_tail``) is then at most
this, so thousands of tiny members or a bomb's many steps stay linear in the body."""

_BROTLI_OUTPUT_LIMIT = 16 * 1024  # brotli then yields at most one ~32 KiB block per call
_ZSTD_WINDOW_LOG_MAX = 23  # RFC 9659 §3: browsers limit the zstd window to 8 MB
_GZIP_MAGIC = b"\x1f\x8b"
_CODEC_ERRORS = (zlib.error, brotli.error, zstd.ZstdError, EOFError)


class _Layer(Protocol):
    def feed(self, data: bytes) -> Iterator[bytes]: ...
    def finish(self) -> None: ...


class _Zlib:
    """One zlib, gzip or raw-deflate stream; output drained in steps."""

    def __init__(self, wbits: int) -> None:
        self.decomp = zlib.decompressobj(wbits)

    def feed(self, data: bytes) -> Iterator[bytes]:
        while not self.decomp.eof:
            out = self.decomp.decompress(data, STEP_BYTES)
            if out:
                yield out
            data = self.decomp.unconsumed_tail
            if not data and not out:
                return  # all input taken and nothing pending: wait for more


class _Gzip:
    """gzip (RFC 1952): every member, as browsers do; zero padding after the last."""

    def __init__(self) -> None:
        self._member: _Zlib | None = None
        self._members = 0
        self._pending = b""  # the start of a member whose magic is not all here yet
        self._padding = False

    def feed(self, data: bytes) -> Iterator[bytes]:
        while data:
            if self._member is None:
                data = self._start(data)
                if self._member is None:
                    return
            yield from self._member.feed(data)
            data = b""
            if self._member.decomp.eof:
                data = self._member.decomp.unused_data
                self._member = None

    def _start(self, data: bytes) -> bytes:
        """Begin the next member (or padding) with ``data``; what is left for it to decode."""
        if self._padding or (not self._pending and self._members and data[0] == 0):
            self._padding = True
            if data.strip(b"\0"):
                raise BodyError("garbage after gzip data")
            return b""
        data = self._pending + data
        if len(data) < len(_GZIP_MAGIC):
            self._pending = data
            return b""
        self._pending = b""
        if data[:2] != _GZIP_MAGIC:
            raise BodyError("garbage after gzip data" if self._members else "not gzip data")
        self._members += 1
        if self._members > MAX_MEMBERS:
            raise BodyError(f"more than {MAX_MEMBERS} gzip members")
        self._member = _Zlib(16 + zlib.MAX_WBITS)
        return data

    def finish(self) -> None:
        if not self._members or self._pending or self._member is not None:
            raise BodyError("gzip stream is truncated")


class _Deflate:
    """``deflate`` is zlib-wrapped (RFC 9110 §8.4.1.2), but servers have long sent raw deflate
    under that name and browsers accept both: a valid zlib header selects zlib, anything else raw,
    and a zlib failure before any output is retried raw (a raw stream can start with two bytes
    that happen to form a zlib header)."""

    def __init__(self) -> None:
        self._stream: _Zlib | None = None
        self._taken = b""  # the input so far, while a zlib stream has produced nothing

    def feed(self, data: bytes) -> Iterator[bytes]:
        if self._stream is None:
            data, self._taken = self._taken + data, b""
            if len(data) < 2:
                self._taken = data
                return
            zlib_header = data[0] & 0x0F == 8 and (data[0] << 8 | data[1]) % 31 == 0
            self._stream = _Zlib(zlib.MAX_WBITS if zlib_header else -zlib.MAX_WBITS)
            self._taken = data if zlib_header else b""
        elif self._taken:
            # kept for a retry only while short: zlib gives output within its first kilobytes
            self._taken = self._taken + data if len(self._taken) < STEP_BYTES else b""
        if self._stream.decomp.eof and data:
            raise BodyError("garbage after deflate data")
        try:
            for piece in self._stream.feed(data):
                self._taken = b""  # output given out: too late to read it another way
                yield piece
        except zlib.error:
            if not self._taken:
                raise
            self._stream, data, self._taken = _Zlib(-zlib.MAX_WBITS), self._taken, b""
            yield from self._stream.feed(data)
        if self._stream.decomp.unused_data:
            raise BodyError("garbage after deflate data")

    def finish(self) -> None:
        if self._stream is None or not self._stream.decomp.eof:
            raise BodyError("deflate stream is truncated")


class _BrotliDecompressor(Protocol):
    def process(self, data: bytes, *, output_buffer_limit: int) -> bytes: ...
    def is_finished(self) -> bool: ...
    def can_accept_more_data(self) -> bool: ...


class _Brotli:
    """brotli (RFC 7932): one stream; the decoder itself refuses data after its end."""

    def __init__(self) -> None:
        self._decomp = cast(_BrotliDecompressor, brotli.Decompressor())

    def feed(self, data: bytes) -> Iterator[bytes]:
        if self._decomp.is_finished() and data:
            raise BodyError("garbage after brotli data")
        out = self._decomp.process(data, output_buffer_limit=_BROTLI_OUTPUT_LIMIT)
        # more output may wait inside even when more input could be taken: drain until dry
        while out or not (self._decomp.is_finished() or self._decomp.can_accept_more_data()):
            if out:
                yield out
            if self._decomp.is_finished():
                return
            out = self._decomp.process(b"", output_buffer_limit=_BROTLI_OUTPUT_LIMIT)

    def finish(self) -> None:
        if not self._decomp.is_finished():
            raise BodyError("brotli stream is truncated")


class _Zstd:
    """zstd (RFC 8878): every frame, skippable ones included."""

    def __init__(self) -> None:
        self._frame: zstd.ZstdDecompressor | None = None
        self._frames = 0

    def feed(self, data: bytes) -> Iterator[bytes]:
        while data:
            if self._frame is None:
                self._frames += 1
                if self._frames > MAX_MEMBERS:
                    raise BodyError(f"more than {MAX_MEMBERS} zstd frames")
                options: dict[int, int] = {
                    zstd.DecompressionParameter.window_log_max: _ZSTD_WINDOW_LOG_MAX
                }
                self._frame = zstd.ZstdDecompressor(options=options)
            frame = self._frame
            out = frame.decompress(data, max_length=STEP_BYTES)
            while True:
                if out:
                    yield out
                if frame.eof or frame.needs_input:
                    break
                out = frame.decompress(b"", max_length=STEP_BYTES)
            data = b""
            if frame.eof:
                data, self._frame = frame.unused_data, None

    def finish(self) -> None:
        if not self._frames or self._frame is not None:
            raise BodyError("zstd stream is truncated")


def _layer(coding: str) -> _Layer:
    if coding in ("gzip", "x-gzip"):
        return _Gzip()
    if coding == "deflate":
        return _Deflate()
    if coding == "br":
        return _Brotli()
    if coding == "zstd":
        return _Zstd()
    raise BodyError(f"unsupported content coding {coding!r}")


class StreamDecoder:
    """Undoes ``codings`` (as ``parse_content_encoding`` returns them) chunk by chunk: feed each
    chunk of the body and iterate the decoded pieces, then call :meth:`finish` once."""

    def __init__(self, codings: tuple[str, ...]) -> None:
        # the last coding applied is the first undone
        self._layers = [_layer(c) for c in reversed(codings) if c != "identity"]

    def feed(self, chunk: bytes) -> Iterator[bytes]:
        """The decoded pieces of ``chunk``, produced as they are asked for."""
        try:
            for start in range(0, len(chunk), _FEED_BYTES):
                yield from self._through(0, chunk[start : start + _FEED_BYTES])
        except _CODEC_ERRORS as err:
            raise BodyError(f"corrupt compressed body: {err}") from None

    def _through(self, depth: int, data: bytes) -> Iterator[bytes]:
        if depth == len(self._layers):
            yield data
            return
        for piece in self._layers[depth].feed(data):
            yield from self._through(depth + 1, piece)

    def finish(self) -> None:
        """Raise :class:`BodyError` unless every layer ended exactly with the body."""
        for layer in self._layers:
            layer.finish()
