"""Every background worker's counters, the store breaker's state and the stream groups' lag on
``/metrics``.

The workers — the event and decision sinks, the profile and slot-metrics consumers, the learner, the model
registry, the store client — count in plain integer attributes: free on their hot paths, easy to
assert in their unit tests, and no Prometheus in their modules. :class:`WorkerMetrics` is a
collector in the worker process's registry that reads those attributes when ``/metrics`` is
scraped, so a number on ``/metrics`` is always the one the worker holds:

    vernier_background_total{worker, counter}      each watched counter (retries are ``failures``;
                                                   drops are ``skipped``, ``failed``, ``refused``)
    vernier_results_total{slot, variant, measure}  exposures, clicks, conversions folded into the
                                                   results aggregates by this worker
    vernier_store_breaker_state{state}             1 for the store breaker's current state
    vernier_stream_lag_entries{stream, group}      entries not yet delivered to the group
    vernier_stream_pending_entries{stream, group}  delivered, not yet acknowledged

Like every metric of Vernier these are per worker process (``proxy/metrics.py``); the stream
numbers belong to the group and so are the same in every process. They are read from the store
just before a scrape is rendered (:meth:`WorkerMetrics.refresh`), within the store's call timeout.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from proxy.store.breaker import BreakerState
from proxy.store.client import Store
from proxy.store.stream_group import GroupLag, group_lags


def same_names(*counters: str) -> dict[str, str]:
    """Counters whose label is their attribute's name."""
    return {name: name for name in counters}


# label -> attribute, per kind of worker (each worker's docstring says what they count)
EVENT_SINK_COUNTERS = same_names("stored", "duplicates", "spooled", "replayed", "failed")
DECISION_SINK_COUNTERS = same_names(
    "logged", "duplicates", "spooled", "replayed", "failed", "fsynced", "unfsynced", "restored"
)
PROFILE_CONSUMER_COUNTERS = same_names("applied", "duplicates", "skipped", "conflicts", "failures")
SLOT_METRICS_CONSUMER_COUNTERS = same_names(
    "processed", "counted", "duplicates", "skipped", "failures"
)
RESULTS_CONSUMER_COUNTERS = same_names("processed", "folded", "duplicates", "skipped", "failures")
LEARNER_COUNTERS = same_names(
    "learned",
    "logged",
    "published",
    "unknown_slot",
    "stale",
    "refused",
    "failures",
    "guardrail_pauses",
    "evicted",
)
MODEL_REGISTRY_COUNTERS = {"refused": "refused_total"}
STORE_COUNTERS = {
    "failures": "failures_total",
    "short_circuited": "short_circuited_total",
    "response_errors": "response_errors_total",
    "late_timeouts": "late_timeouts_total",
}


@dataclass(frozen=True, slots=True)
class _Watched:
    worker: str
    source: object
    counters: Mapping[str, str]


class WorkerMetrics(Collector):
    """Reads the watched workers' counters at scrape time (see the module docstring)."""

    def __init__(self) -> None:
        self._watched: list[_Watched] = []
        self._breaker_of: Store | None = None
        self._streams: dict[str, str] = {}  # stream name -> key
        self._lags: dict[str, list[GroupLag]] = {}
        self._per_variant: Mapping[tuple[str, str, str], int] | None = None

    def watch_per_variant(self, counts: Mapping[tuple[str, str, str], int]) -> None:
        """Report ``(slot, variant, measure) -> count`` as ``vernier_results_total``."""
        self._per_variant = counts

    def watch(self, worker: str, source: object, counters: Mapping[str, str]) -> None:
        """Report ``source``'s counters (label -> attribute) as ``worker``'s."""
        self._watched.append(_Watched(worker, source, dict(counters)))

    def watch_store(self, store: Store) -> None:
        """Report the store client's counters and its breaker's state."""
        self.watch("store", store, STORE_COUNTERS)
        self._breaker_of = store

    def watch_stream(self, stream: str, key: str) -> None:
        """Report the lag of every consumer group of the stream at ``key`` as ``stream``'s."""
        self._streams[stream] = key

    async def refresh(self, store: Store) -> None:
        """Read the streams' groups now, all in one round trip; when the store does not answer,
        no lag is reported rather than an old one."""
        self._lags = await group_lags(store, self._streams) or {}

    def collect(self) -> Iterator[Metric]:
        counters = CounterMetricFamily(
            "vernier_background",
            "Counters of the background workers, by worker and counter.",
            labels=["worker", "counter"],
        )
        for watched in self._watched:
            for label, attribute in watched.counters.items():
                value = getattr(watched.source, attribute)
                counters.add_metric([watched.worker, label], float(value))
        yield counters
        if self._per_variant is not None:
            results = CounterMetricFamily(
                "vernier_results",
                "Exposures, clicks and conversions folded into the results, per slot and variant.",
                labels=["slot", "variant", "measure"],
            )
            for (slot, variant, measure), value in sorted(self._per_variant.items()):
                results.add_metric([slot, variant, measure], float(value))
            yield results
        if self._breaker_of is not None:
            state = GaugeMetricFamily(
                "vernier_store_breaker_state",
                "1 for the state the store's circuit breaker is in, 0 for the others.",
                labels=["state"],
            )
            current = self._breaker_of.breaker_state
            for each in BreakerState:
                state.add_metric([each.value], 1.0 if each is current else 0.0)
            yield state
        lag = GaugeMetricFamily(
            "vernier_stream_lag_entries",
            "Stream entries not yet delivered to the consumer group.",
            labels=["stream", "group"],
        )
        pending = GaugeMetricFamily(
            "vernier_stream_pending_entries",
            "Stream entries delivered to the consumer group and not yet acknowledged.",
            labels=["stream", "group"],
        )
        for stream, groups in self._lags.items():
            for group in groups:
                if group.lag is not None:
                    lag.add_metric([stream, group.group], float(group.lag))
                pending.add_metric([stream, group.group], float(group.pending))
        yield lag
        yield pending
