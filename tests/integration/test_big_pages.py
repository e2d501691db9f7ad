"""Big pages keep the tracker (issue #14): a page too big to rewrite is injected as it streams —
the tag goes in once the head has passed, the rest is relayed in chunks (decoded and re-encoded
when the origin compressed it) — so memory stays flat and the page budget covers only the head,
whatever the page's size or the machine's load. Compressed responses are decoded here with the
codecs' own libraries, not Vernier's decoder."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import tracemalloc
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

import aiohttp
import brotli  # type: ignore[import-untyped]  # brotli ships no type information
import pytest
from multidict import CIMultiDictProxy

from proxy.stages.decode import HEAD_WINDOW_BYTES
from tests.integration.origin_app import HUGE_HEAD, HUGE_ROW
from tests.proxy_fixtures import StartProxy

RULES = """
rules:
  - id: greeting
    where: {paths: ["/huge"]}
    then: [{op: set_text, selector: "p", value: "Greetings"}]
"""
TAG_START = b'<script src="/__vernier/t.js'
PAGE_KIB = 5300  # rows of ~1 KB: 5.3 MB, over the 5 MiB rewrite cap
CHUNK_BYTES = 64 * 1024


def expected_page(kib: int) -> Iterator[bytes]:
    yield HUGE_HEAD
    for _ in range(kib):
        yield HUGE_ROW
    yield b"</body></html>\n"


@pytest.fixture
def busy_machine() -> Iterator[None]:
    """Another process spinning on a core while the test runs."""
    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        yield
    finally:
        spinner.kill()
        spinner.wait()


async def fetch_streamed(url: str) -> tuple[CIMultiDictProxy[str], str, int, bytes]:
    """Headers, the first 64 KiB, and the length and digest of the rest, read in chunks."""
    digest = hashlib.sha256()
    first = b""
    size = 0
    async with (
        aiohttp.ClientSession() as client,
        client.get(url, headers={"Accept-Encoding": "identity"}) as response,
    ):
        assert response.status == 200
        async for chunk in response.content.iter_chunked(CHUNK_BYTES):
            if len(first) < CHUNK_BYTES:
                first += chunk
            digest.update(chunk)
            size += len(chunk)
        return response.headers, first.decode(), size, digest.digest()


async def fetch_traced(url: str) -> tuple[CIMultiDictProxy[str], str, int, bytes, int]:
    """:func:`fetch_streamed` and the peak of Python memory allocated meanwhile."""
    tracemalloc.start()
    try:
        fetched = await fetch_streamed(url)
        return (*fetched, tracemalloc.get_traced_memory()[1])
    finally:
        tracemalloc.stop()


@pytest.mark.usefixtures("busy_machine")
@pytest.mark.parametrize("in_scope", [False, True])
async def test_a_5_mb_page_is_injected_with_flat_memory(
    in_scope: bool, origin: str, start_proxy: StartProxy, tmp_path: Path
) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "r.yaml").write_text(RULES if in_scope else RULES.replace("/huge", "/other"))
    proxy = await start_proxy(origin, rules=str(rules))
    headers, first, size, digest, peak_bytes = await fetch_traced(proxy + f"/huge?kib={PAGE_KIB}")
    head_end = first.index("</head>")
    tag = first[first.index(TAG_START.decode()) : head_end]
    page = b"".join(expected_page(PAGE_KIB))
    assert first.count(TAG_START.decode()) == 1 and tag.endswith("</script>")
    served = page.replace(b"</head>", tag.encode() + b"</head>", 1)
    assert size == len(served) == int(headers["Content-Length"])
    assert digest == hashlib.sha256(served).digest()  # every other byte as the origin sent it
    assert "Greetings" not in first  # rules need the whole page; this one is over the cap
    # flat: twice the page costs no more memory (client, proxy and origin all in this process)
    *_, twice_peak_bytes = await fetch_traced(proxy + f"/huge?kib={2 * PAGE_KIB}")
    assert peak_bytes < len(page) / 2, peak_bytes
    assert twice_peak_bytes - peak_bytes < len(page) / 8, (peak_bytes, twice_peak_bytes)


async def test_a_head_longer_than_the_window_still_gets_the_tag_in_the_head(
    origin: str, start_proxy: StartProxy
) -> None:
    proxy = await start_proxy(origin, **{"html.stream_inject_over_bytes": 0})
    metas = HEAD_WINDOW_BYTES // 20  # ~30 bytes each: the head ends past what is read first
    async with (
        aiohttp.ClientSession() as client,
        client.get(
            proxy + f"/huge?kib=100&head_metas={metas}", headers={"Accept-Encoding": "identity"}
        ) as response,
    ):
        body = await response.read()
    tag_at = body.index(TAG_START)
    assert body.count(TAG_START) == 1 and HEAD_WINDOW_BYTES / 2 < tag_at < body.index(b"</head>")
    assert int(response.headers["Content-Length"]) == len(body)


def client_decoder(coding: str) -> Callable[[bytes], Iterator[bytes]]:
    """The codec library's own streaming decoder, in bounded pieces (the page compresses
    a thousandfold: one chunk would otherwise decode to megabytes at once)."""
    if coding == "gzip":
        inflate = zlib.decompressobj(31)

        def gunzip(chunk: bytes) -> Iterator[bytes]:
            while piece := inflate.decompress(chunk, CHUNK_BYTES):
                yield piece
                chunk = inflate.unconsumed_tail

        return gunzip
    decoder = brotli.Decompressor()

    def unbrotli(chunk: bytes) -> Iterator[bytes]:
        while piece := decoder.process(chunk, output_buffer_limit=CHUNK_BYTES):
            yield piece
            chunk = b""

    return unbrotli


async def fetch_decoded(url: str, accept: str) -> tuple[CIMultiDictProxy[str], str, int, bytes]:
    """Headers, the first 64 KiB decoded, and the length and digest of the decoded page."""
    digest = hashlib.sha256()
    first = b""
    size = 0
    async with (
        aiohttp.ClientSession(auto_decompress=False) as client,
        client.get(url, headers={"Accept-Encoding": accept}) as response,
    ):
        assert response.status == 200
        decode = client_decoder(response.headers["Content-Encoding"])
        async for chunk in response.content.iter_chunked(CHUNK_BYTES):
            for piece in decode(chunk):
                if len(first) < CHUNK_BYTES:
                    first += piece
                digest.update(piece)
                size += len(piece)
        return response.headers, first.decode(), size, digest.digest()


async def fetch_decoded_traced(
    url: str, accept: str
) -> tuple[CIMultiDictProxy[str], str, int, bytes, int]:
    tracemalloc.start()
    try:
        fetched = await fetch_decoded(url, accept)
        return (*fetched, tracemalloc.get_traced_memory()[1])
    finally:
        tracemalloc.stop()


@pytest.mark.usefixtures("busy_machine")
@pytest.mark.parametrize("coding", ["gzip", "br"])
@pytest.mark.parametrize("in_scope", [False, True])
async def test_a_5_mb_compressed_page_is_injected_and_reencoded_with_flat_memory(
    coding: str, in_scope: bool, origin: str, start_proxy: StartProxy, tmp_path: Path
) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "r.yaml").write_text(RULES if in_scope else RULES.replace("/huge", "/other"))
    proxy = await start_proxy(origin, rules=str(rules))
    url = proxy + f"/huge?coding={coding}&kib="
    headers, first, size, digest, peak_bytes = await fetch_decoded_traced(
        url + str(PAGE_KIB), "gzip, br"
    )
    assert headers["Content-Encoding"] == coding  # the origin's coding, re-encoded
    assert "Content-Length" not in headers and headers["ETag" if "ETag" in headers else "Vary"]
    head_end = first.index("</head>")
    tag = first[first.index(TAG_START.decode()) : head_end]
    assert first.count(TAG_START.decode()) == 1 and tag.endswith("</script>")
    page = b"".join(expected_page(PAGE_KIB))
    served = page.replace(b"</head>", tag.encode() + b"</head>", 1)
    assert size == len(served) and digest == hashlib.sha256(served).digest()
    assert "Greetings" not in first  # rules need the whole page; this one is over the cap
    *_, twice_peak_bytes = await fetch_decoded_traced(url + str(2 * PAGE_KIB), "gzip, br")
    assert twice_peak_bytes - peak_bytes < len(page) / 8, (peak_bytes, twice_peak_bytes)
    if not in_scope:  # only the head is read whole; in scope, up to the rewrite cap is
        assert peak_bytes < len(page) / 2, peak_bytes


async def test_a_compressed_page_the_client_cannot_take_is_reencoded_as_it_accepts(
    origin: str, start_proxy: StartProxy
) -> None:
    """The origin sent deflate to a client that also takes gzip: the page streams out in gzip."""
    proxy = await start_proxy(origin, **{"html.stream_inject_over_bytes": 0})
    async with (
        aiohttp.ClientSession(auto_decompress=False) as client,
        client.get(proxy + "/encoded/deflate", headers={"Accept-Encoding": "gzip"}) as response,
    ):
        body = await response.read()
    assert response.headers["Content-Encoding"] == "gzip"
    page = zlib.decompress(body, 31)
    assert page.count(TAG_START) == 1 and page.endswith(b"<p>Body text.</p></body></html>\n")
