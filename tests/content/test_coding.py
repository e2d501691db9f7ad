"""Content codings: round trips, lying labels, truncation, trailing garbage and decompression bombs."""

from __future__ import annotations

import contextlib
import gzip
import struct
import sys
import time
import tracemalloc
import zlib
from collections.abc import Callable

import brotli  # type: ignore[import-untyped]
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from proxy.content.coding import (
    MAX_CODINGS,
    MAX_MEMBERS,
    SUPPORTED_CODINGS,
    accepts,
    decode_body,
    encode_body,
    parse_content_encoding,
)
from proxy.errors import BodyError

if sys.version_info >= (3, 14):
    from compression import zstd
else:
    from backports import zstd

PAGE = b"<!doctype html><html><head><title>t</title></head><body>" + b"<p>hello</p>" * 500
CODINGS = ("gzip", "x-gzip", "deflate", "br", "zstd")
MIB = 1024 * 1024
GIB = 1024 * MIB


# --- parse_content_encoding ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, ()),
        ("", ()),
        ("identity", ()),
        (" IDENTITY ", ()),
        ("gzip", ("gzip",)),
        ("GZip", ("gzip",)),
        ("x-gzip", ("x-gzip",)),
        ("deflate", ("deflate",)),
        ("br", ("br",)),
        ("zstd", ("zstd",)),
        ("gzip, br", ("gzip", "br")),
        ("gzip,br", ("gzip", "br")),
        ("gzip,\tbr", ("gzip", "br")),
        ("gzip, gzip", ("gzip", "gzip")),
        ("gzip, identity, br", ("gzip", "br")),
        ("gzip,,br,", ("gzip", "br")),
        ("compress", None),
        ("gzip, compress", None),
        ("gzip;q=1", None),
        ("gzip br", None),
        ("bröt", None),
        (", ".join(["gzip"] * MAX_CODINGS), ("gzip",) * MAX_CODINGS),
        (", ".join(["gzip"] * (MAX_CODINGS + 1)), None),
    ],
)
def test_parse_content_encoding(value: str | None, expected: tuple[str, ...] | None) -> None:
    assert parse_content_encoding(value) == expected


def test_supported_codings() -> None:
    assert {"identity", "gzip", "x-gzip", "deflate", "br", "zstd"} == SUPPORTED_CODINGS


# --- round trips ----------------------------------------------------------------------------


@pytest.mark.parametrize("coding", CODINGS)
def test_round_trip(coding: str) -> None:
    encoded = encode_body(PAGE, (coding,))
    assert encoded != PAGE
    assert decode_body(encoded, (coding,), max_bytes=len(PAGE)) == PAGE


@pytest.mark.parametrize("codings", [(), ("identity",), ("gzip", "br"), ("br", "gzip", "zstd")])
def test_round_trip_layers(codings: tuple[str, ...]) -> None:
    assert decode_body(encode_body(PAGE, codings), codings, max_bytes=len(PAGE)) == PAGE


def test_layers_decode_in_reverse_order() -> None:
    body = brotli.compress(gzip.compress(PAGE))  # Content-Encoding: gzip, br
    assert decode_body(body, ("gzip", "br"), max_bytes=len(PAGE)) == PAGE
    with pytest.raises(BodyError):
        decode_body(body, ("br", "gzip"), max_bytes=len(PAGE))


def test_encoding_is_deterministic() -> None:
    for coding in CODINGS:
        assert encode_body(PAGE, (coding,)) == encode_body(PAGE, (coding,))


def test_empty_payload_round_trips() -> None:
    for coding in CODINGS:
        assert decode_body(encode_body(b"", (coding,)), (coding,), max_bytes=0) == b""


@settings(max_examples=60, deadline=None)
@given(
    body=st.binary(max_size=4096),
    codings=st.lists(st.sampled_from(CODINGS), max_size=3).map(tuple),
)
def test_round_trip_property(body: bytes, codings: tuple[str, ...]) -> None:
    assert decode_body(encode_body(body, codings), codings, max_bytes=len(body)) == body


def test_encode_rejects_unknown_coding() -> None:
    with pytest.raises(ValueError, match="compress"):
        encode_body(PAGE, ("compress",))


def test_decode_rejects_unknown_coding() -> None:
    with pytest.raises(BodyError):
        decode_body(PAGE, ("compress",), max_bytes=len(PAGE))


# --- gzip members, raw deflate, zstd frames ---------------------------------------------------


def test_concatenated_gzip_members_are_all_decoded() -> None:
    body = gzip.compress(b"<p>one</p>") + gzip.compress(b"") + gzip.compress(b"<p>two</p>")
    assert decode_body(body, ("gzip",), max_bytes=100) == b"<p>one</p><p>two</p>"


def test_gzip_zero_padding_after_last_member_is_tolerated() -> None:
    assert decode_body(gzip.compress(b"abc") + bytes(64), ("gzip",), max_bytes=3) == b"abc"


@pytest.mark.parametrize("tail", [b"x", b"\x00\x00x", b"\x1f", b"\x1f\x8b", b"<html>"])
def test_gzip_garbage_after_member(tail: bytes) -> None:
    with pytest.raises(BodyError):
        decode_body(gzip.compress(b"abc") + tail, ("gzip",), max_bytes=100)


def test_gzip_member_cap() -> None:
    empty = gzip.compress(b"", mtime=0)
    assert decode_body(empty * MAX_MEMBERS, ("gzip",), max_bytes=0) == b""
    started = time.perf_counter()
    with pytest.raises(BodyError, match="members"):
        decode_body(empty * (5 * MIB // len(empty)), ("gzip",), max_bytes=MIB)
    assert time.perf_counter() - started < 2.0


def test_deflate_accepts_zlib_wrapped_and_raw() -> None:
    wrapped = zlib.compress(PAGE)
    compressor = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    raw = compressor.compress(PAGE) + compressor.flush()
    assert decode_body(wrapped, ("deflate",), max_bytes=len(PAGE)) == PAGE
    assert decode_body(raw, ("deflate",), max_bytes=len(PAGE)) == PAGE


def test_raw_deflate_that_starts_like_a_zlib_header() -> None:
    # A non-final stored block whose first two bytes (0x08 0x1d) also form a valid zlib header.
    raw = b"\x08\x1d\x00\xe2\xff" + b"a" * 29 + b"\x01\x00\x00\xff\xff"
    assert decode_body(raw, ("deflate",), max_bytes=29) == b"a" * 29


@pytest.mark.parametrize("tail", [b"x", b"\x00", zlib.compress(b"again")])
def test_deflate_garbage_after_stream(tail: bytes) -> None:
    with pytest.raises(BodyError):
        decode_body(zlib.compress(b"abc") + tail, ("deflate",), max_bytes=100)


def test_zstd_frames_and_skippable_frames() -> None:
    skippable = struct.pack("<II", 0x184D2A50, 4) + b"meta"
    body = skippable + zstd.compress(b"one") + skippable + zstd.compress(b"two")
    assert decode_body(body, ("zstd",), max_bytes=6) == b"onetwo"


def test_zstd_window_over_rfc9659_limit_is_refused() -> None:
    compressor = zstd.ZstdCompressor(options={zstd.CompressionParameter.window_log: 25})
    body = compressor.compress(b"abc" * 10) + compressor.flush()
    with pytest.raises(BodyError):
        decode_body(body, ("zstd",), max_bytes=100)


@pytest.mark.parametrize("tail", [b"x", b"\x00" * 8])
def test_zstd_garbage_after_frame(tail: bytes) -> None:
    with pytest.raises(BodyError):
        decode_body(zstd.compress(b"abc") + tail, ("zstd",), max_bytes=100)


def test_brotli_garbage_after_stream() -> None:
    with pytest.raises(BodyError):
        decode_body(brotli.compress(b"abc") + b"x", ("br",), max_bytes=100)
    with pytest.raises(BodyError):
        decode_body(brotli.compress(PAGE) + b"\x00" * 100_000, ("br",), max_bytes=len(PAGE))


# --- lying labels and truncation --------------------------------------------------------------


@pytest.mark.parametrize("coding", CODINGS)
@pytest.mark.parametrize("body", [PAGE, b"<html>", b"\x00", b"hello world" * 1000])
def test_label_on_plain_bytes(coding: str, body: bytes) -> None:
    with pytest.raises(BodyError):
        decode_body(body, (coding,), max_bytes=10 * len(body))


def test_double_label_on_single_gzip() -> None:
    with pytest.raises(BodyError):
        decode_body(gzip.compress(PAGE), ("gzip", "gzip"), max_bytes=len(PAGE))


@pytest.mark.parametrize("coding", CODINGS)
def test_empty_body_under_a_coding(coding: str) -> None:
    with pytest.raises(BodyError, match="empty"):
        decode_body(b"", (coding,), max_bytes=100)


@pytest.mark.parametrize("coding", CODINGS)
def test_truncated_streams(coding: str) -> None:
    encoded = encode_body(PAGE, (coding,))
    for cut in sorted({1, 2, 5, 10, len(encoded) // 2, len(encoded) - 1}):
        with pytest.raises(BodyError):
            decode_body(encoded[:cut], (coding,), max_bytes=len(PAGE))


def test_truncated_raw_deflate() -> None:
    compressor = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    raw = compressor.compress(PAGE) + compressor.flush()
    with pytest.raises(BodyError):
        decode_body(raw[:-3], ("deflate",), max_bytes=len(PAGE))


# --- caps and bombs ---------------------------------------------------------------------------


@pytest.mark.parametrize("coding", CODINGS)
def test_cap_is_exact(coding: str) -> None:
    encoded = encode_body(PAGE, (coding,))
    assert decode_body(encoded, (coding,), max_bytes=len(PAGE)) == PAGE
    with pytest.raises(BodyError, match="cap"):
        decode_body(encoded, (coding,), max_bytes=len(PAGE) - 1)


def test_identity_over_cap() -> None:
    with pytest.raises(BodyError, match="cap"):
        decode_body(PAGE, (), max_bytes=len(PAGE) - 1)


def test_negative_cap_is_a_programming_error() -> None:
    with pytest.raises(ValueError):
        decode_body(PAGE, (), max_bytes=-1)


def _deflate_zeros(size_mib: int) -> tuple[bytes, int, int]:
    """Raw deflate of ``size_mib`` MiB of zeros, built without compressing them all (after a full
    flush deflate restarts from scratch, so each MiB compresses to the same ~1 KB block), with the
    CRC-32 and Adler-32 of the data for the gzip and zlib trailers."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    block = compressor.compress(bytes(MIB)) + compressor.flush(zlib.Z_FULL_FLUSH)
    final = compressor.flush(zlib.Z_FINISH)
    crc, adler = 0, 1
    for _ in range(size_mib):
        crc = zlib.crc32(bytes(MIB), crc)
        adler = zlib.adler32(bytes(MIB), adler)
    return block * size_mib + final, crc, adler


def _gzip_zeros(size_mib: int) -> bytes:
    raw, crc, _ = _deflate_zeros(size_mib)
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
    return header + raw + struct.pack("<II", crc, (size_mib * MIB) & 0xFFFFFFFF)


def _zlib_zeros(size_mib: int) -> bytes:
    raw, _, adler = _deflate_zeros(size_mib)
    return b"\x78\xda" + raw + struct.pack(">I", adler)


def _brotli_zeros(size_mib: int) -> bytes:
    compressor = brotli.Compressor(quality=1)
    parts = [compressor.process(bytes(MIB)) for _ in range(size_mib)]
    return b"".join(parts) + compressor.finish()  # type: ignore[no-any-return]


def _zstd_zeros(size_mib: int) -> bytes:
    compressor = zstd.ZstdCompressor(level=1)
    parts = [compressor.compress(bytes(MIB)) for _ in range(size_mib)]
    return b"".join(parts) + compressor.flush()


def _gzip_member_zeros(size_mib: int) -> bytes:
    return gzip.compress(bytes(MIB), compresslevel=9, mtime=0) * size_mib


def _zstd_frame_zeros(size_mib: int) -> bytes:
    return zstd.compress(bytes(MIB), level=1) * size_mib


BOMBS: dict[str, tuple[str, Callable[[int], bytes]]] = {
    "gzip": ("gzip", _gzip_zeros),
    "gzip-members": ("gzip", _gzip_member_zeros),
    "deflate": ("deflate", _zlib_zeros),
    "br": ("br", _brotli_zeros),
    "zstd": ("zstd", _zstd_zeros),
    "zstd-frames": ("zstd", _zstd_frame_zeros),
}


@pytest.mark.parametrize("kind", sorted(BOMBS))
def test_bomb_builders_are_valid(kind: str) -> None:
    coding, build = BOMBS[kind]
    assert decode_body(build(3), (coding,), max_bytes=3 * MIB) == bytes(3 * MIB)


@pytest.mark.parametrize("kind", sorted(BOMBS))
def test_one_gib_bomb_fails_fast_and_small(kind: str) -> None:
    coding, build = BOMBS[kind]
    bomb = build(GIB // MIB)
    assert len(bomb) < 2 * MIB
    cap = MIB
    tracemalloc.start()
    try:
        started = time.perf_counter()
        with pytest.raises(BodyError, match="cap"):
            decode_body(bomb, (coding,), max_bytes=cap)
        elapsed = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert elapsed < 2.0
    # Decoded pieces up to the cap, one step of output, input slices and decoder state.
    assert peak < cap + 256 * 1024


def test_layered_bomb_is_capped_per_layer() -> None:
    inner = _gzip_zeros(64)  # 64 MiB of zeros in ~66 KB
    bomb = gzip.compress(inner)
    with pytest.raises(BodyError, match="cap"):
        decode_body(bomb, ("gzip", "gzip"), max_bytes=MIB)


# --- accepts ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "coding", "expected"),
    [
        (None, "gzip", False),  # RFC 9110 allows any, but "may not be able to process" it
        (None, "identity", True),
        ("", "gzip", False),  # empty field: no coding wanted
        ("", "identity", True),
        ("gzip", "gzip", True),
        ("GZIP", "gzip", True),
        ("gzip", "GZip", True),
        ("gzip", "br", False),
        ("gzip", "identity", True),
        ("gzip, deflate, br, zstd", "zstd", True),
        ("gzip;q=0", "gzip", False),
        ("gzip;q=0.0", "gzip", False),
        ("gzip;q=0.000", "gzip", False),
        ("gzip;q=0.001", "gzip", True),
        ("gzip; q=1.0", "gzip", True),
        ("gzip ; Q=0.5", "gzip", True),
        ("gzip;q=2", "gzip", False),  # malformed weight: entry ignored
        ("gzip;q=0.0001", "gzip", False),
        ("gzip;q=", "gzip", False),
        ("gzip;level=9", "gzip", True),  # unknown parameter ignored
        ("*", "br", True),
        ("*;q=0", "br", False),
        ("*;q=0", "identity", False),
        ("*;q=0, identity", "identity", True),
        ("*;q=0, identity;q=0.5", "identity", True),
        ("identity;q=0", "identity", False),
        ("identity;q=0, *", "identity", False),
        ("*, br;q=0", "br", False),
        ("*, br;q=0", "gzip", True),
        ("br;q=0, *", "br", False),
        ("x-gzip", "gzip", True),
        ("gzip", "x-gzip", True),
        ("gzip, gzip;q=0", "gzip", False),
        ("deflate, br", "gzip", False),
        (",, br ,", "br", True),
        ("br;q=0.5;q=0", "br", False),
        ("gzip\t;\tq=0", "gzip", False),
    ],
)
def test_accepts(header: str | None, coding: str, expected: bool) -> None:
    assert accepts(header, coding) is expected


@settings(max_examples=200)
@given(header=st.text(max_size=80), coding=st.sampled_from(sorted(SUPPORTED_CODINGS)))
def test_accepts_never_raises(header: str, coding: str) -> None:
    assert isinstance(accepts(header, coding), bool)


@settings(max_examples=200, deadline=None)
@given(body=st.binary(max_size=2048), coding=st.sampled_from(CODINGS))
def test_decode_arbitrary_bytes_only_raises_body_error(body: bytes, coding: str) -> None:
    with contextlib.suppress(BodyError):
        decode_body(body, (coding,), max_bytes=64 * 1024)
