"""The store a config describes: its connection settings, and a client for the commands.

The worker (:mod:`proxy.resources`) and the commands that reach the live proxies' store (``pause``,
``evaluate``, ``validate --live``) build it the same way. It sits above the config and the store,
which do not know each other.
"""

from __future__ import annotations

import dataclasses

from proxy.config.schema import Config
from proxy.store.client import Store
from proxy.store.connection import StoreSettings
from proxy.store.embedded import EmbeddedStore


def store_settings(config: Config) -> StoreSettings:
    store = config.store
    return StoreSettings(
        op_timeout_s=store.op_timeout_ms / 1000.0,
        connect_timeout_s=store.connect_timeout_ms / 1000.0,
        max_connections=store.max_connections,
        key_prefix=store.key_prefix,
        breaker_failures=store.breaker_failures,
        breaker_window_s=store.breaker_window_s,
        breaker_open_s=store.breaker_open_s,
    )


COMMAND_OP_TIMEOUT_S = 5.0
"""A command's store calls wait at least this long: ``store.op_timeout_ms`` (50 ms) is a page's
budget, and an operator's ``vernier pause`` during an incident, on a busy machine, must not fail
because a reply took 60 ms."""


def store_for(config: Config, url: str | None) -> Store:
    """The live proxies' store, for a command: ``--store``, the config's, or the embedded one in
    data_dir; each call waits up to :data:`COMMAND_OP_TIMEOUT_S` (or the config's, if longer)."""
    settings = store_settings(config)
    settings = dataclasses.replace(
        settings, op_timeout_s=max(settings.op_timeout_s, COMMAND_OP_TIMEOUT_S)
    )
    return Store(url or config.store.url or EmbeddedStore(config.data_dir).url, settings)
