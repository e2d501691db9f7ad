"""Summing the workers' metrics: counters and histograms add up per series, gauges stay the
scraping worker's own, and published files are read back whole (or skipped)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import Metric
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import Collector

from proxy.server.metrics_share import (
    MetricsShare,
    SummedMetrics,
    decode,
    encode,
    families_of,
    merged,
    publish_every,
    write_share,
)

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


class Worker:
    """One worker process's registry, as the proxy's ``Metrics`` builds it."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.responses = Counter(
            "vernier_responses_total", "r", ["handling"], registry=self.registry
        )
        self.work = Histogram(
            "vernier_html_work_seconds", "w", buckets=(0.01, 0.1), registry=self.registry
        )
        self.store_up = Gauge("vernier_store_up", "s", registry=self.registry)


def samples_of(text: bytes) -> Samples:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text.decode())
        for sample in family.samples
    }


def handled(samples: Samples, how: str) -> float | None:
    return samples.get(("vernier_responses_total", frozenset({("handling", how)})))


def test_counters_and_histograms_add_up_and_gauges_stay_the_scraper_s() -> None:
    first, second = Worker(), Worker()
    first.responses.labels("injected").inc(3)
    second.responses.labels("injected").inc(4)
    second.responses.labels("streamed").inc(2)  # a series only the other worker has
    first.work.observe(0.005)
    second.work.observe(0.05)
    second.work.observe(0.5)
    first.store_up.set(1)
    second.store_up.set(0)

    class Summed(Collector):
        def collect(self) -> Iterator[Metric]:
            return merged(first.registry.collect(), [families_of(second.registry)])

    samples = samples_of(generate_latest(Summed()))
    assert handled(samples, "injected") == 7
    assert handled(samples, "streamed") == 2
    bucket = "vernier_html_work_seconds_bucket"
    assert samples[(bucket, frozenset({("le", "0.01")}))] == 1
    assert samples[(bucket, frozenset({("le", "0.1")}))] == 2
    assert samples[(bucket, frozenset({("le", "+Inf")}))] == 3
    assert samples[("vernier_html_work_seconds_count", frozenset())] == 3
    assert samples[("vernier_store_up", frozenset())] == 1  # the scraping worker's own


def test_a_series_start_time_is_the_earliest_not_a_sum() -> None:
    first, second = Worker(), Worker()
    first.responses.labels("injected").inc()
    second.responses.labels("injected").inc()
    created = [
        sample.value
        for worker in (first, second)
        for family in worker.registry.collect()
        for sample in family.samples
        if sample.name == "vernier_responses_created"
    ]
    summed = merged(first.registry.collect(), [families_of(second.registry)])
    values = [
        sample.value
        for family in summed
        for sample in family.samples
        if sample.name == "vernier_responses_created"
    ]
    assert values == [min(created)]


def test_published_numbers_read_back_and_junk_is_skipped(tmp_path: Path) -> None:
    worker = Worker()
    worker.responses.labels("injected").inc(5)
    assert decode(encode(families_of(worker.registry))) == families_of(worker.registry)
    for junk in (b"", b"{", b"[]", b'{"format": 99, "families": []}'):
        assert decode(junk) is None


def test_the_first_worker_shows_the_sum_and_how_many_workers_report(tmp_path: Path) -> None:
    first, second, third = Worker(), Worker(), Worker()
    first.responses.labels("injected").inc(1)
    second.responses.labels("injected").inc(10)
    third.responses.labels("injected").inc(100)
    shares = [MetricsShare.in_data_dir(tmp_path, i, 4) for i in range(4)]
    write_share(shares[1], encode(families_of(second.registry)))
    write_share(shares[2], encode(families_of(third.registry)))
    shares[3].file_of(3).write_bytes(b'{"format": 1, "fami')  # torn: skipped, not an error
    samples = samples_of(generate_latest(SummedMetrics(first.registry, shares[0])))
    assert handled(samples, "injected") == 111
    assert samples[("vernier_workers_reporting", frozenset())] == 3


async def test_a_worker_publishes_until_stopped_and_once_more_as_it_stops(tmp_path: Path) -> None:
    worker = Worker()
    share = MetricsShare.in_data_dir(tmp_path, 1, 2)
    stop = asyncio.Event()
    task = asyncio.create_task(publish_every(share, worker.registry, stop, interval_s=0.05))

    def published() -> float | None:
        try:
            families = decode(share.file_of(1).read_bytes())
        except FileNotFoundError:
            return None
        assert families is not None
        return sum(
            float(value)
            for family in families
            for name, _, value in family["samples"]
            if name == "vernier_responses_total"
        )

    worker.responses.labels("injected").inc(2)
    deadline = time.monotonic() + 10
    while published() != 2:
        assert time.monotonic() < deadline, "the count was not published"
        await asyncio.sleep(0.01)
    worker.responses.labels("injected").inc(3)
    stop.set()
    await asyncio.wait_for(task, 10)
    assert published() == 5  # the last numbers, written as it stopped
    assert [p.name for p in share.folder.iterdir()] == ["worker-1.json"]  # no partial file left
