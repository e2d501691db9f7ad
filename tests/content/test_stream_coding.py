"""StreamDecoder alone: any split of a body decodes to the bytes the codecs' own libraries
encoded, in bounded pieces produced lazily; corrupt, truncated and trailing data are refused as
``coding.py``'s whole-body decoder refuses them."""

from __future__ import annotations

import gzip
import itertools
import sys
import zlib
from collections.abc import Callable, Iterator

import brotli  # type: ignore[import-untyped]
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from proxy.content.stream_coding import MAX_MEMBERS, STEP_BYTES, StreamDecoder
from proxy.errors import BodyError

if sys.version_info >= (3, 14):
    from compression import zstd
else:
    from backports import zstd

PAGE = b"<!doctype html><html><head><title>t</title></head><body>" + b"<p>hello</p>" * 5000
ENCODE = {
    "gzip": lambda b: gzip.compress(b, mtime=0),
    "x-gzip": lambda b: gzip.compress(b, mtime=0),
    "deflate": zlib.compress,
    "raw-deflate": lambda b: zlib.compress(b, wbits=-15),
    "br": brotli.compress,
    "zstd": zstd.compress,
}
CODINGS = ("gzip", "x-gzip", "deflate", "br", "zstd")
MIB = 1024 * 1024


def label(kind: str) -> str:
    return "deflate" if kind == "raw-deflate" else kind


def split(body: bytes, size: int) -> Iterator[bytes]:
    return (body[i : i + size] for i in range(0, len(body), size))


def decode(body: bytes, codings: tuple[str, ...], chunk_bytes: int = 4096) -> bytes:
    decoder = StreamDecoder(codings)
    pieces = [p for chunk in split(body, chunk_bytes) for p in decoder.feed(chunk)]
    decoder.finish()
    assert all(0 < len(p) <= STEP_BYTES for p in pieces)
    return b"".join(pieces)


@pytest.mark.parametrize("kind", [*ENCODE])
@pytest.mark.parametrize("chunk_bytes", [1, 7, 4096, 1 << 20])
def test_any_split_decodes_to_what_the_library_encoded(kind: str, chunk_bytes: int) -> None:
    assert decode(ENCODE[kind](PAGE), (label(kind),), chunk_bytes) == PAGE


def test_layers_are_undone_last_applied_first() -> None:
    body = brotli.compress(gzip.compress(PAGE))  # Content-Encoding: gzip, br
    assert decode(body, ("gzip", "br")) == PAGE
    with pytest.raises(BodyError):
        decode(body, ("br", "gzip"))


@settings(max_examples=60, deadline=None)
@given(
    body=st.binary(max_size=3000),
    kind=st.sampled_from([*ENCODE]),
    chunk_bytes=st.integers(min_value=1, max_value=600),
)
def test_round_trip_property(body: bytes, kind: str, chunk_bytes: int) -> None:
    assert decode(ENCODE[kind](body), (label(kind),), chunk_bytes) == body


@settings(max_examples=200, deadline=None)
@given(
    body=st.binary(max_size=300),
    coding=st.sampled_from(CODINGS),
    chunk_bytes=st.integers(min_value=1, max_value=50),
)
def test_arbitrary_bytes_decode_alike_however_split_or_raise_body_error(
    body: bytes, coding: str, chunk_bytes: int
) -> None:
    outcomes: list[bytes | None] = []
    for size in (chunk_bytes, len(body) or 1):
        try:
            outcomes.append(decode(body, (coding,), size))
        except BodyError:
            outcomes.append(None)
    assert outcomes[0] == outcomes[1]


def test_gzip_members_and_zero_padding() -> None:
    two = gzip.compress(b"one ", mtime=0) + gzip.compress(b"two", mtime=0)
    assert decode(two, ("gzip",), 3) == b"one two"
    assert decode(two + b"\0" * 9, ("gzip",), 4) == b"one two"
    with pytest.raises(BodyError):
        decode(two + b"\0\0x", ("gzip",), 1)
    with pytest.raises(BodyError):
        decode(two + b"junk", ("gzip",))


def test_gzip_member_cap() -> None:
    member = gzip.compress(b"", mtime=0)
    assert decode(member * MAX_MEMBERS, ("gzip",), 1 << 20) == b""
    with pytest.raises(BodyError, match="members"):
        decode(member * (MAX_MEMBERS + 1), ("gzip",), 1 << 20)


def test_zstd_frames_and_skippable_frames() -> None:
    skippable = b"\x50\x2a\x4d\x18" + (4).to_bytes(4, "little") + b"skip"
    body = zstd.compress(b"one ") + skippable + zstd.compress(b"two")
    assert decode(body, ("zstd",), 3) == b"one two"
    with pytest.raises(BodyError):
        decode(body + b"junk", ("zstd",))


@pytest.mark.parametrize("kind", [*ENCODE])
def test_truncated_and_trailing_garbage_are_refused(kind: str) -> None:
    body = ENCODE[kind](PAGE)
    with pytest.raises(BodyError):
        decode(body[: len(body) // 2], (label(kind),))
    with pytest.raises(BodyError):
        decode(body + b"\x01garbage", (label(kind),))


@pytest.mark.parametrize("coding", CODINGS)
def test_an_empty_body_under_a_coding_is_refused(coding: str) -> None:
    with pytest.raises(BodyError):
        StreamDecoder((coding,)).finish()


BOMB: dict[str, Callable[[bytes], bytes]] = {
    "gzip": lambda b: gzip.compress(b, compresslevel=1, mtime=0),
    "br": lambda b: brotli.compress(b, quality=1),
    "zstd": lambda b: zstd.compress(b, level=1),
}


@pytest.mark.parametrize("kind", [*BOMB])
def test_a_bomb_yields_bounded_pieces_only_as_they_are_asked_for(kind: str) -> None:
    """32 MiB of zeros in a few KiB, fed whole: taking ten pieces decodes ten pieces' worth."""
    body = BOMB[kind](bytes(32 * MIB))
    decoder = StreamDecoder((kind,))
    pieces = decoder.feed(body)
    taken = list(itertools.islice(pieces, 10))
    assert len(taken) == 10 and all(0 < len(p) <= STEP_BYTES for p in taken)
    assert sum(len(p) for p in pieces) == 32 * MIB - sum(len(p) for p in taken)
    decoder.finish()
