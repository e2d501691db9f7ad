"""The listening sockets ``vernier serve`` binds before its app starts."""

from __future__ import annotations

import asyncio
import socket

import pytest
from aiohttp import web

from proxy.errors import StartupError
from proxy.server.listeners import bind, bound_address, serve_on


def test_a_taken_address_names_its_setting_and_leaves_nothing_open() -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen(1)
        taken = f"127.0.0.1:{holder.getsockname()[1]}"
        with pytest.raises(StartupError) as caught:
            bind("admin.listen", taken)
    message = str(caught.value)
    assert message.startswith(f"cannot listen on {taken} (admin.listen): ")
    assert "VERNIER_ADMIN_LISTEN" in message


def test_workers_share_a_port_with_reuse_port() -> None:
    first = bind("server.listen", "127.0.0.1:0", reuse_port=True)
    try:
        address = bound_address(first)
        second = bind("server.listen", address.removeprefix("http://"), reuse_port=True)
        assert bound_address(second) == address
        for sock in second:
            sock.close()
    finally:
        for sock in first:
            sock.close()


async def test_bound_sockets_serve_once_the_app_is_set_up() -> None:
    async def up(request: web.Request) -> web.Response:
        return web.Response(text="up")

    sockets = bind("server.listen", "127.0.0.1:0")
    assert bound_address(sockets).startswith("http://127.0.0.1:")
    app = web.Application()
    app.router.add_get("/", up)
    runner = web.AppRunner(app)
    await runner.setup()
    try:
        await serve_on(runner, sockets)
        host, port = sockets[0].getsockname()[:2]
        reader, writer = await asyncio.open_connection(host, port)
        writer.write(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        answer = await reader.read()
        writer.close()
        await writer.wait_closed()
        assert answer.startswith(b"HTTP/1.1 200") and answer.endswith(b"up")
    finally:
        await runner.cleanup()
        for sock in sockets:
            sock.close()
