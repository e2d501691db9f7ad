"""YAML rules applied by the proxy: the matching rule's operations change the page on the server,
the rest of the page keeps its bytes, and a page changed for this visitor is private."""

from __future__ import annotations

import logging
from pathlib import Path

import aiohttp
import pytest

from proxy.errors import ConfigError
from tests.integration.origin_app import PAGE
from tests.proxy_fixtures import StartProxy

RULES = """
rules:
  - id: everyone-hero
    where: {paths: ["/page"]}
    then:
      - {op: set_text, selector: "#hero", value: "Welcome"}
  - id: mobile-body
    priority: 5
    where: {paths: ["/page"]}
    when: "device == 'mobile'"
    then:
      - {op: add_class, selector: "p", value: "compact"}
"""
pytestmark = pytest.mark.rules_file("home.yaml", RULES)
IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1"
)
DESKTOP = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0 Safari/537.36"
)


def without_tracker(body: bytes) -> bytes:
    start = body.index(b'<script src="/__vernier/t.js')
    return body[:start] + body[body.index(b"</script>", start) + 9 :]


async def test_matching_rules_rewrite_the_page(
    origin: str, start_proxy: StartProxy, rules_dir: Path
) -> None:
    proxy = await start_proxy(origin, rules=str(rules_dir))
    async with aiohttp.ClientSession() as client:
        async with client.get(proxy + "/page", headers={"User-Agent": DESKTOP}) as response:
            desktop = without_tracker(await response.read())
            desktop_cache = response.headers.get("Cache-Control", "")
        async with client.get(proxy + "/page", headers={"User-Agent": IPHONE}) as response:
            mobile = without_tracker(await response.read())
            mobile_cache = response.headers.get("Cache-Control", "")
        async with client.get(proxy + "/echo") as response:
            assert response.status == 200  # a path no rule names is untouched
    assert desktop == PAGE.replace(b"<h1 id=hero>Hello</h1>", b"<h1 id=hero>Welcome</h1>")
    assert mobile == PAGE.replace(b"<h1 id=hero>Hello</h1>", b"<h1 id=hero>Welcome</h1>").replace(
        b"<p>", b'<p class="compact">'
    )
    assert mobile_cache.startswith("private")  # changed because of who asked
    assert "private" in desktop_cache  # new ids were issued on this first visit too


async def test_a_bad_rules_file_stops_startup_with_its_location(
    origin: str, start_proxy: StartProxy, rules_dir: Path
) -> None:
    (rules_dir / "bad.yaml").write_text("rules:\n  - id: x\n    then:\n      - {op: set_txt}\n")
    with pytest.raises(ConfigError) as err:
        await start_proxy(origin, rules=str(rules_dir))
    assert "bad.yaml:4" in str(err.value) and "set_txt" in str(err.value)


async def test_two_rules_on_one_element_the_higher_rank_wins_and_is_logged(
    origin: str, start_proxy: StartProxy, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "r.yaml").write_text(
        "rules:\n"
        "  - {id: general, priority: 1, then: [{op: set_text, selector: h1, value: One}]}\n"
        "  - {id: specific, then: [{op: set_text, selector: '#hero', value: Two}]}\n"
        "  - {id: important, priority: 1, then: [{op: set_text, selector: '#hero', value: Three}]}\n"
    )
    proxy = await start_proxy(origin, rules=str(tmp_path / "r.yaml"))
    caplog.set_level(logging.INFO, "vernier.rewrite")
    async with aiohttp.ClientSession() as client:
        for _ in range(2):
            async with client.get(proxy + "/page") as response:
                body = await response.read()
    assert b"<h1 id=hero>Three</h1>" in body  # priority 1 beats 0; then #hero beats h1
    conflicts = [r.getMessage() for r in caplog.records if "change the same element" in r.message]
    assert sorted(conflicts) == [
        "general and specific change the same element: general wins",
        "important and general change the same element: important wins",
        "important and specific change the same element: important wins",
    ]  # each pair once, whatever the number of pages
