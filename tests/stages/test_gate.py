"""gate alone: which origin responses Vernier may change (the rest stream through untouched)."""

from __future__ import annotations

import pytest

from proxy.config.schema import CompressionConfig, HtmlConfig
from proxy.exchange import Identity
from proxy.metrics import Metrics
from proxy.stages.gate import Gate
from proxy.upstream.public_address import PublicAddress
from tests.stages.factory import make_config, make_exchange, origin_response


def make_gate(origin: str, html: HtmlConfig | None = None) -> Gate:
    html = html or make_config().html
    return Gate(html, PublicAddress(origin, None), Metrics(), "abcd1234", CompressionConfig())


async def test_an_html_page_is_let_through_to_be_changed(origin: str) -> None:
    ex = make_exchange(target="/page")
    async with origin_response(origin + "/page") as upstream:
        ex.upstream = upstream
        await make_gate(origin)(ex)
    assert ex.touch and ex.reply is None
    assert ex.headers["Content-Type"] == "text/html; charset=utf-8"
    assert ex.origin_headers == ex.headers and ex.origin_headers is not ex.headers


async def test_what_must_not_be_changed_is_not_touchable(origin: str) -> None:
    gate = make_gate(origin)
    cases = [
        ("/page", {}, Identity(trackable=False), False),
        ("/page", {"Range": "bytes=0-10"}, Identity(), True),  # the origin sent it whole
        ("/page", {}, Identity(trackable=False, consent_pending=True), True),
        ("/no-transform", {}, Identity(), False),
        ("/typed/json", {}, Identity(), False),
        ("/typed/attachment", {}, Identity(), False),
        ("/status/404", {}, Identity(), False),
    ]
    for path, headers, identity, touchable in cases:
        ex = make_exchange(target=path, headers=headers)
        ex.identity = identity
        async with origin_response(origin + path) as upstream:
            assert gate.touchable(ex, upstream) is touchable, path
    ex = make_exchange(method="DELETE", target="/page")
    async with origin_response(origin + "/page") as upstream:
        assert not gate.touchable(ex, upstream)


async def test_pages_with_the_tracker_off_are_not_touchable(origin: str) -> None:
    off = make_config(**{"html.inject_tracker": False}).html
    async with origin_response(origin + "/page") as upstream:
        assert not make_gate(origin, off).touchable(make_exchange(target="/page"), upstream)


@pytest.mark.parametrize("path", ["/page", "/encoded/gzip", "/encoded/br"])
async def test_pages_over_the_size_cap_are_touchable_as_they_stream(origin: str, path: str) -> None:
    small = make_config(**{"html.max_rewrite_bytes": 16}).html
    async with origin_response(origin + path) as upstream:
        assert make_gate(origin, small).touchable(make_exchange(target=path), upstream)
