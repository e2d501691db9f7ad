"""decode alone: the origin's exact bytes are kept and the document is content-decoded."""

from __future__ import annotations

import zlib

import pytest

from proxy.errors import BodyError
from proxy.metrics import Metrics
from proxy.stages.decode import Decode
from tests.integration.origin_app import HUGE_HEAD, HUGE_ROW, PAGE
from tests.stages.factory import make_config, make_exchange, origin_response


async def decoded(origin: str, path: str) -> tuple[bytes | None, bytes | None, tuple[str, ...]]:
    ex = make_exchange(target=path)
    async with origin_response(origin + path) as upstream:
        ex.upstream = upstream
        await Decode(make_config().html, Metrics())(ex)
    assert ex.reply is None
    return ex.raw_body, ex.document, ex.codings


async def test_a_plain_page_is_its_own_document(origin: str) -> None:
    assert await decoded(origin, "/page") == (PAGE, PAGE, ())


async def test_a_compressed_page_keeps_its_bytes_and_is_decoded(origin: str) -> None:
    for coding in ("gzip", "br", "deflate"):
        raw, document, codings = await decoded(origin, f"/encoded/{coding}")
        assert codings == (coding,) and raw != document and document == PAGE, coding


async def test_a_compressed_page_over_the_limit_is_decoded_only_as_far_as_its_head(
    origin: str,
) -> None:
    """Not in scope, the limit is ``stream_inject_over_bytes``: what was read is kept as the
    origin sent it (for failing open), the rest is decoded only as it is asked for."""
    path = "/huge?coding=gzip&kib=2000"
    ex = make_exchange(target=path)
    config = make_config().html
    async with origin_response(origin + path) as upstream:
        ex.upstream = upstream
        await Decode(config, Metrics())(ex)
        assert ex.reply is None and ex.raw_body is None and ex.codings == ("gzip",)
        head, raw, rest = ex.streaming_head, ex.streaming_raw, ex.decoded_rest
        assert head is not None and raw is not None and rest is not None
        assert config.stream_inject_over_bytes < len(head) < 2 * config.stream_inject_over_bytes
        read_so_far = zlib.decompressobj(31).decompress(raw)  # the library's own decoder
        assert head.startswith(HUGE_HEAD) and read_so_far.startswith(head)
        size = len(head) + sum([len(piece) async for piece in rest])
    assert size == len(HUGE_HEAD) + 2000 * len(HUGE_ROW) + len(b"</body></html>\n")


async def test_a_corrupt_compressed_page_fails_with_the_origin_s_bytes_in_hand(
    origin: str,
) -> None:
    ex = make_exchange(target="/encoded/mislabelled")
    async with origin_response(origin + "/encoded/mislabelled") as upstream:
        ex.upstream = upstream
        with pytest.raises(BodyError):
            await Decode(make_config().html, Metrics())(ex)
    assert ex.streaming_raw == PAGE and ex.raw_body is None
