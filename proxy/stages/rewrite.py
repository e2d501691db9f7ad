"""rewrite: apply the site owner's rules that match this request to the page.

Most pages match no rule: the ``where`` blocks are checked before anything else is built. For the
rest, the request context (device, time, referrer, profile, …) is built once, the ``when``
conditions evaluated, and the operations applied by the byte-faithful rewriter. A page changed
by a condition on the visitor is personal: it must not be stored by shared caches.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from proxy.config.schema import ContextConfig
from proxy.exchange import Exchange
from proxy.html.charset import charset_from_content_type, determine_encoding
from proxy.html.encodings import is_byte_scannable
from proxy.html.rewrite import rewrite
from proxy.metrics import Metrics
from proxy.rules.context import build_context
from proxy.rules.engine import RuleEngine


def page_type(path: str) -> str:
    first = path.strip("/").split("/", 1)[0]
    return first or "home"


class Rewrite:
    name = "rewrite"

    def __init__(
        self,
        engine: RuleEngine,
        context: ContextConfig,
        metrics: Metrics,
        own_hosts: frozenset[str],
    ) -> None:
        self._engine = engine
        self._context = context
        self._zone = ZoneInfo(context.time_zone)
        self._metrics = metrics
        self._own_hosts = own_hosts

    async def __call__(self, ex: Exchange) -> None:
        document = ex.document
        if self._engine.empty or document is None:
            return
        request = ex.request
        query = {k: v for k, v in request.query.items()}
        rules = self._engine.candidates(
            method=request.method, host=request.host, path=request.path, query=query
        )
        if not rules:
            return
        context: dict[str, object] | None = None
        if any(rule.when is not None for rule in rules):
            context = build_context(
                method=request.method,
                host=request.host,
                path=request.path,
                query=query,
                headers=request.headers,
                cookies=request.cookies,
                profile=ex.profile,
                now=datetime.now(UTC),
                time_zone=self._zone,
                geo_header=(
                    request.headers.get(self._context.geo_header)
                    if self._context.geo_header
                    else None
                ),
                own_hosts=self._own_hosts,
                landing=ex.identity.new_session,
                page_type=page_type(request.path),
                extra_headers=self._context.extra_headers,
            )
            rules = self._engine.applicable(rules, context)
            ex.personalised = any(rule.when is not None for rule in rules)
        if not rules:
            return
        fill = {k: str(v) for k, v in context.items()} if context else None
        encoding = determine_encoding(
            document, charset_from_content_type(ex.headers.get("Content-Type"))
        )
        if not is_byte_scannable(encoding.codec) and not encoding.codec.startswith("utf-16"):
            return
        result = rewrite(document, encoding.codec, self._engine.operations(rules), fill=fill)
        if result.changed:
            ex.document = result.body
            ex.changed = True
            ex.rules_applied = tuple(rule.id for rule in rules)
