"""rewrite: apply the matched rules and the decided slot variants to the page.

The operations of every rule and chosen variant run in rank order (priority, then specificity,
then file order: where two touch the same element the higher-ranked one wins, and the loser is
logged). Each decided slot's element is marked with its decision (docs/design.md §5), and the
variants its triggers offer follow it in ``<template>`` elements. The rewriter keeps every byte
outside the changed elements (``proxy/html/rewrite.py``). A page seen before with the same
operations is not rewritten again (``proxy/html/rewrite_cache.py``): most views of a URL carry
the same origin bytes, and the rewrite is most of a changed page's cost.

A rewrite that raises serves the origin's page (the pipeline fails open). One that spends more
CPU time than the page's budget (``html.budget_ms``) is thrown away, and the origin's page goes on
to get the tracker: the tag needs only the insertion point, found in the head, so it costs the
same on a page of any size. Either counts as a failure of every rule and slot in the page;
repeated failures trip that rule's breaker (``proxy/rules/health.py``). The budget is CPU time
(``time.thread_time``), never the wall clock: a rewrite that waited for a core on a busy machine
did nothing wrong, and its finished work is served.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
from collections import defaultdict
from collections.abc import Awaitable, Mapping, Sequence

from proxy.config.schema import HtmlConfig
from proxy.content.offload import on_cpu_clock, run_sized_on_cpu_clock
from proxy.decide.decision import Decision
from proxy.exchange import Exchange
from proxy.html.charset import charset_from_content_type, determine_encoding
from proxy.html.encodings import is_byte_scannable
from proxy.html.rewrite import RewriteResult, rewrite
from proxy.html.rewrite_cache import RewriteCache, put_back, rewrite_key
from proxy.html.triggers import insert_templates, render_variant, slot_elements, template
from proxy.metrics import Metrics
from proxy.records.rule_outcomes import Outcome
from proxy.rules.compiled import CompiledSlot
from proxy.rules.engine import Plan, RuleEngine
from proxy.rules.health import RuleHealth
from proxy.upstream.log_limit import LogLimit, held_back

log = logging.getLogger("vernier.rewrite")


class Rewrite:
    name = "rewrite"

    def __init__(self, html: HtmlConfig, health: RuleHealth, metrics: Metrics) -> None:
        self._budget_ms = html.budget_ms
        self._health = health
        self._metrics = metrics
        self._conflicts_logged: set[tuple[str, str]] = set()
        self._cache = RewriteCache(html.rewrite_cache_bytes) if html.rewrite_cache_bytes else None
        self._over_budget_log = LogLimit()

    async def __call__(self, ex: Exchange) -> None:
        document, engine = ex.document, ex.engine
        if document is None or engine is None or not (ex.rules or ex.decisions):
            return
        encoding = determine_encoding(
            document, charset_from_content_type(ex.headers.get("Content-Type"))
        )
        codec = encoding.codec
        if not is_byte_scannable(codec) and not codec.startswith("utf-16"):
            return
        slots = {slot.id: slot for slot in ex.slots}
        decisions = self._one_per_selector(ex.decisions, slots)
        plan = engine.plan(ex.rules, [(slots[d.slot], d.variant) for d in decisions])
        owners = [*plan.owners, *(d.slot for d in decisions)]
        fill = {k: str(v) for k, v in ex.context.items()} if ex.context else None
        try:
            result, cpu_s = await self._rewrite(document, codec, plan, decisions, slots, fill)
            served = _served(decisions, result.body, codec)
            while (stray := _stray(plan, result, decisions, served)) and (
                cpu_s * 1000.0 <= self._budget_ms  # over it, the origin's page is served
            ):
                # a variant changed the page though its slot's element is not in it: the
                # slot is not on this page, so neither is its variant (rare: rewrite again)
                decisions = tuple(d for d in decisions if d.slot not in stray)
                plan = engine.plan(ex.rules, [(slots[d.slot], d.variant) for d in decisions])
                result, again_cpu_s = await self._rewrite(
                    document, codec, plan, decisions, slots, fill
                )
                cpu_s += again_cpu_s
                served = _served(decisions, result.body, codec)
            body = result.body
            offered = [d for d in served if d.triggers]
            if offered:
                body, templates_cpu_s = await run_sized_on_cpu_clock(
                    len(body), _with_templates, body, codec, offered, slots, engine, fill
                )
                cpu_s += templates_cpu_s
        except Exception:
            self._health.record_all(owners, "failed")
            raise
        ex.work_cpu_s += cpu_s
        if cpu_s * 1000.0 > self._budget_ms:
            self._health.record_all(owners, "failed")
            self._over_budget(ex, cpu_s * 1000.0)
            return
        self._account(plan, result, served, ex.decisions)
        ex.decisions = served
        ex.rules_applied = tuple(
            dict.fromkeys(plan.owners[i] for i in result.applied if plan.owners[i] not in slots)
        )
        if body != document:
            ex.document = body
            ex.changed = True

    async def _rewrite(
        self,
        document: bytes,
        codec: str,
        plan: Plan,
        decisions: Sequence[Decision],
        slots: Mapping[str, CompiledSlot],
        fill: Mapping[str, str] | None,
    ) -> tuple[RewriteResult, float]:
        """The rewrite of ``document``, its slots marked with ``decisions``, and the CPU seconds
        it cost: the cached result of the same inputs, or a new one (the cache is used on the
        event loop only; the rewrite may run in a thread). Cached with stand-in decision ids, put
        back by the real ones."""

        def marks_for(ids: Sequence[str]) -> dict[str, dict[str, str]]:
            return {
                slots[d.slot].selector: dataclasses.replace(d, id=i).markup()
                for d, i in zip(decisions, ids, strict=True)
            }

        def run(ids: Sequence[str]) -> Awaitable[tuple[RewriteResult, float]]:
            marks = marks_for(ids)
            work = functools.partial(rewrite, document, codec, plan.ops, mark=marks, fill=fill)
            return run_sized_on_cpu_clock(len(document), work)

        real = [d.id for d in decisions]
        cache = self._cache
        if cache is None or not is_byte_scannable(codec):
            return await run(real)
        stand_ins = cache.stand_ins(len(decisions))
        key = rewrite_key(document, codec, plan.ops, marks_for(stand_ins), fill)
        result, cpu_s = cache.get(key), 0.0
        if result is None:
            result, cpu_s = await run(stand_ins)
            cache.put(key, result)
        body, put_back_cpu_s = on_cpu_clock(
            put_back, result.body, codec, zip(stand_ins, real, strict=True)
        )
        if body is None:  # the page held a stand-in: rewrite it with the real ids
            return await run(real)
        if body is not result.body:
            result = dataclasses.replace(result, body=body, changed=body != document)
        return result, cpu_s + put_back_cpu_s

    def _one_per_selector(
        self, decisions: tuple[Decision, ...], slots: Mapping[str, CompiledSlot]
    ) -> tuple[Decision, ...]:
        """One decided slot per element: of slots with the same selector, the highest-ranked
        (as for changes: priority, specificity, file order) is shown; the others are not on the
        page, their variants' changes not made; the pair is counted and logged once."""
        by_selector: dict[str, Decision] = {}
        for d in decisions:
            other = by_selector.get(slots[d.slot].selector)
            if other is not None:
                winner, loser = sorted((other, d), key=lambda x: slots[x.slot].rank)[::-1]
                self._metrics.rule_conflicts.labels(winner.slot, loser.slot).inc()
                if (winner.slot, loser.slot) not in self._conflicts_logged:
                    self._conflicts_logged.add((winner.slot, loser.slot))
                    log.warning(
                        "slots %s and %s mark the same element (%s): only %s is shown",
                        winner.slot,
                        loser.slot,
                        slots[d.slot].selector,
                        winner.slot,
                    )
                d = winner
            by_selector[slots[d.slot].selector] = d
        if len(by_selector) == len(decisions):
            return decisions
        kept = {id(d) for d in by_selector.values()}
        return tuple(d for d in decisions if id(d) in kept)

    def _over_budget(self, ex: Exchange, cpu_ms: float) -> None:
        """Serve the origin's page (inject still adds the tag), counted as the rewrite's
        fail-open; one warning line a minute."""
        ex.decisions = ()  # no slot's element was served
        ex.fail_open = f"{self.name}: TimeoutError"
        self._metrics.fail_open.labels(self.name, "TimeoutError").inc()
        suppressed = self._over_budget_log.admit(self.name)
        if suppressed is not None:
            log.warning(
                "rewriting %s used %.1f ms of CPU, over html.budget_ms: serving the origin's "
                "page with the tracker%s",
                ex.request.path,
                cpu_ms,
                held_back(suppressed),
            )

    def _account(
        self,
        plan: Plan,
        result: RewriteResult,
        served: Sequence[Decision],
        decisions: Sequence[Decision],
    ) -> None:
        applied = {plan.owners[i] for i in result.applied}
        marked = {d.slot for d in served}
        for owner in dict.fromkeys([*plan.owners, *(d.slot for d in decisions)]):
            outcome: Outcome = "applied" if owner in applied or owner in marked else "missed"
            self._health.record(owner, outcome)
            self._metrics.rule_outcomes.labels(owner, outcome).inc()
        for d in served:
            self._metrics.decisions.labels(d.slot, d.variant, d.reason).inc()
        for winner, loser in conflicts(plan, result):
            self._metrics.rule_conflicts.labels(winner, loser).inc()
            if (winner, loser) not in self._conflicts_logged:  # once per pair and process
                self._conflicts_logged.add((winner, loser))
                log.info("%s and %s change the same element: %s wins", winner, loser, winner)


def _served(decisions: Sequence[Decision], body: bytes, codec: str) -> tuple[Decision, ...]:
    """The decisions whose slot element is in the page (its mark carries the decision id)."""
    return tuple(d for d in decisions if d.id.encode(codec) in body)


def _stray(
    plan: Plan, result: RewriteResult, decisions: Sequence[Decision], served: Sequence[Decision]
) -> set[str]:
    """The slots whose variant's operations changed the page though the slot was not served
    (its element is not in the page, or an operation removed it)."""
    unserved = {d.slot for d in decisions} - {d.slot for d in served}
    return {plan.owners[i] for i in result.applied} & unserved if unserved else set()


def _with_templates(
    body: bytes,
    codec: str,
    decisions: Sequence[Decision],
    slots: Mapping[str, CompiledSlot],
    engine: RuleEngine,
    fill: Mapping[str, str] | None,
) -> bytes:
    elements = slot_elements(body, codec, [d.id for d in decisions])
    templates: dict[str, str] = {}
    for decision in decisions:
        element = elements.get(decision.id)
        if element is None:
            continue
        slot = slots[decision.slot]
        triggers = {trigger.id: trigger for trigger in slot.triggers}
        rendered = []
        for trigger_id, variant, decision_id in decision.triggers:
            markup = Decision(decision_id, slot.id, variant, "rule").markup()
            ops = engine.variant_ops[slot.id, variant]
            html = render_variant(element, ops, markup, fill)
            if html is not None:
                rendered.append(template(triggers[trigger_id], markup, html))
        if rendered:
            templates[decision.id] = "".join(rendered)
    return insert_templates(body, codec, templates)[0] if templates else body


def conflicts(plan: Plan, result: RewriteResult) -> set[tuple[str, str]]:
    """(winner, loser) for each pair of owners that changed the same element; the winner's
    operations applied later."""
    touched_by: dict[int, list[str]] = defaultdict(list)
    for index, targets in enumerate(result.targets):
        owner = plan.owners[index]
        for target in targets:
            if owner not in touched_by[target]:
                touched_by[target].append(owner)
    return {
        (owners[j], owners[i])
        for owners in touched_by.values()
        for i in range(len(owners))
        for j in range(i + 1, len(owners))
    }
