"""The cached slot metrics as context fields, so rules and pins can compare live numbers.

``metric.<slot>.<variant>.*`` come from the cache as they are; ``metric.<slot>.current.*`` name
the variant this visitor was last shown (their ``vernier_seen`` cookie), see
:func:`proxy.govern.metric_cache.with_current`.
"""

from __future__ import annotations

from proxy.govern import fallback
from proxy.govern.metric_cache import MetricCache, with_current
from proxy.request_view import RequestView


class MetricContext:
    """Adds the metric fields to a page's context (the match stage's ``context_fields``)."""

    def __init__(self, cache: MetricCache) -> None:
        self._cache = cache

    def add_to(self, context: dict[str, object], request: RequestView) -> None:
        fields = self._cache.fields
        if not fields:
            return
        context.update(fields)
        shown = fallback.parse(request.cookies.get(fallback.COOKIE_NAME))
        seen = ((slot, variant) for slot, (variant, _) in shown.items())
        context.update(with_current(fields, seen))
