"""Which header fields cross the proxy, and what the proxy adds.

Order matters (RFC 9110 §7.6.1): hop-by-hop fields, including every field the peer *names* in
``Connection``, are removed first; only then does Vernier add ``X-Forwarded-*`` and ``Via``.
Otherwise a client could write ``Connection: X-Forwarded-For`` and strip what we added
(Davison 2019; golang/go#50580).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass

from multidict import CIMultiDict, CIMultiDictProxy

# RFC 9110 §7.6.1 plus the de-facto ones Go's httputil and nginx remove.
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-connection",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)
# Framing is re-done by our own writer: never copy it from one side to the other.
FRAMING = frozenset({"content-length", "transfer-encoding"})


def connection_named(headers: CIMultiDictProxy[str] | CIMultiDict[str]) -> set[str]:
    """Lower-cased field names listed in every ``Connection`` header."""
    named: set[str] = set()
    for value in headers.getall("Connection", ()):
        for token in value.split(","):
            token = token.strip().lower()
            if token:
                named.add(token)
    return named


def end_to_end(
    headers: CIMultiDictProxy[str] | CIMultiDict[str], *, drop: Iterable[str] = ()
) -> CIMultiDict[str]:
    """A copy without hop-by-hop fields, fields named in Connection, and ``drop``.

    Multi-valued fields (``Set-Cookie``, ``Link``, ``Vary``) keep every value, in order.
    """
    removed = HOP_BY_HOP | connection_named(headers) | {d.lower() for d in drop}
    out: CIMultiDict[str] = CIMultiDict()
    for name, value in headers.items():
        if name.lower() not in removed:
            out.add(name, value)
    return out


# carries the admin token on a public request (stages/debug.py): never for the origin
DEBUG_HEADER = "x-vernier-debug"


@dataclass(frozen=True, slots=True)
class ForwardingPolicy:
    """How Vernier presents a request to the origin."""

    via_token: str  # e.g. "1.1 vernier-3fa2c1"
    trusted: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]
    public_host: str | None
    public_scheme: str | None
    origin_host: str  # Host header value for the origin, e.g. "127.0.0.1:8000"
    preserve_host: bool

    def is_trusted(self, peer: str | None) -> bool:
        if not peer or not self.trusted:
            return False
        try:
            address = ipaddress.ip_address(peer)
        except ValueError:
            return False
        return any(address in net for net in self.trusted)

    def request_headers(
        self,
        incoming: CIMultiDictProxy[str],
        *,
        peer: str | None,
        scheme: str,
    ) -> CIMultiDict[str]:
        """The header block for the origin request."""
        trusted = self.is_trusted(peer)
        drop = ["host", "expect", DEBUG_HEADER]
        if not trusted:
            drop += ["x-forwarded-for", "x-forwarded-proto", "x-forwarded-host", "forwarded"]
        out = end_to_end(incoming, drop=drop)
        # Envoy's edge guidance: names with "_" can alias "-" names in CGI-style origins.
        for name in [n for n in out if "_" in n]:
            out.popall(name)
        client_host = incoming.get("Host", "")
        forwarded_for = peer or ""
        if trusted and "X-Forwarded-For" in incoming:
            forwarded_for = ", ".join([*incoming.getall("X-Forwarded-For"), forwarded_for])
            out.popall("X-Forwarded-For", None)
        if forwarded_for:  # no peer address (a Unix socket): say nothing rather than ""
            out["X-Forwarded-For"] = forwarded_for
        if not (trusted and "X-Forwarded-Proto" in out):
            out["X-Forwarded-Proto"] = self.public_scheme or scheme
        if not (trusted and "X-Forwarded-Host" in out):
            out["X-Forwarded-Host"] = self.public_host or client_host
        previous = ", ".join(incoming.getall("Via", ()))
        out.popall("Via", None)
        out["Via"] = f"{previous}, {self.via_token}" if previous else self.via_token
        out["Host"] = client_host if self.preserve_host and client_host else self.origin_host
        return out

    def is_loop(self, incoming: CIMultiDictProxy[str]) -> bool:
        """The request already passed through this deployment (the origin points back at us)."""
        pseudonym = self.via_token.split(" ", 1)[1]
        for value in incoming.getall("Via", ()):
            for hop in value.split(","):
                received_by = hop.split()
                if len(received_by) >= 2 and received_by[1] == pseudonym:
                    return True
        return False


# what aiohttp refuses to write in a field value (RFC 9110 §5.5: no control character but HTAB)
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


def response_headers(incoming: CIMultiDictProxy[str]) -> CIMultiDict[str]:
    """The origin's response headers as the client should see them, minus framing. A control
    character in a value (browsers take them; aiohttp would refuse the whole response) becomes a
    space, as RFC 9110 §5.5 lets a recipient do with CR, LF and NUL."""
    out = end_to_end(incoming, drop=FRAMING)
    values = "".join(out.values())
    if values.isprintable() or _CONTROL.search(values) is None:  # the first, a C loop, is cheaper
        return out
    return CIMultiDict((name, _CONTROL.sub(" ", value)) for name, value in out.items())
