"""One refit of the learned segments against the store, and the hourly loop that repeats it.

Reads up to ``max_visitors`` profiles, fits (off the event loop: seconds of CPU), publishes a
new version. The previous model is kept when there are too few visitors or nothing clusters
(a clear message, no publication), and a published model that does not decode is not used as
the "previous" one for label matching (labels then start afresh, and the refusal is said).
Used by ``vernier segments fit`` and by ``vernier learn`` (every ``segments.refit_every_s``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass

import numpy as np

from proxy.config.schema import SegmentsConfig
from proxy.records.segment_model import SegmentModel, SegmentModelRefused, decode_model
from proxy.segments.fit import FitSettings, TooFewVisitors, fit_model
from proxy.segments.vectors import FEATURES, vector_of
from proxy.store import segment_models
from proxy.store.client import Store

log = logging.getLogger("vernier.segments")


@dataclass(frozen=True, slots=True)
class Refit:
    """What one refit did: ``model`` is the published one, or None with ``message`` saying why."""

    model: SegmentModel | None
    message: str


def fit_settings(config: SegmentsConfig) -> FitSettings:
    return FitSettings(
        k_min=config.k_min,
        k_max=config.k_max,
        method=config.method,
        min_visitors=config.min_visitors,
    )


async def published_model(store: Store) -> tuple[SegmentModel | None, str]:
    """The published model (None if none, unreadable or refused) and a note when refused."""
    data = await segment_models.fetch(store)
    if data is None:
        return None, ""
    try:
        return decode_model(data), ""
    except SegmentModelRefused as err:
        return None, f"the published model was refused ({err}); labels start afresh"


async def refit_once(store: Store, config: SegmentsConfig) -> Refit:
    profiles = await segment_models.scan_profiles(store, config.max_visitors)
    if profiles is None:
        return Refit(None, f"cannot read profiles from the store at {store.url}")
    rows = [v for v in (vector_of(p) for p in profiles if p.get("bot") != "1") if v is not None]
    previous, note = await published_model(store)
    # (0, len(FEATURES)) when there is no visitor yet: the fit then says too few, like for one
    matrix = np.asarray(rows, dtype=np.float64).reshape(len(rows), len(FEATURES))
    now_ms = int(time.time() * 1000)
    try:
        model = await asyncio.to_thread(
            fit_model, matrix, previous=previous, settings=fit_settings(config), now_ms=now_ms
        )
    except TooFewVisitors as err:
        kept = f"model {previous.version} stays" if previous else "no model yet"
        return Refit(None, f"not fitted: {err} ({kept})")
    if not await segment_models.publish(store, model):
        return Refit(None, f"fitted, but the store at {store.url} did not take the model")
    lead = f"{note}; " if note else ""
    return Refit(
        model,
        f"{lead}published model {model.version}: {len(model.labels)} clusters over "
        f"{model.visitors} visitors (silhouette {model.silhouette or 0:.2f})",
    )


async def refit_every(store: Store, config: SegmentsConfig, stop: asyncio.Event) -> None:
    """Refit every ``config.refit_every_s`` until ``stop`` (the learner's background task)."""
    if config.refit_every_s <= 0:
        return
    while not stop.is_set():
        try:
            outcome = await refit_once(store, config)
        except Exception:  # a bug in one refit must not stop the learner; the next one retries
            log.exception("segment refit failed; the previous model stays")
        else:
            log.info("segments: %s", outcome.message)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), config.refit_every_s)
