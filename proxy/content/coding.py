"""HTTP content codings for bodies the proxy rewrites (RFC 9110 §8.4, §12.5.3).

The upstream client runs with auto-decompression off (which rules out aiohttp#4462: decoded bytes
under a header that still names the coding), so the decode stage receives the origin's raw bytes;
this module names the codings (``Content-Encoding``, ``Accept-Encoding``), re-applies them, and
undoes them for a whole body (:func:`decode_body`, over ``stream_coding.py``'s decoder, which the
decode stage also drives chunk by chunk as a page arrives).

Decoding is the attack surface: a 1 MB gzip body can expand to 1 GB. The decoder works in bounded
steps, so the decoded output held at any moment is at most ``max_bytes`` plus one step
(≤ 64 KiB), whatever the input. Any doubt (corrupt data, truncation, trailing garbage, too many
layers or members, output over the cap) raises :class:`~proxy.errors.BodyError`, and the caller
fails open with the original bytes (PX-19).
"""

from __future__ import annotations

import gzip
import re
import sys
import zlib
from typing import Final, cast

import brotli  # type: ignore[import-untyped]  # brotli ships no type information

from proxy.content.stream_coding import MAX_MEMBERS, StreamDecoder
from proxy.errors import BodyError
from proxy.records.http_token import HTTP_TOKEN

if sys.version_info >= (3, 14):
    from compression import zstd
else:
    from backports import zstd

__all__ = [
    "MAX_MEMBERS",
    "SUPPORTED_CODINGS",
    "accepts",
    "decode_body",
    "encode_body",
    "parse_content_encoding",
]

SUPPORTED_CODINGS: Final[frozenset[str]] = frozenset(
    {"identity", "gzip", "x-gzip", "deflate", "br", "zstd"}
)

MAX_CODINGS: Final = 4
"""Most non-identity layers accepted in one ``Content-Encoding``. ``gzip, gzip`` happens in the
wild (aiohttp#13364); more than a few layers is only a way to multiply decoding work."""

_GZIP_LEVEL: Final = 6
_DEFLATE_LEVEL: Final = 6
_BROTLI_QUALITY: Final = 4
_ZSTD_LEVEL: Final = 3
"""Re-encoding happens per request inside the page's 50 ms budget. Measured on the 21 corpus pages of
50-400 KB (one core): gzip 6 costs 2.5 ms per 100 KB and is 1 % larger than gzip 9 (4.8 ms); brotli 4
costs 1.5 ms, 22 % larger than brotli 11 (160 ms, meant for precompressed assets); zstd 3 costs
0.4 ms, 16 % larger than zstd 19 (41 ms)."""

_QVALUE = re.compile(r"(?:0(?:\.[0-9]{0,3})?|1(?:\.0{0,3})?)")


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
    counts), followed by garbage, or decodes to more than ``max_bytes`` (found as soon as it is
    passed: inner layers are decoded only as far as the outer result needs).
    """
    if max_bytes < 0:
        raise ValueError("max_bytes must be >= 0")
    layers = [coding for coding in codings if coding != "identity"]
    if layers and not body:
        raise BodyError(f"empty body labelled {layers[-1]!r}")
    decoder = StreamDecoder(codings)
    pieces: list[bytes] = []
    size = 0
    for piece in decoder.feed(body) if body else ():
        size += len(piece)
        if size > max_bytes:
            raise BodyError(f"decoded body is over the {max_bytes}-byte cap")
        pieces.append(piece)
    decoder.finish()
    return b"".join(pieces)


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
    if not name or not HTTP_TOKEN.fullmatch(name):
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
