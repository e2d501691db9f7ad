"""The background workers' counters and their streams' lag, read from a running proxy's admin
listener: what the sink stored, what the consumers applied, that nothing is left behind."""

from __future__ import annotations

import asyncio
import secrets

import aiohttp
import orjson
from prometheus_client.parser import text_string_to_metric_families

from proxy.app import create_admin_app
from tests import proxy_fixtures
from tests.proxy_fixtures import StartProxy, serve_app
from tests.redis_server import free_port

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


async def scrape(client: aiohttp.ClientSession, admin: str) -> Samples:
    async with client.get(admin + "/metrics") as response:
        assert response.status == 200
        text = await response.text()
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def counter(samples: Samples, worker: str, name: str) -> float | None:
    labels = frozenset({("worker", worker), ("counter", name)})
    return samples.get(("vernier_background_total", labels))


def stream(samples: Samples, metric: str, stream: str, group: str) -> float | None:
    return samples.get((metric, frozenset({("stream", stream), ("group", group)})))


async def test_admin_metrics_show_every_background_worker_and_its_lag(
    origin: str, start_proxy: StartProxy
) -> None:
    proxy = await start_proxy(origin)
    ids = [f"e_{secrets.token_hex(5)}" for _ in range(3)]
    body = orjson.dumps(
        {
            "v": 1,
            "page": "p_0123456789",
            "events": [
                {"id": i, "type": "scroll", "ts": 1_732_250_000_000, "depth": 0.5} for i in ids
            ],
        }
    )
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as client:
        async with client.get(proxy + "/page") as response:
            assert response.status == 200
        for _ in range(2):  # the second is a retry: duplicates, stored once
            async with client.post(
                proxy + "/__vernier/e", data=body, headers={"Content-Type": "text/plain"}
            ) as response:
                assert response.status == 202

    async with (
        serve_app(create_admin_app(proxy_fixtures.STARTED_APPS[-1])) as admin,
        aiohttp.ClientSession() as client,
    ):
        samples = await scrape(client, admin)
        assert counter(samples, "event_sink", "stored") == 3
        assert counter(samples, "event_sink", "duplicates") == 3
        assert counter(samples, "event_sink", "failed") == 0
        states = {"closed", "open", "half_open"}
        breaker = {
            s: samples[("vernier_store_breaker_state", frozenset({("state", s)}))] for s in states
        }
        assert sorted(breaker.values()) == [0, 0, 1]  # exactly one state is current
        for worker, name in [
            ("store", "failures"),  # calls that timed out count here: not 0 on a busy machine
            ("store", "short_circuited"),
            ("slot_metrics_consumer", "failures"),
            ("learner", "failures"),  # the embedded store: the learner runs in the proxy
            ("models", "refused"),
        ]:
            assert counter(samples, worker, name) is not None, (worker, name)

        # the consumers catch up: every event delivered to every group, and acknowledged by the
        # consumers that acknowledge per batch (the learner holds its entries until a checkpoint)
        async with asyncio.timeout(20):
            while True:
                samples = await scrape(client, admin)
                caught_up = [
                    *(
                        stream(samples, "vernier_stream_lag_entries", "events", group)
                        for group in ("profiles", "slot-metrics", "learner")
                    ),
                    *(
                        stream(samples, "vernier_stream_pending_entries", "events", group)
                        for group in ("profiles", "slot-metrics")
                    ),
                ]
                applied = counter(samples, "profile_consumer", "applied") or 0
                if applied >= 3 and caught_up == [0] * len(caught_up):
                    break
                await asyncio.sleep(0.05)
        assert stream(samples, "vernier_stream_pending_entries", "events", "learner") is not None
        assert stream(samples, "vernier_stream_lag_entries", "decisions", "learner") is not None


async def test_store_up_without_a_readiness_probe(origin: str, start_proxy: StartProxy) -> None:
    """``vernier_store_up`` reads 1 on a healthy proxy that nobody asked ``healthz?ready=1``."""
    await start_proxy(origin)
    async with (
        serve_app(create_admin_app(proxy_fixtures.STARTED_APPS[-1])) as admin,
        aiohttp.ClientSession() as client,
    ):
        samples = await scrape(client, admin)
    assert samples[("vernier_store_up", frozenset())] == 1.0


async def test_store_up_is_0_for_a_store_that_never_answered(
    origin: str, start_proxy: StartProxy
) -> None:
    await start_proxy(origin, store_url=f"redis://127.0.0.1:{free_port()}")
    async with (
        serve_app(create_admin_app(proxy_fixtures.STARTED_APPS[-1])) as admin,
        aiohttp.ClientSession() as client,
    ):
        samples = await scrape(client, admin)
    assert samples[("vernier_store_up", frozenset())] == 0.0
