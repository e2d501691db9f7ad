"""The kill switch across two ``vernier serve`` processes sharing a store: ``vernier pause``
reaches both within a second, ``vernier resume`` undoes it; paused variants are never served."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import secrets
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from proxy.app import create_admin_app
from proxy.cli import main
from proxy.govern.control import Pauses
from tests import proxy_fixtures
from tests.integration.test_rules_applied import DESKTOP
from tests.integration.test_serve_command import free_port, wait_for_http
from tests.proxy_fixtures import StartProxy, serve_app

RULES = """
rules:
  - id: greeting
    where: {paths: ["/page"]}
    then: [{op: set_text, selector: "p", value: "Greetings"}]
slots:
  - id: hero
    selector: "#hero"
    control: a
    policy: bandit
    variants:
      a: []
      b: [{op: set_text, selector: "#hero", value: "B"}]
      c: [{op: set_text, selector: "#hero", value: "C"}]
    triggers: [{id: idle, variant: c, after_s: 20}]
"""
pytestmark = pytest.mark.rules_file("r.yaml", RULES)
MARK = re.compile(r'data-vernier-variant="(\w)"')


async def page(url: str) -> tuple[str, bool]:
    async with aiohttp.ClientSession() as client:  # a new visitor each time
        async with client.get(url, headers={"User-Agent": DESKTOP}) as response:
            body = await response.text()
    mark = MARK.search(body)
    assert mark is not None
    return mark[1], "Greetings" in body


async def until(check: Callable[[], Awaitable[bool]], timeout_s: float = 3.0) -> float:
    loop = asyncio.get_running_loop()
    started = loop.time()
    async with asyncio.timeout(timeout_s):
        while True:
            if await check():
                return loop.time() - started
            await asyncio.sleep(0.05)


@contextlib.asynccontextmanager
async def serve(origin: str, config: Path, home: Path) -> AsyncIterator[str]:
    """A ``vernier serve`` process with its own data dir (spool and keys are per instance)."""
    port = free_port()
    data_dir = home / f"data-{port}"
    env = {"PATH": os.environ["PATH"], "HOME": str(home)}
    log = home / f"serve-{port}.log"
    with log.open("wb") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "proxy", "serve", "--config", str(config), "--upstream", origin,
             "--listen", f"127.0.0.1:{port}", "--data-dir", str(data_dir)],
            cwd=home, env=env, stdout=subprocess.DEVNULL, stderr=stderr,
        )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}"
        try:
            await asyncio.to_thread(wait_for_http, url + "/page", 30)  # the origin is on this loop
        except OSError:
            pytest.fail(f"vernier serve did not start:\n{log.read_text()[-2000:]}")
        yield url
    finally:
        process.send_signal(signal.SIGTERM)
        await asyncio.to_thread(process.wait, 30)


async def test_pause_and_resume_reach_every_proxy_process_within_a_second(
    origin: str, rules_dir: Path, embedded_store_url: str, tmp_path: Path
) -> None:
    prefix = f"t{secrets.token_hex(4)}:"
    config = tmp_path / "vernier.yaml"
    config.write_text(
        f"store: {{url: '{embedded_store_url}', key_prefix: '{prefix}'}}\n"
        f"rules: {rules_dir}\nadmin: {{listen: ''}}\nhtml: {{budget_ms: 1000}}\n"
    )
    cli = ["--config", str(config)]
    async with (
        serve(origin, config, tmp_path) as first,
        serve(origin, config, tmp_path) as second,
    ):
        await _pause_and_resume([first, second], cli)


async def _pause_and_resume(proxies: list[str], cli: list[str]) -> None:
    async def cli_run(*argv: str) -> int:
        return await asyncio.to_thread(main, [*argv, *cli])

    assert await cli_run("pause", "hero", "--why", "broken copy") == 0

    async def both_show_control() -> bool:
        seen = [await page(p + "/page") for p in proxies for _ in range(5)]
        return all(variant == "a" for variant, _ in seen)

    assert await until(both_show_control) < 1.5
    assert await cli_run("pause", "greeting") == 0

    async def greeting_off() -> bool:
        return not any([(await page(p + "/page"))[1] for p in proxies])

    await until(greeting_off)
    assert await cli_run("resume", "hero") == 0
    assert await cli_run("resume", "greeting") == 0
    assert await cli_run("pause", "hero/b") == 0

    async def b_never() -> bool:
        seen = {(await page(p + "/page"))[0] for p in proxies for _ in range(15)}
        return "b" not in seen and seen != {"a"}

    await until(b_never, 5.0)


def test_targets_are_checked_against_the_rules(
    rules_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for target, message in (
        ("nope", "no slot or rule 'nope' in the rules (known: greeting, hero)"),
        ("hero/z", "no variant 'hero/z'"),
        ("hero/a", "'a' is the control of 'hero'"),
    ):
        assert (
            main(["pause", target, "--rules", str(rules_dir), "--store", "redis://127.0.0.1:9"])
            == 2
        )
        assert message in capsys.readouterr().err


def test_pauses_parse() -> None:
    pauses = Pauses.parse({"slot:hero": "{}", "rule:r": "{}", "variant:hero:b": "{}", "odd": ""})
    assert pauses.slots == {"hero"} and pauses.rules == {"r"}
    assert pauses.variant_paused("hero", "b") and not pauses.variant_paused("hero", "c")


async def test_the_admin_api_pauses_and_resumes(
    origin: str, start_proxy: StartProxy, rules_dir: Path
) -> None:
    prefix = f"t{secrets.token_hex(4)}:"
    token = "admin-token-0123456789"
    await start_proxy(
        origin, rules=str(rules_dir), **{"store.key_prefix": prefix, "admin.token": token}
    )
    admin_app = create_admin_app(proxy_fixtures.STARTED_APPS[-1])
    async with serve_app(admin_app, auto_decompress=False) as admin:  # as `vernier serve` runs it
        auth = {"Authorization": f"Bearer {token}"}
        async with aiohttp.ClientSession(headers=auth) as client:

            async def call(method: str, path: str, body: object = None) -> tuple[int, Any]:
                async with client.request(method, admin + path, json=body) as response:
                    return response.status, await response.json()

            async with client.get(admin + "/", allow_redirects=False) as response:
                assert (response.status, response.headers["Location"]) == (
                    303,
                    "/__vernier/admin/",
                )  # the listener's root (the demo prints it) leads to the dashboard
            coded = {"Content-Encoding": "gzip", "Content-Type": "application/json"}
            async with client.post(
                admin + "/__vernier/admin/pause", data=b"not gzip", headers=coded
            ) as response:  # never decoded (was a 500), never taken for JSON
                assert response.status == 415
            assert await call("POST", "/__vernier/admin/pause", {"target": "hero/b"}) == (
                200,
                {"paused": "variant:hero:b"},
            )
            status, pauses = await call("GET", "/__vernier/admin/pauses")
            assert status == 200 and pauses["variant:hero:b"]["by"] == "admin API"
            status, error = await call("POST", "/__vernier/admin/pause", {"target": "nope"})
            assert status == 400 and "no slot or rule 'nope'" in error["error"]
            assert (await call("POST", "/__vernier/admin/resume", {"target": "hero/b"}))[0] == 200
            assert await call("GET", "/__vernier/admin/pauses") == (200, {})
        async with aiohttp.ClientSession() as anonymous:
            async with anonymous.get(admin + "/__vernier/admin/pauses") as response:
                assert response.status == 401


async def test_a_paused_variant_is_offered_by_no_trigger(
    origin: str, start_proxy: StartProxy, rules_dir: Path
) -> None:
    """The kill switch covers the page's switches: a page showing the control offers no
    trigger that would swap in a paused variant (or anything of a paused slot)."""
    prefix = f"t{secrets.token_hex(4)}:"
    token = "admin-token-0123456789"
    proxy = await start_proxy(
        origin, rules=str(rules_dir), **{"store.key_prefix": prefix, "admin.token": token}
    )

    async def offers_the_trigger() -> bool:
        for _ in range(30):  # new visitors until one is shown the control
            async with aiohttp.ClientSession() as client:
                async with client.get(proxy + "/page", headers={"User-Agent": DESKTOP}) as reply:
                    body = await reply.text()
            if MARK.search(body)[1] == "a":  # type: ignore[index]
                return "data-vernier-trigger" in body
        raise AssertionError("30 visitors and none shown the control")

    assert await offers_the_trigger()
    async with serve_app(create_admin_app(proxy_fixtures.STARTED_APPS[-1])) as admin:
        auth = {"Authorization": f"Bearer {token}"}
        async with aiohttp.ClientSession(headers=auth) as operator:
            for target in ("hero/c", "hero"):
                async with operator.post(
                    admin + "/__vernier/admin/pause", json={"target": target}
                ) as reply:
                    assert reply.status == 200

                async def withdrawn() -> bool:
                    return not await offers_the_trigger()

                await until(withdrawn)
                async with operator.post(
                    admin + "/__vernier/admin/resume", json={"target": target}
                ) as reply:
                    assert reply.status == 200
                await until(offers_the_trigger)  # back, before the next pause is tried
