"""HTTP content codings for bodies the proxy rewrites (RFC 9110 §8.4, §12.5.3).

The upstream client runs with auto-decompression off (which rules out aiohttp#4462: decoded bytes
under a header that still names the coding), so the decode stage receives the origin's raw bytes;
this module undoes, and later re-applies, the codings named in ``Content-Encoding``.

Decoding is the attack surface: a 1 MB gzip body can expand to 1 GB. Every decoder here is
driven in bounded steps, so the decoded output held at any moment is at most ``max_bytes`` plus one
step (≤ 64 KiB), whatever the input; joining the pieces at the end copies them once. Any doubt
(corrupt data, truncation, trailing garbage, too many layers or members, output over the cap)
raises :class:`~proxy.errors.BodyError`, and the caller fails open with the original bytes (PX-19).
"""

from __future__ import annotations

import gzip
import re
import sys
import zlib
from typing import Final, Protocol, cast

import brotli  # type: ignore[import-untyped]  # brotli ships no type information

from proxy.errors import BodyError

if sys.version_info >= (3, 14):
    from compression import zstd
else:
    from backports import zstd

__all__ = ["SUPPORTED_CODINGS", "accepts", "decode_body", "encode_body", "parse_content_encoding"]

SUPPORTED_CODINGS: Final[frozenset[str]] = frozenset(
    {"identity", "gzip", "x-gzip", "deflate", "br", "zstd"}
)

MAX_CODINGS: Final = 4
"""Most non-identity layers accepted in one ``Content-Encoding``. ``gzip, gzip`` happens in the
wild (aiohttp#13364); more than a few layers is only a way to multiply decoding work."""

MAX_MEMBERS: Final = 4096
"""Most gzip members or zstd frames in one body. Concatenated members are legal and browsers decode
them all, but a body of 20-byte empty members costs a Python loop turn each (aiohttp 3.14.4 fixed a
quadratic-time variant of this; docs/reliability.md §0.2); a page sent in more pieces than this
fails open."""

_OUTPUT_STEP: Final = 64 * 1024
"""Most decoded bytes asked of a decoder per call."""

_FIRST_FEED: Final = 512
_MAX_FEED: Final = 64 * 1024
"""Compressed input is fed in slices that start small and double per call within one member, so the
copy zlib makes of the unread rest at a member's end (``unused_data``) is at most about twice that
member's size: linear in the body, even for thousands of tiny members."""

_BROTLI_OUTPUT_LIMIT: Final = 16 * 1024
"""brotli grows its output buffer in blocks (the first ≈32 KiB) and stops growing once it reaches
``output_buffer_limit``; any limit below the first block yields at most one block per call."""

_ZSTD_WINDOW_LOG_MAX: Final = 23
"""RFC 9659 §3: for the ``zstd`` content coding, decoders may limit the window to 8 MB, and browsers
do; larger windows are refused instead of allocated."""

_GZIP_LEVEL: Final = 6
_DEFLATE_LEVEL: Final = 6
_BROTLI_QUALITY: Final = 4
_ZSTD_LEVEL: Final = 3
"""Re-encoding happens per request inside the page's 50 ms budget. Measured on the 21 corpus pages of
50-400 KB (one core): gzip 6 costs 2.5 ms per 100 KB and is 1 % larger than gzip 9 (4.8 ms); brotli 4
costs 1.5 ms, 22 % larger than brotli 11 (160 ms, meant for precompressed assets); zstd 3 costs
0.4 ms, 16 % larger than zstd 19 (41 ms)."""

_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_QVALUE = re.compile(r"(?:0(?:\.[0-9]{0,3})?|1(?:\.0{0,3})?)")
_GZIP_MAGIC: Final = b"\x1f\x8b"


class _BrotliDecompressor(Protocol):
    def process(self, data: bytes | memoryview, *, output_buffer_limit: int) -> bytes: ...
    def is_finished(self) -> bool: ...
    def can_accept_more_data(self) -> bool: ...


def parse_content_encoding(value: str | None) -> tuple[str, ...] | None:
    """The codings named by a ``Content-Encoding`` value, in the order they were applied.

    ``()`` when the field is absent, empty or only ``identity``; ``None`` when any coding is not
    supported (or there are more than :data:`MAX_CODINGS`), meaning "do not touch this body". Names
    are lower-cased (RFC 9110 §8.4.1: case-insensitive); ``identity`` entries and the empty list
    elements RFC 9110 §5.6.1 tells recipients to ignore are dropped; ``x-gzip`` is kept as sent so
    the re-encoded response can carry the origin's label.
    """
    if value is None:
        return ()
    codings: list[str] = []
    for element in value.split(","):
        name = element.strip(" \t").lower()
        if not name or name == "identity":
            continue
        if name not in SUPPORTED_CODINGS:
            return None
        codings.append(name)
    if len(codings) > MAX_CODINGS:
        return None
    return tuple(codings)


def decode_body(body: bytes, codings: tuple[str, ...], *, max_bytes: int) -> bytes:
    """Undo ``codings`` (as returned by :func:`parse_content_encoding`), last applied first.

    Raises :class:`BodyError` when the data is corrupt, truncated (an empty body under a coding
    counts), followed by garbage, or decodes to more than ``max_bytes`` (inner layers of a
    multi-coding body get 1 % + 1 KiB of slack: they are still compressed data).
    """
    if max_bytes < 0:
        raise ValueError("max_bytes must be >= 0")
    layers = [coding for coding in codings if coding != "identity"]
    for depth, coding in enumerate(reversed(layers)):
        if not body:
            raise BodyError(f"empty body labelled {coding!r}")
        # An inner layer is still compressed data, which may be a little larger than what it
        # encodes (headers, stored blocks); only the innermost result is held to the exact cap.
        cap = max_bytes if depth == len(layers) - 1 else max_bytes + max_bytes // 100 + 1024
        try:
            if coding in ("gzip", "x-gzip"):
                body = _gunzip(memoryview(body), cap)
            elif coding == "deflate":
                body = _inflate_deflate(memoryview(body), cap)
            elif coding == "br":
                body = _unbrotli(memoryview(body), cap)
            elif coding == "zstd":
                body = _unzstd(memoryview(body), cap)
            else:
                raise BodyError(f"unsupported content coding {coding!r}")
        except (zlib.error, brotli.error, zstd.ZstdError, EOFError) as err:
            raise BodyError(f"corrupt {coding!r} body: {err}") from None
    if len(body) > max_bytes:
        raise BodyError(f"body of {len(body)} bytes is over the {max_bytes}-byte cap")
    return body


def encode_body(body: bytes, codings: tuple[str, ...]) -> bytes:
    """Apply ``codings`` in order, so that ``decode_body(encode_body(b, c), c) == b``.

    ``deflate`` is written zlib-wrapped as RFC 9110 §8.4.1.2 specifies, even when the origin sent raw
    deflate; browsers accept both. gzip's mtime is 0 so equal bodies encode to equal bytes.
    """
    for coding in codings:
        if coding == "identity":
            continue
        if coding in ("gzip", "x-gzip"):
            body = gzip.compress(body, compresslevel=_GZIP_LEVEL, mtime=0)
        elif coding == "deflate":
            body = zlib.compress(body, _DEFLATE_LEVEL)
        elif coding == "br":
            body = cast(bytes, brotli.compress(body, quality=_BROTLI_QUALITY))
        elif coding == "zstd":
            # Level 3 uses a window of at most 2 MB, within RFC 9659's 8 MB.
            body = zstd.compress(body, level=_ZSTD_LEVEL)
        else:
            raise ValueError(f"unsupported content coding {coding!r}")
    return body


def accepts(accept_encoding: str | None, coding: str) -> bool:
    """Whether a request's ``Accept-Encoding`` allows a response in ``coding`` (RFC 9110 §12.5.3).

    - No field: only ``identity``. The RFC lets a server pick any coding then, but adds that this
      "does not imply that the user agent will be able to correctly process all encodings"; like
      nginx and most servers, we only compress for clients that ask.
    - An empty field: only ``identity`` ("does not want any content coding").
    - ``identity`` is acceptable unless excluded by ``identity;q=0``, or by ``*;q=0`` with no entry
      naming ``identity``.
    - Otherwise the entry naming the coding decides, else ``*``; ``q=0`` means "not acceptable".
      ``x-gzip`` and ``gzip`` are the same coding (§8.4.1.3). If a coding is listed twice, any
      ``q=0`` wins. An entry with a malformed weight is ignored.
    """
    want = _canonical(coding.strip().lower())
    if accept_encoding is None:
        return want == "identity"
    named: bool | None = None
    star: bool | None = None
    for element in accept_encoding.split(","):
        parsed = _parse_accept_element(element)
        if parsed is None:
            continue
        name, acceptable = parsed
        if name == "*":
            star = acceptable if star is None else star and acceptable
        elif _canonical(name) == want:
            named = acceptable if named is None else named and acceptable
    if named is not None:
        return named
    if want == "identity":
        return star is not False
    return star is True


def _canonical(name: str) -> str:
    return "gzip" if name == "x-gzip" else name


def _parse_accept_element(element: str) -> tuple[str, bool] | None:
    """``(lower-cased coding, q > 0)`` for one ``Accept-Encoding`` element; ``None`` if malformed."""
    name, *params = element.split(";")
    name = name.strip(" \t").lower()
    if not name or not _TOKEN.fullmatch(name):
        return None
    acceptable = True
    for param in params:
        key, sep, raw = param.partition("=")
        if key.strip(" \t").lower() != "q":
            continue  # no other parameters are defined for Accept-Encoding; ignore them
        raw = raw.strip(" \t")
        if not sep or not _QVALUE.fullmatch(raw):
            return None
        acceptable = float(raw) > 0
    return name, acceptable


class _OverCap(BodyError):
    """The decoded output passed ``max_bytes`` (never worth retrying another way)."""


class _Sink:
    """Collects decoded pieces and fails as soon as they exceed the cap."""

    __slots__ = ("_max_bytes", "_parts", "_size")

    def __init__(self, max_bytes: int) -> None:
        self._max_bytes = max_bytes
        self._parts: list[bytes] = []
        self._size = 0

    def room(self) -> int:
        """How much to ask a decoder for: one byte past the cap is enough to detect a bomb."""
        return min(_OUTPUT_STEP, self._max_bytes - self._size + 1)

    def add(self, piece: bytes) -> None:
        self._size += len(piece)
        if self._size > self._max_bytes:
            raise _OverCap(f"decoded body is over the {self._max_bytes}-byte cap")
        if piece:
            self._parts.append(piece)

    def result(self) -> bytes:
        return b"".join(self._parts)


def _inflate_one(data: memoryview, start: int, wbits: int, sink: _Sink) -> int:
    """Inflate one zlib/gzip/raw-deflate stream starting at ``start``; return where it ended."""
    decomp = zlib.decompressobj(wbits)
    pos = start
    feed = _FIRST_FEED
    while not decomp.eof:
        piece: bytes | memoryview
        if decomp.unconsumed_tail:
            piece = decomp.unconsumed_tail
        elif pos < len(data):
            piece = data[pos : pos + feed]
            pos += len(piece)
            feed = min(feed * 2, _MAX_FEED)
        else:
            piece = b""
        out = decomp.decompress(piece, sink.room())
        if not piece and not out:
            raise BodyError("compressed stream is truncated")
        sink.add(out)
    return pos - len(decomp.unused_data)


def _gunzip(data: memoryview, max_bytes: int) -> bytes:
    """gzip (RFC 1952), every member, as browsers do; zero padding after the last is tolerated."""
    sink = _Sink(max_bytes)
    pos = 0
    members = 0
    while True:
        members += 1
        if members > MAX_MEMBERS:
            raise BodyError(f"more than {MAX_MEMBERS} gzip members")
        if data[pos : pos + 2].tobytes() != _GZIP_MAGIC:
            raise BodyError("not gzip data")
        pos = _inflate_one(data, pos, 16 + zlib.MAX_WBITS, sink)
        if pos == len(data):
            return sink.result()
        if data[pos] == 0:
            # Python's gzip module allows zero padding after the last member; so do we.
            if data[pos:].tobytes().strip(b"\0"):
                raise BodyError("garbage after gzip data")
            return sink.result()
        if data[pos : pos + 2].tobytes() != _GZIP_MAGIC:
            raise BodyError("garbage after gzip data")


def _inflate_deflate(data: memoryview, max_bytes: int) -> bytes:
    """``deflate`` is zlib-wrapped (RFC 9110 §8.4.1.2, RFC 1950), but servers have long sent raw
    deflate (RFC 1951) under that name and browsers accept both: a valid zlib header selects
    zlib, anything else raw, and a zlib failure is retried raw (a raw stream can start with two
    bytes that happen to form a zlib header)."""
    header_ok = len(data) >= 2 and data[0] & 0x0F == 8 and (data[0] << 8 | data[1]) % 31 == 0
    if header_ok:
        try:
            return _inflate_whole(data, zlib.MAX_WBITS, max_bytes)
        except _OverCap:
            raise
        except (BodyError, zlib.error):
            pass
    return _inflate_whole(data, -zlib.MAX_WBITS, max_bytes)


def _inflate_whole(data: memoryview, wbits: int, max_bytes: int) -> bytes:
    sink = _Sink(max_bytes)
    end = _inflate_one(data, 0, wbits, sink)
    if end != len(data):
        raise BodyError("garbage after deflate data")
    return sink.result()


def _unbrotli(data: memoryview, max_bytes: int) -> bytes:
    """brotli (RFC 7932). One stream; the decoder itself rejects data after its end."""
    sink = _Sink(max_bytes)
    decomp = cast(_BrotliDecompressor, brotli.Decompressor())
    pos = 0
    while not decomp.is_finished():
        piece: bytes | memoryview = b""
        if pos < len(data) and decomp.can_accept_more_data():
            piece = data[pos : pos + _MAX_FEED]
            pos += len(piece)
        out = decomp.process(piece, output_buffer_limit=_BROTLI_OUTPUT_LIMIT)
        if not piece and not out:
            raise BodyError("brotli stream is truncated")
        sink.add(out)
    if pos != len(data):
        raise BodyError("garbage after brotli data")
    return sink.result()


def _unzstd(data: memoryview, max_bytes: int) -> bytes:
    """zstd (RFC 8878): every frame, skippable frames included, as the reference decoder does."""
    sink = _Sink(max_bytes)
    pos = 0
    frames = 0
    options: dict[int, int] = {zstd.DecompressionParameter.window_log_max: _ZSTD_WINDOW_LOG_MAX}
    while pos < len(data):
        frames += 1
        if frames > MAX_MEMBERS:
            raise BodyError(f"more than {MAX_MEMBERS} zstd frames")
        decomp = zstd.ZstdDecompressor(options=options)
        feed = _FIRST_FEED
        while not decomp.eof:
            piece: bytes | memoryview = b""
            if decomp.needs_input and pos < len(data):
                piece = data[pos : pos + feed]
                pos += len(piece)
                feed = min(feed * 2, _MAX_FEED)
            out = decomp.decompress(piece, max_length=sink.room())
            if not piece and not out and decomp.needs_input:
                raise BodyError("zstd stream is truncated")
            sink.add(out)
        pos -= len(decomp.unused_data)
    return sink.result()
