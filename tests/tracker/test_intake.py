"""``POST /__vernier/e`` through a real aiohttp server on loopback (docs/reliability.md
EV-01..EV-09, EV-11).

The route builds the identity the way the proxy's session stage would (from a cookie) and hands it
to :class:`EventIntake`; the sink is an in-memory collaborator that records what it was given.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from proxy.records.event_record import EventRecord
from proxy.tracker.bots import BotFilter
from proxy.tracker.intake import EventIntake, IdentityLike, IntakeLimits
from proxy.tracker.ratelimit import TokenBucketLimiter

CONTRACT = json.loads(
    (Path(__file__).resolve().parents[2] / "tracker_js" / "events.contract.json").read_text()
)
VALID = CONTRACT["valid_examples"][0]
PATH = "/__vernier/e"
NOW_S = 1_732_250_010.5
BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36"
HEADERS = {"User-Agent": BROWSER, "Cookie": "sid=s_session0001", "Content-Type": "application/json"}


if TYPE_CHECKING:  # the proxy passes its own Identity: it must fit what the intake reads
    from proxy.exchange import Identity

    _fits: IdentityLike = Identity()


@dataclass(frozen=True)
class FromCookie:
    """The identity the session stage would build (a stand-in for ``proxy.exchange.Identity``)."""

    session_id: str | None
    visitor_id: str | None
    trackable: bool


class Sink:
    """Keeps what it is given; ``answer`` False or an exception stands in for a store outage."""

    def __init__(self) -> None:
        self.batches: list[list[EventRecord]] = []
        self.answer: bool | Exception = True

    async def store(self, records: list[EventRecord]) -> bool:
        if isinstance(self.answer, Exception):
            raise self.answer
        if self.answer:
            self.batches.append(records)
        return self.answer

    @property
    def records(self) -> list[EventRecord]:
        return [record for batch in self.batches for record in batch]


class Clock:
    def __init__(self) -> None:
        self.now_s = 100.0

    def __call__(self) -> float:
        return self.now_s


def body_of(n_events: int = 0, **top: Any) -> bytes:
    events = (
        VALID["events"]
        if n_events == 0
        else [
            {"id": f"e_{i:04d}aaaa", "type": "scroll", "ts": 1, "depth": 0.5}
            for i in range(n_events)
        ]
    )
    return json.dumps({"v": 1, "page": VALID["page"], "events": events, **top}).encode()


Make = Callable[..., Awaitable[TestClient[web.Request, web.Application]]]


@pytest.fixture
def sink() -> Sink:
    return Sink()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def limiters() -> dict[str, TokenBucketLimiter]:
    """The last limiters ``make`` built, by name, to look into."""
    return {}


@pytest.fixture
def make(
    aiohttp_client: Any, sink: Sink, clock: Clock, limiters: dict[str, TokenBucketLimiter]
) -> Make:
    async def build(
        *,
        session_per_min: float = 120,
        address_per_min: float = 1_200,
        limits: IntakeLimits | None = None,
        **kwargs: Any,
    ) -> TestClient[web.Request, web.Application]:
        limiters["session"] = TokenBucketLimiter.per_minute(session_per_min, clock=clock)
        limiters["address"] = TokenBucketLimiter.per_minute(address_per_min, clock=clock)
        intake = EventIntake(
            sink,
            session_limiter=limiters["session"],
            address_limiter=limiters["address"],
            limits=limits,
            clock=lambda: NOW_S,
            **kwargs,
        )

        async def route(request: web.Request) -> web.Response:
            session = request.cookies.get("sid")
            identity = FromCookie(
                session_id=session,
                visitor_id="v_visitor01" if session else None,
                trackable=request.headers.get("X-Test-Consent") != "no",
            )
            return await intake.handle(request, identity)

        app = web.Application()
        app.router.add_route("*", PATH, route)
        client: TestClient[web.Request, web.Application] = await aiohttp_client(app)
        return client

    return build


async def post(
    client: TestClient[web.Request, web.Application], data: Any = None, **headers: str
) -> tuple[int, str, Any]:
    merged = {**HEADERS, **headers}
    skip = [name for name, value in merged.items() if value == ""]
    sent = {name: value for name, value in merged.items() if value != ""}
    async with client.post(
        PATH, data=body_of() if data is None else data, headers=sent, skip_auto_headers=skip
    ) as response:
        return response.status, await response.text(), response.headers


async def raw(
    client: TestClient[web.Request, web.Application], head: bytes, body: bytes = b""
) -> bytes:
    """Everything the server sends until it closes the connection (fails if it does not)."""
    reader, writer = await asyncio.open_connection(client.host, client.port)
    try:
        writer.write(head + body)
        await writer.drain()
        async with asyncio.timeout(3):
            return await reader.read(-1)
    finally:
        writer.close()


# --- accepted -----------------------------------------------------------------------------


@pytest.mark.parametrize("content_type", ["application/json", "text/plain;charset=UTF-8"])
async def test_a_beacon_is_stored_once_per_event(make: Make, sink: Sink, content_type: str) -> None:
    client = await make()
    status, text, headers = await post(client, **{"Content-Type": content_type})
    assert (status, text) == (202, "")
    assert headers["Cache-Control"] == "no-store"
    assert len(sink.batches) == 1
    records = sink.records
    assert [r.event.id for r in records] == [e["id"] for e in VALID["events"]]
    assert {(r.session, r.visitor, r.page, r.received_ms, r.bot) for r in records} == {
        ("s_session0001", "v_visitor01", VALID["page"], 1_732_250_010_500, False)
    }


async def test_no_fetch_metadata_and_no_origin_is_allowed_on_the_session(make: Make) -> None:
    client = await make()
    status, _, _ = await post(client)  # an old browser's sendBeacon: neither header
    assert status == 202
    status, _, _ = await post(
        client, **{"Sec-Fetch-Site": "same-origin", "Origin": f"http://{client.host}:1"}
    )
    assert status == 202  # ports are not compared, host names are


async def test_public_hosts_are_the_allowed_origins(make: Make) -> None:
    client = await make(public_hosts=frozenset({"Shop.Example"}))
    assert (await post(client, Origin="https://shop.example"))[0] == 202
    assert (await post(client, Origin=f"http://{client.host}:{client.port}"))[0] == 403


async def test_headless_chrome_is_flagged_unless_the_list_says_otherwise(
    make: Make, sink: Sink
) -> None:
    headless = BROWSER.replace("Chrome/", "HeadlessChrome/")
    await post(await make(), **{"User-Agent": headless})
    await post(await make(bots=BotFilter.nobody()), **{"User-Agent": headless})
    assert [batch[0].bot for batch in sink.batches] == [True, False]


async def test_a_body_of_exactly_the_cap_is_accepted_with_length_or_chunked(make: Make) -> None:
    client = await make()
    padded = body_of().ljust(65_536)  # JSON allows trailing whitespace

    async def chunks() -> AsyncIterator[bytes]:
        for at in range(0, len(padded), 4096):
            yield padded[at : at + 4096]

    assert (await post(client, padded))[0] == 202
    assert (await post(client, chunks()))[0] == 202


# --- refused before the body --------------------------------------------------------------


async def test_only_post(make: Make) -> None:
    client = await make()
    async with client.get(PATH) as response:
        assert response.status == 405
        assert response.headers["Allow"] == "POST"
        assert response.headers["Cache-Control"] == "no-store"


async def test_too_large_with_content_length(make: Make, sink: Sink) -> None:
    client = await make()
    status, text, headers = await post(client, b"x" * 65_537)
    assert (status, text) == (413, "body too large")
    assert headers["Connection"] == "close"
    assert not sink.batches


async def test_too_large_chunked_stops_at_the_cap(make: Make) -> None:
    client = await make()
    sent = 0

    async def chunks() -> AsyncIterator[bytes]:
        nonlocal sent
        for _ in range(17):  # 17 x 4 KiB = 64 KiB + 4 KiB
            sent += 4096
            yield b" " * 4096

    status, text, _ = await post(client, chunks())
    assert (status, text) == (413, "body too large")


async def test_10_mb_content_length_is_refused_before_the_body_is_sent(make: Make) -> None:
    client = await make()
    head = (
        f"POST {PATH} HTTP/1.1\r\nHost: {client.host}\r\nCookie: sid=s_session0001\r\n"
        "Content-Type: application/json\r\nContent-Length: 10000000\r\n\r\n"
    ).encode()
    answer = await raw(client, head)  # no body at all; the server answers and closes
    assert answer.startswith(b"HTTP/1.1 413 ")
    assert b"\r\nConnection: close\r\n" in answer
    assert answer.endswith(b"body too large")


async def test_a_slow_body_times_out(make: Make) -> None:
    client = await make(limits=IntakeLimits(read_timeout_s=0.2))
    head = (
        f"POST {PATH} HTTP/1.1\r\nHost: {client.host}\r\nCookie: sid=s_session0001\r\n"
        "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n"
    ).encode()
    answer = await raw(client, head, b'{"v": 1')
    assert answer.startswith(b"HTTP/1.1 408 ")


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({"Content-Encoding": "gzip"}, "content-encoding not accepted"),
        ({"Content-Encoding": "identity"}, "content-encoding not accepted"),
        ({"Content-Type": "multipart/form-data; boundary=x"}, "content-type not accepted"),
        ({"Content-Type": "application/x-www-form-urlencoded"}, "content-type not accepted"),
        ({"Content-Type": "application/jsonp"}, "content-type not accepted"),
        ({"Content-Type": ""}, "no content-type"),
    ],
)
async def test_media_types(make: Make, headers: dict[str, str], reason: str) -> None:
    client = await make()
    assert (await post(client, **headers))[:2] == (415, reason)


async def test_a_gzip_bomb_is_never_decompressed(make: Make) -> None:
    client = await make()
    bomb = gzip.compress(b" " * 10_000_000)  # ~10 KB on the wire
    assert (await post(client, bomb, **{"Content-Encoding": "gzip"}))[:2] == (
        415,
        "content-encoding not accepted",
    )


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({"Sec-Fetch-Site": "cross-site"}, "cross-site"),
        ({"Sec-Fetch-Site": "same-site", "Origin": "https://evil.example"}, "foreign origin"),
        ({"Origin": "https://evil.example"}, "foreign origin"),
        ({"Origin": "null"}, "foreign origin"),
        ({"Origin": "not a url ["}, "foreign origin"),
        ({"X-Test-Consent": "no"}, "no consent"),
        ({"Cookie": ""}, "no session"),
    ],
)
async def test_refused_403(make: Make, sink: Sink, headers: dict[str, str], reason: str) -> None:
    client = await make()
    assert (await post(client, **headers))[:2] == (403, reason)
    assert not sink.batches


# --- refused after reading ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (body_of(51), "schema: $.events: must have at most 50 items"),
        (b"{", "json: truncated"),
        (
            body_of(1).replace(
                b'"scroll", "ts": 1, "depth": 0.5', b'"conversion", "ts": 1, "name": "a\\ud800b"'
            ),
            "json: unpaired surrogate escape",
        ),
        (body_of(session="s_attacker00"), "schema: $.session: unknown field 'session'"),
        (body_of(1).replace(b'"v": 1', b'"v": 1, "v": 1'), "json: duplicate key `v`"),
        (b"[" * 30_000 + b"]" * 30_000, "schema: $: expected an object, got an array"),
    ],
)
async def test_malformed_400(make: Make, sink: Sink, body: bytes, reason: str) -> None:
    client = await make()
    assert (await post(client, body))[:2] == (400, reason)
    assert not sink.batches


async def test_a_lower_configured_event_cap(make: Make) -> None:
    client = await make(limits=IntakeLimits(max_events=5))
    assert (await post(client, body_of(6)))[:2] == (400, "schema: $.events: more than 5 events")
    assert (await post(client, body_of(5)))[0] == 202


# --- rate limits --------------------------------------------------------------------------


async def test_a_session_over_its_rate_gets_429_then_recovers(make: Make, clock: Clock) -> None:
    client = await make()  # 120 events/min per session, refilled at 2/s
    for _ in range(12):
        assert (await post(client, body_of(10)))[0] == 202
    status, text, headers = await post(client, body_of(10))
    assert (status, text) == (429, "too many events for this session")
    assert headers["Retry-After"] == "5"  # 10 events at 2 per second
    clock.now_s += 4.9
    assert (await post(client, body_of(10)))[0] == 429
    clock.now_s += 0.1
    assert (await post(client, body_of(10)))[0] == 202
    other = {"Cookie": "sid=s_session0002"}
    assert (await post(client, body_of(10), **other))[0] == 202  # other sessions unaffected


async def test_an_address_with_many_sessions_gets_429(
    make: Make, clock: Clock, limiters: dict[str, TokenBucketLimiter]
) -> None:
    client = await make(address_per_min=30)
    for i in range(3):
        assert (await post(client, body_of(10), Cookie=f"sid=s_session{i:04d}"))[0] == 202
    status, text, headers = await post(client, body_of(10), Cookie="sid=s_session0009")
    assert (status, text, headers["Retry-After"]) == (429, "too many events for this address", "20")
    # the refused batch was not charged to its session
    assert limiters["session"].retry_after_s("s_session0009", 120) == 0.0
    clock.now_s += 20
    assert (await post(client, body_of(10), Cookie="sid=s_session0009"))[0] == 202


# --- storage ------------------------------------------------------------------------------


async def test_not_stored_is_503_with_retry_after(make: Make, sink: Sink) -> None:
    client = await make()
    sink.answer = False
    status, text, headers = await post(client)
    assert (status, text, headers["Retry-After"]) == (503, "not stored", "5")


async def test_an_unexpected_failure_is_503_never_500(
    make: Make, sink: Sink, caplog: pytest.LogCaptureFixture
) -> None:
    client = await make()
    sink.answer = RuntimeError("boom")
    with caplog.at_level(logging.ERROR, logger="vernier.intake"):
        status, text, headers = await post(client)
    assert (status, text, headers["Retry-After"]) == (503, "unavailable", "5")
    assert "event intake failed" in caplog.text


async def test_retries_reach_the_sink_with_their_ids(make: Make, sink: Sink) -> None:
    """The intake passes every delivery on; the sink deduplicates by ``event.id`` (EV-09)."""
    client = await make()
    for _ in range(3):
        assert (await post(client, body_of(2)))[0] == 202
    assert [[r.event.id for r in batch] for batch in sink.batches] == [
        ["e_0000aaaa", "e_0001aaaa"]
    ] * 3


async def test_broken_chunked_framing_is_400_and_closes(make: Make, sink: Sink) -> None:
    client = await make()
    head = (
        f"POST {PATH} HTTP/1.1\r\nHost: {client.host}\r\nCookie: sid=s_session0001\r\n"
        "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    ).encode()
    answer = await raw(client, head, b'5\r\n{"v":\r\nzz\r\n')
    assert answer.split(b" ", 2)[1] == b"400"  # aiohttp's parser or the intake: never a 500
    assert not sink.batches
