"""Fixtures of the learner's tests."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator

import pytest

from proxy.store.client import Store
from proxy.store.connection import StoreSettings


@pytest.fixture
async def store(embedded_store_url: str) -> AsyncIterator[Store]:
    """A store of its own (a unique key prefix) on the shared embedded server."""
    settings = StoreSettings(
        op_timeout_s=2.0, connect_timeout_s=2.0, key_prefix=f"t{secrets.token_hex(4)}:"
    )
    store = Store(embedded_store_url, settings)
    yield store
    await store.close()
