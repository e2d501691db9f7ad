"""The store client: every Redis command of the proxy goes through :meth:`Store.run`.

A personalising proxy must serve the page whether or not Redis answers (docs/reliability.md §0.9,
§0.17), so the client is tuned to fail fast and quietly:

* redis-py's asyncio defaults (5 s socket timeouts, 10 retries with backoff) stall a call for
  4.8-12 s when Redis is down or hung [measured]. Here: one ``asyncio.timeout`` of 50 ms around
  the whole call (pool wait, connect, send, read), connect 100 ms, no retries, no health-check
  pings, RESP2 without CLIENT SETINFO (a new connection costs no handshake round trip), and a
  bounded *blocking* pool whose wait is as short as a call, so exhaustion is an error, not a queue.
* A :class:`~proxy.store.breaker.CircuitBreaker` turns an outage into microsecond refusals after
  five failures in ten seconds, and lets one probe through every five seconds.
* ``run`` never raises for a store problem: it returns the caller's ``default``. Outages (refused,
  timed out, cluster down, read-only replica) count against the breaker, except a timeout whose
  own timer fired a whole budget late while the breaker is closed: this process's event loop was
  busy, the answer may have sat unread, and a busy machine is not a store outage (counted as
  ``late_timeouts_total``); error *replies* such as
  WRONGTYPE or OOM prove the server is alive, are a bug or a capacity issue on our side, and are
  logged once per distinct message without tripping the breaker.
* Cancelling a command between its send and its reply must not hand that reply to the next user
  of the connection (CVE-2023-28858/28859, redis-py#2624/#2665). redis-py drops the socket when a
  read or write is interrupted; the reply guard in ``connection.py`` refuses to send on a connection
  whose previous reply was never read, whatever path returned it to the pool. Connections are
  therefore strictly request/reply: don't use PubSub through a ``Store``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.exceptions import (
    ClusterDownError,
    ReadOnlyError,
    RedisClusterException,
    RedisError,
    ResponseError,
    TryAgainError,
)

from proxy.store.breaker import BreakerState, CircuitBreaker
from proxy.store.connection import StoreSettings, connect, redact_url
from proxy.store.keys import KeySchema

T = TypeVar("T")
D = TypeVar("D")
log = logging.getLogger(__name__)

# error replies that mean "this node cannot serve you right now", i.e. an outage, not a bug
_OUTAGE_REPLIES = (ClusterDownError, ReadOnlyError, TryAgainError)
_MAX_LOGGED_REPLY_ERRORS = 64


# redis-py drops these prefixes from the message and raises a class of its own instead
_STATE_OF_CLASS = {
    "OutOfMemoryError": "OOM",
    "ReadOnlyError": "READONLY",
    "BusyLoadingError": "LOADING",
    "MasterDownError": "MASTERDOWN",
}
# Error replies that are the server's state, not a wrong command (Redis/Valkey error prefixes).
_SERVER_STATES = {
    "MISCONF": "the server cannot persist: see its log (a full disk?)",
    "OOM": "the server is out of memory (maxmemory)",
    "READONLY": "a replica answered: point store.url at the primary",
    "LOADING": "the server is still loading its data",
    "BUSY": "the server is busy running a script",
    "MASTERDOWN": "the replica lost its primary",
    "NOREPLICAS": "too few replicas acknowledged",
}


class Store:
    """The proxy's handle on Redis: fail-open calls behind a circuit breaker.

    ``url`` is ``redis://host:port/db``, ``rediss://…``, ``unix:///path.sock`` or
    ``redis+cluster://host:port`` (``rediss+cluster://`` for TLS). Nothing connects before
    :meth:`open` or the first call, so a store that is down at startup delays nothing (FO-06).
    """

    def __init__(
        self,
        url: str,
        settings: StoreSettings | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings or StoreSettings()
        self.keys = KeySchema(self.settings.key_prefix)
        self.url = redact_url(url)
        self.failures_total = 0
        self.short_circuited_total = 0
        self.response_errors_total = 0
        self.late_timeouts_total = 0  # timeouts whose timer fired a whole budget late
        self._last_error: BaseException | None = None
        self._answered = False  # any call has succeeded (or got an error reply) since start
        self._logged_replies: set[str] = set()
        self._closed = False
        self._breaker = CircuitBreaker(
            failure_threshold=self.settings.breaker_failures,
            window_s=self.settings.breaker_window_s,
            open_s=self.settings.breaker_open_s,
            clock=clock,
            on_transition=self._log_transition,
        )
        self._client, self._cluster = connect(url, self.settings)
        self._cluster_task: asyncio.Task[None] | None = None

    @property
    def up(self) -> bool:
        """Whether the store has answered a call and its breaker is closed (``vernier_store_up``):
        true from the first successful call of any kind, not only after a readiness probe."""
        return self._answered and self._breaker.state is BreakerState.CLOSED

    @property
    def is_cluster(self) -> bool:
        """Whether this is a Redis Cluster (some commands, e.g. keyless ones, cannot be routed)."""
        return self._cluster is not None

    @property
    def breaker_state(self) -> BreakerState:
        """``closed`` (healthy), ``open`` (failing open without calling) or ``half_open``."""
        return self._breaker.state

    async def run(
        self,
        fn: Callable[[Redis], Awaitable[T]],
        *,
        default: D,
        timeout_s: float | None = None,
    ) -> T | D:
        """``await fn(client)`` within the call timeout, or ``default`` if the store can't answer.

        Returns ``default`` at once while the breaker is open. Raises only what ``fn`` raises
        outside redis-py (a bug) and ``CancelledError`` when the caller is cancelled.
        ``timeout_s`` overrides the per-call timeout (startup checks; never the request path).
        """
        if self._closed or not self._breaker.allow():
            self.short_circuited_total += 1
            return default
        if self._cluster is not None and self._cluster_loading():
            self._breaker.record_abandoned()
            self.short_circuited_total += 1
            return default
        budget_s = timeout_s or self.settings.op_timeout_s
        loop = asyncio.get_running_loop()
        started = loop.time()
        try:
            async with asyncio.timeout(budget_s):
                result = await fn(self._client)
        except asyncio.CancelledError:
            self._breaker.record_abandoned()
            raise
        except ResponseError as err:
            if isinstance(err, _OUTAGE_REPLIES):
                self._record_failure(err)
            else:
                self._record_reply_error(err)
            return default
        except (RedisError, RedisClusterException, OSError) as err:  # TimeoutError is an OSError
            late_s = loop.time() - started - budget_s
            if (
                isinstance(err, TimeoutError)
                and late_s >= budget_s
                and self._breaker.state is BreakerState.CLOSED  # a probe's timeout always counts
            ):
                # the timer itself fired a whole budget late: this process's event loop was
                # busy, the answer may have waited unread, so the store is not to blame
                self.late_timeouts_total += 1
                self._last_error = err
                return default
            self._record_failure(err)
            return default
        self._breaker.record_success()
        self._answered = True
        return result

    async def open(self) -> bool:
        """Connect now (for a Cluster: load its slot map) within ``startup_timeout_s``.

        Call it at startup so the first requests are not the ones that find the store cold.
        Returns whether the store answered; ``False`` is not fatal, calls keep failing open.
        """
        if self._cluster is not None and self._cluster_loading():
            assert self._cluster_task is not None
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.settings.startup_timeout_s):
                    await asyncio.shield(self._cluster_task)
        return await self.ping()

    async def ping(self) -> bool:
        """Whether the store answers now (readiness); ``False`` while the breaker is open."""

        async def _ping(client: Redis) -> bool:
            return bool(await client.ping())

        timeout_s = self.settings.connect_timeout_s + self.settings.op_timeout_s
        return await self.run(_ping, default=False, timeout_s=timeout_s)

    async def check_durability(self) -> str:
        """The server's ``appendonly`` setting: ``"yes"``, ``"no"`` or ``"unknown"``.

        ``"unknown"`` when CONFIG is renamed or forbidden (managed services) or the store does not
        answer. The proxy warns at startup on anything but ``"yes"`` (docs/reliability.md FO-11).
        """

        async def _appendonly(client: Redis) -> str:
            try:
                if self._cluster is not None:  # every primary holds data: ask them all
                    primaries = RedisCluster.PRIMARIES
                    reply = await self._cluster.config_get("appendonly", target_nodes=primaries)
                else:
                    reply = await client.config_get("appendonly")
            except ResponseError:
                return "unknown"
            return _appendonly_value(reply)

        timeout_s = self.settings.startup_timeout_s
        return await self.run(_appendonly, default="unknown", timeout_s=timeout_s)

    async def close(self) -> None:
        """Close every connection; later calls return their default."""
        if not self._closed:
            self._closed = True
            if self._cluster_task is not None:
                self._cluster_task.cancel()
                await asyncio.gather(self._cluster_task, return_exceptions=True)
            await self._client.aclose()

    def _cluster_loading(self) -> bool:
        """Whether the Cluster client lacks its slot map; if so, load it in the background.

        redis-py loads it inside the first command, and again after a connection error: CLUSTER
        SLOTS plus a ~11 000-element COMMAND reply that its pure-Python parser needs 35-40 ms
        for [measured; 7-10 ms with hiredis]. Cancelled by a 50 ms call timeout it starts over,
        so under load it might never finish. Here it runs as its own task bounded by
        ``startup_timeout_s``, and calls fail open until it is done.
        """
        assert self._cluster is not None
        # redis-py >= 8.2 keeps serving the current topology while a refresh is pending (and only
        # logs a failed refresh), so only a client with no topology at all must wait for one
        if getattr(self._cluster, "_topology_ready", False):
            return False
        if self._cluster_task is None or self._cluster_task.done():
            self._cluster_task = asyncio.create_task(
                self._load_cluster(self._cluster), name="vernier-store-cluster-init"
            )
        return True

    async def _load_cluster(self, cluster: RedisCluster) -> None:
        try:
            async with asyncio.timeout(self.settings.startup_timeout_s):
                await cluster.initialize()
        except (RedisError, RedisClusterException, OSError) as err:
            self._record_failure(err)

    def _record_failure(self, err: BaseException) -> None:
        self.failures_total += 1
        self._last_error = err
        self._breaker.record_failure()

    def _record_reply_error(self, err: ResponseError) -> None:
        # the server answered, so the probe (if this was one) succeeded
        self.response_errors_total += 1
        self._breaker.record_success()
        self._answered = True
        what = f"{type(err).__name__}: {str(err)[:120]}"
        if (
            what not in self._logged_replies
            and len(self._logged_replies) < _MAX_LOGGED_REPLY_ERRORS
        ):
            self._logged_replies.add(what)
            # a pipeline's reply is "Command # 1 (SET a b) of pipeline caused error: MISCONF …"
            reply = str(err).rpartition("caused error: ")[2]
            state = _STATE_OF_CLASS.get(type(err).__name__, reply.split(" ", 1)[0])
            log.error(
                "store %s replied with an error (%s): %s",
                self.url,
                _SERVER_STATES.get(state, "a bug in Vernier, not an outage"),
                what,
            )

    def _log_transition(self, old: BreakerState, new: BreakerState) -> None:
        err = self._last_error
        why = f"{type(err).__name__}: {err}" if err is not None else "no error recorded"
        if new is BreakerState.OPEN and old is BreakerState.CLOSED:
            log.warning(
                "store %s unavailable (%s); failing open, next probe in %.1f s",
                self.url,
                why,
                self.settings.breaker_open_s,
            )
        elif new is BreakerState.OPEN:
            log.debug("store %s probe failed (%s)", self.url, why)
        elif new is BreakerState.CLOSED:
            log.warning("store %s answers again; breaker closed", self.url)
        else:
            log.debug("store %s: breaker half-open, probing", self.url)


def _appendonly_value(reply: Any) -> str:
    """``appendonly`` from CONFIG GET; a Cluster reply nests one per node, and all must say yes."""
    values: list[Any] = []
    stack: list[Any] = [reply]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            for name, value in item.items():
                if isinstance(value, dict):
                    stack.append(value)
                elif name in ("appendonly", b"appendonly"):
                    values.append(value.decode() if isinstance(value, bytes) else value)
    if not values:
        return "unknown"
    return "no" if "no" in values else "yes" if all(v == "yes" for v in values) else "unknown"
