"""Real parts for tests: an origin app on loopback, a raw-socket origin for malformed
responses, the embedded Valkey store, the proxy itself with its production runner, and the
rules folder a test module serves."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from proxy.app import create_app
from proxy.config.load import load_config
from proxy.server.workers import runner_for
from proxy.store.embedded import EmbeddedStore
from tests.integration.origin_app import create_origin_app

StartProxy = Callable[..., Awaitable[str]]
# apps started by start_proxy in this test (for tests that inspect a running proxy's state)
STARTED_APPS: list[web.Application] = []


def bound_port(site: web.TCPSite) -> int:
    """The port the kernel gave a site started on port 0."""
    server = site._server
    assert server is not None
    # typeshed's AbstractServer has no ``sockets``; every loop's server does (aiohttp's own
    # ``BaseRunner.addresses`` reads it the same way)
    return int(server.sockets[0].getsockname()[1])  # type: ignore[attr-defined]


@contextlib.asynccontextmanager
async def serve_app(app: web.Application, *, auto_decompress: bool = True) -> AsyncIterator[str]:
    """Run ``app`` on a free loopback port for the duration of the block; yields its base URL."""
    runner = web.AppRunner(app, access_log=None, auto_decompress=auto_decompress)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{bound_port(site)}"
    finally:
        await runner.cleanup()


def raw_response(body: bytes, *headers: str, status: str = "200 OK") -> bytes:
    """An HTTP/1.1 response with ``Content-Length`` framing, exactly as written."""
    lines = [f"HTTP/1.1 {status}", *headers, f"Content-Length: {len(body)}", "", ""]
    return "\r\n".join(lines).encode("latin-1") + body


@pytest.fixture(scope="session")
def embedded_store_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    store = EmbeddedStore(tmp_path_factory.mktemp("valkey"))
    store.start()
    try:
        yield store.url
    finally:
        store.stop()


@pytest.fixture
async def origin() -> AsyncIterator[str]:
    async with serve_app(create_origin_app()) as url:
        yield url


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "rules_file(name, text): the YAML the rules_dir fixture writes, as rules/<name>"
    )


@pytest.fixture
def rules_dir(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    """A rules folder holding one file, declared by the test (or its module) with
    ``pytestmark = pytest.mark.rules_file("home.yaml", RULES)``.

    The rules are data of the test module, where a reader looks for them; the folder is written
    once here so that every integration test builds it the same way (``tmp_path / "rules"``)."""
    marker = request.node.get_closest_marker("rules_file")
    if marker is None:
        pytest.fail("rules_dir needs a @pytest.mark.rules_file(name, text) on the test or module")
    name, text = marker.args
    folder = tmp_path / "rules"
    folder.mkdir()
    (folder / name).write_text(text)
    return folder


RELAXED_BUDGET_MS = 1000.0
RELAXED_SHED_LAG_MS = 60_000.0


@pytest.fixture
async def start_proxy(embedded_store_url: str, tmp_path: Path) -> AsyncIterator[StartProxy]:
    """``await start_proxy(origin_url, **{"dotted.key": value})`` → the proxy's base URL.

    The page budget defaults to 1 s here: 50 ms is production's, and a CI machine shared with
    other jobs misses it now and then, when the proxy rightly serves the page unchanged; a test
    of the budget itself sets ``html.budget_ms``. Likewise overload shedding starts at a minute
    of event-loop lag: the proxy shares its loop with the test's own client and checks, whose
    CPU work it would rightly count as overload; a test of shedding sets ``overload.*``."""
    runners: list[web.AppRunner] = []

    async def start(origin_url: str, store_url: str | None = None, **overrides: Any) -> str:
        config = load_config(
            None,
            overrides={
                "origin.url": origin_url,
                "data_dir": str(tmp_path),
                "html.budget_ms": RELAXED_BUDGET_MS,
                "overload.shed_changes_lag_ms": RELAXED_SHED_LAG_MS,
                "overload.shed_tag_lag_ms": RELAXED_SHED_LAG_MS,
                **overrides,
            },
            environ={},
        )
        app = create_app(config, store_url=store_url or embedded_store_url)
        STARTED_APPS.append(app)
        runner = runner_for(app, config)
        await runner.setup()
        runners.append(runner)
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        return f"http://127.0.0.1:{bound_port(site)}"

    try:
        yield start
    finally:
        for runner in runners:
            await runner.cleanup()
        STARTED_APPS.clear()


RawHandler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
# ``await raw_origin(answer)`` → the base URL of an origin that answers with ``answer``
StartRawOrigin = Callable[[bytes | RawHandler], Awaitable[str]]


@pytest.fixture
async def raw_origin() -> AsyncIterator[StartRawOrigin]:
    """An origin that answers every request with fixed raw bytes (or runs a handler)."""
    servers: list[asyncio.Server] = []

    async def start(answer: bytes | RawHandler) -> str:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                if callable(answer):
                    await answer(reader, writer)
                    return
                await reader.readuntil(b"\r\n\r\n")
                writer.write(answer)
                await writer.drain()
            except (asyncio.IncompleteReadError, ConnectionError):
                pass
            finally:
                writer.close()

        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        servers.append(server)
        port = server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    try:
        yield start
    finally:
        for server in servers:
            server.close()
            with contextlib.suppress(Exception):
                await server.wait_closed()


async def raw_exchange(base_url: str, data: bytes, *, timeout_s: float = 5.0) -> bytes:
    """Send raw bytes to ``base_url``'s host:port and read until the server closes (bounded)."""
    host_port = base_url.split("//", 1)[1]
    host, port = host_port.rsplit(":", 1)
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(data)
        await writer.drain()
        chunks: list[bytes] = []
        with contextlib.suppress(asyncio.TimeoutError, ConnectionError):
            async with asyncio.timeout(timeout_s):
                while chunk := await reader.read(65536):
                    chunks.append(chunk)
        return b"".join(chunks)
    finally:
        writer.close()
