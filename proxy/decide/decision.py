"""A decision: which variant of a slot one page view was served, and why.

Its id goes into the page (``data-vernier-decision``, docs/design.md §5) and comes back with the
tracker's impressions and clicks, which is how rewards are joined to it.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass
from typing import Literal

# docs/design.md §7: why a slot shows what it shows
Reason = Literal["bandit", "rule", "split", "sticky", "held", "paused", "default", "outage"]
# The control shown because the store could not answer (nothing may change then, and there is no
# variant of the visitor's to keep): logged, but outside every experiment — its id says so
# (proxy.records.decision.outage_decision_id), and the results count neither it nor its
# impressions and clicks (a split would otherwise gain control exposures whose conversions
# cannot be attributed).
OUTAGE: Reason = "outage"


def new_decision_id() -> str:
    """96 random bits, URL-safe (16 characters): unguessable, so a client cannot claim another
    visitor's decision, and valid as an event field (``[A-Za-z0-9_-]``)."""
    return secrets.token_urlsafe(12)


def stable_decision_id(*parts: str) -> str:
    """An id of the same form that is the same for the same ``parts``: a HEAD's decisions are
    never served or logged, but their ids are in the page whose length and ETag it reports, so
    they must not change from one HEAD to the next; and a trigger's follows from its slot's
    decision (``proxy.decide.slots.with_triggers``)."""
    digest = hashlib.blake2b("\0".join(parts).encode(), digest_size=12).digest()
    return base64.urlsafe_b64encode(digest).decode()


@dataclass(frozen=True, slots=True)
class Decision:
    id: str
    slot: str
    variant: str
    reason: Reason
    probability: float = 1.0
    # a variant the tracker may switch to in the page: (trigger id, variant, its decision id)
    triggers: tuple[tuple[str, str, str], ...] = ()

    def markup(self) -> dict[str, str]:
        """The attributes the slot's element carries (docs/design.md §5)."""
        return {
            "data-vernier-slot": self.slot,
            "data-vernier-variant": self.variant,
            "data-vernier-decision": self.id,
        }
