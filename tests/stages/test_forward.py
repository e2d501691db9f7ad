"""forward alone, against a real origin on loopback: what the origin is sent, and failures."""

from __future__ import annotations

import logging

import aiohttp
import orjson
import pytest

from proxy.config.schema import OriginConfig
from proxy.metrics import Metrics
from proxy.stages.forward import Forward
from proxy.upstream.client import create_origin_pool
from proxy.upstream.conditional import Conditions
from proxy.upstream.log_limit import LogLimit
from proxy.upstream.origin_pool import PooledResponse
from proxy.upstream.public_address import PublicAddress
from tests.stages.factory import UNUSED_ORIGIN, make_exchange, make_policy


def forward_to(session: aiohttp.ClientSession, origin: str, metrics: Metrics) -> Forward:
    return Forward(
        session, origin, make_policy(), metrics, "abcd1234", 5.0, PublicAddress(origin, None)
    )


async def test_the_origin_gets_the_target_and_the_forwarding_headers(origin: str) -> None:
    ex = make_exchange(headers={"Accept": "text/html", "X-Vernier-Debug": "token"})
    ex.target = "/echo/a?b=1"
    async with aiohttp.ClientSession() as session:
        await forward_to(session, origin, Metrics())(ex)
        assert ex.reply is None and ex.upstream is not None
        echoed = orjson.loads(await ex.upstream.read())
    headers = dict(echoed["headers"])
    assert echoed["raw_path"] == "/echo/a?b=1" and headers["Accept"] == "text/html"
    assert headers["Via"] == "1.1 vernier-test" and headers["X-Forwarded-For"] == "127.0.0.1"
    assert "X-Vernier-Debug" not in headers


async def test_a_validator_naming_our_change_is_translated_for_the_origin(origin: str) -> None:
    ex = make_exchange(headers={"If-None-Match": 'W/"page-v1-vnabcd1234"'})
    ex.target = "/echo"
    async with aiohttp.ClientSession() as session:
        await forward_to(session, origin, Metrics())(ex)
        assert ex.upstream is not None
        headers = dict(orjson.loads(await ex.upstream.read())["headers"])
    assert ex.translated_validator and headers["If-None-Match"] == '"page-v1"'


@pytest.mark.parametrize("lean", [False, True], ids=["aiohttp", "lean pool"])
async def test_an_unreachable_origin_answers_502_and_is_counted(lean: bool) -> None:
    metrics = Metrics()
    ex = make_exchange()
    async with aiohttp.ClientSession() as session:
        await (pooled_forward if lean else forward_to)(session, UNUSED_ORIGIN, metrics)(ex)
    assert ex.reply is not None and ex.reply.status == 502 and ex.upstream is None
    assert metrics.origin_errors.labels("connect")._value.get() == 1


async def test_conditions_are_kept_from_the_origin_when_vernier_owns_the_validator(
    origin: str,
) -> None:
    ex = make_exchange(headers={"If-None-Match": 'W/"vs-abc"', "If-Modified-Since": "x"})
    ex.owns_validator = True
    ex.target = "/echo"
    async with aiohttp.ClientSession() as session:
        await forward_to(session, origin, Metrics())(ex)
        assert ex.upstream is not None
        headers = dict(orjson.loads(await ex.upstream.read())["headers"])
    assert ex.conditions == Conditions('W/"vs-abc"', "x")
    assert "If-None-Match" not in headers and "If-Modified-Since" not in headers


async def test_origin_5xx_warnings_are_one_line_per_status_per_interval(
    origin: str, caplog: pytest.LogCaptureFixture
) -> None:
    now_s = [0.0]
    limit = LogLimit(interval_s=60.0, clock=lambda: now_s[0])
    caplog.set_level(logging.WARNING, "vernier.forward")
    async with aiohttp.ClientSession() as session:
        forward = Forward(
            session,
            origin,
            make_policy(),
            Metrics(),
            "abcd1234",
            5.0,
            PublicAddress(origin, None),
            log_limit=limit,
        )

        async def ask(path: str) -> None:
            ex = make_exchange()
            ex.target = path
            await forward(ex)
            assert ex.upstream is not None
            ex.upstream.release()

        for _ in range(3):
            await ask("/status/500")
        await ask("/status/503")
        now_s[0] = 60.0
        await ask("/status/500")
    assert [r.getMessage() for r in caplog.records if r.name == "vernier.forward"] == [
        "origin answered 500 to GET /status/500",
        "origin answered 503 to GET /status/503",
        "origin answered 500 to GET /status/500 (2 more like it since the last such line)",
    ]


def pooled_forward(session: aiohttp.ClientSession, origin: str, metrics: Metrics) -> Forward:
    pool = create_origin_pool(OriginConfig(url=origin))
    assert pool is not None
    return Forward(
        session,
        origin,
        make_policy(),
        metrics,
        "abcd1234",
        5.0,
        PublicAddress(origin, None),
        pool=pool,
    )


async def test_a_plain_get_goes_through_the_lean_pool_with_the_same_headers(origin: str) -> None:
    ex = make_exchange(headers={"Accept": "text/html", "X-Vernier-Debug": "token"})
    ex.target = "/echo/a?b=1"
    async with aiohttp.ClientSession() as session:
        await pooled_forward(session, origin, Metrics())(ex)
    assert isinstance(ex.upstream, PooledResponse)
    echoed = orjson.loads(await ex.upstream.content.read())
    ex.upstream.release()
    headers = dict(echoed["headers"])
    assert echoed["method"] == "GET" and echoed["raw_path"] == "/echo/a?b=1"
    assert headers["Via"] == "1.1 vernier-test" and headers["X-Forwarded-For"] == "127.0.0.1"
    assert "X-Vernier-Debug" not in headers
