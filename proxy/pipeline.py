"""The order of a request's stages — read this first.

    before the origin:   admit → debug → session → conditional → forward
    after it answered:   gate → profile → decode → match → decide → rewrite → inject → encode

Under overload (``govern/overload.py``, the one place that policy lives) the after-origin stages
of the current shed level are skipped: first profile, match, decide and rewrite (the origin's
bytes with the tag), then inject too (the origin's bytes); gate, decode and encode always run.

Stages before the origin answered may refuse a request (``ex.reply``). Once the origin has
answered, nothing Vernier does may break the page: if a stage raises or runs over budget, the
client gets the origin's response unchanged, and the failure is logged and counted by stage.

:func:`build_pipeline` is the one place that order is written in code; a test holds it to the
drawing above and to the README's "How a request flows".
"""

from __future__ import annotations

import ipaddress
import logging
from urllib.parse import urlsplit

from aiohttp import ClientSession, web

from proxy.config.public import own_hosts, public_parts
from proxy.config.schema import Config
from proxy.decide.decider import Decider
from proxy.endpoints import PREFIX
from proxy.exchange import Exchange
from proxy.govern.control import PauseWatcher
from proxy.govern.current_metrics import MetricContext
from proxy.govern.metric_cache import MetricCache
from proxy.govern.overload import SHED_STAGES, LoadGauge, Shed
from proxy.metrics import Metrics
from proxy.rules.engine import RulesSource
from proxy.rules.health import RuleHealth
from proxy.segments.registry import ClusterContext, SegmentModels
from proxy.server.edge import request_view
from proxy.session.issuer import IdIssuer
from proxy.stages import Stage
from proxy.stages.admit import Admit
from proxy.stages.conditional import Conditional
from proxy.stages.debug import Debug
from proxy.stages.decide import Decide
from proxy.stages.decode import Decode
from proxy.stages.encode import Encode, add_debug_report
from proxy.stages.forward import Forward
from proxy.stages.gate import Gate
from proxy.stages.inject import Inject
from proxy.stages.match import Match
from proxy.stages.profile import Profile
from proxy.stages.rewrite import Rewrite
from proxy.stages.session import Session, opt_out_fields
from proxy.store.client import Store
from proxy.tracker.asset import TrackerAsset
from proxy.upstream.headers import ForwardingPolicy
from proxy.upstream.origin_pool import OriginPool
from proxy.upstream.public_address import PublicAddress
from proxy.upstream.relay import ClientGone, OriginBody, OriginBroken, stream_through

log = logging.getLogger("vernier.pipeline")


class Pipeline:
    """Runs ``before_origin`` then ``after_origin`` stages over one :class:`Exchange`."""

    def __init__(
        self,
        before_origin: tuple[Stage, ...],
        after_origin: tuple[Stage, ...],
        metrics: Metrics,
        load: LoadGauge | None = None,
    ) -> None:
        self.before_origin = before_origin
        self.after_origin = after_origin
        self._metrics = metrics
        self._load = load

    async def handle(self, request: web.Request) -> web.StreamResponse:
        if self._load is not None:
            self._load.started()
        try:
            return await self._run(request)
        except ClientGone:
            self._metrics.client_gone.inc()
            raise  # the server logs it as one info line (server/protocol.py)
        finally:
            if self._load is not None:
                self._load.finished()

    async def _run(self, request: web.Request) -> web.StreamResponse:
        ex = Exchange(request_view(request), client=request)
        for stage in self.before_origin:
            await stage(ex)
            if ex.reply is not None:
                return ex.reply
        level = self._load.level() if self._load is not None else Shed.NOTHING
        shed = SHED_STAGES[level]
        for stage in self.after_origin:
            if stage.name in shed:
                if ex.document is not None and stage.name == "match":  # once per page
                    self._metrics.shed.labels(level.name.lower()).inc()
                continue
            try:
                await stage(ex)
            except (OriginBroken, ConnectionError):
                raise  # the client connection is gone or was aborted on purpose
            except Exception as err:
                return await self._fail_open(ex, stage.name, err)
            if ex.reply is not None:
                return ex.reply
        raise RuntimeError("pipeline ended without a reply")

    async def _fail_open(self, ex: Exchange, stage: str, err: Exception) -> web.StreamResponse:
        reason = type(err).__name__
        ex.fail_open = f"{stage}: {reason}"
        self._metrics.fail_open.labels(stage, reason).inc()
        self._metrics.responses.labels("failed_open").inc()
        log.warning(
            "serving the origin's response unchanged: %s failed on %s: %s",
            stage,
            ex.request.path,
            err,
        )
        upstream = ex.upstream
        assert upstream is not None
        if ex.debug:
            add_debug_report(ex, ex.origin_headers)
        if ex.raw_body is not None:
            return OriginBody(body=ex.raw_body, status=upstream.status, headers=ex.origin_headers)
        head = ex.streaming_raw or b""  # what decode read of a page that streams on
        return await stream_through(ex.connection(), upstream, ex.origin_headers, prefix=head)


def forwarding_policy(config: Config, instance: str) -> ForwardingPolicy:
    """How requests and answers are rewritten between the visitor's and the origin's address."""
    public = public_parts(config)
    return ForwardingPolicy(
        via_token=f"1.1 {config.server.via_name}-{instance}",
        trusted=tuple(ipaddress.ip_network(p, strict=False) for p in config.server.trusted_proxies),
        public_host=public.netloc if public else None,
        public_scheme=public.scheme if public else None,
        origin_host=urlsplit(config.origin.url).netloc,
        preserve_host=config.origin.preserve_host,
    )


def build_pipeline(
    config: Config,
    *,
    origin: ClientSession,
    origin_pool: OriginPool | None = None,
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
    segment_models: SegmentModels | None = None,
    load: LoadGauge | None = None,
) -> Pipeline:
    """Every stage with its collaborators, in request order (the drawing at the top)."""
    policy = forwarding_policy(config, instance)
    public = public_parts(config)
    connect_source = f"{public.scheme}://{public.netloc}{PREFIX}" if public else "'self'"
    digest = asset.tag_digest
    address = PublicAddress(config.origin.url, config.origin.public_url)
    gate = Gate(
        config.html,
        address,
        metrics,
        digest,
        config.compression,
        opt_out_fields=opt_out_fields(config.session),
    )
    return Pipeline(
        before_origin=(
            Admit(policy),
            Debug(config.admin.token),
            Session(issuer),
            Conditional(rules),
            Forward(
                origin,
                config.origin.url,
                policy,
                metrics,
                digest,
                body_idle_timeout_s=config.server.body_idle_timeout_s,
                public=address,
                pool=origin_pool,
                wants_whole=gate.wants_whole,
                injects_tracker=config.html.inject_tracker,
            ),
        ),
        after_origin=(
            gate,
            Profile(store),
            Decode(config.html, metrics),
            Match(
                rules,
                config.context,
                health,
                own_hosts=own_hosts(config),
                hidden_cookies=frozenset({issuer.session_cookie, issuer.visitor_cookie}),
                context_fields=(
                    MetricContext(slot_metrics),
                    *((ClusterContext(segment_models),) if segment_models is not None else ()),
                ),
                pauses=pauses,
            ),
            Decide(decider.decide, issuer, decider.holdouts, decider.peek, decider.pauses),
            Rewrite(config.html, health, metrics),
            Inject(asset, metrics, connect_source),
            Encode(config.html, issuer, metrics, digest, config.compression),
        ),
        metrics=metrics,
        load=load,
    )
