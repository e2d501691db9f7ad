"""The store a config describes: its connection settings, and a client for the commands.

The worker (:mod:`proxy.resources`) and the commands that reach the live proxies' store (``pause``,
``evaluate``, ``validate --live``) build it the same way. It sits above the config and the store,
which do not know each other.
"""

from __future__ import annotations

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


def store_for(config: Config, url: str | None) -> Store:
    """The live proxies' store: ``--store``, the config's, or the embedded one in data_dir."""
    return Store(
        url or config.store.url or EmbeddedStore(config.data_dir).url, store_settings(config)
    )
