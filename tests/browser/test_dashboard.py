"""The dashboard in real headless Chromium, on the admin listener of a running proxy: sign in with
the admin token, open a slot's page and see its charts drawn with no console error, then pause a
variant and resume it through the confirmation step, down to the store's control hash."""

from __future__ import annotations

import secrets
import time
from pathlib import Path

import pytest
from playwright.async_api import Browser, ConsoleMessage, Error, expect

from proxy.app import create_admin_app
from proxy.dashboard.assets import DashboardAssets
from proxy.records.results_buckets import Buckets
from proxy.results.html import report_file
from proxy.results.report import SlotInfo, report
from proxy.store import control
from proxy.store.client import Store
from proxy.store.connection import StoreSettings
from tests import proxy_fixtures
from tests.dashboard.conftest import RULES, TOKEN, put_live, put_results
from tests.integration.report_runs import SLOW_MACHINE
from tests.proxy_fixtures import StartProxy, serve_app

pytestmark = pytest.mark.rules_file("dash.yaml", RULES)


async def test_sign_in_see_the_charts_pause_and_resume(
    browser: Browser,
    origin: str,
    start_proxy: StartProxy,
    rules_dir: Path,
    embedded_store_url: str,
) -> None:
    prefix = f"d{secrets.token_hex(4)}:"
    await start_proxy(  # a store budget for a busy machine: the overview's reads must answer
        origin,
        rules=str(rules_dir),
        **{"store.key_prefix": prefix, "admin.token": TOKEN, **SLOW_MACHINE},
    )
    store = Store(embedded_store_url, StoreSettings(op_timeout_s=2.0, key_prefix=prefix))
    now_ms = int(time.time() * 1000)
    await put_results(store, now_ms)
    await put_live(store, now_ms)
    problems: list[str] = []
    try:
        async with serve_app(create_admin_app(proxy_fixtures.STARTED_APPS[-1])) as admin:
            page = await browser.new_page(viewport={"width": 390, "height": 844})  # a phone

            def on_console(message: ConsoleMessage) -> None:
                if message.type == "error":
                    problems.append(message.text)

            def on_error(error: Error) -> None:
                problems.append(str(error))

            page.on("console", on_console)
            page.on("pageerror", on_error)
            base = admin + "/__vernier/admin/"
            answer = await page.goto(base)
            assert answer is not None and answer.status == 401
            problems.clear()  # Chromium logs that expected 401 as a console error
            await page.fill("input[name=token]", TOKEN)
            await page.click("button[type=submit]")
            await page.wait_for_url(base)
            await page.click("a[href='/__vernier/admin/slots/hero']")
            await page.wait_for_url(base + "slots/hero")
            # exposures, CTR, lift, allocation and the live chart, each drawn on a canvas
            # a locator, not wait_for_function: the page's CSP (script-src 'self') forbids the eval
            # that polling a string predicate in the page needs once the first check fails
            await page.locator(".uplot canvas").nth(4).wait_for(state="attached")
            titles = await page.locator(".uplot .u-title").all_inner_texts()
            assert any(t.startswith("CTR per day") for t in titles)
            assert any(t.startswith("Cumulative CTR lift") for t in titles)
            # no wider than the phone: tables scroll inside their box, charts fit
            width = await page.evaluate("document.documentElement.scrollWidth")
            assert width <= 390

            await page.click("button[data-target='hero/b']")
            await page.click("text=Yes, pause")
            # the URL does not change: wait for the page the pause redirected to, so the store
            # is read after the pause was written however slowly a busy machine runs
            await expect(page.locator("button:has-text('resume b')")).to_have_count(
                1, timeout=30_000
            )
            fields = await control.read(store)
            assert fields is not None and set(fields) == {"variant:hero:b"}
            await page.click("button:has-text('resume b')")
            await page.click("text=Yes, resume")
            await expect(page.locator("button:has-text('pause b')")).to_have_count(
                1, timeout=30_000
            )
            assert await control.read(store) == {}
            await page.close()
    finally:
        await store.close()
    assert problems == []


async def test_the_html_report_draws_its_charts_from_disk(browser: Browser, tmp_path: Path) -> None:
    sums = {
        hour: {f"{v}|{m}": n for v in ("a", "b") for m, n in (("decisions", 120.0),
               ("exposures", 100.0), ("clicks", 5.0 + hour % 3 + (v == "b")))}
        for hour in range(490_000, 490_024)
    }  # fmt: skip
    info = SlotInfo("hero", "split", "a", ("a", "b"), {"a": 1.0, "b": 1.0})
    data = report([(info, Buckets(sums))], bucket="h", first=490_000, last=490_023, now_ms=0)
    assets = DashboardAssets.load()
    page_file = tmp_path / "report.html"
    page_file.write_text(
        report_file(data, js=assets.text("dashboard.js"), css=assets.text("dashboard.css"))
    )
    page = await browser.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    await page.goto(page_file.as_uri())
    await expect(page.locator(".uplot canvas")).to_have_count(4)  # CSP-safe, as above
    await page.close()
    assert problems == []
    assert requests == [page_file.as_uri()]  # nothing else fetched
