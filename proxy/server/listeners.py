"""The listening sockets of ``vernier serve``, bound before anything of the app starts.

A port already in use must stop ``serve`` before the store consumers and the learner start (and
log that they did) in a process that is about to exit; so the sockets of ``server.listen`` and
``admin.listen`` are bound first, and handed to aiohttp once the app is set up. Binding follows
what ``loop.create_server`` does with a host (one socket per address the host resolves to,
``SO_REUSEADDR``, IPv6 sockets v6-only), and ``SO_REUSEPORT`` for several workers. A bind error
names the setting to change.
"""

from __future__ import annotations

import socket

from aiohttp import web

from proxy.config.load import parse_listen
from proxy.errors import StartupError

BACKLOG = 1024

# the flag and environment variable of each listener setting, for bind errors
_LISTEN_SETTINGS = {
    "server.listen": "--listen or VERNIER_LISTEN",
    "admin.listen": "--admin-listen or VERNIER_ADMIN_LISTEN; '' turns the admin listener off",
}


def bind(setting: str, address: str, *, reuse_port: bool = False) -> list[socket.socket]:
    """Sockets bound to every address ``address`` (``HOST:PORT``) resolves to; a
    :class:`StartupError` naming ``setting`` if one cannot be bound (none is left open)."""
    host, port = parse_listen(address)
    bound: list[socket.socket] = []
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        for family, kind, proto, _, where in dict.fromkeys(found):
            sock = socket.socket(family, kind, proto)
            bound.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if reuse_port:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind(where)
    except OSError as err:
        for sock in bound:
            sock.close()
        raise StartupError(
            f"cannot listen on {address} ({setting}): {err.strerror or err}; "
            f"choose another address with `{setting}` in the config ({_LISTEN_SETTINGS[setting]})"
        ) from None
    return bound


async def serve_on(runner: web.BaseRunner, sockets: list[socket.socket]) -> list[web.SockSite]:
    """Start serving ``runner``'s app on the bound ``sockets``."""
    sites = [web.SockSite(runner, sock, backlog=BACKLOG) for sock in sockets]
    for site in sites:
        await site.start()
    return sites


def bound_address(sockets: list[socket.socket]) -> str:
    """``http://HOST:PORT`` of the first socket (the chosen port, if it asked for 0)."""
    host, port = sockets[0].getsockname()[:2]
    return f"http://{f'[{host}]' if ':' in host else host}:{port}"
