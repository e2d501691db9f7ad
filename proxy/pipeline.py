"""The order of a request's stages — read this first.

    admit → session → forward │ gate → profile → decode → match → decide → rewrite → inject → encode
                              │
            before the origin │ after the origin answered: fail open

Stages before the origin answered may refuse a request (``ex.reply``). Once the origin has
answered, nothing Vernier does may break the page: if a stage raises or runs over budget, the
client gets the origin's response unchanged, and the failure is logged and counted by stage.
"""

from __future__ import annotations

import logging

from aiohttp import web

from proxy.exchange import Exchange
from proxy.metrics import Metrics
from proxy.server.edge import request_view
from proxy.stages import Stage
from proxy.stages.encode import add_debug_report
from proxy.upstream.relay import OriginBroken, stream_through

log = logging.getLogger("vernier.pipeline")


class Pipeline:
    """Runs ``before_origin`` then ``after_origin`` stages over one :class:`Exchange`."""

    def __init__(
        self,
        before_origin: tuple[Stage, ...],
        after_origin: tuple[Stage, ...],
        metrics: Metrics,
    ) -> None:
        self.before_origin = before_origin
        self.after_origin = after_origin
        self._metrics = metrics

    async def handle(self, request: web.Request) -> web.StreamResponse:
        ex = Exchange(request_view(request), client=request)
        for stage in self.before_origin:
            await stage(ex)
            if ex.reply is not None:
                return ex.reply
        for stage in self.after_origin:
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
            return web.Response(body=ex.raw_body, status=upstream.status, headers=ex.origin_headers)
        return await stream_through(ex.connection(), upstream, ex.origin_headers)
