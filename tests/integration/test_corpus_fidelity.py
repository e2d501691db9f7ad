"""Byte fidelity on real pages (issue: chassis, "Done when"): every page of the shared corpus,
served identity, gzip and br, comes through Vernier as the origin's bytes with exactly one
contiguous insertion — the tracker tag, which an HTML5 parser sees as a real ``<script>``."""

from __future__ import annotations

import gzip
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import aiohttp
import brotli  # type: ignore[import-untyped]  # brotli ships no type information
import html5lib  # type: ignore[import-untyped]
import pytest
from aiohttp import web

from tests.proxy_fixtures import StartProxy, serve_app

# a content coding's (encode, decode)
Coding = tuple[Callable[[bytes], bytes], Callable[[bytes], bytes]]
CODINGS: dict[str, Coding] = {
    "identity": (lambda b: b, lambda b: b),
    "gzip": (lambda b: gzip.compress(b, 6, mtime=0), gzip.decompress),
    "br": (lambda b: brotli.compress(b, quality=5), brotli.decompress),
}


def single_insertion(original: bytes, served: bytes) -> tuple[int, bytes]:
    """(offset, inserted bytes) if ``served`` is ``original`` with one contiguous insertion."""
    assert len(served) > len(original)
    prefix = 0
    limit = len(original)
    while prefix < limit and served[prefix] == original[prefix]:
        prefix += 1
    inserted_len = len(served) - len(original)
    assert served[prefix + inserted_len :] == original[prefix:], "bytes differ after the insertion"
    start = prefix
    # the insertion may be ambiguous by a few bytes (e.g. "<" before it); find the tag start
    inserted = served[start : start + inserted_len]
    while not inserted.startswith(b"<script") and start > 0:
        start -= 1
        inserted = served[start : start + inserted_len]
    assert served[:start] + served[start + inserted_len :] == original
    return start, inserted


def tracker_scripts(document: bytes) -> list[object]:
    tree = html5lib.parse(document, treebuilder="etree", namespaceHTMLElements=False)
    return [el for el in tree.iter("script") if (el.get("src") or "").startswith("/__vernier/t.js")]


@pytest.fixture
async def corpus_origin(corpus_dir: Path) -> AsyncIterator[tuple[str, dict[str, bytes]]]:
    pages = {p.name: p.read_bytes() for p in sorted((corpus_dir / "pages").glob("*.html"))}
    assert len(pages) >= 40

    async def handler(request: web.Request) -> web.Response:
        name = request.match_info["name"]
        coding = request.match_info["coding"]
        encode = CODINGS[coding][0]
        headers = {"Content-Type": "text/html"}
        if coding != "identity":
            headers["Content-Encoding"] = coding
        return web.Response(body=encode(pages[name]), headers=headers)

    app = web.Application()
    app.router.add_get("/{coding}/{name}", handler)
    async with serve_app(app) as url:
        yield url, pages


@pytest.mark.corpus
@pytest.mark.parametrize("coding", sorted(CODINGS))
async def test_every_corpus_page_gets_exactly_one_insertion(
    corpus_origin: tuple[str, dict[str, bytes]], start_proxy: StartProxy, coding: str
) -> None:
    origin, pages = corpus_origin
    proxy = await start_proxy(origin)
    decode = CODINGS[coding][1]
    failures: list[str] = []
    async with aiohttp.ClientSession(auto_decompress=False) as client:
        for name, original in pages.items():
            # accepting only the origin's coding: identity pages are not compressed by Vernier
            accept = {"Accept-Encoding": coding}
            async with client.get(f"{proxy}/{coding}/{name}", headers=accept) as response:
                raw = await response.read()
                served_coding = response.headers.get("Content-Encoding", "identity")
            if served_coding != coding:
                failures.append(f"{name}: served as {served_coding}")
                continue
            served = decode(raw)
            try:
                _, inserted = single_insertion(original, served)
            except AssertionError as err:
                failures.append(f"{name}: {err}")
                continue
            if not inserted.startswith(b'<script src="/__vernier/t.js?v='):
                failures.append(f"{name}: inserted {inserted[:60]!r}")
            elif len(tracker_scripts(served)) != 1:
                failures.append(f"{name}: the tag is not one real <script> element")
    assert failures == []
