"""One visitor's stored data: kept current from the event stream, shown to them, erased on request.

* :func:`visitor_summary` is what ``GET /__vernier/me`` shows.
* :func:`forget_visitor` is the right of erasure: profile, updater state, recent events and the
  given sessions' keys are deleted, and a tombstone stops queued events from rebuilding the
  profile. Events already in the stream stay until it is trimmed (length-bounded, see
  ``store/event_log.py``); they carry only pseudonymous ids (random cookie values).
"""

from __future__ import annotations

import logging
from typing import Any

import msgspec

from proxy.records.event_record import decode_record
from proxy.rules.segments import FROZEN_PREFIX
from proxy.store.client import Store
from proxy.store.governance import held_by_session
from proxy.store.profiles import forget, load_profile, load_recent

RECENT_EVENTS = 50
# what GET /__vernier/me shows a client without ids (the shape of visitor_summary's answer)
NOTHING_HELD: dict[str, Any] = {
    "visitor": None,
    "session": None,
    "available": True,
    "profile": {},
    "segments": [],
    "sticky": {},
    "recent_events": [],
}
log = logging.getLogger(__name__)


def _event_view(data: bytes) -> dict[str, Any] | None:
    try:
        record = decode_record(data)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None
    view: dict[str, Any] = msgspec.to_builtins(record.event)
    view.update(page=record.page, received_ms=record.received_ms)
    return view


async def visitor_summary(store: Store, visitor_id: str, session_id: str) -> dict[str, Any]:
    """What Vernier holds about this visitor (for ``GET /__vernier/me``); partial if the store
    is unavailable (``available`` says so)."""
    profile = await load_profile(store, visitor_id)
    recent = await load_recent(store, visitor_id, RECENT_EVENTS)
    held = await held_by_session(store, session_id) if session_id else {}
    events = [view for data in recent or () if (view := _event_view(data)) is not None]
    return {
        "visitor": visitor_id,
        "session": session_id,
        "available": recent is not None and held is not None,
        "profile": dict(profile),
        # the named segments recorded at the visitor's first exposure to each slot
        "segments": sorted(
            {
                name
                for field, value in profile.items()
                if field.startswith(FROZEN_PREFIX)
                for name in value.split(",")
                if name
            }
        ),
        # the variant this session holds in each slot (or rule holdout)
        "sticky": {owner: value.partition("|")[0] for owner, value in (held or {}).items()},
        "recent_events": events,
    }


async def forget_visitor(
    store: Store,
    visitor_id: str,
    session_ids: list[str] | tuple[str, ...],
    *,
    tombstone_s: int = 7 * 24 * 3600,
) -> bool:
    """Erase the visitor's profile, recent events and the sessions' keys; ``False`` if the store
    did not answer (tell the visitor to retry). Queued events of the visitor are ignored for
    ``tombstone_s`` (cover the longest spool replay you expect)."""
    return await forget(store, visitor_id, session_ids, tombstone_s=tombstone_s)
