"""profile: load the returning visitor's profile for the stages that decide what to show.

Runs only for pages Vernier may change (after the gate), at most one store round trip, and fails
open by design: a store that is down, slow or behind an open breaker yields an empty profile
within the store's timeout, and the page is served as for a new visitor.
"""

from __future__ import annotations

from proxy.exchange import Exchange
from proxy.store.client import Store
from proxy.store.profiles import load_profile


class Profile:
    name = "profile"

    def __init__(self, store: Store) -> None:
        self._store = store

    async def __call__(self, ex: Exchange) -> None:
        visitor_id = ex.identity.visitor_id
        if visitor_id is not None:
            ex.profile = await load_profile(self._store, visitor_id)
