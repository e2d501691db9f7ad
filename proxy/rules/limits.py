"""The governance limits in force for each slot, resolved when the rules load: the slot's own,
else the file-wide defaults, else these built-in defaults ("adjust once per session").

Governance (``proxy.govern``) enforces them; they live here because compiling a rule set needs
them and rules sit below governance.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, TypeVar

from proxy.rules.schema import Governance, SlotGovernance

Scope = Literal["page", "session", "visitor"]
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class SlotLimits:
    sticky: Scope = "session"
    changes_per_session: int = 1
    cooldown_s: float = 300.0
    min_impressions: int = 0


@dataclass(frozen=True, slots=True)
class SessionLimits:
    session_changes: int = 3
    min_interval_s: float = 60.0
    max_slots_per_page: int = 1


DEFAULT_SLOT = SlotLimits()
DEFAULT_SESSION = SessionLimits()


def _first(*values: T | None, default: T) -> T:
    return next((value for value in values if value is not None), default)


def slot_limits(own: SlotGovernance | None, defaults: Governance | None) -> SlotLimits:
    mine, base = own or SlotGovernance(), defaults or Governance()
    return SlotLimits(
        sticky=_first(mine.sticky, base.sticky, default=DEFAULT_SLOT.sticky),
        changes_per_session=_first(
            mine.changes_per_session,
            base.changes_per_session,
            default=DEFAULT_SLOT.changes_per_session,
        ),
        cooldown_s=_first(mine.cooldown_s, base.cooldown_s, default=DEFAULT_SLOT.cooldown_s),
        min_impressions=_first(
            mine.min_impressions, base.min_impressions, default=DEFAULT_SLOT.min_impressions
        ),
    )


def session_limits(defaults: Governance | None) -> SessionLimits:
    base = defaults or Governance()
    return SessionLimits(
        session_changes=_first(base.session_changes, default=DEFAULT_SESSION.session_changes),
        min_interval_s=_first(base.min_interval_s, default=DEFAULT_SESSION.min_interval_s),
        max_slots_per_page=_first(
            base.max_slots_per_page, default=DEFAULT_SESSION.max_slots_per_page
        ),
    )
