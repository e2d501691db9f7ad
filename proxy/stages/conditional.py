"""conditional: on a page some rule or slot may change, Vernier owns the validators.

Before the origin is asked, the request line is matched against the ``where`` blocks of the live
rule set (no context is built; this is the same index ``match`` uses). When any rule, slot or
trigger is in scope — paused, tripped or ``when``-false ones included, since their state can
change between two visits — ``forward`` keeps the client's conditions in ``ex.conditions`` and
does not send them: the origin always sends the page, and ``encode`` (or ``gate``, for a page
that is not rewritten) answers 304 itself when what it serves still matches
(``upstream/conditional.py``). Pages out of scope keep the origin's own 304s.

Whatever this visitor gets — a personalised page, the origin's bytes because a ``when`` is false,
the visitor opted out, a rule is paused or its breaker open, the worker sheds load, a stage
failed, or the origin answered a range — every response for a page in scope is ``private`` and
revalidated with ``Vary: Cookie`` (``gate`` marks the origin's headers so,
``upstream/caching.py``): a shared cache must never hold one visitor's copy for another, nor a
browser reuse one after the rules changed. Only pages of a kind Vernier changes (HTML, not
``no-transform``, not an attachment): a stylesheet or image on a path in scope keeps the
origin's caching, so a CDN still offloads the site's assets.
"""

from __future__ import annotations

from proxy.exchange import Exchange
from proxy.rules.engine import RulesSource

CONDITIONAL_METHODS = frozenset({"GET", "HEAD"})


class Conditional:
    name = "conditional"

    def __init__(self, rules: RulesSource) -> None:
        self._rules = rules

    async def __call__(self, ex: Exchange) -> None:
        ex.in_scope = self.in_scope(ex)
        ex.owns_validator = ex.in_scope and ex.request.method in CONDITIONAL_METHODS

    def in_scope(self, ex: Exchange) -> bool:
        engine = self._rules.current
        if engine.empty:
            return False
        request = ex.request
        return bool(
            engine.match(
                # HEAD is answered as GET would be
                method="GET" if request.method == "HEAD" else request.method,
                host=request.host,
                path=request.path,
                query=dict(request.query),
            )
        )
