"""What the stages read of the client's request, as plain values Vernier owns.

The server builds one from aiohttp's request at the edge (``proxy/server/edge.py``); ``vernier
preview`` and the stage tests build one from plain values (:meth:`RequestView.build`). So a stage
that only reads the request never needs a live connection, and the same pipeline serves a
preview. Nothing here does I/O.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from http.cookies import CookieError, SimpleCookie
from types import MappingProxyType

from aiohttp import HttpVersion, HttpVersion11
from multidict import CIMultiDict, CIMultiDictProxy, MultiMapping
from yarl import URL


@dataclass(frozen=True, slots=True)
class RequestView:
    """The request line, headers and peer of one client request."""

    method: str
    raw_target: str  # the request target exactly as the request line sent it
    path: str  # percent-decoded, without the query
    query: MultiMapping[str]
    headers: CIMultiDictProxy[str]
    cookies: Mapping[str, str]
    host: str  # the Host header (else the address the request arrived on)
    scheme: str = "http"  # of the connection to us
    remote: str | None = None  # the peer's address
    version: HttpVersion = HttpVersion11
    # the version a request line claimed when the server spoke another (see server/protocol.py)
    claimed_version: HttpVersion | None = None
    body_exists: bool = False

    @classmethod
    def build(
        cls,
        method: str = "GET",
        target: str = "/",
        headers: Mapping[str, str] | None = None,
        *,
        cookies: Mapping[str, str] | None = None,
        scheme: str = "http",
        remote: str | None = None,
        version: HttpVersion = HttpVersion11,
        body_exists: bool = False,
    ) -> RequestView:
        """A request from plain values; ``cookies`` default to those of the ``Cookie`` header."""
        url = URL(target)
        fixed = CIMultiDictProxy(CIMultiDict(headers or {}))
        return cls(
            method=method,
            raw_target=target,
            path=url.path,
            query=url.query,
            headers=fixed,
            cookies=MappingProxyType(
                dict(cookies) if cookies is not None else parse_cookies(fixed.get("Cookie", ""))
            ),
            host=fixed.get("Host", ""),
            scheme=scheme,
            remote=remote,
            version=version,
            body_exists=body_exists,
        )


def parse_cookies(header: str) -> dict[str, str]:
    """The name → value pairs of a ``Cookie`` header; a header that does not parse has none."""
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(header)
    except CookieError:
        return {}
    return {name: morsel.value for name, morsel in jar.items()}


def token_matches(given: str, token: bytes) -> bool:
    """Whether a token a client sent (a header or form value) is ``token``, in constant time.

    aiohttp decodes bytes that are not UTF-8 (a latin-1 ``é``) as lone surrogates, which a plain
    ``str.encode()`` refuses: they are compared as the bytes the client sent, and do not match."""
    return hmac.compare_digest(given.encode("utf-8", "surrogateescape"), token)


def bearer_token(authorization: str | None) -> str:
    """The token of an ``Authorization: Bearer <token>`` value, ``""`` for none or another
    scheme; the scheme's case does not matter (RFC 9110 §11.1: ``bearer`` is ``Bearer``)."""
    scheme, _, token = (authorization or "").strip().partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""
