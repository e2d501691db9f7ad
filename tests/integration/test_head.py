"""HEAD answers with the fields GET would send to the same visitor (RFC 9110 §9.3.2, issue #14):
the length of the page Vernier serves, its validator, ``Cache-Control: private`` and
``Vary: Cookie`` where it is personalised."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest
from multidict import CIMultiDictProxy

from tests.integration.test_rules_applied import DESKTOP
from tests.proxy_fixtures import StartProxy

RULES = """
rules:
  - id: greeting
    where: {paths: ["/conditional", "/encoded/*"]}
    when: "device == 'desktop'"
    then: [{op: set_text, selector: "p", value: "Greetings"}]
"""
pytestmark = pytest.mark.rules_file("r.yaml", RULES)
PER_RESPONSE = frozenset({"date", "set-cookie"})
FRAMING = frozenset({"transfer-encoding"})  # RFC 9112 §6.1: a HEAD answer may leave it out


def fields(headers: CIMultiDictProxy[str]) -> dict[str, list[str]]:
    names = {name.lower() for name in headers} - PER_RESPONSE - FRAMING
    return {name: headers.getall(name) for name in sorted(names)}


async def head_and_get(
    client: aiohttp.ClientSession, url: str
) -> tuple[CIMultiDictProxy[str], CIMultiDictProxy[str], bytes]:
    async with client.head(url) as head:
        assert await head.read() == b""
    async with client.get(url) as get:
        body = await get.read()
    return head.headers, get.headers, body


@pytest.mark.parametrize(
    "path",
    [
        "/conditional",
        "/encoded/gzip",
        "/encoded/br",
        "/page",
        "/typed/json",
        "/status/404",
        "/huge?coding=gzip&kib=600",  # decoded and re-encoded as it streams
    ],
)
async def test_head_sends_the_fields_of_get(
    path: str, origin: str, start_proxy: StartProxy, rules_dir: Path
) -> None:
    proxy = await start_proxy(origin, rules=str(rules_dir))
    jar = aiohttp.CookieJar(unsafe=True)
    headers = {"User-Agent": DESKTOP, "Accept-Encoding": "gzip, br"}
    async with aiohttp.ClientSession(cookie_jar=jar, headers=headers, auto_decompress=False) as c:
        async with c.get(proxy + "/page") as first:  # the visitor gets their ids
            assert "Set-Cookie" in first.headers
        head, get, body = await head_and_get(c, proxy + path)
    assert fields(head) == fields(get)
    assert "Set-Cookie" not in head
    if "Content-Length" in get:
        assert int(head["Content-Length"]) == len(body)
    if path in ("/conditional", "/encoded/gzip"):
        assert head["Cache-Control"].startswith("private") and "Cookie" in head["Vary"]
        assert head["ETag"].startswith('W/"vs-')


async def test_a_new_visitor_gets_ids_from_head_as_from_get(
    origin: str, start_proxy: StartProxy, rules_dir: Path
) -> None:
    proxy = await start_proxy(origin, rules=str(rules_dir))
    async with aiohttp.ClientSession() as client:
        head, get, _ = await head_and_get(client, proxy + "/page")
    cookie_names = [value.split("=", 1)[0] for value in head.getall("Set-Cookie")]
    assert cookie_names == [value.split("=", 1)[0] for value in get.getall("Set-Cookie")]
