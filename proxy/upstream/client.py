"""The HTTP client that talks to the origin.

Settings that matter for a transparent proxy, each a measured or documented pitfall:
``auto_decompress=False`` (aiohttp would decode and keep ``Content-Encoding``: aiohttp#4462);
a ``DummyCookieJar`` (a shared jar would hand one visitor's cookies to the next); no redirects
followed; no auto-added ``User-Agent``/``Accept*``/``Content-Type``; header limits of 64 KiB
(aiohttp's 8190-byte default breaks sites with a large CSP or Set-Cookie).
"""

from __future__ import annotations

from aiohttp import ClientSession, ClientTimeout, DummyCookieJar, TCPConnector
from yarl import URL

from proxy.config.schema import OriginConfig
from proxy.upstream.origin_pool import OriginPool
from proxy.upstream.websocket import no_redirects_followed

SKIP_AUTO_HEADERS = ("User-Agent", "Accept", "Accept-Encoding", "Content-Type")


def create_origin_session(config: OriginConfig) -> ClientSession:
    connector = TCPConnector(
        limit=config.pool_size,
        keepalive_timeout=config.pool_keepalive_s,
        ttl_dns_cache=60,
        enable_cleanup_closed=True,
    )
    return ClientSession(
        connector=connector,
        cookie_jar=DummyCookieJar(),
        auto_decompress=False,
        skip_auto_headers=SKIP_AUTO_HEADERS,
        timeout=ClientTimeout(
            total=None,
            connect=config.connect_timeout_s,
            sock_connect=config.connect_timeout_s,
            sock_read=config.read_timeout_s,
        ),
        max_line_size=config.max_header_bytes,
        max_field_size=config.max_header_bytes,
        read_bufsize=256 * 1024,
        raise_for_status=False,
        trust_env=False,
        trace_configs=[no_redirects_followed()],  # ws_connect would follow them
    )


def create_origin_pool(config: OriginConfig) -> OriginPool | None:
    """The lean client for body-less GETs to a plain-HTTP origin, with the session's limits;
    None for an ``https://`` origin (aiohttp's client serves every request then)."""
    return OriginPool.for_origin(
        config.url,
        limit=config.pool_size,
        keepalive_s=config.pool_keepalive_s,
        connect_timeout_s=config.connect_timeout_s,
        read_timeout_s=config.read_timeout_s,
        max_header_bytes=config.max_header_bytes,
    )


def origin_form(raw_target: str) -> str | None:
    """The path and query to send to the origin, from the request target as received.

    Origin-form (``/path?q``) passes byte for byte (RFC 9110 §7.7: a proxy must not rewrite it).
    Absolute-form (``http://other/path``) keeps only its path: the authority in it never chooses
    the upstream (aiohttp PR #13175). Anything else (``*``, authority-form) is refused.
    """
    if raw_target.startswith("/"):
        return raw_target
    lowered = raw_target[:8].lower()
    if lowered.startswith(("http://", "https://")):
        rest = raw_target.split("://", 1)[1]
        cut = min((i for i in (rest.find("/"), rest.find("?")) if i >= 0), default=-1)
        if cut < 0:
            return "/"
        tail = rest[cut:]
        return tail if tail.startswith("/") else "/" + tail
    return None


def origin_url(origin: str, target: str) -> URL:
    """Configured origin + origin-form target, never re-parsed or normalised."""
    return URL(origin.rstrip("/") + target, encoded=True)
