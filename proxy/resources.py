"""What one worker process shares across requests: each resource under its own typed ``AppKey``,
created and closed by its own ``cleanup_ctx`` entry.

aiohttp enters the entries in order at startup and leaves them in reverse at cleanup, so an entry
may use what earlier entries set, and is closed before them. :data:`RESOURCES` is that order:
what can refuse to start (bad rules, unreadable signing keys) comes before anything that must be
closed; the store before everything that calls it; the loops of :class:`BackgroundWork` start
after every resource is up and stop before any is closed (``proxy/background.py``).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from aiohttp import ClientSession, web

from proxy.bandit.registry import ModelRegistry
from proxy.config.public import public_parts
from proxy.config.schema import Config
from proxy.decide.decider import Decider
from proxy.decide.decision_sink import DecisionSink, decision_spool
from proxy.govern.control import PauseWatcher
from proxy.govern.metric_cache import MetricCache
from proxy.govern.overload import LoadGauge, watch_loop_lag
from proxy.metrics import Metrics
from proxy.rules.engine import RuleEngine
from proxy.rules.health import RuleHealth
from proxy.rules.live import RELOAD_ON_SIGHUP, LiveRules
from proxy.segments.registry import SegmentModels
from proxy.server.metrics_share import MetricsShare
from proxy.session.cookie import CookieSigner
from proxy.session.issuer import IdIssuer
from proxy.session.keys import load_signing_keys
from proxy.store.client import Store
from proxy.store.event_log import EventLog
from proxy.store.retention import keep_trimming
from proxy.store_config import store_settings
from proxy.tasks import BackgroundWork
from proxy.tracker.asset import TrackerAsset
from proxy.tracker.sink import EventSink
from proxy.tracker.spool import EventSpool
from proxy.upstream.client import create_origin_pool, create_origin_session
from proxy.upstream.origin_pool import OriginPool
from proxy.worker_metrics import (
    DECISION_SINK_COUNTERS,
    EVENT_SINK_COUNTERS,
    MODEL_REGISTRY_COUNTERS,
    WorkerMetrics,
)

log = logging.getLogger("vernier.app")

Context = Callable[[web.Application], AsyncIterator[None]]

# set by create_app before startup
CONFIG = web.AppKey("config", Config)
STORE_URL = web.AppKey("store_url", str)
INSTANCE = web.AppKey("instance", str)  # names this deployment in Via
METRICS_SHARE = web.AppKey("metrics_share", MetricsShare)  # only with several workers

BACKGROUND = web.AppKey("background", BackgroundWork)
METRICS = web.AppKey("metrics", Metrics)
WORKER_METRICS = web.AppKey("worker_metrics", WorkerMetrics)
RULES = web.AppKey("rules", LiveRules[RuleEngine])
RULE_HEALTH = web.AppKey("rule_health", RuleHealth)
LOAD = web.AppKey("load", LoadGauge)
ISSUER = web.AppKey("issuer", IdIssuer)
ASSET = web.AppKey("asset", TrackerAsset)
STORE = web.AppKey("store", Store)
MODELS = web.AppKey("models", ModelRegistry)
SEGMENT_MODELS = web.AppKey("segment_models", SegmentModels)
PAUSES = web.AppKey("pauses", PauseWatcher)
SLOT_METRIC_CACHE = web.AppKey("slot_metric_cache", MetricCache)
DECIDER = web.AppKey("decider", Decider)
DECISION_SINK = web.AppKey("decision_sink", DecisionSink)
ORIGIN = web.AppKey("origin", ClientSession)
ORIGIN_POOL = web.AppKey("origin_pool", OriginPool)  # absent for an https:// origin
EVENT_LOG = web.AppKey("event_log", EventLog)
EVENT_SINK = web.AppKey("event_sink", EventSink)


def build_issuer(config: Config) -> IdIssuer:
    public = public_parts(config)
    return IdIssuer(
        config.session,
        CookieSigner(load_signing_keys(Path(config.data_dir))),
        secure=bool(public and public.scheme == "https"),
    )


async def metrics_context(app: web.Application) -> AsyncIterator[None]:
    """The process's metrics registry, with the collector of the background workers' counters,
    and the registry of background loops the later entries declare."""
    metrics = Metrics()
    workers = WorkerMetrics()
    metrics.registry.register(workers)
    app[METRICS] = metrics
    app[WORKER_METRICS] = workers
    app[BACKGROUND] = BackgroundWork()
    load = LoadGauge(app[CONFIG].overload)
    metrics.loop_lag.set_function(load.worst_lag_s)
    metrics.in_flight.set_function(lambda: load.in_flight)
    app[LOAD] = load
    app[BACKGROUND].declare("vernier-loop-lag", lambda stop: watch_loop_lag(load, stop))
    yield


async def rules_context(app: web.Application) -> AsyncIterator[None]:
    """The live rules (refuses to start on bad rule files), reloaded on change and on SIGHUP."""
    rules = LiveRules(Path(app[CONFIG].rules), RuleEngine.build, app[METRICS], missing_ok=True)
    app[RULES] = rules
    app[RULE_HEALTH] = RuleHealth()
    app[RELOAD_ON_SIGHUP] = (rules.request_reload,)
    app[BACKGROUND].declare("vernier-rules-watch", lambda stop: rules.watch(stop=stop))
    yield


async def identity_context(app: web.Application) -> AsyncIterator[None]:
    """Session and visitor ids, signed with the keys in ``data_dir`` (refuses to start if they
    cannot be read), and the tracker script the pages load."""
    app[ISSUER] = build_issuer(app[CONFIG])
    app[ASSET] = TrackerAsset.load()
    yield


async def store_context(app: web.Application) -> AsyncIterator[None]:
    """The store client: connected at startup (failing open if the store is away), closed last."""
    store = Store(app[STORE_URL], store_settings(app[CONFIG]))
    app[STORE] = store
    app[WORKER_METRICS].watch_store(store)
    app[METRICS].store_state.set_function(lambda: 1.0 if store.up else 0.0)
    try:
        await store.open()
        if await store.check_durability() == "no":
            log.warning(
                "the store runs without append-only persistence (appendonly no): acknowledged "
                "events can be lost on a crash; enable appendonly or use the embedded store"
            )
        yield
    finally:
        await store.close()


async def models_context(app: web.Application) -> AsyncIterator[None]:
    """The learned models the bandit slots decide with, polled for new snapshots."""
    models = ModelRegistry(app[STORE], app[RULES])
    app[MODELS] = models
    app[WORKER_METRICS].watch("models", models, MODEL_REGISTRY_COUNTERS)
    try:
        await models.refresh()  # a restarted proxy decides with the learned model at once
        app[BACKGROUND].declare("vernier-models", models.poll)
        yield
    finally:
        models.close()


async def segment_models_context(app: web.Application) -> AsyncIterator[None]:
    """The learned-segment model pages are assigned with, polled for new versions."""
    models = SegmentModels(app[STORE])
    app[SEGMENT_MODELS] = models
    await models.refresh()
    app[BACKGROUND].declare("vernier-segment-models", models.poll)
    yield


async def governance_context(app: web.Application) -> AsyncIterator[None]:
    """What decisions read of governance: the pauses and the slot metrics, each polled."""
    pauses = PauseWatcher(app[STORE])
    slot_metrics = MetricCache(app[STORE], app[RULES])
    app[PAUSES] = pauses
    app[SLOT_METRIC_CACHE] = slot_metrics
    app[BACKGROUND].declare("vernier-pauses", pauses.poll)
    app[BACKGROUND].declare("vernier-slot-metrics-cache", slot_metrics.poll)
    yield


async def decider_context(app: web.Application) -> AsyncIterator[None]:
    """Slot decisions: rules, bandit and governance together, logged to the decision stream or
    spooled in ``data_dir`` while the store is away (replayed by a background loop)."""
    config = app[CONFIG]
    spool = decision_spool(Path(config.data_dir))
    sink = DecisionSink(app[STORE], spool)
    app[DECISION_SINK] = sink
    app[WORKER_METRICS].watch("decision_sink", sink, DECISION_SINK_COUNTERS)
    app[BACKGROUND].declare("vernier-decision-spool-replay", sink.replay_loop)
    app[DECIDER] = Decider(
        app[STORE], config.session, app[MODELS], sink, app[PAUSES], app[SLOT_METRIC_CACHE]
    )
    try:
        yield
    finally:
        if not await sink.flush():
            log.warning("stopping with %d decisions whose fsync was not seen", sink.unconfirmed)
        await spool.close()


async def origin_context(app: web.Application) -> AsyncIterator[None]:
    """The connection pools to the origin: aiohttp's client, and the lean one for plain GETs."""
    origin = create_origin_session(app[CONFIG].origin)
    app[ORIGIN] = origin
    pool = create_origin_pool(app[CONFIG].origin)
    if pool is not None:
        app[ORIGIN_POOL] = pool
    try:
        yield
    finally:
        if pool is not None:
            pool.close()
        await origin.close()


async def events_context(app: web.Application) -> AsyncIterator[None]:
    """Where accepted events go: the event stream, or the spool in ``data_dir`` while the store
    is away (replayed by the sink's own task); and the streams' retention by age."""
    store, retention = app[STORE], app[CONFIG].retention
    event_log = EventLog(store, dedupe_ttl_s=retention.dedupe_s)
    spool = EventSpool.in_data_dir(Path(app[CONFIG].data_dir))
    sink = EventSink(event_log, spool)
    app[EVENT_LOG] = event_log
    app[EVENT_SINK] = sink
    app[WORKER_METRICS].watch("event_sink", sink, EVENT_SINK_COUNTERS)
    app[WORKER_METRICS].watch_stream("events", event_log.key)
    ages = {
        event_log.key: retention.events_max_age_s,
        store.keys.decisions_key(): retention.decisions_max_age_s,
    }
    app[BACKGROUND].declare(
        "vernier-retention",
        lambda stop: keep_trimming(
            store,
            ages,
            stop,
            every_s=retention.trim_every_s,
            unread_max_age_s=retention.unread_max_age_s,
        ),
    )
    try:
        await sink.start()
        try:
            yield
        finally:
            await sink.stop()
    finally:
        await spool.close()


RESOURCES: tuple[Context, ...] = (
    metrics_context,
    rules_context,
    identity_context,
    store_context,
    models_context,
    segment_models_context,
    governance_context,
    decider_context,
    origin_context,
    events_context,
)
