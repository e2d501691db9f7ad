"""The background workers of one worker process, each its own ``cleanup_ctx`` entry: the stream
consumers (visitor profiles, slot metrics and the guardrail, results), the learner (embedded
store only), the rule-health publisher and, with several workers, the metrics they sum. Each
declares its loop in :class:`~proxy.tasks.BackgroundWork` and its counters in
:class:`~proxy.worker_metrics.WorkerMetrics`; :func:`running_context`, the last entry of the app,
runs every declared loop.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

from aiohttp import web

from proxy.bandit.learner import Learner
from proxy.govern.metrics_consumer import SlotMetricsConsumer
from proxy.resources import (
    BACKGROUND,
    CONFIG,
    EVENT_LOG,
    METRICS,
    METRICS_SHARE,
    RULE_HEALTH,
    RULES,
    STORE,
    WORKER_METRICS,
    Context,
)
from proxy.results_consumer import ResultsConsumer
from proxy.server import metrics_share
from proxy.store.rule_health import publish_every
from proxy.tracker.profile_consumer import ProfileConsumer
from proxy.worker_metrics import (
    LEARNER_COUNTERS,
    PROFILE_CONSUMER_COUNTERS,
    RESULTS_CONSUMER_COUNTERS,
    SLOT_METRICS_CONSUMER_COUNTERS,
)


async def profile_consumer_context(app: web.Application) -> AsyncIterator[None]:
    """Keeps visitor profiles current from the event stream."""
    consumer = ProfileConsumer(
        app[STORE],
        app[EVENT_LOG],
        profile_ttl_s=app[CONFIG].session.visitor_max_age_s,
        scores=app[CONFIG].scores,
    )
    app[WORKER_METRICS].watch("profile_consumer", consumer, PROFILE_CONSUMER_COUNTERS)
    app[BACKGROUND].declare("vernier-profile-consumer", consumer.run)
    yield


async def slot_metrics_consumer_context(app: web.Application) -> AsyncIterator[None]:
    """Counts slot metrics from the event stream and runs the guardrail."""
    consumer = SlotMetricsConsumer(app[STORE], app[RULES], event_log=app[EVENT_LOG])
    app[WORKER_METRICS].watch("slot_metrics_consumer", consumer, SLOT_METRICS_CONSUMER_COUNTERS)
    app[BACKGROUND].declare("vernier-slot-metrics", consumer.run)
    yield


async def results_consumer_context(app: web.Application) -> AsyncIterator[None]:
    """Folds both streams into the durable per-variant results (``vernier report``)."""
    consumer = ResultsConsumer(
        app[STORE],
        app[RULES],
        retention_days=app[CONFIG].results.retention_days,
        event_log=app[EVENT_LOG],
    )
    app[WORKER_METRICS].watch("results_consumer", consumer, RESULTS_CONSUMER_COUNTERS)
    app[WORKER_METRICS].watch_per_variant(consumer.per_variant)
    app[BACKGROUND].declare("vernier-results", consumer.run)
    yield


async def learner_context(app: web.Application) -> AsyncIterator[None]:
    """The learner, with the embedded store only: with a shared store ``vernier learn`` runs it
    (one per store, held by a lease). Its streams' lag is reported either way."""
    config, store = app[CONFIG], app[STORE]
    app[WORKER_METRICS].watch_stream("decisions", store.keys.decisions_key(0))
    if config.store.url is None:
        learner = Learner(
            store,
            app[RULES],
            Path(config.data_dir),
            max_pending=config.learner.max_pending_decisions,
            results_retention_days=config.results.retention_days,
            examples_kept=config.results.examples_kept,
        )
        app[WORKER_METRICS].watch("learner", learner, LEARNER_COUNTERS)
        app[BACKGROUND].declare("vernier-learner", learner.run)
    yield


async def rule_health_context(app: web.Application) -> AsyncIterator[None]:
    """Adds this worker's rule outcomes to the store's totals (``vernier validate --live``)."""
    store, health = app[STORE], app[RULE_HEALTH]
    app[BACKGROUND].declare("vernier-rule-health", lambda stop: publish_every(store, health, stop))
    yield


async def metrics_share_context(app: web.Application) -> AsyncIterator[None]:
    """With several workers, ``/metrics`` shows their sum (``proxy/server/metrics_share.py``):
    the first worker adds the others' published numbers to its own when scraped; the others
    publish theirs."""
    share = app.get(METRICS_SHARE)
    if share is not None:
        metrics = app[METRICS]
        if share.worker == 0:
            metrics.exposed = metrics_share.SummedMetrics(metrics.registry, share)
        else:
            app[BACKGROUND].declare(
                "vernier-metrics-share",
                lambda stop: metrics_share.publish_every(share, metrics.registry, stop),
            )
    yield


async def running_context(app: web.Application) -> AsyncIterator[None]:
    """Every declared loop, from the end of startup to the start of cleanup."""
    async with app[BACKGROUND].running():
        yield


WORKERS: tuple[Context, ...] = (
    profile_consumer_context,
    slot_metrics_consumer_context,
    results_consumer_context,
    learner_context,
    rule_health_context,
    metrics_share_context,
)
