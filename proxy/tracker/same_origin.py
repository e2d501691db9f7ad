"""Is a state-changing request from the site's own pages? (OWASP CSRF cheat sheet: Fetch
Metadata first, ``Origin`` second; a browser too old to send either — a ``sendBeacon`` without
``Origin`` — is let through on the session cookie alone.)"""

from __future__ import annotations

from urllib.parse import urlsplit

from multidict import CIMultiDictProxy


def _hostname(url: str) -> str | None:
    try:
        return urlsplit(url).hostname  # lower-cased; None for "null" and for no authority
    except ValueError:
        return None


def cross_site_reason(
    headers: CIMultiDictProxy[str], host: str, public_hosts: frozenset[str] | None
) -> str | None:
    """Why the request must be refused as cross-site, or None when it may proceed.

    Host names are compared, ports are not: cookies are not scoped by port either, so a page on
    another port of the same host already holds the session cookie.
    """
    if headers.get("Sec-Fetch-Site", "").lower() == "cross-site":
        return "cross-site"
    origin = headers.get("Origin")
    if origin is None:
        return None
    origin_host = _hostname(origin)
    if origin_host is None:  # "null" (sandboxed frame, cross-origin redirect) or garbage
        return "foreign origin"
    allowed = public_hosts if public_hosts is not None else {_hostname(f"//{host}")}
    return None if origin_host in allowed else "foreign origin"
