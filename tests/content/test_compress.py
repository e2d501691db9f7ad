"""Which responses Vernier compresses and how their headers change; streamed output decodes (with
the codecs' own libraries) to exactly the input, chunk by chunk."""

from __future__ import annotations

import gzip
import sys
import zlib
from collections.abc import Callable
from typing import cast

import brotli  # type: ignore[import-untyped]  # brotli ships no type information
import pytest
from hypothesis import given
from hypothesis import strategies as st
from multidict import CIMultiDict

from proxy.config.schema import CompressionConfig
from proxy.content.compress import (
    Coding,
    StreamCompressor,
    compress_as_accepted,
    compress_whole,
    compressible_type,
    mark_compressed,
    reencoding,
)

if sys.version_info >= (3, 14):
    from compression import zstd
else:
    from backports import zstd

DECODE: dict[Coding, Callable[[bytes], bytes]] = {
    "gzip": gzip.decompress,
    "br": brotli.decompress,
    "zstd": zstd.decompress,
}
CSS = {"Content-Type": "text/css"}
DEFAULTS = CompressionConfig()


@pytest.mark.parametrize(
    ("content_type", "expected"),
    [
        ("text/html; charset=utf-8", True),
        ("text/css", True),
        ("application/javascript", True),
        ("application/json", True),
        ("application/problem+json", True),
        ("image/svg+xml", True),
        ("application/rss+xml", True),
        ("text/event-stream", False),
        ("image/png", False),
        ("application/octet-stream", False),
        ("font/woff2", False),
        (None, False),
    ],
)
def test_compressible_types(content_type: str | None, expected: bool) -> None:
    assert compressible_type(content_type) is expected


def choose(
    accept: str | None = "gzip, br, zstd",
    *,
    config: CompressionConfig = DEFAULTS,
    method: str = "GET",
    status: int = 200,
    length: int | None = 5000,
    request: dict[str, str] | None = None,
    **headers: str,
) -> Coding | None:
    request_headers = dict(request or {})
    if accept is not None:
        request_headers["Accept-Encoding"] = accept
    return compress_as_accepted(
        config,
        method=method,
        request_headers=request_headers,
        status=status,
        headers=CIMultiDict({**CSS, **headers}),
        length=length,
    )


def test_the_configured_preference_among_what_the_client_accepts() -> None:
    assert choose() == "zstd"
    assert choose("gzip, br") == "br"
    assert choose("gzip") == "gzip"
    assert choose("br;q=0, gzip;q=0.5, zstd;q=0") == "gzip"
    assert choose("gzip, br", config=CompressionConfig(codings=("gzip", "br"))) == "gzip"
    assert choose(None) is None and choose("") is None and choose("identity") is None


@pytest.mark.parametrize(
    "refusal",
    [
        {"config": CompressionConfig(enabled=False)},
        {"status": 206},
        {"status": 304},
        {"method": "PUT"},
        {"length": 1023},
        {"request": {"Range": "bytes=0-9"}},
        {"Cache-Control": "public, no-transform"},
        {"Content-Encoding": "gzip"},
        {"Content-Type": "image/png"},
    ],
)
def test_refusals(refusal: dict[str, object]) -> None:
    assert choose(**refusal) is None  # type: ignore[arg-type]


def test_an_unknown_length_is_compressed() -> None:
    assert choose(length=None) == "zstd"


def test_headers_of_the_compressed_representation() -> None:
    headers = CIMultiDict(
        {
            **CSS,
            "Content-Length": "5000",
            "ETag": '"v1"',
            "Accept-Ranges": "bytes",
            "Digest": "sha-256=x",
            "Vary": "Origin",
        }
    )
    mark_compressed(headers, "br")
    assert dict(headers) == {
        **CSS,
        "ETag": 'W/"v1"',
        "Vary": "Origin, Accept-Encoding",  # one field: a reader of the first sees both
        "Content-Encoding": "br",
    }
    mark_compressed(headers, "br")  # idempotent: a weak tag stays, Vary is not repeated
    assert headers["ETag"] == 'W/"v1"' and headers.getall("Vary") == ["Origin, Accept-Encoding"]


@pytest.mark.parametrize("coding", ["gzip", "br", "zstd"])
@given(chunks=st.lists(st.binary(max_size=3000), max_size=8))
def test_streamed_output_decodes_to_the_input(coding: Coding, chunks: list[bytes]) -> None:
    compressor = StreamCompressor(coding, 4)
    out = b"".join(compressor.feed(chunk) for chunk in chunks) + compressor.finish()
    assert DECODE[coding](out) == b"".join(chunks)


@pytest.mark.parametrize("coding", ["gzip", "br", "zstd"])
def test_each_flushed_chunk_is_decodable_as_soon_as_it_is_sent(coding: Coding) -> None:
    compressor = StreamCompressor(coding, 4)
    sent = compressor.feed(b"<html><head>" * 50)
    decoder: Callable[[bytes], bytes]
    if coding == "gzip":
        decoder = zlib.decompressobj(31).decompress
    elif coding == "br":
        decoder = cast(Callable[[bytes], bytes], brotli.Decompressor().process)
    else:
        decoder = zstd.ZstdDecompressor().decompress
    assert decoder(sent) == b"<html><head>" * 50


@pytest.mark.parametrize("coding", ["gzip", "br", "zstd"])
def test_whole_bodies_decode(coding: Coding) -> None:
    body = b"body { color: red }\n" * 200
    assert DECODE[coding](compress_whole(body, coding, 4)) == body


@pytest.mark.parametrize(
    ("codings", "accept", "expected"),
    [
        (("gzip",), "br", "gzip"),  # the origin's own coding: it chose it for this client
        (("x-gzip",), "gzip", "gzip"),
        (("br",), "gzip, br", "br"),
        (("zstd",), "zstd", "zstd"),
        (("deflate",), "gzip, deflate, br, zstd", "zstd"),  # not written: the client's choice
        (("gzip", "br"), "gzip", "gzip"),
        (("deflate",), "deflate", None),  # nothing Vernier writes: identity
    ],
)
def test_a_page_decoded_as_it_streams_is_reencoded(
    codings: tuple[str, ...], accept: str, expected: str | None
) -> None:
    assert reencoding(codings, CompressionConfig(), {"Accept-Encoding": accept}) == expected


@pytest.mark.parametrize("accept", [None, "", "identity", "gzip;q=0, br;q=0, zstd;q=0"])
def test_an_identity_copy_of_a_compressible_response_varies(accept: str | None) -> None:
    headers = CIMultiDict({**CSS, "Vary": "Origin"})
    request = {} if accept is None else {"Accept-Encoding": accept}
    coding = compress_as_accepted(
        DEFAULTS, method="GET", request_headers=request, status=200, headers=headers, length=5000
    )
    assert coding is None and "Content-Encoding" not in headers
    assert headers.getall("Vary") == ["Origin, Accept-Encoding"]


def test_a_response_never_compressed_does_not_vary() -> None:
    headers = CIMultiDict({"Content-Type": "image/png"})
    coding = compress_as_accepted(
        DEFAULTS,
        method="GET",
        request_headers={"Accept-Encoding": "gzip"},
        status=200,
        headers=headers,
        length=5000,
    )
    assert coding is None and "Vary" not in headers


def test_a_whole_page_answering_a_range_request_varies_as_the_plain_get() -> None:
    """The origin ignored ``Range`` and sent 200: a shared cache may keep it for the URL, so it
    varies as the compressed copy a plain GET gets does; a 206 never varies for compression."""
    request = {"Accept-Encoding": "gzip", "Range": "bytes=0-9"}
    whole = CIMultiDict(CSS)
    coding = compress_as_accepted(
        DEFAULTS, method="GET", request_headers=request, status=200, headers=whole, length=5000
    )
    assert coding is None and whole.getall("Vary") == ["Accept-Encoding"]
    part = CIMultiDict({**CSS, "Content-Range": "bytes 0-9/5000"})
    coding = compress_as_accepted(
        DEFAULTS, method="GET", request_headers=request, status=206, headers=part, length=10
    )
    assert coding is None and "Vary" not in part
