"""XHTML pages (``application/xhtml+xml``) with ``html.inject_xhtml: true``: the tracker tag is
well-formed XML, and rules leave the page alone (the rewriter writes HTML back, which an XML
parser refuses). An outside tester's XHTML page showed Chromium's XML error page instead."""

from __future__ import annotations

import xml.dom.minidom
from pathlib import Path

import aiohttp
from aiohttp import web

from tests.integration.test_csp_and_charsets import TAG_RE
from tests.proxy_fixtures import StartProxy, serve_app

PAGE = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE html>\n'
    b'<html xmlns="http://www.w3.org/1999/xhtml"><head><title>t</title></head>'
    b'<body><p>a<br/>b</p><div id="promo"/><p>after</p></body></html>'
)


async def test_an_xhtml_page_gets_a_well_formed_tag_and_no_rewrite(
    start_proxy: StartProxy, tmp_path: Path
) -> None:
    (tmp_path / "promo.yaml").write_text(
        'rules:\n  - id: promo\n    then: [{op: set_text, selector: "#promo", value: "Sale"}]\n'
        "slots:\n  - id: hero\n    selector: p\n    control: a\n    policy: split\n"
        "    split: {a: 50, b: 50}\n"
        "    variants: {a: [], b: [{op: set_text, selector: p, value: B}]}\n"
    )

    async def page(request: web.Request) -> web.Response:
        return web.Response(body=PAGE, content_type="application/xhtml+xml")

    app = web.Application()
    app.router.add_get("/x.xhtml", page)
    async with serve_app(app) as origin:
        proxy = await start_proxy(origin, rules=str(tmp_path), **{"html.inject_xhtml": True})
        async with aiohttp.ClientSession() as client:
            async with client.get(proxy + "/x.xhtml") as response:
                body = await response.read()
                cookies = response.headers.getall("Set-Cookie", [])
    tag = TAG_RE.search(body)
    assert tag is not None
    assert body.replace(tag.group(), b"") == PAGE  # neither the rule nor the slot touched it
    assert not any(c.startswith("vernier_seen=") for c in cookies)  # nothing decided or held
    xml.dom.minidom.parseString(body)  # an XML parser takes it, as a browser's must
