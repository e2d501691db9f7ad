"""Rule outcomes counted by a running proxy reach the store, and ``vernier validate --live``
reads them back naming the rule whose selector matches nothing."""

from __future__ import annotations

import asyncio
import secrets
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from proxy.app import create_app
from proxy.cli import main
from proxy.config.load import load_config
from proxy.server.workers import runner_for
from tests.proxy_fixtures import bound_port

RULES = """
rules:
  - id: works
    where: {paths: ["/page"]}
    then: [{op: set_text, selector: "#hero", value: "Hi"}]
  - id: site-changed
    where: {paths: ["/page"]}
    then: [{op: set_text, selector: "#old-banner", value: "Sale"}]
"""


async def test_validate_live_names_a_rule_that_stopped_matching(
    origin: str,
    embedded_store_url: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    (tmp_path / "rules.yaml").write_text(RULES)
    prefix = f"t{secrets.token_hex(4)}:"
    (tmp_path / "vernier.yaml").write_text(
        f"store: {{url: '{embedded_store_url}', key_prefix: '{prefix}'}}\n"
        f"rules: rules.yaml\ndata_dir: .\n"
    )
    config = load_config(tmp_path / "vernier.yaml", overrides={"origin.url": origin}, environ={})
    runner = runner_for(create_app(config, store_url=embedded_store_url), config)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        async with aiohttp.ClientSession() as client:
            for _ in range(25):
                async with client.get(f"http://127.0.0.1:{bound_port(site)}/page") as response:
                    assert "Hi</h1>" in await response.text()
    finally:
        await runner.cleanup()  # the last counts are flushed on the way out
    code = await asyncio.to_thread(
        main, ["validate", "--live", "--config", str(tmp_path / "vernier.yaml")]
    )
    out = capsys.readouterr().out
    assert code == 1, out
    assert "ok works (" in out and "25 applied, 0 missed" in out
    assert "!! site-changed (" in out and "match almost nowhere" in out
