"""Compression negotiated per ``Accept-Encoding`` for what the origin sent uncompressed
(issue #14), and never for ``no-transform``, ranges, already-encoded or small bodies. Bodies are
decoded here with the codecs' own libraries, not Vernier's decoder."""

from __future__ import annotations

import gzip
import sys

import aiohttp
import brotli  # type: ignore[import-untyped]  # brotli ships no type information
import pytest
from multidict import CIMultiDictProxy

from tests.integration.origin_app import STYLES
from tests.proxy_fixtures import StartProxy

if sys.version_info >= (3, 14):
    from compression import zstd
else:
    from backports import zstd

DECODE = {"gzip": gzip.decompress, "br": brotli.decompress, "zstd": zstd.decompress}


async def fetch(
    url: str, accept: str | None, **headers: str
) -> tuple[int, bytes, CIMultiDictProxy[str]]:
    if accept is not None:
        headers["Accept-Encoding"] = accept
    async with (
        aiohttp.ClientSession(auto_decompress=False, skip_auto_headers=["Accept-Encoding"]) as c,
        c.get(url, headers=headers) as response,
    ):
        return response.status, await response.read(), response.headers


@pytest.mark.parametrize(
    ("accept", "coding"),
    [
        ("gzip", "gzip"),
        ("gzip, deflate, br", "br"),
        ("gzip, deflate, br, zstd", "zstd"),
        ("zstd;q=0, br;q=0, gzip", "gzip"),
        ("x-gzip", "gzip"),
    ],
)
@pytest.mark.parametrize("query", ["", "?chunked=1"])
async def test_text_is_compressed_as_the_client_prefers(
    accept: str, coding: str, query: str, origin: str, start_proxy: StartProxy
) -> None:
    proxy = await start_proxy(origin)
    status, body, headers = await fetch(proxy + "/styles.css" + query, accept)
    assert status == 200 and headers["Content-Encoding"] == coding
    assert DECODE[coding](body) == STYLES
    assert "Accept-Encoding" in headers["Vary"] and headers["ETag"] == 'W/"css-1"'
    assert "Content-Length" not in headers  # streamed: the compressed length is known at the end


async def test_revalidating_a_compressed_representation_keeps_its_weak_tag(
    origin: str, start_proxy: StartProxy
) -> None:
    """The origin answers the weak tag with 304 and its strong one; the client stored (and
    keeps) the compressed bytes, whose tag the 200 weakened: the 304 says the same."""
    proxy = await start_proxy(origin)
    status, _, headers = await fetch(proxy + "/styles.css", "gzip")
    assert (status, headers["Content-Encoding"], headers["ETag"]) == (200, "gzip", 'W/"css-1"')
    status, body, headers = await fetch(
        proxy + "/styles.css", "gzip", **{"If-None-Match": 'W/"css-1"'}
    )
    assert (status, body, headers["ETag"]) == (304, b"", 'W/"css-1"')
    # a client holding the origin's own bytes keeps the origin's strong tag
    status, _, headers = await fetch(proxy + "/styles.css", None, **{"If-None-Match": '"css-1"'})
    assert (status, headers["ETag"]) == (304, '"css-1"')


async def test_a_page_vernier_changed_is_compressed_too(
    origin: str, start_proxy: StartProxy
) -> None:
    proxy = await start_proxy(origin, **{"compression.min_bytes": 100})
    status, body, headers = await fetch(proxy + "/page", "br")
    assert status == 200 and headers["Content-Encoding"] == "br"
    page = DECODE["br"](body)
    assert b"/__vernier/t.js" in page and page.endswith(b"<p>Body text.</p></body></html>\n")
    assert int(headers["Content-Length"]) == len(body)


@pytest.mark.parametrize(
    ("path", "headers"),
    [
        ("/styles.css", {}),  # the client accepts nothing
        ("/styles.css?cache_control=no-transform", {"Accept-Encoding": "gzip"}),
        ("/styles.css", {"Accept-Encoding": "gzip", "Range": "bytes=0-99"}),
        ("/static/origin_app.py", {"Accept-Encoding": "gzip", "Range": "bytes=0-99"}),  # a 206
        ("/page", {"Accept-Encoding": "gzip"}),  # under min_bytes
        ("/encoded/br", {"Accept-Encoding": "gzip, br"}),  # the origin's own coding stays
    ],
)
async def test_left_as_the_origin_sent_it(
    path: str, headers: dict[str, str], origin: str, start_proxy: StartProxy
) -> None:
    proxy = await start_proxy(origin)
    accept = headers.pop("Accept-Encoding", None)
    _, through_proxy, proxied = await fetch(proxy + path, accept, **headers)
    _, direct, _ = await fetch(origin + path, accept, **headers)
    assert proxied.get("Content-Encoding") == ("br" if path == "/encoded/br" else None)
    if path == "/encoded/br":
        assert b"/__vernier/t.js" in brotli.decompress(through_proxy)
    elif path != "/page":
        assert through_proxy == direct


@pytest.mark.parametrize("path", ["/styles.css", "/page"])  # streamed, and a page read whole
@pytest.mark.parametrize("accept", [None, "identity", "gzip;q=0"])
async def test_an_uncompressed_copy_varies_as_a_compressed_one(
    path: str, accept: str | None, origin: str, start_proxy: StartProxy
) -> None:
    # a cache must not hand the identity copy of a client that accepts no coding to everyone
    proxy = await start_proxy(origin, **{"compression.min_bytes": 100})
    status, _, headers = await fetch(proxy + path, accept)
    assert status == 200 and "Content-Encoding" not in headers
    assert "Accept-Encoding" in headers.get("Vary", "")
    _, _, turned_off = await fetch(
        await start_proxy(origin, **{"compression.enabled": False}) + path, accept
    )
    assert "Accept-Encoding" not in turned_off.get("Vary", "")


async def test_compression_can_be_turned_off(origin: str, start_proxy: StartProxy) -> None:
    proxy = await start_proxy(origin, **{"compression.enabled": False})
    _, body, headers = await fetch(proxy + "/styles.css", "gzip, br, zstd")
    assert "Content-Encoding" not in headers and body == STYLES
