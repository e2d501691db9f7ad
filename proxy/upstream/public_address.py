"""Translate the origin's own address in response headers into the address visitors use.

nginx does this with ``proxy_redirect default`` and ``proxy_cookie_domain``. Without a configured
public URL we never trust the request's ``Host`` (that is how Host-header cache poisoning works):
a Location that points at the origin becomes relative, and an origin cookie Domain is dropped, so
the cookie binds to whatever host the visitor used.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from multidict import CIMultiDict


@dataclass(frozen=True, slots=True)
class PublicAddress:
    origin_url: str  # "http://127.0.0.1:8000"
    public_url: str | None  # "https://shop.example" or None

    @property
    def _origin_prefixes(self) -> tuple[str, ...]:
        origin = urlsplit(self.origin_url)
        host = origin.hostname or ""
        if ":" in host:  # urlsplit drops an IPv6 literal's brackets
            host = f"[{host}]"
        default_port = 443 if origin.scheme == "https" else 80
        port = origin.port or default_port
        netlocs = [f"{host}:{port}"]
        if port == default_port:
            netlocs.append(host)
        # a network-path reference (``//host:port/x``, RFC 3986 §4.2) names the origin too
        return tuple(f"{scheme}//{n}" for n in netlocs for scheme in (f"{origin.scheme}:", ""))

    def location(self, value: str) -> str:
        """``Location`` / ``Content-Location``: origin-absolute (or origin network-path) →
        public (or relative)."""
        probe = _as_read(value)
        lowered = probe.lower()
        for prefix in self._origin_prefixes:
            if lowered.startswith(prefix.lower()):
                after = probe[len(prefix) :]
                rest = value[_index_after(value, len(prefix)) :]  # the path as the origin wrote it
                if after == "" or after[0] in "/?#":
                    if self.public_url:
                        return self.public_url.rstrip("/") + (rest or "/")
                    return _relative(rest)
        return value

    def map_headers(self, headers: CIMultiDict[str]) -> None:
        """Map ``Location``, ``Content-Location`` and every ``Set-Cookie`` in place."""
        for name in ("Location", "Content-Location"):
            if name in headers:
                headers[name] = self.location(headers[name])
        if "Set-Cookie" in headers:
            cookies = [self.set_cookie(v) for v in headers.getall("Set-Cookie")]
            headers.popall("Set-Cookie")
            for value in cookies:
                headers.add("Set-Cookie", value)

    def set_cookie(self, value: str) -> str:
        """Rewrite a ``Set-Cookie`` ``Domain`` that names the origin host; leave all else intact."""
        origin_host = (urlsplit(self.origin_url).hostname or "").lower()
        public_host = urlsplit(self.public_url).hostname if self.public_url else None
        parts = value.split(";")
        changed = False
        for i in range(1, len(parts)):
            name, sep, attr = parts[i].partition("=")
            if name.strip().lower() != "domain" or not sep:
                continue
            if attr.strip().lstrip(".").lower() != origin_host:
                continue
            lead = name[: len(name) - len(name.lstrip())]
            parts[i] = f"{lead}Domain={public_host}" if public_host else ""
            changed = True
        if not changed:
            return value
        return ";".join(p for p in parts if p != "")


def _as_read(url: str) -> str:
    """``url`` as a browser reads it: tabs and newlines dropped, a backslash a slash (WHATWG)."""
    return url.replace("\t", "").replace("\n", "").replace("\r", "").replace("\\", "/")


def _index_after(value: str, kept: int) -> int:
    """The index in ``value`` just past its first ``kept`` characters other than tab and
    newline (which a browser drops from a URL)."""
    for index, char in enumerate(value):
        if kept == 0:
            return index
        if char not in "\t\n\r":
            kept -= 1
    return len(value)


def _relative(rest: str) -> str:
    """The origin-relative reference for what followed the origin in an absolute URL.

    ``?q`` and ``#f`` alone would resolve against the current page, not the root; a path that
    starts with ``//`` (or ``/\\``, ``\\\\``, which browsers treat alike, also with tabs
    between) would become a network-path reference to another host — an open redirect. ``/.``
    keeps it a path (RFC 3986 §4.2).
    """
    probe = _as_read(rest)
    if not probe.startswith("/"):
        return "/" + rest
    if probe[1:2] == "/":
        return "/." + rest
    return rest
