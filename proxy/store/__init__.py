"""The Redis-protocol store: the only package that knows Redis, its key names and its failures.

* :class:`Store` (``client.py``) — fail-open calls behind a circuit breaker; never raises for an
  outage, returns the caller's default.
* :class:`KeySchema` (``keys.py``) — every key name, with Cluster hash tags per session.
* :class:`CircuitBreaker` (``breaker.py``) — the pure state machine behind ``Store``.
* :class:`EmbeddedStore` (``embedded.py``) — the Valkey child process used when no URL is set.
"""

from proxy.store.breaker import BreakerState, CircuitBreaker
from proxy.store.client import Store
from proxy.store.connection import StoreSettings, redact_url
from proxy.store.embedded import EmbeddedStore
from proxy.store.keys import DEFAULT_PREFIX, KeySchema

__all__ = [
    "DEFAULT_PREFIX",
    "BreakerState",
    "CircuitBreaker",
    "EmbeddedStore",
    "KeySchema",
    "Store",
    "StoreSettings",
    "redact_url",
]
