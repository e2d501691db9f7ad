"""Big pages keep the tracker (issue #14): an uncompressed page too big to rewrite is injected
as it streams — the tag goes in once the head has passed, the rest is relayed in chunks — so
memory stays flat and the page budget covers only the head, whatever the page's size or the
machine's load."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import aiohttp
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
