"""Rules measured against a holdout: each page's arm per rule, and the record it logs.

For every rule with ``holdout:`` whose conditions hold on a page, the visitor's arm
(:func:`proxy.rules.holdout.holdout_arm`: a hash of visitor, rule and salt) decides whether the
rule's edits are applied (``applied``) or withheld (``holdout``). Each such page logs a decision
record for the rule through the same durable sink as the slots' (:class:`RuleHoldouts`), with
``slot`` the rule id, the arms as ``actions`` and their shares as ``pmf``, reason ``split`` and
mode :data:`~proxy.records.decision.HOLDOUT_MODE`, so the results fold counts it like a two-arm
split whose control is ``holdout``. The session holds the arm (``sticky:<rule>`` in its state
hash, written outside the change budget's script: an arm is no change for governance), which is
how the fold gives the rule the session's conversions, engaged time and scroll.

Only visitors who can be tracked take part: a bot, an opted-out visitor or a HEAD gets the
rule's edits, and nothing is logged.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence

from proxy.decide.decision import Decision, new_decision_id
from proxy.decide.decision_sink import DecisionSink
from proxy.records.decision import HOLDOUT_MODE, LoggedDecision
from proxy.rules.compiled import CompiledRule
from proxy.rules.holdout import ARMS, holdout_arm
from proxy.rules.replay import logged_context
from proxy.store.client import Store
from proxy.store.governance import hold_in_session


def rule_decision(rule: CompiledRule, unit: str) -> Decision:
    """A fresh decision for ``rule`` on one page: the arm of ``unit`` (visitor, else session)."""
    arm, probability = holdout_arm(rule, unit)
    return Decision(new_decision_id(), rule.id, arm, "split", probability)


def rule_record(
    rule: CompiledRule,
    decision: Decision,
    context: Mapping[str, object],
    *,
    session: str,
    visitor: str | None,
    now_ms: int,
) -> LoggedDecision:
    """The decision stream's record of ``decision`` (see the module docstring)."""
    return LoggedDecision(
        id=decision.id,
        slot=rule.id,
        actions=ARMS,
        chosen=decision.variant,
        p=decision.probability,
        pmf=tuple(p for _, p in rule.holdout),
        reason="split",
        ts_ms=now_ms,
        session=session,
        visitor=visitor,
        rule_context=logged_context(context),
        mode=HOLDOUT_MODE,
    )


class RuleHoldouts:
    """Decides and logs the arms of one page's holdout rules (see the module docstring)."""

    def __init__(self, store: Store, sink: DecisionSink, *, session_ttl_s: int) -> None:
        self._store = store
        self._sink = sink
        self._session_ttl_s = session_ttl_s

    async def __call__(
        self,
        rules: Sequence[CompiledRule],
        context: Mapping[str, object],
        session: str,
        visitor: str | None,
    ) -> tuple[Decision, ...]:
        now_ms = int(time.time() * 1000)
        decisions = tuple(rule_decision(rule, visitor or session) for rule in rules)
        records = [
            rule_record(rule, d, context, session=session, visitor=visitor, now_ms=now_ms)
            for rule, d in zip(rules, decisions, strict=True)
        ]
        held = {d.slot: f"{d.variant}|{d.id}" for d in decisions}
        await asyncio.gather(
            self._sink.log(records),
            hold_in_session(self._store, session, held, ttl_s=self._session_ttl_s),
        )
        return decisions
