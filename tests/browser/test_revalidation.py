"""Reloading in real Chromium after a rule edit and after ``vernier pause`` shows the new content
(issue #14): the page's ``Cache-Control: no-cache`` makes Chromium revalidate on every
reload, and Vernier, not the origin, decides whether the copy it holds is still what it serves."""

from __future__ import annotations

import asyncio
import secrets
from pathlib import Path

import aiohttp
import pytest
from playwright.async_api import Browser

from proxy.cli import main
from proxy.resources import METRICS
from tests import proxy_fixtures
from tests.integration.test_kill_switch import until
from tests.proxy_fixtures import StartProxy

RULES = """
rules:
  - id: greeting
    where: {paths: ["/conditional"]}
    then: [{op: set_text, selector: "p", value: "Greetings"}]
"""
pytestmark = pytest.mark.rules_file("r.yaml", RULES)


async def served_text(url: str) -> str:
    async with aiohttp.ClientSession() as client, client.get(url) as response:
        return await response.text()


async def test_reload_after_a_rule_edit_and_a_pause_shows_the_new_content(
    browser: Browser,
    origin: str,
    start_proxy: StartProxy,
    rules_dir: Path,
    embedded_store_url: str,
    tmp_path: Path,
) -> None:
    prefix = f"t{secrets.token_hex(4)}:"
    proxy = await start_proxy(origin, rules=str(rules_dir), **{"store.key_prefix": prefix})
    app = proxy_fixtures.STARTED_APPS[-1]

    def not_modified() -> float:
        value = app[METRICS].registry.get_sample_value(
            "vernier_responses_total", {"handling": "not_modified"}
        )
        return value or 0.0

    url = proxy + "/conditional"
    context = await browser.new_context()
    try:
        page = await context.new_page()
        await page.goto(url)
        assert await page.locator("p").text_content() == "Greetings"
        before = not_modified()
        await page.reload()  # nothing changed: Vernier's 304, the browser's copy
        assert not_modified() == before + 1
        assert await page.locator("p").text_content() == "Greetings"

        (rules_dir / "r.yaml").write_text(RULES.replace("Greetings", "Salutations"))

        async def edit_live() -> bool:
            return "Salutations" in await served_text(url)

        await until(edit_live, 10.0)
        await page.reload()
        assert await page.locator("p").text_content() == "Salutations"

        config = tmp_path / "vernier.yaml"
        config.write_text(
            f"store: {{url: '{embedded_store_url}', key_prefix: '{prefix}'}}\nrules: {rules_dir}\n"
        )
        assert await asyncio.to_thread(main, ["pause", "greeting", "--config", str(config)]) == 0

        async def pause_live() -> bool:
            return "Salutations" not in await served_text(url)

        await until(pause_live, 10.0)
        await page.reload()
        assert await page.locator("p").text_content() == "Body text."
    finally:
        await context.close()
