"""The loop that moves a spool's records to the store once it answers again, shared by the event
sink (``tracker/sink.py``) and the decision sink (``decide/decision_sink.py``)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from proxy.store.breaker import BreakerState
from proxy.store.client import Store

log = logging.getLogger(__name__)


async def replay_every(
    interval_s: float,
    stop: asyncio.Event,
    *,
    store: Store,
    replay: Callable[[], Awaitable[int]],
    what: str,
) -> None:
    """Call ``replay`` (how many records it moved) every ``interval_s`` until ``stop`` is set,
    skipping the rounds while the store's breaker is open: a store known to be down is not asked.
    A failing round is logged and the spool stays, to be tried again next round."""
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(interval_s):
                await stop.wait()
        if stop.is_set() or store.breaker_state is BreakerState.OPEN:
            continue
        try:
            sent = await replay()
            if sent:
                log.info("replayed %d spooled %s to the store", sent, what)
        except OSError as err:  # the data dir went away or became unreadable
            log.error("%s spool replay failed: %s", what, err)
        except Exception:  # a bug; the spool stays, and the next round tries again
            log.exception("%s spool replay failed", what)
