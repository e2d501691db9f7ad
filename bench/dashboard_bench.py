"""The dashboard's server time and script size (issue #13 targets), and its screenshot.

    .venv/bin/python bench/dashboard_bench.py [--slots S] [--variants V] [--rounds N]
                                              [--screenshot docs/dashboard.png]

A Dashboard and the JSON admin API on a loopback listener over an embedded Valkey holding
S slots x V variants of results (7 day buckets and 72 hour buckets) and the last hour's
per-minute counts. Each page is fetched N times with a bearer token; the time is the loopback
round trip (an upper bound on server time). The reference, measured in the same run, is
``GET /__vernier/admin/pauses`` (one store read, no statistics). Targets: a page <= 300 ms,
``dashboard.js`` <= 60 KB gzipped. ``--screenshot`` signs in with headless Chromium and saves
a slot page (for the README).
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import random
import secrets
import statistics
import sys
import tempfile
import time
from importlib import resources
from pathlib import Path

import aiohttp
from aiohttp import web

from proxy.admin import AdminApi
from proxy.dashboard.handler import Dashboard
from proxy.records.results_buckets import DAY_HOURS, hour_of
from proxy.records.slot_counts import minute_of
from proxy.rules.engine import FixedRules, RuleEngine
from proxy.rules.load import load_rules
from proxy.store.client import Store
from proxy.store.connection import StoreSettings
from proxy.store.embedded import EmbeddedStore

TOKEN = "bench-dashboard-token-0123456789"
REPO_ROOT = Path(__file__).resolve().parents[1]


def rules_yaml(slots: int, variants: int) -> str:
    names = [chr(ord("a") + v) for v in range(variants)]
    lines = ["rules:", "  - id: greeting", '    then: [{op: set_text, selector: "p", value: "Hi"}]']
    lines.append("slots:")
    for s in range(slots):
        split = ", ".join(f"{n}: 1" for n in names)
        lines += [f"  - id: slot-{s}", '    selector: "#hero"', "    control: a",
                  "    policy: split", f"    split: {{{split}}}", "    variants:"]  # fmt: skip
        lines += [f'      {n}: [{{op: set_text, selector: "#hero", value: "{n}"}}]' for n in names]
    return "\n".join(lines) + "\n"


async def fill(store: Store, slots: int, variants: int) -> None:
    now_ms = int(time.time() * 1000)
    hour, minute = hour_of(now_ms), minute_of(now_ms)
    names = [chr(ord("a") + v) for v in range(variants)]
    rng = random.Random(7)
    keys = store.keys

    def cells(scale: int, lift: float) -> dict[str, float]:
        out: dict[str, float] = {}
        for i, v in enumerate(names):
            decisions = scale * (1 + 0.1 * rng.random())
            exposures = int(decisions * 0.85)
            rate = 0.05 * (1 + lift * i) * (1 + 0.15 * rng.uniform(-1, 1))
            out |= {f"{v}|decisions": int(decisions), f"{v}|exposures": exposures,
                    f"{v}|clicks": int(exposures * rate), f"{v}|expected": decisions}  # fmt: skip
        return out

    async def write(redis: object) -> None:
        pipe = redis.pipeline(transaction=False)  # type: ignore[attr-defined]
        for s in range(slots):
            slot = f"slot-{s}"
            for h in range(hour - 71, hour + 1):
                pipe.hset(keys.results_key(slot, f"h:{h}"), mapping=cells(400, 0.06))
            for d in range(hour // DAY_HOURS - 6, hour // DAY_HOURS + 1):
                pipe.hset(keys.results_key(slot, f"d:{d}"), mapping=cells(9600, 0.06))
            for m in range(minute - 60, minute + 1):
                counts = {f"{v}:impressions": rng.randint(20, 40) for v in names}
                counts |= {f"{v}:clicks": rng.randint(0, 3) for v in names}
                pipe.hset(keys.metrics_key(slot, f"1m:{m}"), mapping=counts)
        await pipe.execute()

    await store.run(write, default=None, timeout_s=60)


def app_for(dashboard: Dashboard, api: AdminApi) -> web.Application:
    async def handle(request: web.Request) -> web.StreamResponse:
        if dashboard.handles(request.path):
            return await dashboard.handle(request)
        return await api.handle(request)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    return app


async def timed(client: aiohttp.ClientSession, url: str, rounds: int) -> list[float]:
    times = []
    headers = {"Authorization": f"Bearer {TOKEN}"}
    for _ in range(rounds):
        start = time.perf_counter()
        async with client.get(url, headers=headers) as response:
            await response.read()
            assert response.status == 200, (url, response.status)
        times.append((time.perf_counter() - start) * 1000)
    return times


async def screenshot(base: str, path: Path) -> None:
    from playwright.async_api import async_playwright

    # Chromium is launched the way the browser tests launch it (tests/browser/chromium.py)
    sys.path.insert(1, str(REPO_ROOT))
    from tests.browser.chromium import CHROMIUM_FLAGS, chromium_binary

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=chromium_binary(), args=CHROMIUM_FLAGS
        )
        page = await browser.new_page(viewport={"width": 1280, "height": 900})
        await page.goto(base)
        await page.fill("input[name=token]", TOKEN)
        await page.click("button[type=submit]")
        await page.wait_for_url(base)
        await page.goto(base + "slots/slot-0?since=72h")
        await page.wait_for_function("document.querySelectorAll('.uplot canvas').length >= 5")
        await page.screenshot(path=str(path), full_page=True)
        await browser.close()
    print(f"screenshot: {path}")


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--slots", type=int, default=20)
    parser.add_argument("--variants", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--screenshot", type=Path)
    args = parser.parse_args()
    script = resources.files("proxy.dashboard").joinpath("static/dashboard.js").read_bytes()
    print(f"dashboard.js: {len(script)} bytes, {len(gzip.compress(script, 9))} bytes gzipped (target <= 61440)")  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="vd-", dir="/tmp") as folder:
        rules_file = Path(folder) / "rules.yaml"
        rules_file.write_text(rules_yaml(args.slots, args.variants))
        rules = FixedRules(RuleEngine.build(load_rules(rules_file)))
        with EmbeddedStore(Path(folder) / "store") as embedded:
            settings = StoreSettings(op_timeout_s=10.0, key_prefix=f"b{secrets.token_hex(3)}:")
            store = Store(embedded.url, settings)
            runner: web.AppRunner | None = None
            try:
                await fill(store, args.slots, args.variants)
                dashboard = Dashboard(rules, store, TOKEN, retention_days=90)
                runner = web.AppRunner(app_for(dashboard, AdminApi(rules, store, TOKEN)))
                await runner.setup()
                site = web.TCPSite(runner, "127.0.0.1", 0)
                await site.start()
                port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
                base = f"http://127.0.0.1:{port}/__vernier/admin/"
                async with aiohttp.ClientSession() as client:
                    reference = statistics.median(await timed(client, base + "pauses", args.rounds))
                    print(f"reference GET pauses: {reference:.2f} ms median")
                    for name, path in (
                        (f"overview, {args.slots} slots, 7 d", ""),
                        ("slot page, 7 d", "slots/slot-0"),
                        ("slot page, 72 h", "slots/slot-0?since=72h"),
                        ("live view (JSON)", "live/slot-0"),
                    ):
                        times = sorted(await timed(client, base + path, args.rounds))
                        median = statistics.median(times)
                        p95 = times[int(0.95 * (len(times) - 1))]
                        print(f"{name}: {median:.1f} ms median, {p95:.1f} ms p95 ({median / reference:.1f}x reference)")  # fmt: skip
                if args.screenshot is not None:
                    await screenshot(base, args.screenshot)
            finally:
                if runner is not None:
                    await runner.cleanup()
                await store.close()


if __name__ == "__main__":
    asyncio.run(main())
