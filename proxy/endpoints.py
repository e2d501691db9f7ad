"""Vernier's own endpoints, all under ``/__vernier/`` (docs/design.md §4). Nothing under that prefix
is ever forwarded to the origin; nothing outside it is ever answered by Vernier.

    GET  t.js       the tracker                    POST e        event beacons (tracker/intake.py)
    GET  triggers.js  in-page triggers (imported by t.js on pages that have them)
    GET  healthz    liveness; ?ready=1 readiness   POST consent  the visitor's choice
    GET  me         what Vernier holds about you   DELETE me     forget me (right of erasure)
    POST api/decide, api/reward   the decision API (proxy/api.py; admin token)
"""

from __future__ import annotations

import orjson
from aiohttp import web

from proxy.admin import AdminApi
from proxy.api import DecisionApi
from proxy.dashboard.handler import PREFIX as DASHBOARD_PREFIX
from proxy.dashboard.handler import Dashboard
from proxy.metrics import Metrics
from proxy.session.issuer import IdIssuer
from proxy.stages.session import Session
from proxy.store.client import Store
from proxy.tracker.asset import ASSET_PATH, TRIGGERS_PATH, TrackerAsset
from proxy.tracker.consent import handle_consent
from proxy.tracker.intake import EventIntake
from proxy.tracker.same_origin import cross_site_reason
from proxy.tracker.visitor_data import NOTHING_HELD, forget_visitor, visitor_summary
from proxy.worker_metrics import WorkerMetrics

PREFIX = "/__vernier/"
_NO_STORE = {"Cache-Control": "no-store"}


def _json(body: object, status: int = 200) -> web.Response:
    return web.Response(
        body=orjson.dumps(body), status=status, content_type="application/json", headers=_NO_STORE
    )


def _not_found() -> web.Response:
    return web.Response(status=404, text="not found\n", headers=_NO_STORE)


class Endpoints:
    def __init__(
        self,
        *,
        asset: TrackerAsset,
        store: Store,
        metrics: Metrics,
        session: Session,
        issuer: IdIssuer,
        intake: EventIntake,
        public_hosts: frozenset[str] | None,
        metrics_public: bool,
        api: DecisionApi | None = None,
        triggers_asset: TrackerAsset | None = None,
        admin_api: AdminApi | None = None,
        dashboard: Dashboard | None = None,
        worker_metrics: WorkerMetrics | None = None,
    ) -> None:
        self._asset = asset
        self._store = store
        self._metrics = metrics
        self._session = session
        self._issuer = issuer
        self._intake = intake
        self._public_hosts = public_hosts
        self._metrics_public = metrics_public
        self._api = api
        self._admin_api = admin_api
        self._dashboard = dashboard
        self._worker_metrics = worker_metrics
        self._triggers_asset = triggers_asset or TrackerAsset.load("triggers.js")

    async def health(self, request: web.Request) -> web.Response:
        if request.query.get("ready") != "1":
            return web.Response(text="ok\n", headers=_NO_STORE)
        store_up = await self._store.ping()  # vernier_store_up follows every call (resources.py)
        checks = {"store": "up" if store_up else "down", "tracker": self._asset.version}
        # a dead store degrades personalisation but pages are still served: ready, degraded
        return _json({"ready": True, "degraded": not store_up, "checks": checks})

    async def metrics(self) -> web.Response:
        if self._worker_metrics is not None:  # the stream groups' lag, read now
            await self._worker_metrics.refresh(self._store)
        return web.Response(
            body=self._metrics.render(),
            headers={"Content-Type": "text/plain; version=0.0.4; charset=utf-8"},
        )

    async def me(self, request: web.Request) -> web.Response:
        """GET: the visitor's data as JSON; DELETE: erase it and the ids (same-origin only)."""
        identity = self._session.identify(request)
        if identity.visitor_id is None:  # nothing held: the same shape, empty
            return _json(NOTHING_HELD)
        if request.method == "GET":
            return _json(
                await visitor_summary(self._store, identity.visitor_id, identity.session_id or "")
            )
        reason = cross_site_reason(request.headers, request.host, self._public_hosts)
        if reason is not None:
            return web.Response(status=403, text=reason, headers=_NO_STORE)
        sessions = [identity.session_id] if identity.session_id else []
        if not await forget_visitor(self._store, identity.visitor_id, sessions):
            return web.Response(
                status=503, text="try again", headers={**_NO_STORE, "Retry-After": "5"}
            )
        response = web.Response(status=204, headers=_NO_STORE)
        for cookie in self._issuer.clear_all():
            response.headers.add("Set-Cookie", cookie)
        return response

    async def public(self, request: web.Request) -> web.StreamResponse:
        """The endpoints every visitor may reach on the public listener."""
        path, method = request.path, request.method
        if path == PREFIX + "e":
            return await self._intake.handle(request, self._session.identify(request))
        if path == ASSET_PATH and method in ("GET", "HEAD"):
            return self._asset.response(request)
        if path == TRIGGERS_PATH and method in ("GET", "HEAD"):
            return self._triggers_asset.response(request)
        if path == PREFIX + "consent":
            return await handle_consent(
                request,
                self._session.identify(request),
                self._issuer,
                privacy_opt_out=self._session.privacy_opt_out(request.headers),
                public_hosts=self._public_hosts,
            )
        if path == PREFIX + "me" and method in ("GET", "DELETE"):
            return await self.me(request)
        if path == PREFIX + "healthz" and method in ("GET", "HEAD"):
            return await self.health(request)
        if path == PREFIX + "metrics" and self._metrics_public and method == "GET":
            return await self.metrics()
        if path in (PREFIX + "api/decide", PREFIX + "api/reward") and self._api is not None:
            return await self._api.handle(request, path.rsplit("/", 1)[1])
        return _not_found()

    async def admin(self, request: web.Request) -> web.StreamResponse:
        """The loopback admin listener."""
        if request.path in ("/metrics", PREFIX + "metrics"):
            return await self.metrics()
        if request.path in ("/healthz", PREFIX + "healthz"):
            return await self.health(request)
        if self._dashboard is not None and self._dashboard.handles(request.path):
            return await self._dashboard.handle(request)
        if self._admin_api is not None and self._admin_api.handles(request.path):
            return await self._admin_api.handle(request)
        if request.path == "/" and request.method in ("GET", "HEAD") and self._dashboard:
            # the listener's root, which `vernier demo` prints: the dashboard is what is here
            return web.Response(status=303, headers={**_NO_STORE, "Location": DASHBOARD_PREFIX})
        return _not_found()
