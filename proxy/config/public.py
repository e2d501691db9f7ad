"""The public address facts derived from a :class:`Config`, used by the stages, the endpoints and
``vernier preview`` alike, so that each reads ``origin.public_url`` the same way."""

from __future__ import annotations

from urllib.parse import SplitResult, urlsplit

from proxy.config.schema import Config


def public_parts(config: Config) -> SplitResult | None:
    """``origin.public_url`` split, or None when visitors use the proxy's own address."""
    return urlsplit(config.origin.public_url) if config.origin.public_url else None


def own_hosts(config: Config) -> frozenset[str]:
    """The host names the site is served under (empty without ``public_url``)."""
    public = public_parts(config)
    return frozenset({public.hostname}) if public and public.hostname else frozenset()


def public_hosts(config: Config) -> frozenset[str] | None:
    """:func:`own_hosts`, or None where a same-origin check must compare with ``Host``."""
    return own_hosts(config) or None
