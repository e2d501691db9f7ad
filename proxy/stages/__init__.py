"""The stages a request passes through, in the order ``proxy/pipeline.py`` declares:

admit → debug → session → conditional → forward → gate → profile → decode → match → decide → rewrite → inject → encode

Each is a small object with ``async def __call__(self, ex: Exchange) -> None``.
"""

from __future__ import annotations

from typing import Protocol

from proxy.exchange import Exchange


class Stage(Protocol):
    """One step of the pipeline. ``name`` labels logs and metrics."""

    name: str

    async def __call__(self, ex: Exchange) -> None: ...
