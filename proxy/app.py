"""Assemble one worker's aiohttp application. Its resources (``proxy/resources.py``) and
background workers (``proxy/background.py``) are ``cleanup_ctx`` entries, one per resource, under
typed ``AppKey``s (no module-level singletons); the last entries build what requests enter by: the
pipeline (``proxy/pipeline.py``) and Vernier's own endpoints."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

from aiohttp import web

from proxy.admin import AdminApi
from proxy.api import DecisionApi
from proxy.background import WORKERS, running_context
from proxy.bandit.learner import DECISIONS_FILE
from proxy.config.public import own_hosts as own_hosts  # imported from here by `vernier preview`
from proxy.config.public import public_hosts
from proxy.config.schema import Config
from proxy.dashboard.handler import Dashboard
from proxy.endpoints import PREFIX, Endpoints
from proxy.pipeline import Pipeline, build_pipeline
from proxy.resources import (
    ASSET,
    CONFIG,
    DECIDER,
    EVENT_SINK,
    INSTANCE,
    ISSUER,
    LOAD,
    METRICS,
    METRICS_SHARE,
    ORIGIN,
    ORIGIN_POOL,
    PAUSES,
    RESOURCES,
    RULE_HEALTH,
    RULES,
    SEGMENT_MODELS,
    SLOT_METRIC_CACHE,
    STORE,
    STORE_URL,
    WORKER_METRICS,
)
from proxy.rules.compiled import RuleSet
from proxy.rules.engine import RuleEngine
from proxy.rules.load import load_rules
from proxy.server.metrics_share import MetricsShare
from proxy.stages.session import Session
from proxy.tracker.intake import EventIntake
from proxy.tracker.ratelimit import TokenBucketLimiter

PIPELINE = web.AppKey("pipeline", Pipeline)
ENDPOINTS = web.AppKey("endpoints", Endpoints)


def load_rule_engine(config: Config) -> RuleEngine:
    """The rules in ``config.rules`` (a file or a folder of ``*.yaml``); none if it is absent."""
    path = Path(config.rules)
    return RuleEngine.build(load_rules(path) if path.exists() else RuleSet())


async def front_context(app: web.Application) -> AsyncIterator[None]:
    """The pipeline of every proxied request and the endpoints under ``/__vernier/``."""
    config, store, issuer, rules = app[CONFIG], app[STORE], app[ISSUER], app[RULES]
    app[PIPELINE] = build_pipeline(
        config,
        origin=app[ORIGIN],
        origin_pool=app.get(ORIGIN_POOL),
        store=store,
        asset=app[ASSET],
        issuer=issuer,
        rules=rules,
        health=app[RULE_HEALTH],
        decider=app[DECIDER],
        pauses=app[PAUSES],
        slot_metrics=app[SLOT_METRIC_CACHE],
        metrics=app[METRICS],
        instance=app[INSTANCE],
        segment_models=app[SEGMENT_MODELS],
        load=app[LOAD],
    )
    intake = EventIntake(
        app[EVENT_SINK],
        session_limiter=TokenBucketLimiter.per_minute(config.intake.session_events_per_min),
        address_limiter=TokenBucketLimiter.per_minute(config.intake.address_events_per_min),
        public_hosts=public_hosts(config),
        answered=lambda status: app[METRICS].intake.labels(str(status)).inc(),
    )
    app[ENDPOINTS] = Endpoints(
        asset=app[ASSET],
        store=store,
        metrics=app[METRICS],
        session=Session(issuer),
        issuer=issuer,
        intake=intake,
        public_hosts=public_hosts(config),
        metrics_public=config.admin.expose_metrics_publicly,
        api=DecisionApi(rules, app[DECIDER], store, config.admin.token),
        admin_api=AdminApi(rules, store, config.admin.token),
        dashboard=Dashboard(
            rules,
            store,
            config.admin.token,
            retention_days=config.results.retention_days,
            decision_log=Path(config.data_dir) / DECISIONS_FILE,
            examples_limit=config.results.examples_kept,
        ),
        worker_metrics=app[WORKER_METRICS],
    )
    yield


def front_door(app: web.Application) -> Callable[[web.BaseRequest], Awaitable[web.StreamResponse]]:
    """The handler every public request enters by (see ``DeadlineAppRunner``)."""

    async def handle(request: web.BaseRequest) -> web.StreamResponse:
        assert isinstance(request, web.Request)
        if request.path.startswith(PREFIX):
            return await app[ENDPOINTS].public(request)
        return await app[PIPELINE].handle(request)

    return handle


def create_app(
    config: Config,
    *,
    store_url: str,
    instance: str | None = None,
    metrics_share: MetricsShare | None = None,
) -> web.Application:
    """The public application of one worker. ``instance`` names this deployment in ``Via``;
    ``metrics_share`` is where the workers of ``--workers N > 1`` sum their metrics."""
    app = web.Application(handler_args={})
    app[CONFIG] = config
    app[STORE_URL] = store_url
    app[INSTANCE] = instance or secrets.token_hex(4)
    if metrics_share is not None:
        app[METRICS_SHARE] = metrics_share
    app.cleanup_ctx.extend((*RESOURCES, *WORKERS, front_context, running_context))
    return app


def create_admin_app(public_app: web.Application) -> web.Application:
    """The loopback admin application, sharing the public app's resources."""
    admin = web.Application()

    async def handle(request: web.Request) -> web.StreamResponse:
        return await public_app[ENDPOINTS].admin(request)

    admin.router.add_route("*", "/{tail:.*}", handle)
    return admin
