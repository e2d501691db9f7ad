"""Kill switches and pauses: what an operator (``vernier pause``, the admin API) or the guardrail
switched off, as every proxy sees it.

The store's control hash (``P{control}``) holds one field per pause: ``slot:<id>`` (the slot
shows its control), ``rule:<id>`` (the rule is not applied), ``variant:<slot>:<id>`` (the
variant is never served; a visitor holding it sees the control). Each proxy re-reads the hash
every :data:`POLL_S` (so a pause reaches every instance within a second); while the store cannot
answer, the last state read stays in force.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field

from proxy.errors import UsageError
from proxy.rules.compiled import RuleSet
from proxy.store import control as control_store
from proxy.store.client import Store

log = logging.getLogger("vernier.control")
POLL_S = 0.5


def control_field(target: str, ruleset: RuleSet) -> str:
    """The control hash field for ``target``; ``UsageError`` naming what exists otherwise."""
    slots = {slot.id: slot for slot in ruleset.slots}
    rules = {rule.id for rule in ruleset.rules}
    slot_id, slash, variant = target.partition("/")
    if slash:
        slot = slots.get(slot_id)
        if slot is None or variant not in slot.variants:
            raise UsageError(f"no variant '{target}' in the rules (SLOT/VARIANT)")
        if variant == slot.control:
            raise UsageError(
                f"'{variant}' is the control of '{slot_id}': it is never paused alone "
                f"(pause or resume the slot '{slot_id}')"
            )
        return f"variant:{slot_id}:{variant}"
    if target in slots:
        return f"slot:{target}"
    if target in rules:
        return f"rule:{target}"
    known = ", ".join(sorted([*slots, *rules])) or "none"
    raise UsageError(f"no slot or rule '{target}' in the rules (known: {known})")


@dataclass(frozen=True, slots=True)
class Pauses:
    slots: frozenset[str] = frozenset()
    rules: frozenset[str] = frozenset()
    variants: Mapping[str, frozenset[str]] = field(default_factory=dict)

    @classmethod
    def parse(cls, fields: Mapping[str, str]) -> Pauses:
        slots, rules, variants = set(), set(), dict[str, set[str]]()
        for name in fields:
            kind, _, rest = name.partition(":")
            if kind == "slot":
                slots.add(rest)
            elif kind == "rule":
                rules.add(rest)
            elif kind == "variant" and ":" in rest:
                slot, _, variant = rest.partition(":")
                variants.setdefault(slot, set()).add(variant)
        return cls(
            frozenset(slots), frozenset(rules), {k: frozenset(v) for k, v in variants.items()}
        )

    def variant_paused(self, slot: str, variant: str) -> bool:
        return variant in self.variants.get(slot, ())


NO_PAUSES = Pauses()


class PauseWatcher:
    """The pauses in force, re-read from the store every ``poll_s`` by :meth:`poll`.

    Without a store it holds ``current`` as given: ``vernier preview`` reads the store once and
    runs the proxy's stages over what it found.
    """

    def __init__(
        self, store: Store | None, *, poll_s: float = POLL_S, current: Pauses = NO_PAUSES
    ) -> None:
        self._store = store
        self._poll_s = poll_s
        self.current = current

    async def refresh(self) -> None:
        if self._store is None:
            return
        fields = await control_store.read(self._store)
        if fields is None:
            return  # the store cannot answer: what was paused stays paused
        pauses = Pauses.parse(fields)
        if pauses != self.current:
            log.info(
                "pauses now: slots %s, rules %s, variants %s",
                sorted(pauses.slots) or "none",
                sorted(pauses.rules) or "none",
                {k: sorted(v) for k, v in pauses.variants.items()} or "none",
            )
            self.current = pauses

    async def poll(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await self.refresh()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self._poll_s)
