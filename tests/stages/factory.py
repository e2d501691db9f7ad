"""Exchanges and collaborators for testing one stage at a time, without a server.

An exchange is built from plain request values (:class:`RequestView`), with whatever earlier
stages would have left set directly on it. Stages that need the origin's response get a real
one from the loopback origin (:func:`origin_response`); only the stage that talks to the store
uses a store, the real one of the ``embedded_store_url`` fixture.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path

import aiohttp
from aiohttp import HttpVersion

from proxy.config.load import load_config
from proxy.config.schema import Config
from proxy.exchange import Exchange
from proxy.preview import throwaway_issuer
from proxy.request_view import RequestView
from proxy.rules.engine import RuleEngine
from proxy.rules.load import load_rules
from proxy.session.issuer import IdIssuer
from proxy.upstream.headers import ForwardingPolicy

UNUSED_ORIGIN = "http://127.0.0.1:9"  # the discard port: nothing answers there

RULES = """
rules:
  - id: greet
    where: {paths: ["/page"]}
    when: "device == 'mobile'"
    then: [{op: set_text, selector: "p", value: "Hello phone"}]
slots:
  - id: hero
    selector: "#hero"
    where: {paths: ["/page"]}
    control: a
    variants: {a: [], b: [{op: set_text, selector: "#hero", value: "Hi"}]}
    pin: [{when: "device == 'mobile'", variant: b}]
"""


def make_config(**overrides: object) -> Config:
    """Vernier's defaults (no file, no environment) with ``overrides`` by key path."""
    return load_config(None, overrides={"origin.url": UNUSED_ORIGIN, **overrides}, environ={})


def make_issuer(config: Config | None = None) -> IdIssuer:
    return throwaway_issuer(config or make_config())


def make_policy(origin_host: str = "127.0.0.1:9") -> ForwardingPolicy:
    return ForwardingPolicy(
        via_token="1.1 vernier-test",
        trusted=(),
        public_host=None,
        public_scheme=None,
        origin_host=origin_host,
        preserve_host=False,
    )


def make_exchange(
    method: str = "GET",
    target: str = "/",
    headers: Mapping[str, str] | None = None,
    *,
    cookies: Mapping[str, str] | None = None,
    version: HttpVersion = aiohttp.HttpVersion11,
    claimed_version: HttpVersion | None = None,
    body_exists: bool = False,
) -> Exchange:
    """An exchange for a request from 127.0.0.1, with no client connection to stream over."""
    view = RequestView.build(
        method,
        target,
        {"Host": "shop.test", **(headers or {})},
        cookies=cookies,
        remote="127.0.0.1",
        version=version,
        body_exists=body_exists,
    )
    return Exchange(replace(view, claimed_version=claimed_version))


def make_engine(tmp_path: Path, rules: str = RULES) -> RuleEngine:
    path = tmp_path / "rules.yaml"
    path.write_text(rules)
    return RuleEngine.build(load_rules(path))


@asynccontextmanager
async def origin_response(url: str) -> AsyncIterator[aiohttp.ClientResponse]:
    """The origin's response to ``GET url``, headers read and body not yet."""
    async with aiohttp.ClientSession(auto_decompress=False) as session:
        response = await session.get(url, allow_redirects=False)
        try:
            yield response
        finally:
            response.release()
