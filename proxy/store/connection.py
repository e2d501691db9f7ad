"""Connections to the store: client tuning, redis-py client construction, and the reply guard.

See ``client.py`` for why each setting is what it is. The guard: cancelling a command between its
send and its reply must not hand that reply to the next user of the connection
(CVE-2023-28858/28859, redis-py#2624/#2665). redis-py drops the socket when a read or write is
interrupted; :class:`_ReplyGuard` additionally refuses to send on a connection whose previous
reply was never read, whatever path returned it to the pool.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import urlsplit, urlunsplit

from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.connection import (
    AbstractConnection,
    BlockingConnectionPool,
    Connection,
    SSLConnection,
    UnixDomainSocketConnection,
    parse_url,
)
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisClusterException, ResponseError

from proxy.errors import ConfigError
from proxy.store.keys import DEFAULT_PREFIX


@dataclass(frozen=True, slots=True)
class StoreSettings:
    """Client tuning; defaults are docs/reliability.md §6 ("Redis per-call / connect")."""

    op_timeout_s: float = 0.05
    # None: every call is bounded by op_timeout_s alone. A redis-py socket timeout wraps each
    # send in asyncio.wait_for, which on Python 3.11 swallows a cancellation that lands as the
    # send completes (gh-86296); the call then also waits out the socket timeout [measured:
    # 200 callers on a SIGSTOPped store, p99 108 ms with a 50 ms socket timeout, 57 ms without]
    socket_timeout_s: float | None = None
    connect_timeout_s: float = 0.1
    max_connections: int = 64
    pool_timeout_s: float = 0.05
    startup_timeout_s: float = 2.0  # open(), check_durability() and Cluster slot-map loading
    key_prefix: str = DEFAULT_PREFIX
    breaker_failures: int = 5
    breaker_window_s: float = 10.0
    breaker_open_s: float = 5.0
    decode_responses: bool = False


class _ReplyGuard(AbstractConnection):
    """Drops a connection instead of sending on it while an earlier reply is still unread."""

    _reply_pending = False

    async def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        if self._reply_pending and self.is_connected:
            # the caller of the previous command was cancelled after sending: its reply is still
            # on the wire and would be read as ours
            await self.disconnect(nowait=True)
        await super().send_packed_command(command, check_health)
        self._reply_pending = True

    async def read_response(
        self,
        disable_decoding: bool = False,
        timeout: float | None = None,
        *,
        disconnect_on_error: bool = True,
        push_request: bool | None = False,
    ) -> Any:
        try:
            response = await super().read_response(
                disable_decoding,
                timeout,
                disconnect_on_error=disconnect_on_error,
                push_request=push_request,
            )
        except ResponseError:
            self._reply_pending = False  # an error reply is a whole reply
            raise
        if timeout is None:  # with an explicit timeout, None may mean "nothing read yet"
            self._reply_pending = False
        return response

    async def disconnect(self, *args: Any, **kwargs: Any) -> None:
        self._reply_pending = False
        await super().disconnect(*args, **kwargs)


class _GuardedConnection(_ReplyGuard, Connection):
    """TCP connection with the unread-reply guard."""


class _GuardedSSLConnection(_ReplyGuard, SSLConnection):
    """TLS connection with the unread-reply guard."""


class _GuardedUnixConnection(_ReplyGuard, UnixDomainSocketConnection):
    """Unix-socket connection with the unread-reply guard."""


_GUARDED: dict[type[AbstractConnection], type[AbstractConnection]] = {
    Connection: _GuardedConnection,
    SSLConnection: _GuardedSSLConnection,
    UnixDomainSocketConnection: _GuardedUnixConnection,
}


def redact_url(url: str) -> str:
    """The URL with any password replaced by ``***``, for logs and errors."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc}"))


def connect(url: str, settings: StoreSettings) -> tuple[Redis, RedisCluster | None]:
    """The redis-py client for ``url``; a Cluster client is also returned under its own type."""
    common: dict[str, Any] = {
        "socket_timeout": settings.socket_timeout_s,
        "socket_connect_timeout": settings.connect_timeout_s,
        "retry": Retry(NoBackoff(), 0),
        "health_check_interval": 0,
        "decode_responses": settings.decode_responses,
        "driver_info": None,  # no CLIENT SETINFO round trip on a fresh connection
        "protocol": 2,  # no HELLO round trip either (redis-py 8 defaults to RESP3)
    }
    scheme = urlsplit(url).scheme
    try:
        if scheme in ("redis+cluster", "rediss+cluster"):
            kwargs: dict[str, Any] = dict(parse_url(url.replace("+cluster", "", 1)))
            kwargs.pop("connection_class", None)
            tls = scheme == "rediss+cluster"
            cluster = RedisCluster(
                **kwargs, **common, ssl=tls, max_connections=settings.max_connections
            )
            # RedisCluster has no connection_class option; its nodes (present and discovered
            # later) are built from this shared kwargs dict
            guarded = _GuardedSSLConnection if tls else _GuardedConnection
            cluster.connection_kwargs["connection_class"] = guarded
            for node in cluster.startup_nodes:
                node.connection_class = guarded
            # same commands, different class: callers see one client type
            return cast(Redis, cluster), cluster
        kwargs = dict(parse_url(url))
        kwargs["connection_class"] = _GUARDED[kwargs.get("connection_class", Connection)]
        pool = BlockingConnectionPool(
            max_connections=settings.max_connections,
            timeout=settings.pool_timeout_s,
            **kwargs,
            **common,
        )
    except (ValueError, TypeError, RedisClusterException) as err:
        raise ConfigError(
            f"cannot use store URL {redact_url(url)!r}: {err}", path="$.store.url"
        ) from err
    return Redis.from_pool(pool), None
