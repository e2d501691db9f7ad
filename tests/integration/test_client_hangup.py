"""A visitor who hangs up mid-download is not an origin failure (issue #17, honest logs)."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable

import pytest

from proxy.resources import METRICS
from tests.proxy_fixtures import STARTED_APPS, StartProxy

DEADLINE_S = 10.0


async def wait_for(condition: Callable[[], bool], *, what: str) -> None:
    """Poll ``condition()`` until true, failing after ``DEADLINE_S``."""
    deadline = asyncio.get_running_loop().time() + DEADLINE_S
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            pytest.fail(f"not within {DEADLINE_S} s: {what}")
        await asyncio.sleep(0.02)


async def test_client_hanging_up_is_one_info_line_and_counted_apart(
    origin: str, start_proxy: StartProxy, caplog: pytest.LogCaptureFixture
) -> None:
    proxy = await start_proxy(origin)
    metrics = STARTED_APPS[-1][METRICS]
    host, port = proxy.split("//", 1)[1].rsplit(":", 1)
    reader, writer = await asyncio.open_connection(host, int(port))
    caplog.set_level(logging.INFO)
    writer.write(f"GET /big?bytes={200 * 1024 * 1024} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
    await writer.drain()
    assert (await reader.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 200")
    await reader.readexactly(65536)  # the download is under way
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    writer.transport.abort()  # a reset, as a closed tab or a dropped phone does

    def counted() -> bool:
        return bool(metrics.client_gone._value.get() == 1)

    await wait_for(counted, what="the hang-up was counted")
    assert metrics.origin_errors.labels("mid_body")._value.get() == 0
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not [r for r in caplog.records if "origin failed" in r.getMessage()]
    hangups = [r for r in caplog.records if "client hung up" in r.getMessage()]
    assert len(hangups) == 1
    assert hangups[0].levelno == logging.INFO and hangups[0].exc_info is None
