"""The lean origin client against real origins on loopback: what it sends, reuse, limits, and
every failure as the aiohttp error type forward already maps."""

from __future__ import annotations

import asyncio

import orjson
import pytest
from aiohttp import ClientPayloadError, ClientResponseError, ServerTimeoutError

from proxy.upstream.origin_pool import OriginPool, OriginUnreachable, request_head
from tests.proxy_fixtures import StartRawOrigin, raw_response
from tests.stages.factory import UNUSED_ORIGIN


def pool_for(origin: str, *, limit: int = 4, read_timeout_s: float = 30.0) -> OriginPool:
    pool = OriginPool.for_origin(
        origin,
        limit=limit,
        keepalive_s=15.0,
        connect_timeout_s=3.0,
        read_timeout_s=read_timeout_s,
        max_header_bytes=65536,
    )
    assert pool is not None
    return pool


def host_of(origin: str) -> dict[str, str]:
    return {"Host": origin.split("//", 1)[1]}


def test_only_a_plain_http_origin_gets_a_pool() -> None:
    assert pool_for("http://127.0.0.1:8000") is not None
    for origin in ("https://127.0.0.1:8443", "http://127.0.0.1:8000/base"):
        assert (
            OriginPool.for_origin(
                origin,
                limit=1,
                keepalive_s=1.0,
                connect_timeout_s=1.0,
                read_timeout_s=1.0,
                max_header_bytes=1024,
            )
            is None
        )


def test_the_request_head_is_written_as_given() -> None:
    head = request_head("/a?b=1", {"Host": "o", "Via": "1.1 v"})
    assert head == b"GET /a?b=1 HTTP/1.1\r\nHost: o\r\nVia: 1.1 v\r\n\r\n"


def test_header_bytes_that_are_not_utf_8_go_on_as_they_came() -> None:
    """aiohttp's server decodes them with surrogateescape (a latin-1 \xe9 is \udce9): they
    were a UnicodeEncodeError here, a 500 before the origin was asked."""
    raw = b"caf\xe9 \xff"
    head = request_head("/", {"Host": "o", "X-Foo": raw.decode("utf-8", "surrogateescape")})
    assert head == b"GET / HTTP/1.1\r\nHost: o\r\nX-Foo: " + raw + b"\r\n\r\n"
    assert request_head("/", {"Host": "o", "X": "\ud800"}) is None  # aiohttp's client asks


@pytest.mark.parametrize(
    ("target", "headers"),
    [
        ("/a b", {"Host": "o"}),
        ("/a\r\nX: y", {"Host": "o"}),
        ("/", {"Host": "o\r\nX-Injected: 1"}),
        ("/", {"Host": "o", "X": "a\nb"}),
        ("/", {"Host": "o", "X": "a\rb"}),
        ("/", {"Host": "o", "X": "a\0b"}),
    ],
)
def test_anything_that_could_split_the_request_is_declined(
    target: str, headers: dict[str, str]
) -> None:
    assert request_head(target, headers) is None


async def test_the_origin_gets_the_target_and_headers_and_the_connection_is_reused(
    origin: str,
) -> None:
    pool = pool_for(origin)
    for _ in range(3):
        response = await pool.get("/echo/a?b=1", {**host_of(origin), "Accept": "text/html"})
        assert response is not None and response.status == 200
        assert response.content_type == "application/json"
        echoed = orjson.loads(await response.read())
        response.release()
        assert pool.in_use == 0 and pool.idle == 1  # one connection, used three times
    assert echoed["raw_path"] == "/echo/a?b=1" and dict(echoed["headers"])["Accept"] == "text/html"
    pool.close()
    assert pool.idle == 0


async def test_a_body_not_read_to_its_end_closes_its_connection(origin: str) -> None:
    pool = pool_for(origin)
    response = await pool.get("/big", host_of(origin))
    assert response is not None
    await response.content.readany()
    response.release()
    assert pool.in_use == 0 and pool.idle == 0


async def test_a_response_dropped_unreleased_gives_its_slot_back(origin: str) -> None:
    pool = pool_for(origin, limit=1)
    response = await pool.get("/page", host_of(origin))
    assert response is not None and pool.in_use == 1
    del response
    assert pool.in_use == 0


async def test_at_the_limit_a_request_waits_for_a_slot(origin: str) -> None:
    pool = pool_for(origin, limit=1)
    first = await pool.get("/page", host_of(origin))
    assert first is not None
    waiting = asyncio.ensure_future(pool.get("/page", host_of(origin)))
    await asyncio.sleep(0)  # let it queue (no timing: the assertion holds however long we wait)
    assert not waiting.done()
    await first.content.read()
    first.release()
    second = await waiting
    assert second is not None and second.status == 200 and pool.in_use == 1
    second.close()
    assert pool.in_use == 0


async def test_early_hints_are_skipped_and_chunked_bodies_decoded(
    raw_origin: StartRawOrigin,
) -> None:
    answer = (
        b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n"
        b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
    )
    origin = await raw_origin(answer)
    pool = pool_for(origin)
    response = await pool.get("/", host_of(origin))
    assert response is not None and response.status == 200 and response.reason == "OK"
    assert response.content_type == "text/html" and await response.content.read() == b"hello world"
    response.release()


async def test_a_body_framed_by_the_close_is_read_to_the_end_and_not_reused(
    raw_origin: StartRawOrigin,
) -> None:
    origin = await raw_origin(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n<p>all of it</p>")
    pool = pool_for(origin)
    response = await pool.get("/", host_of(origin))
    assert response is not None and await response.read() == b"<p>all of it</p>"
    response.release()
    assert pool.in_use == 0 and pool.idle == 0


async def test_an_idle_connection_the_origin_closed_is_retried_on_a_new_one(
    raw_origin: StartRawOrigin,
) -> None:
    # the raw origin answers once per connection and closes it, without saying so
    origin = await raw_origin(raw_response(b"ok"))
    pool = pool_for(origin)
    for _ in range(2):
        response = await pool.get("/", host_of(origin))
        assert response is not None and await response.content.read() == b"ok"
        response.release()
    assert pool.in_use == 0


async def test_an_unreachable_origin_raises_origin_unreachable() -> None:
    pool = pool_for(UNUSED_ORIGIN)
    with pytest.raises(OriginUnreachable):
        await pool.get("/", {"Host": "x"})
    assert pool.in_use == 0


async def test_a_malformed_answer_is_a_response_error(raw_origin: StartRawOrigin) -> None:
    origin = await raw_origin(
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok"
    )
    pool = pool_for(origin)
    with pytest.raises(ClientResponseError):
        await pool.get("/", host_of(origin))
    assert pool.in_use == 0 and pool.idle == 0


async def test_an_origin_that_never_answers_times_out(raw_origin: StartRawOrigin) -> None:
    answered = asyncio.Event()

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        await answered.wait()  # until the test ends

    origin = await raw_origin(silent)
    pool = pool_for(origin, read_timeout_s=0.05)
    with pytest.raises(ServerTimeoutError):
        await pool.get("/", host_of(origin))
    answered.set()
    assert pool.in_use == 0


async def test_a_body_cut_short_is_a_payload_error(raw_origin: StartRawOrigin) -> None:
    origin = await raw_origin(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")
    pool = pool_for(origin)
    response = await pool.get("/", host_of(origin))
    assert response is not None
    with pytest.raises(ClientPayloadError):
        await response.content.read()
    response.close()
    assert pool.in_use == 0
