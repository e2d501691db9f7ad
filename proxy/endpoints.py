"""Vernier's own endpoints, all under ``/__vernier/`` (DESIGN §4). Nothing under that prefix is
ever forwarded to the origin; nothing outside it is ever answered by Vernier."""

from __future__ import annotations

import orjson
from aiohttp import web

from proxy.metrics import Metrics
from proxy.store.client import Store
from proxy.tracker.asset import ASSET_PATH, TrackerAsset

PREFIX = "/__vernier/"


class Endpoints:
    def __init__(
        self, asset: TrackerAsset, store: Store, metrics: Metrics, *, metrics_public: bool
    ) -> None:
        self._asset = asset
        self._store = store
        self._metrics = metrics
        self._metrics_public = metrics_public

    async def health(self, request: web.Request) -> web.Response:
        headers = {"Cache-Control": "no-store"}
        if request.query.get("ready") != "1":
            return web.Response(text="ok\n", headers=headers)
        store_up = await self._store.ping()
        self._metrics.store_state.set(1 if store_up else 0)
        checks = {"store": "up" if store_up else "down", "tracker": self._asset.version}
        # a dead store degrades personalisation but pages are still served: ready, degraded
        body = {"ready": True, "degraded": not store_up, "checks": checks}
        return web.Response(
            body=orjson.dumps(body), content_type="application/json", headers=headers
        )

    def metrics(self) -> web.Response:
        return web.Response(
            body=self._metrics.render(),
            headers={"Content-Type": "text/plain; version=0.0.4; charset=utf-8"},
        )

    async def public(self, request: web.Request) -> web.StreamResponse:
        """The endpoints every visitor may reach on the public listener."""
        path = request.path
        if path == ASSET_PATH and request.method in ("GET", "HEAD"):
            return self._asset.response(request)
        if path == PREFIX + "healthz" and request.method in ("GET", "HEAD"):
            return await self.health(request)
        if path == PREFIX + "metrics" and self._metrics_public and request.method == "GET":
            return self.metrics()
        return web.Response(status=404, text="not found\n", headers={"Cache-Control": "no-store"})

    async def admin(self, request: web.Request) -> web.StreamResponse:
        """The loopback admin listener."""
        if request.path in ("/metrics", PREFIX + "metrics"):
            return self.metrics()
        if request.path in ("/healthz", PREFIX + "healthz"):
            return await self.health(request)
        return web.Response(status=404, text="not found\n")
