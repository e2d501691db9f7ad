"""Real Redis-protocol servers for the store tests, on loopback and Unix sockets in tmp dirs.

No fakes: the embedded Valkey comes from ``proxy.store.embedded`` itself, the other server is
Debian's ``redis-server`` (skipped when absent, except under ``CI=true`` where it must exist);
both are started by the shared ``tests.redis_server`` plugin.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from proxy.store.client import Store
from proxy.store.connection import StoreSettings
from proxy.store.embedded import EmbeddedStore
from tests.redis_server import RedisServerProcess


class FakeClock:
    """A monotonic clock the test steps by hand (for the breaker's open period)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture(
    params=[
        "embedded-unix",
        pytest.param("redis-tcp", marks=pytest.mark.redis_server),
        pytest.param("redis-unix", marks=pytest.mark.redis_server),
    ]
)
def server_url(request: pytest.FixtureRequest) -> str:
    """The URL of a live server: embedded Valkey, or redis-server over TCP or its Unix socket."""
    if request.param == "embedded-unix":
        store: EmbeddedStore = request.getfixturevalue("embedded")
        return store.url
    server: RedisServerProcess = request.getfixturevalue("redis_server")
    return server.url if request.param == "redis-tcp" else server.unix_url


MakeStore = Callable[..., Store]


@pytest.fixture
async def make_store() -> AsyncIterator[MakeStore]:
    """``make_store(url, settings=None, clock=None)``; every store is closed after the test."""
    stores: list[Store] = []

    def make(
        url: str, settings: StoreSettings | None = None, clock: FakeClock | None = None
    ) -> Store:
        store = Store(url, settings, clock=clock or time.monotonic)
        stores.append(store)
        return store

    yield make
    for store in stores:
        await store.close()


@pytest.fixture
def own_store(embedded_store_url: str, make_store: MakeStore) -> Store:
    """A store of its own (a unique key prefix) on the session's embedded server, with generous
    call timeouts: the tests using it check behaviour, not timing, on a possibly busy machine."""
    settings = StoreSettings(
        op_timeout_s=2.0, connect_timeout_s=2.0, key_prefix=f"t{secrets.token_hex(4)}:"
    )
    return make_store(embedded_store_url, settings)


class DelayProxy:
    """A TCP relay that holds each server→client chunk ``delay_s`` before passing it on.

    It stretches the window between a command's send and its reply, which is where a cancelled
    command can leave a reply behind for the next user of the connection (FO-09).
    """

    def __init__(self, target_port: int, delay_s: float = 0.001) -> None:
        self.target_port = target_port
        self.delay_s = delay_s
        self.port = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: list[asyncio.StreamWriter] = []

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        self._writers += [writer, up_writer]
        for coro in (
            self._pump(reader, up_writer, 0.0),
            self._pump(up_reader, writer, self.delay_s),
        ):
            task = asyncio.create_task(coro, name="delay-proxy-pump")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    @staticmethod
    async def _pump(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay_s: float
    ) -> None:
        with contextlib.suppress(ConnectionError, OSError):
            while chunk := await reader.read(65536):
                if delay_s:
                    await asyncio.sleep(delay_s)
                writer.write(chunk)
                await writer.drain()
        writer.close()

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for writer in self._writers:
            writer.close()
        if self._server is not None:
            await self._server.wait_closed()


@pytest.fixture
async def delay_proxy(redis_server: RedisServerProcess) -> AsyncIterator[DelayProxy]:
    """redis-server behind a relay that delays replies by 1 ms."""
    proxy = DelayProxy(redis_server.port)
    await proxy.start()
    yield proxy
    await proxy.close()


async def timed(coro: Awaitable[object]) -> tuple[object, float]:
    """Await ``coro``; return its result and how long it took in seconds."""
    started = time.perf_counter()
    result = await coro
    return result, time.perf_counter() - started
