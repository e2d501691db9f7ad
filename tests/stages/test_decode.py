"""decode alone: the origin's exact bytes are kept and the document is content-decoded."""

from __future__ import annotations

from proxy.metrics import Metrics
from proxy.stages.decode import Decode
from tests.integration.origin_app import PAGE
from tests.stages.factory import make_config, make_exchange, origin_response


async def decoded(origin: str, path: str) -> tuple[bytes | None, bytes | None, tuple[str, ...]]:
    ex = make_exchange(target=path)
    async with origin_response(origin + path) as upstream:
        ex.upstream = upstream
        await Decode(make_config().html, Metrics())(ex)
    assert ex.reply is None and ex.work_started_s > 0
    return ex.raw_body, ex.document, ex.codings


async def test_a_plain_page_is_its_own_document(origin: str) -> None:
    assert await decoded(origin, "/page") == (PAGE, PAGE, ())


async def test_a_compressed_page_keeps_its_bytes_and_is_decoded(origin: str) -> None:
    for coding in ("gzip", "br", "deflate"):
        raw, document, codings = await decoded(origin, f"/encoded/{coding}")
        assert codings == (coding,) and raw != document and document == PAGE, coding
