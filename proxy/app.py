"""Assemble one worker's aiohttp application: its collaborators, created and closed in
``cleanup_ctx`` and kept under typed ``AppKey``s (no module-level singletons)."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import SplitResult, urlsplit

from aiohttp import ClientSession, web

from proxy.admin import AdminApi
from proxy.api import DecisionApi
from proxy.bandit.learner import Learner
from proxy.bandit.registry import ModelRegistry
from proxy.config.schema import Config
from proxy.decide.decider import Decider
from proxy.endpoints import PREFIX, Endpoints
from proxy.govern.control import PauseWatcher
from proxy.govern.current_metrics import MetricContext
from proxy.govern.metric_cache import MetricCache
from proxy.govern.metrics_consumer import SlotMetricsConsumer
from proxy.metrics import Metrics
from proxy.pipeline import Pipeline
from proxy.rules.engine import RuleEngine, RulesSource
from proxy.rules.health import RuleHealth
from proxy.rules.live import RELOAD_ON_SIGHUP, LiveRules
from proxy.rules.load import RuleSet, load_rules
from proxy.session.cookie import CookieSigner
from proxy.session.issuer import IdIssuer
from proxy.session.keys import load_signing_keys
from proxy.stages.admit import Admit
from proxy.stages.debug import Debug
from proxy.stages.decide import Decide
from proxy.stages.decode import Decode
from proxy.stages.encode import Encode
from proxy.stages.forward import Forward
from proxy.stages.gate import Gate
from proxy.stages.inject import Inject
from proxy.stages.match import Match
from proxy.stages.profile import Profile
from proxy.stages.rewrite import Rewrite
from proxy.stages.session import Session
from proxy.store.client import Store
from proxy.store.connection import StoreSettings
from proxy.store.event_log import EventLog
from proxy.store.rule_health import publish_every
from proxy.tasks import BackgroundTasks
from proxy.tracker.asset import TrackerAsset
from proxy.tracker.intake import EventIntake
from proxy.tracker.profile_consumer import ProfileConsumer
from proxy.tracker.ratelimit import TokenBucketLimiter
from proxy.tracker.sink import EventSink
from proxy.tracker.spool import EventSpool
from proxy.upstream.client import create_origin_session
from proxy.upstream.headers import ForwardingPolicy
from proxy.upstream.public_address import PublicAddress

log = logging.getLogger("vernier.app")


@dataclass(slots=True)
class Runtime:
    """What one worker shares across requests."""

    config: Config
    metrics: Metrics
    store: Store
    origin: ClientSession
    asset: TrackerAsset
    pipeline: Pipeline
    endpoints: Endpoints


CONFIG = web.AppKey("config", Config)
STORE_URL = web.AppKey("store_url", str)
INSTANCE = web.AppKey("instance", str)
RUNTIME = web.AppKey("runtime", Runtime)


def store_settings(config: Config) -> StoreSettings:
    store = config.store
    return StoreSettings(
        op_timeout_s=store.op_timeout_ms / 1000.0,
        connect_timeout_s=store.connect_timeout_ms / 1000.0,
        max_connections=store.max_connections,
        key_prefix=store.key_prefix,
        breaker_failures=store.breaker_failures,
        breaker_window_s=store.breaker_window_s,
        breaker_open_s=store.breaker_open_s,
    )


def public_parts(config: Config) -> SplitResult | None:
    return urlsplit(config.origin.public_url) if config.origin.public_url else None


def own_hosts(config: Config) -> frozenset[str]:
    public = public_parts(config)
    return frozenset({public.hostname}) if public and public.hostname else frozenset()


def load_rule_engine(config: Config) -> RuleEngine:
    """The rules in ``config.rules`` (a file or a folder of ``*.yaml``); none if it is absent."""
    path = Path(config.rules)
    return RuleEngine.build(load_rules(path) if path.exists() else RuleSet())


def build_issuer(config: Config) -> IdIssuer:
    public = public_parts(config)
    return IdIssuer(
        config.session,
        CookieSigner(load_signing_keys(Path(config.data_dir))),
        secure=bool(public and public.scheme == "https"),
    )


def build_pipeline(
    config: Config,
    *,
    origin: ClientSession,
    store: Store,
    asset: TrackerAsset,
    issuer: IdIssuer,
    rules: RulesSource,
    health: RuleHealth,
    decider: Decider,
    pauses: PauseWatcher,
    slot_metrics: MetricCache,
    metrics: Metrics,
    instance: str,
) -> Pipeline:
    """Every stage with its collaborators, in request order."""
    origin_parts = urlsplit(config.origin.url)
    public = public_parts(config)
    policy = ForwardingPolicy(
        via_token=f"1.1 {config.server.via_name}-{instance}",
        trusted=tuple(ipaddress.ip_network(p, strict=False) for p in config.server.trusted_proxies),
        public_host=public.netloc if public else None,
        public_scheme=public.scheme if public else None,
        origin_host=origin_parts.netloc,
        preserve_host=config.origin.preserve_host,
    )
    connect_source = f"{public.scheme}://{public.netloc}{PREFIX}" if public else "'self'"
    digest = asset.tag_digest
    return Pipeline(
        before_origin=(
            Admit(policy),
            Debug(config.admin.token),
            Session(issuer),
            Forward(
                origin,
                config.origin.url,
                policy,
                metrics,
                digest,
                body_idle_timeout_s=config.server.body_idle_timeout_s,
            ),
        ),
        after_origin=(
            Gate(
                config.html,
                PublicAddress(config.origin.url, config.origin.public_url),
                metrics,
                digest,
            ),
            Profile(store),
            Decode(config.html, metrics),
            Match(
                rules,
                config.context,
                health,
                own_hosts=own_hosts(config),
                hidden_cookies=frozenset({issuer.session_cookie, issuer.visitor_cookie}),
                context_fields=(MetricContext(slot_metrics),),
                pauses=pauses,
            ),
            Decide(decider.decide, issuer),
            Rewrite(config.html, health, metrics),
            Inject(asset, metrics, connect_source),
            Encode(config.html, issuer, metrics, digest),
        ),
        metrics=metrics,
    )


async def _runtime(app: web.Application) -> AsyncIterator[None]:
    config = app[CONFIG]
    # what can refuse to start (bad rules, unreadable keys) comes before anything that must close
    metrics = Metrics()
    rules = LiveRules(Path(config.rules), RuleEngine.build, metrics, missing_ok=True)
    health = RuleHealth()
    issuer = build_issuer(config)
    asset = TrackerAsset.load()
    public = public_parts(config)
    public_hosts = frozenset({public.hostname}) if public and public.hostname else None
    async with contextlib.AsyncExitStack() as resources:
        store = Store(app[STORE_URL], store_settings(config))
        resources.push_async_callback(store.close)
        models = ModelRegistry(store, rules)
        resources.callback(models.close)
        pauses = PauseWatcher(store)
        slot_metrics = MetricCache(store, rules)
        decider = Decider(store, config.session, models, pauses, slot_metrics)
        origin = create_origin_session(config.origin)
        resources.push_async_callback(origin.close)
        event_log = EventLog(store)
        spool = EventSpool.in_data_dir(Path(config.data_dir))
        resources.push_async_callback(spool.close)
        sink = EventSink(event_log, spool)
        pipeline = build_pipeline(
            config,
            origin=origin,
            store=store,
            asset=asset,
            issuer=issuer,
            rules=rules,
            health=health,
            decider=decider,
            pauses=pauses,
            slot_metrics=slot_metrics,
            metrics=metrics,
            instance=app[INSTANCE],
        )
        intake = EventIntake(
            sink,
            session_limiter=TokenBucketLimiter.per_minute(config.intake.session_events_per_min),
            address_limiter=TokenBucketLimiter.per_minute(config.intake.address_events_per_min),
            public_hosts=public_hosts,
        )
        endpoints = Endpoints(
            asset=asset,
            store=store,
            metrics=metrics,
            session=Session(issuer),
            issuer=issuer,
            intake=intake,
            public_hosts=public_hosts,
            metrics_public=config.admin.expose_metrics_publicly,
            api=DecisionApi(rules, decider, store, config.admin.token),
            admin_api=AdminApi(rules, store, config.admin.token),
        )
        app[RUNTIME] = Runtime(config, metrics, store, origin, asset, pipeline, endpoints)
        await store.open()
        await models.refresh()  # a restarted proxy decides with the learned model at once
        if await store.check_durability() == "no":
            log.warning(
                "the store runs without append-only persistence (appendonly no): acknowledged "
                "events can be lost on a crash; enable appendonly or use the embedded store"
            )
        await sink.start()
        resources.push_async_callback(sink.stop)
        tasks = BackgroundTasks()
        stop_background = asyncio.Event()
        resources.push_async_callback(tasks.finish, stop_background)
        consumer = ProfileConsumer(store, event_log, profile_ttl_s=config.session.visitor_max_age_s)
        tasks.spawn(consumer.run(stop_background), name="vernier-profile-consumer")
        if config.store.url is None:  # embedded mode; with a shared store, `vernier learn` runs
            learner = Learner(store, rules, Path(config.data_dir))  # one per store (a lease)
            tasks.spawn(learner.run(stop_background), name="vernier-learner")
        tasks.spawn(publish_every(store, health, stop_background), name="vernier-rule-health")
        tasks.spawn(models.poll(stop_background), name="vernier-models")
        tasks.spawn(pauses.poll(stop_background), name="vernier-pauses")
        tasks.spawn(slot_metrics.poll(stop_background), name="vernier-slot-metrics-cache")
        counting = SlotMetricsConsumer(store, rules, event_log=event_log)  # and the guardrail
        tasks.spawn(counting.run(stop_background), name="vernier-slot-metrics")
        app[RELOAD_ON_SIGHUP] = (rules.request_reload,)
        tasks.spawn(rules.watch(stop=stop_background), name="vernier-rules-watch")
        yield


def front_door(app: web.Application) -> Callable[[web.BaseRequest], Awaitable[web.StreamResponse]]:
    """The handler every public request enters by (see ``DeadlineAppRunner``)."""

    async def handle(request: web.BaseRequest) -> web.StreamResponse:
        runtime = app[RUNTIME]
        assert isinstance(request, web.Request)
        if request.path.startswith(PREFIX):
            return await runtime.endpoints.public(request)
        return await runtime.pipeline.handle(request)

    return handle


def create_app(config: Config, *, store_url: str, instance: str | None = None) -> web.Application:
    """The public application of one worker. ``instance`` names this deployment in ``Via``."""
    app = web.Application(handler_args={})
    app[CONFIG] = config
    app[STORE_URL] = store_url
    app[INSTANCE] = instance or secrets.token_hex(4)
    app.cleanup_ctx.append(_runtime)
    return app


def create_admin_app(public_app: web.Application) -> web.Application:
    """The loopback admin application, sharing the public app's runtime."""
    admin = web.Application()

    async def handle(request: web.Request) -> web.StreamResponse:
        return await public_app[RUNTIME].endpoints.admin(request)

    admin.router.add_route("*", "/{tail:.*}", handle)
    return admin
