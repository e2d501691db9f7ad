"""match: which rules and slots apply to this page, and the request context they read.

Most pages match nothing: the ``where`` blocks are checked first, on the request line alone. For
the rest, the context (device, time, referrer, profile, …) is built once, the visitor's named
segments found in it (``proxy/rules/segments.py``) and the rules' ``when`` conditions evaluated. The rule set is read once here, so a reload in the middle of a request
never mixes two versions.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Protocol
from zoneinfo import ZoneInfo

from proxy.config.schema import ContextConfig
from proxy.exchange import Exchange
from proxy.govern.control import PauseWatcher
from proxy.html.media_types import is_xhtml
from proxy.request_view import RequestView
from proxy.rules.clock import known_zone
from proxy.rules.context import build_context
from proxy.rules.engine import RulesSource
from proxy.rules.health import RuleHealth
from proxy.rules.segments import add_segments


class ContextFields(Protocol):
    """Fields added to a page's context once it is built from the request (later ones win):
    the live slot metrics when serving, the imagined visitor's pins in ``vernier preview``."""

    def add_to(self, context: dict[str, object], request: RequestView) -> None: ...


def page_type(path: str) -> str:
    first = path.strip("/").split("/", 1)[0]
    return first or "home"


class Match:
    name = "match"

    def __init__(
        self,
        rules: RulesSource,
        context: ContextConfig,
        health: RuleHealth,
        *,
        own_hosts: frozenset[str],
        hidden_cookies: frozenset[str],
        context_fields: Sequence[ContextFields] = (),
        pauses: PauseWatcher | None = None,
    ) -> None:
        self._rules = rules
        self._context = context
        self._zone = ZoneInfo(context.time_zone)
        known_zone(context.time_zone)  # reads the zone database now (~60 ms), not on a request
        self._health = health
        self._own_hosts = own_hosts
        self._hidden_cookies = hidden_cookies
        self._context_fields = tuple(context_fields)
        self._pauses = pauses

    async def __call__(self, ex: Exchange) -> None:
        engine = ex.engine = self._rules.current
        if engine.empty or ex.document is None or ex.streaming_head is not None:
            return  # rules need the whole page; a streamed one only gets the tracker
        if is_xhtml(ex.headers.get("Content-Type")):
            # the rewriter writes HTML back (<br/> as <br>, no XML declaration), which an XML
            # parser refuses: an XHTML page (html.inject_xhtml) gets the tracker only, and no
            # slot is decided, logged or held for it
            return
        request = ex.request
        query = dict(request.query)
        matched = engine.match(
            method=request.method, host=request.host, path=request.path, query=query
        )
        if not matched:
            return
        paused = self._pauses.current.rules if self._pauses is not None else frozenset()
        rules = tuple(
            r for r in matched.rules if r.id not in paused and not self._health.is_open(r.id)
        )
        ex.slots = tuple(s for s in matched.slots if not self._health.is_open(s.id))
        if not matched.needs_context:
            ex.rules = rules
            return
        geo, zone = self._context.geo_header, self._context.time_zone_header
        ex.context = build_context(
            method=request.method,
            host=request.host,
            path=request.path,
            query=query,
            headers=request.headers,
            cookies=request.cookies,
            profile=ex.profile,
            now=datetime.now(UTC),
            time_zone=self._zone,
            geo_header=request.headers.get(geo) if geo else None,
            zone_header=request.headers.get(zone) if zone else None,
            own_hosts=self._own_hosts,
            landing=ex.identity.new_session,
            page_type=page_type(request.path),
            extra_headers=self._context.extra_headers,
            hidden_cookies=self._hidden_cookies,
        )
        # the context holds `tz` only when the visitor's or the edge's zone set the clock
        ex.time_zone = str(ex.context.get("tz") or self._context.time_zone)
        for fields in self._context_fields:
            fields.add_to(ex.context, request)
        add_segments(engine.ruleset.segments, ex.context)
        ex.rules = engine.applicable(rules, ex.context)
        ex.personalised = any(rule.when is not None or rule.fills for rule in ex.rules)
