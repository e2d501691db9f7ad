"""Caching fields of responses that depend on who asks: never stored for everyone, never reused
without asking Vernier again.

``Cache-Control: private`` alone does not keep a page out of a CDN: a CDN reads its own targeted
field first (RFC 9213 ``CDN-Cache-Control`` and vendor ones such as
``Cloudflare-CDN-Cache-Control``; Akamai's ``Edge-Control``; Fastly's and others'
``Surrogate-Control``; nginx's ``X-Accel-Expires``, which beats ``Cache-Control`` in
``proxy_cache``). An origin that sends ``CDN-Cache-Control: max-age=600`` would have one visitor's
variant cached for all. So a response made private loses every such field (:func:`make_private`),
and the CDN falls back to ``Cache-Control``.

A page some rule, slot or trigger may change must also be revalidated on every use
(:func:`revalidate_privately`): otherwise a browser holding a fresh copy (``max-age=60``,
``immutable``) never asks, and a rule edit, a pause or a new decision does not reach it. The 304s
Vernier answers for such pages (``upstream/conditional.py``) keep that cheap.
"""

from __future__ import annotations

from multidict import CIMultiDict

from proxy.content.compress import vary_on

# fields shared caches read before (or instead of) Cache-Control
SHARED_CACHE_FIELDS = frozenset(
    {"cdn-cache-control", "surrogate-control", "edge-control", "x-accel-expires"}
)
SHARED_CACHE_SUFFIXES = ("-cdn-cache-control", "-surrogate-control")
# directives that let a stored copy be used for everyone, or without asking first
_SHARED = frozenset({"public", "private", "s-maxage", "proxy-revalidate"})
_FRESHNESS = frozenset(
    {
        "max-age",
        "immutable",
        "must-revalidate",
        "no-cache",
        "stale-while-revalidate",
        "stale-if-error",
    }
)


def is_shared_cache_field(name: str) -> bool:
    """Whether ``name`` tells a shared cache (a CDN, a reverse proxy) how long to keep a response."""
    lower = name.lower()
    return lower in SHARED_CACHE_FIELDS or lower.endswith(SHARED_CACHE_SUFFIXES)


def _directives(headers: CIMultiDict[str]) -> list[str]:
    return [
        d.strip()
        for value in headers.getall("Cache-Control", ())
        for d in value.split(",")
        if d.strip()
    ]


def _name(directive: str) -> str:
    return directive.split("=", 1)[0].strip().lower()


def _set_cache_control(headers: CIMultiDict[str], directives: list[str]) -> None:
    headers.popall("Cache-Control", None)
    headers["Cache-Control"] = ", ".join(directives)
    for name in [n for n in headers if is_shared_cache_field(n)]:
        headers.popall(name, None)


def make_private(headers: CIMultiDict[str]) -> None:
    """Mark a response as for one visitor only, keeping its freshness directives."""
    kept = [d for d in _directives(headers) if _name(d) not in _SHARED]
    _set_cache_control(headers, ["private", *kept])


def revalidate_privately(headers: CIMultiDict[str]) -> None:
    """For one visitor only, and revalidated before every reuse (``private, no-cache``;
    ``no-store`` and other directives kept, ``max-age``, ``immutable`` and the like dropped;
    ``Expires`` too, which only HTTP/1.0 caches read), varying on the cookies that decide it."""
    kept = [d for d in _directives(headers) if _name(d) not in _SHARED | _FRESHNESS]
    _set_cache_control(headers, ["private", "no-cache", *kept])
    headers.popall("Expires", None)
    vary_on(headers, "Cookie")
