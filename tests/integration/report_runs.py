"""Shared steps of the report integration tests: wait until the results consumer has folded
what the visitors did, then run ``vernier report --format json`` as a user would."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import aiohttp

from proxy.cli import main
from proxy.records.results_buckets import DAY_HOURS, Period, hour_of
from proxy.store.client import Store
from proxy.store.connection import StoreSettings
from proxy.store.results import read_slot


async def wait_folded(
    store_url: str,
    prefix: str,
    slot: str,
    variants: Sequence[str],
    measures: Sequence[str],
    want: Mapping[tuple[str, str], float],
    timeout_s: float = 60.0,
) -> None:
    """Until today's and yesterday's buckets of ``slot`` sum to ``want`` per (variant, measure).

    The deadline is generous: two CI rehearsals and a CPU hog on two cores once took past 20 s
    to fold a run's conversions."""
    store = Store(store_url, StoreSettings(op_timeout_s=2.0, key_prefix=prefix))
    hour = hour_of(int(time.time() * 1000))
    period = Period("d", hour // DAY_HOURS - 1, hour // DAY_HOURS)
    folded: dict[tuple[str, str], float] = {}
    try:
        async with asyncio.timeout(timeout_s):
            while folded != want:
                buckets = await read_slot(store, slot, list(variants), period)
                folded = {
                    (v, m): sum(b.get(f"{v}|{m}", 0.0) for b in buckets.sums.values())
                    for v in variants
                    for m in measures
                } if buckets else {}  # fmt: skip
                await asyncio.sleep(0.05)
    except TimeoutError:
        raise AssertionError(f"folded {folded}, expected {want}") from None
    finally:
        await store.close()


async def report_json(
    tmp_path: Path, rules_dir: Path, store_url: str, prefix: str, *args: str
) -> Any:
    """``vernier report --format json`` over the store with ``args`` (it exits 0), parsed."""
    config = tmp_path / "vernier.yaml"
    config.write_text(f"store: {{key_prefix: '{prefix}'}}\nrules: {rules_dir}\n")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        argv = ["report", "--format", "json", "--config", str(config), "--store", store_url, *args]
        code = await asyncio.to_thread(main, argv)  # the command runs its own event loop
    assert code == 0
    return json.loads(out.getvalue())


SLOW_MACHINE = {"store.op_timeout_ms": 2000}
"""A proxy's store budget for tests that post rewards through the API: the default 50 ms answers
a busy machine's slow reply with 503 "retry later" (the API's documented answer), which is not
what these tests are about."""


async def post_api(client: aiohttp.ClientSession, url: str, body: object, token: str) -> Any:
    """A decision-API call with the admin token: its JSON answer (a 202 answers nothing)."""
    headers = {"Authorization": f"Bearer {token}"}
    async with client.post(url, json=body, headers=headers) as response:
        assert response.status in (200, 202), await response.text()
        return await response.json() if response.status == 200 else None
