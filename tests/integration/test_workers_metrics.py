"""``/metrics`` of ``vernier serve --workers 2`` is the sum of both workers' counters, though only
the first worker serves the admin listener (``proxy/server/metrics_share.py``)."""

from __future__ import annotations

import asyncio
import urllib.error
import urllib.request
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from proxy.server.metrics_share import FOLDER, decode
from tests.integration.test_rules_reload import eventually, start

REQUESTS = 40


def fetch(url: str) -> bytes:
    """One request on a connection of its own, so the kernel spreads them over the workers."""
    with urllib.request.urlopen(url, timeout=10) as response:
        return bytes(response.read())


def scraped(admin: str) -> tuple[float, float]:
    """(responses streamed through, workers reporting) as the admin listener says now; nothing
    while the first worker has not bound it yet (another worker may have served the requests)."""
    try:
        text = fetch(admin + "/metrics").decode()
    except urllib.error.URLError:
        return 0.0, 0.0
    streamed = reporting = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "vernier_responses_total" and sample.labels == {
                "handling": "streamed"
            }:
                streamed = sample.value
            elif sample.name == "vernier_workers_reporting":
                reporting = sample.value
    return streamed, reporting


def published_by_second_worker(data_dir: Path) -> float:
    families = decode((data_dir / FOLDER / "worker-1.json").read_bytes()) or []
    return sum(
        float(value)
        for family in families
        for name, labels, value in family["samples"]
        if name == "vernier_responses_total" and labels == {"handling": "streamed"}
    )


async def test_the_admin_worker_shows_the_sum_of_both_workers(origin: str, tmp_path: Path) -> None:
    async with start(origin, tmp_path, workers=2) as served:
        # both workers up (each publishes once it serves): before that the kernel hands every
        # connection to the one already listening
        await eventually(lambda: scraped(served.admin)[1] == 2, 30, "both workers reporting")
        for i in range(REQUESTS):  # not HTML: each counts as "streamed", the startup page does not
            await asyncio.to_thread(fetch, f"{served.url}/echo/{i}")
        await eventually(
            lambda: scraped(served.admin) == (REQUESTS, 2),
            30,
            f"/metrics sums {REQUESTS} streamed responses over 2 workers",
        )
        # the second worker did serve some of them: the sum is not the first worker's alone
        assert 0 < published_by_second_worker(served.data_dir) < REQUESTS
