"""The one mutable object a request's stages share.

Each stage reads what earlier stages left and adds its part; a stage that has the final answer sets
``reply`` and the pipeline stops. Nothing here does I/O.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from aiohttp import web
from multidict import CIMultiDict

from proxy.html.charset import DocumentEncoding
from proxy.request_view import RequestView
from proxy.upstream.conditional import Conditions
from proxy.upstream.etag import TrackerState
from proxy.upstream.origin_pool import OriginResponse

if TYPE_CHECKING:
    from proxy.decide.decision import Decision
    from proxy.rules.compiled import CompiledRule, CompiledSlot
    from proxy.rules.engine import RuleEngine


@dataclass(slots=True)
class Identity:
    """Who is asking, as far as Vernier may know (see ``stages/session.py``)."""

    session_id: str | None = None
    visitor_id: str | None = None
    new_session: bool = False
    new_visitor: bool = False
    # False under Sec-GPC/DNT or while consent is required and not given: no ids, no tracker
    trackable: bool = True
    consent_pending: bool = False

    def tracker_state(self) -> TrackerState:
        """The tracker this visitor's pages carry: running, waiting for consent, or none."""
        if self.trackable:
            return "active"
        return "pending" if self.consent_pending else "absent"


@dataclass(slots=True)
class Exchange:
    """A request, its origin response, and what Vernier did with it.

    ``request`` is what stages read; ``client`` is the live aiohttp request, kept only for the
    stages that move bytes over the client's connection (its body to the origin, a response
    streamed back). A preview or a stage's unit test has no connection: ``client`` is None.
    """

    request: RequestView
    client: web.Request | None = None
    started_s: float = field(default_factory=time.perf_counter)
    identity: Identity = field(default_factory=Identity)
    debug: bool = False  # an admin asked (X-Vernier-Debug with the token) why the page looks so
    target: str = "/"  # origin-form path and query, set by admit
    # set by conditional: some rule, slot or trigger may change this page (its ``where``
    # matches, whatever the conditions say for this visitor): every response is private and
    # revalidated; on a GET or HEAD Vernier also answers the client's conditions (kept by
    # forward in ``conditions``), never the origin
    in_scope: bool = False
    owns_validator: bool = False
    conditions: Conditions | None = None
    # set by inject on a page whose validator Vernier owns: the ETag of what it serves
    served_etag: str | None = None
    # set by forward
    upstream: OriginResponse | None = None
    translated_validator: bool = False
    # set by gate when the body may be changed
    touch: bool = False
    # set by profile: the returning visitor's profile fields (empty for new visitors)
    profile: Mapping[str, str] = field(default_factory=dict)
    # the origin's headers as the client would get them unchanged (the fail-open answer)
    origin_headers: CIMultiDict[str] = field(default_factory=CIMultiDict)
    # set by decode
    work_cpu_s: float = 0.0  # CPU time of Vernier's own HTML work (what the page budget bounds)
    raw_body: bytes | None = None  # exactly the origin's bytes (still content-coded)
    # a page injected as it streams (too big to read whole): the first bytes, read so far and
    # decoded; the rest is still in ``upstream``. ``document`` is then these bytes, not the whole
    # page. ``streaming_raw`` is what was read of the origin's own bytes (the fail-open answer's
    # start), and for a content-coded page ``decoded_rest`` yields the rest of it decoded
    streaming_head: bytes | None = None
    streaming_raw: bytes | None = None
    decoded_rest: AsyncIterator[bytes] | None = None
    document: bytes | None = None  # content-decoded
    codings: tuple[str, ...] = ()
    encoding: DocumentEncoding | None = None
    # set by match: the rule set this request uses (one snapshot, whatever reloads meanwhile),
    # the request context, the rules whose conditions hold and the slots in scope
    engine: RuleEngine | None = None
    context: dict[str, object] | None = None
    time_zone: str | None = None  # the IANA zone whose clock the context's hour and weekday read
    rules: tuple[CompiledRule, ...] = ()
    slots: tuple[CompiledSlot, ...] = ()
    # set by decide: one per slot in scope, and one per holdout rule whose conditions hold
    # (its arm: ``applied``, or ``holdout`` and the rule left out of ``rules``)
    decisions: tuple[Decision, ...] = ()
    rule_decisions: tuple[Decision, ...] = ()
    # set by rewrite/inject
    changed: bool = False
    personalised: bool = False  # content depends on who asks: never for shared caches
    rules_applied: tuple[str, ...] = ()
    headers: CIMultiDict[str] = field(default_factory=CIMultiDict)  # for the client
    set_cookies: list[str] = field(default_factory=list)
    # the final answer
    reply: web.StreamResponse | None = None
    # what went wrong after the origin answered, if anything ("stage: reason")
    fail_open: str | None = None

    def connection(self) -> web.Request:
        """The client's live request, for a stage that streams to or from it."""
        if self.client is None:
            raise RuntimeError("this exchange has no client connection to stream over")
        return self.client

    def elapsed_ms(self) -> float:
        return (time.perf_counter() - self.started_s) * 1000.0
