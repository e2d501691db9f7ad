"""encode alone: the client's response for a page Vernier read, changed or not."""

from __future__ import annotations

import gzip

from aiohttp import web

from proxy.exchange import Exchange
from proxy.metrics import Metrics
from proxy.stages.encode import Encode
from tests.integration.origin_app import PAGE
from tests.stages.factory import make_config, make_exchange, make_issuer, origin_response

CHANGED = PAGE.replace(b"Hello", b"Hi")


async def encoded(origin: str, path: str, ex: Exchange) -> web.Response:
    config = make_config(**{"html.budget_ms": 60_000.0})
    async with origin_response(origin + path) as upstream:
        ex.upstream = upstream
        ex.raw_body = await upstream.read()
        ex.headers.extend(upstream.headers)
        await Encode(config.html, make_issuer(config), Metrics(), "abcd1234", config.compression)(
            ex
        )
    assert isinstance(ex.reply, web.Response)
    return ex.reply


async def test_an_unchanged_page_is_the_origins_bytes(origin: str) -> None:
    reply = await encoded(origin, "/page", make_exchange())
    assert reply.body == PAGE and reply.headers["ETag"] == '"page-v1"'
    assert "Set-Cookie" not in reply.headers


async def test_a_changed_page_is_recoded_revalidated_and_private(origin: str) -> None:
    ex = make_exchange()
    ex.document, ex.changed, ex.personalised, ex.codings = CHANGED, True, True, ("gzip",)
    reply = await encoded(origin, "/encoded/gzip", ex)
    assert isinstance(reply.body, bytes) and gzip.decompress(reply.body) == CHANGED
    assert reply.headers["Cache-Control"].startswith("private")
    assert "Cookie" in reply.headers["Vary"]
    assert ex.identity.session_id is not None  # new ids are issued with the changed page
    assert len(reply.headers.getall("Set-Cookie")) == 2


async def test_a_changed_page_keeps_a_weakened_etag(origin: str) -> None:
    ex = make_exchange()
    ex.document, ex.changed = CHANGED, True
    reply = await encoded(origin, "/page", ex)
    assert reply.body == CHANGED and reply.headers["ETag"] == 'W/"page-v1-vnabcd1234"'
