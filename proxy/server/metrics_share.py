"""``/metrics`` of ``vernier serve --workers N``: the sum of every worker process's counters.

Only the first worker serves the admin listener, so a scrape reaches one process of N. Each other
worker publishes its registry to a small file in the data directory once a second (and once more
as it stops): ``<data_dir>/worker-metrics/worker-<i>.json``, written whole and renamed into
place. When scraped, the first worker adds them to its own numbers:

* counters, histograms and summaries are **summed** over the workers, per series (the same
  labels); a series only another worker has is shown too;
* gauges are the **scraping worker's own**: they are states (store up, breaker state, the live
  rules' version, stream lags) that every worker reads from the same place, not amounts;
* ``vernier_workers_reporting`` says how many workers' numbers the sum holds.

Another worker's share is at most ~1 s old. A worker that exited keeps its last file: what it
counted did happen. The parent clears the folder before it starts the workers and removes it
after they stop, so one run never adds up another's. The files hold counts only, no request data.

This is Prometheus' multiprocess mode in spirit (``PROMETHEUS_MULTIPROC_DIR``), without its
process-global value class, which would change every registry of the process, tests' included,
and which the collector of the background workers' counters (``worker_metrics.py``) cannot use.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

log = logging.getLogger("vernier.metrics")

FOLDER = "worker-metrics"
PUBLISH_EVERY_S = 1.0
SUMMED_TYPES = frozenset({"counter", "histogram", "summary", "gaugehistogram"})
_FORMAT = 1

Family = dict[str, Any]  # {"name", "type", "help", "unit", "samples": [[name, labels, value]]}


@dataclass(frozen=True, slots=True)
class MetricsShare:
    """Where the workers of one ``vernier serve`` leave their numbers, and which one this is."""

    folder: Path
    worker: int  # this process's index, 0 for the one that serves the admin listener
    workers: int

    @classmethod
    def in_data_dir(cls, data_dir: Path, worker: int, workers: int) -> MetricsShare:
        return cls(Path(data_dir) / FOLDER, worker, workers)

    def file_of(self, worker: int) -> Path:
        return self.folder / f"worker-{worker}.json"


def families_of(collector: Collector) -> list[Family]:
    """The summable families ``collector`` holds now, as plain data."""
    families: list[Family] = []
    for metric in collector.collect():
        if metric.type not in SUMMED_TYPES:
            continue
        samples = [
            [s.name, dict(s.labels), s.value] for s in metric.samples if math.isfinite(s.value)
        ]
        families.append(
            {
                "name": metric.name,
                "type": metric.type,
                "help": metric.documentation,
                "unit": metric.unit,
                "samples": samples,
            }
        )
    return families


def encode(families: list[Family]) -> bytes:
    return orjson.dumps({"format": _FORMAT, "families": families})


def decode(data: bytes) -> list[Family] | None:
    """The families in a published file; None for bytes that are not one (a torn or foreign
    file is skipped, never a failed scrape)."""
    try:
        parsed = orjson.loads(data)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(parsed, dict) or parsed.get("format") != _FORMAT:
        return None
    families = parsed.get("families")
    return families if isinstance(families, list) else None


def merged(own: Iterable[Metric], peers: Sequence[list[Family]]) -> Iterator[Metric]:
    """``own`` (this process's metrics) with the summable series of ``peers`` added in.

    ``*_created`` samples (when a series started) take the earliest, not the sum.
    """
    pending: dict[str, Metric] = {}
    values: dict[str, dict[tuple[str, tuple[tuple[str, str], ...]], float]] = {}
    for metric in own:
        if metric.type not in SUMMED_TYPES:
            yield metric
            continue
        pending[metric.name] = metric
        values[metric.name] = {}
        for sample in metric.samples:
            _add(values[metric.name], sample.name, sample.labels, sample.value)
    for families in peers:
        for family in families:
            name = family["name"]
            if name not in pending:
                pending[name] = Metric(name, family["help"], family["type"], family["unit"])
                values[name] = {}
            for sample_name, labels, value in family["samples"]:
                _add(values[name], sample_name, labels, float(value))
    for name, metric in pending.items():
        summed = Metric(metric.name, metric.documentation, metric.type, metric.unit)
        for (sample_name, labels), value in values[name].items():
            summed.add_sample(sample_name, dict(labels), value)
        yield summed


def _add(
    into: dict[tuple[str, tuple[tuple[str, str], ...]], float],
    sample_name: str,
    labels: dict[str, str],
    value: float,
) -> None:
    key = (sample_name, tuple(sorted(labels.items())))
    old = into.get(key)
    if old is None:
        into[key] = value
    elif sample_name.endswith("_created"):
        into[key] = min(old, value)
    else:
        into[key] = old + value


class SummedMetrics(Collector):
    """What the first worker's ``/metrics`` shows: its registry plus the other workers' files."""

    def __init__(self, own: Collector, share: MetricsShare) -> None:
        self.own = own
        self.share = share

    def peers(self) -> list[list[Family]]:
        """The other workers' latest numbers (tiny local files, read when scraped)."""
        found = []
        for worker in range(self.share.workers):
            if worker == self.share.worker:
                continue
            with contextlib.suppress(OSError):
                families = decode(self.share.file_of(worker).read_bytes())
                if families is not None:
                    found.append(families)
        return found

    def collect(self) -> Iterator[Metric]:
        peers = self.peers()
        yield from merged(self.own.collect(), peers)
        reporting = GaugeMetricFamily(
            "vernier_workers_reporting",
            "Worker processes whose counters /metrics sums (this one included).",
        )
        reporting.add_metric([], float(1 + len(peers)))
        yield reporting


def write_share(share: MetricsShare, data: bytes) -> None:
    """Replace this worker's file whole (a reader never sees half of it)."""
    share.folder.mkdir(parents=True, exist_ok=True)
    target = share.file_of(share.worker)
    partial = target.with_suffix(f".{os.getpid()}.tmp")
    partial.write_bytes(data)
    partial.replace(target)


async def publish_every(
    share: MetricsShare,
    collector: Collector,
    stop: asyncio.Event,
    interval_s: float = PUBLISH_EVERY_S,
) -> None:
    """Publish ``collector``'s numbers every ``interval_s`` until ``stop``, then once more."""
    loop = asyncio.get_running_loop()
    failing = False
    while True:
        stopping = stop.is_set()
        data = encode(families_of(collector))
        try:
            await loop.run_in_executor(None, write_share, share, data)
            failing = False
        except OSError as err:
            if not failing:  # once per spell of failures
                log.warning("cannot publish this worker's metrics to %s: %s", share.folder, err)
            failing = True
        if stopping:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval_s)
