"""The tracker tag through the proxy: CSP policies edited for our element only (SE-04/05), and
pages in other encodings changed only at the insertion point (PX-22)."""

from __future__ import annotations

import re

import aiohttp
import pytest
from aiohttp import web
from multidict import CIMultiDict

from tests.proxy_fixtures import StartProxy, StartRawOrigin, raw_response, serve_app

TAG_RE = re.compile(rb'<script src="/__vernier/t\.js\?v=[0-9a-f]+" defer[^>]*></script>')


async def fetch_through(
    start_proxy: StartProxy, body: bytes, headers: dict[str, str]
) -> tuple[CIMultiDict[str], bytes]:
    async def handler(request: web.Request) -> web.Response:
        response = web.Response(body=body)
        for name, value in headers.items():
            response.headers.add(name, value)
        return response

    app = web.Application()
    app.router.add_get("/", handler)
    async with serve_app(app) as origin:
        proxy = await start_proxy(origin)
        async with aiohttp.ClientSession() as client:
            async with client.get(proxy + "/") as response:
                return CIMultiDict(response.headers), await response.read()


HTML = b"<!doctype html><html><head><title>t</title></head><body><p>x</p></body></html>"


@pytest.mark.parametrize(
    ("policy", "expect_in_script_src"),
    [
        ("script-src 'self'", "script-src 'self' 'nonce-"),
        ("default-src 'self'", "script-src 'self' 'nonce-"),
        ("script-src 'nonce-abc' 'strict-dynamic'", "'nonce-abc' 'strict-dynamic' 'nonce-"),
        ("script-src 'sha256-AAAA'", "script-src 'sha256-AAAA' 'nonce-"),
    ],
)
async def test_csp_header_gets_our_nonce_only(
    start_proxy: StartProxy, policy: str, expect_in_script_src: str
) -> None:
    headers, body = await fetch_through(
        start_proxy, HTML, {"Content-Type": "text/html", "Content-Security-Policy": policy}
    )
    edited = headers["Content-Security-Policy"]
    assert expect_in_script_src in edited
    nonce = re.search(r"'nonce-([A-Za-z0-9_-]+)'", edited.split(expect_in_script_src[:10])[-1])
    match = TAG_RE.search(body)
    assert match is not None
    assert f'nonce="{edited.rsplit("nonce-", 1)[1].split(chr(39))[0]}"'.encode() in match.group()
    assert "unsafe-inline" not in edited and "unsafe-eval" not in edited
    assert nonce is not None


async def test_two_policies_both_edited_and_connect_src_opened(start_proxy: StartProxy) -> None:
    headers, body = await fetch_through(
        start_proxy,
        HTML,
        {
            "Content-Type": "text/html",
            "Content-Security-Policy": "script-src 'self'; connect-src 'none'",
        },
    )
    policy = headers["Content-Security-Policy"]
    assert "connect-src 'self'" in policy
    assert TAG_RE.search(body)


async def test_unparsable_policy_means_no_injection(
    raw_origin: StartRawOrigin, start_proxy: StartProxy
) -> None:
    origin = await raw_origin(
        raw_response(
            HTML, "Content-Type: text/html", "Content-Security-Policy: script-src 'self' \xe9\xe9"
        )
    )
    proxy = await start_proxy(origin)
    async with aiohttp.ClientSession() as client, client.get(proxy + "/") as response:
        assert await response.read() == HTML


async def test_meta_csp_edited_in_place(start_proxy: StartProxy) -> None:
    page = (
        b'<!doctype html><html><head><meta http-equiv="Content-Security-Policy" '
        b"content=\"script-src 'self'\"><title>t</title></head><body></body></html>"
    )
    _, body = await fetch_through(start_proxy, page, {"Content-Type": "text/html"})
    match = TAG_RE.search(body)
    assert match is not None
    nonce = re.search(rb'nonce="([^"]+)"', match.group())
    assert nonce is not None
    assert b"content=\"script-src 'self' 'nonce-" + nonce.group(1) + b"'\"" in body


@pytest.mark.parametrize(
    ("codec", "content_type"),
    [
        ("cp1252", "text/html; charset=windows-1252"),
        ("iso-8859-1", "text/html; charset=iso-8859-1"),
        ("shift_jis", "text/html; charset=Shift_JIS"),
        ("euc-jp", "text/html; charset=EUC-JP"),
        ("utf-8", "text/html"),
    ],
)
async def test_non_utf8_pages_change_only_at_the_insertion(
    start_proxy: StartProxy, codec: str, content_type: str
) -> None:
    text = (
        "<!doctype html><html><head><title>Café – 日本語</title></head><body>ü ñ 価格</body></html>"
    )
    page = text.encode(codec, errors="xmlcharrefreplace")
    page = page.replace(b"\xe2\x80\x93", b"-") if codec != "utf-8" else page
    _, body = await fetch_through(start_proxy, page, {"Content-Type": content_type})
    match = TAG_RE.search(body)
    assert match is not None
    assert body[: match.start()] + body[match.end() :] == page


async def test_utf16_page_gets_a_utf16_tag(start_proxy: StartProxy) -> None:
    page = "\ufeff<!doctype html><html><head><title>x</title></head><body>é</body></html>".encode(
        "utf-16-le"
    )
    _, body = await fetch_through(start_proxy, page, {"Content-Type": "text/html"})
    decoded = body.decode("utf-16-le")
    assert '<script src="/__vernier/t.js' in decoded
    start = decoded.index("<script")
    end = decoded.index("</script>") + len("</script>")
    assert (decoded[:start] + decoded[end:]).encode("utf-16-le") == page


async def test_invalid_utf8_bytes_survive(start_proxy: StartProxy) -> None:
    page = b"<html><head><title>\xff\xfe\xc0\xaf</title></head><body>\xed\xa0\x80</body></html>"
    _, body = await fetch_through(start_proxy, page, {"Content-Type": "text/html; charset=utf-8"})
    match = TAG_RE.search(body)
    assert match is not None
    assert body[: match.start()] + body[match.end() :] == page


async def test_binary_labelled_html_passes_unchanged(start_proxy: StartProxy) -> None:
    blob = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 64
    _, body = await fetch_through(start_proxy, blob, {"Content-Type": "text/html"})
    assert body == blob


async def test_page_already_carrying_the_tracker_is_not_injected_twice(
    start_proxy: StartProxy,
) -> None:
    page = (
        b'<html><head><script src="/__vernier/t.js?v=1" defer></script></head><body></body></html>'
    )
    _, body = await fetch_through(start_proxy, page, {"Content-Type": "text/html"})
    assert body == page
