"""Store against real servers: round trips, fail-open timings (FO-06/08/09/10/11), recovery."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import random
import socket
import time
from typing import cast

import pytest
import redis.exceptions
from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.crc import key_slot
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError

from proxy.errors import ConfigError
from proxy.store.breaker import BreakerState
from proxy.store.client import Store
from proxy.store.connection import StoreSettings, redact_url
from proxy.store.keys import KeySchema
from tests.redis_server import RELAXED_STORE, RedisServerProcess, free_port, started_redis_server

from .conftest import DelayProxy, FakeClock, MakeStore, timed


def state(store: Store) -> BreakerState:
    """The breaker state, read through a call so mypy does not keep a narrowed property type."""
    return store.breaker_state


# each hung call may take the 50 ms op timeout plus scheduling noise on a busy 2-core box
# A deadline, not a measurement: far above the 50 ms call timeout (a busy machine may add
# scheduling delay to it), far below the 4.8-12 s that redis-py's own defaults stall a call for,
# which is what these tests guard against. That a call gave up *at its timeout* is shown by the
# error it recorded (a TimeoutError), and that a call never touched the network by the counters.
STALL_BOUND_S = 2.0


async def seed(r: Redis) -> None:
    await r.mset({"a": "A", "b": "B"})


async def test_round_trip(server_url: str, make_store: MakeStore) -> None:
    store = make_store(server_url, RELAXED_STORE)
    session = store.keys.session_key("s1")
    assert await store.run(lambda r: r.hset(session, mapping={"arm": "2"}), default=None) == 1
    assert await store.run(lambda r: r.hget(session, "arm"), default=None) == b"2"
    assert await store.run(lambda r: r.get("missing"), default=b"dflt") is None
    assert await store.ping() is True
    assert state(store) is BreakerState.CLOSED
    assert (store.failures_total, store.short_circuited_total) == (0, 0)


async def test_up_from_the_first_answered_call_of_any_kind(
    server_url: str, make_store: MakeStore
) -> None:
    store = make_store(server_url)
    assert store.up is False  # nothing asked yet: not known to be up
    await store.run(lambda r: r.get("k"), default=None)  # an ordinary call, no readiness probe
    assert store.up is True


async def test_down_store_is_never_up(make_store: MakeStore) -> None:
    store = make_store(f"redis://127.0.0.1:{free_port()}/0")
    for _ in range(5):
        await store.run(lambda r: r.get("k"), default=None)
    assert state(store) is BreakerState.OPEN
    assert store.up is False


async def test_pipeline_and_transaction(server_url: str, make_store: MakeStore) -> None:
    store = make_store(server_url, RELAXED_STORE)

    async def bump(r: Redis) -> list[object]:
        async with r.pipeline(transaction=True) as pipe:
            pipe.incr("n")
            pipe.expire("n", 60)
            pipe.get("n")
            return cast(list[object], await pipe.execute())

    assert await store.run(bump, default=[]) == [1, True, b"1"]


async def test_check_durability_reports_appendonly(server_url: str, make_store: MakeStore) -> None:
    assert await make_store(server_url).check_durability() == "yes"


@pytest.mark.redis_server
async def test_check_durability_sees_appendonly_no(
    redis_server: RedisServerProcess, make_store: MakeStore
) -> None:
    with redis_server.client() as admin:
        admin.config_set("appendonly", "no")
    assert await make_store(redis_server.url).check_durability() == "no"


@pytest.mark.redis_server
async def test_check_durability_unknown_when_config_is_disabled(
    redis_binary: str, make_store: MakeStore
) -> None:

    with started_redis_server("--rename-command", "CONFIG", "") as server:
        store = make_store(server.url)
        assert await store.check_durability() == "unknown"
        assert state(store) is BreakerState.CLOSED


@pytest.mark.parametrize("where", ["tcp", "unix"])
async def test_fo06_down_store_returns_default_fast_then_short_circuits(
    where: str, make_store: MakeStore, caplog: pytest.LogCaptureFixture
) -> None:
    url = f"redis://127.0.0.1:{free_port()}/0" if where == "tcp" else "unix:///tmp/vst-none.sock"
    store = make_store(url)
    assert await store.ping() is False  # constructing and probing a dead store does not raise
    assert store.failures_total == 1
    for _ in range(4):
        value, took = await timed(store.run(lambda r: r.get("k"), default="fallback"))
        assert value == "fallback"
        assert took < STALL_BOUND_S
    assert state(store) is BreakerState.OPEN
    for _ in range(200):  # refused without touching the network: counted, never attempted
        assert await store.run(lambda r: r.get("k"), default="fallback") == "fallback"
    assert store.short_circuited_total == 200
    assert store.failures_total == 5
    unavailable = [r for r in caplog.records if "unavailable" in r.getMessage()]
    assert len(unavailable) == 1  # logged per transition, not per call


async def hung_calls(make_store: MakeStore, server: RedisServerProcess, hang: str) -> None:
    """FO-08: 5 calls time out within the bound, then the breaker refuses; then it recovers."""
    clock = FakeClock()
    store = make_store(server.url, clock=clock)
    await store.run(seed, default=None)
    tasks_before = len(asyncio.all_tasks())
    with server.paused() if hang == "sigstop" else _server_busy(server, hang):
        for _ in range(5):
            value, took = await timed(store.run(lambda r: r.get("a"), default="fallback"))
            assert value == "fallback"
            assert took < STALL_BOUND_S, f"{hang}: call took {took * 1000:.1f} ms"
            assert isinstance(store._last_error, TimeoutError), store._last_error
        assert state(store) is BreakerState.OPEN
        refused = store.short_circuited_total
        assert await store.run(lambda r: r.get("a"), default="fallback") == "fallback"
        assert store.short_circuited_total == refused + 1
    assert len(asyncio.all_tasks()) == tasks_before  # nothing piled up behind the hang
    # after the open period one probe goes through; poll while the server finishes waking up
    deadline = time.monotonic() + 30.0
    while state(store) is not BreakerState.CLOSED:
        assert time.monotonic() < deadline, "store did not recover"
        clock.advance(store.settings.breaker_open_s)
        await store.run(lambda r: r.get("a"), default=None)
    assert await store.run(lambda r: r.get("b"), default=None) == b"B"


@pytest.mark.redis_server
async def test_a_timeout_whose_timer_fired_late_does_not_count_against_the_store(
    redis_server: RedisServerProcess, make_store: MakeStore
) -> None:
    """A busy machine is not a store outage: a call whose timeout fired a whole budget late
    (the event loop was blocked) fails open for that call, counted as late, not against the
    store; on time, the same timeouts open the breaker; and a half-open probe's always counts."""
    clock = FakeClock()
    store = make_store(redis_server.url, clock=clock)
    await store.run(seed, default=None)
    budget_s = store.settings.op_timeout_s
    loop = asyncio.get_running_loop()

    async def blocked_call() -> object:
        loop.call_soon(time.sleep, 3 * budget_s)  # runs once the call awaits the store
        return await store.run(lambda r: r.get("a"), default="fallback")

    with redis_server.paused():
        for _ in range(store.settings.breaker_failures + 2):
            assert await blocked_call() == "fallback"
        assert state(store) is BreakerState.CLOSED
        assert (store.late_timeouts_total, store.failures_total) == (
            store.settings.breaker_failures + 2,
            0,
        )
        for _ in range(store.settings.breaker_failures):  # on time: the store is to blame
            assert await store.run(lambda r: r.get("a"), default="fallback") == "fallback"
        assert state(store) is BreakerState.OPEN
        clock.advance(store.settings.breaker_open_s)
        assert state(store) is BreakerState.HALF_OPEN
        assert await blocked_call() == "fallback"
        assert state(store) is BreakerState.OPEN  # the probe failed, late or not
    assert store.failures_total == store.settings.breaker_failures + 1


class _server_busy:
    """Make the server unresponsive with DEBUG SLEEP or CLIENT PAUSE from a raw connection.

    The hang lasts 3 s, long enough for five timed-out calls even on a busy machine (the server
    postpones even CLIENT UNPAUSE until a pause runs out, so it cannot be lifted early).
    """

    def __init__(self, server: RedisServerProcess, how: str) -> None:
        self.server = server
        self.how = how
        self.sock = socket.create_connection(("127.0.0.1", server.port), timeout=5.0)

    def __enter__(self) -> None:
        if self.how == "client-pause":
            self.sock.sendall(b"CLIENT PAUSE 3000 ALL\r\n")
            assert self.sock.recv(16).startswith(b"+OK")  # the pause is in force from here
            return
        self.sock.sendall(b"DEBUG SLEEP 3\r\n")

        def asleep() -> bool:
            try:
                with socket.create_connection(("127.0.0.1", self.server.port), timeout=0.02) as s:
                    s.sendall(b"PING\r\n")
                    s.recv(16)
                    return False
            except TimeoutError:
                return True

        deadline = time.monotonic() + 5.0
        while not asleep():
            assert time.monotonic() < deadline, "DEBUG SLEEP never took effect"

    def __exit__(self, *exc: object) -> None:
        self.sock.close()


@pytest.mark.redis_server
@pytest.mark.parametrize("hang", ["sigstop", "debug-sleep", "client-pause"])
async def test_fo08_hung_store(
    hang: str, redis_server: RedisServerProcess, make_store: MakeStore
) -> None:
    await hung_calls(make_store, redis_server, hang)


async def test_fo08_hung_embedded_store(embedded: object, make_store: MakeStore) -> None:
    from proxy.store.embedded import EmbeddedStore

    server = cast(EmbeddedStore, embedded)
    clock = FakeClock()
    store = make_store(server.url, clock=clock)
    await store.run(seed, default=None)
    assert server.pid is not None
    import os
    import signal

    os.kill(server.pid, signal.SIGSTOP)
    try:
        for _ in range(5):
            value, took = await timed(store.run(lambda r: r.get("a"), default="fallback"))
            assert (value, took < STALL_BOUND_S) == ("fallback", True), took
            assert isinstance(store._last_error, TimeoutError), store._last_error
        assert state(store) is BreakerState.OPEN
    finally:
        os.kill(server.pid, signal.SIGCONT)
    clock.advance(store.settings.breaker_open_s)
    assert await store.run(lambda r: r.get("a"), default=None) == b"A"
    assert state(store) is BreakerState.CLOSED


@pytest.mark.redis_server
async def test_killed_and_restarted_store_recovers_with_its_data(
    redis_server: RedisServerProcess, make_store: MakeStore
) -> None:
    clock = FakeClock()
    store = make_store(redis_server.url, clock=clock)
    stream = store.keys.events_key()

    async def write(r: Redis) -> None:
        async with r.pipeline(transaction=False) as pipe:
            for i in range(2000):
                pipe.xadd(stream, {"i": str(i)})
            pipe.set("marker", "kept")
            await pipe.execute()

    await store.run(write, default=None, timeout_s=5.0)
    # leave several idle pooled connections behind: they all die with the server
    await asyncio.gather(*(store.run(lambda r: r.get("marker"), default=None) for _ in range(8)))
    redis_server.kill()
    for _ in range(5):
        value, took = await timed(store.run(lambda r: r.xlen(stream), default=-1))
        assert value == -1 and took < STALL_BOUND_S
    assert state(store) is BreakerState.OPEN
    redis_server.start()
    clock.advance(store.settings.breaker_open_s)
    # the same Store object, no reconnect call: the first probe succeeds despite stale sockets
    assert await store.run(lambda r: r.xlen(stream), default=-1) == 2000
    assert state(store) is BreakerState.CLOSED
    assert await store.run(lambda r: r.get("marker"), default=None) == b"kept"


async def cancel_storm(make_store: MakeStore, url: str, iterations: int) -> list[object]:
    """FO-09: cancel ``GET a`` at a random 0-2 ms, then ``GET b``; return what b was when not B."""
    settings = dataclasses.replace(RELAXED_STORE, max_connections=2, op_timeout_s=1.0)
    store = make_store(url, settings)
    await store.run(seed, default=None)
    rng = random.Random(2665)
    mismatches: list[object] = []
    for _ in range(iterations):
        task = asyncio.create_task(store.run(lambda r: r.get("a"), default=None))
        await asyncio.sleep(rng.uniform(0.0, 0.002))
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        got = await store.run(lambda r: r.get("b"), default=None)
        if got is not None and got != b"B":  # None: the call failed (below), no reply leaked
            mismatches.append((got, store.failures_total, store.response_errors_total))
    # what is tested is that no reply leaks to the next command; a call that timed out because
    # the shared machine stalled the loop for a second is not a failure of that
    timed_out = isinstance(store._last_error, TimeoutError | redis.exceptions.TimeoutError)
    assert store.failures_total == 0 or timed_out, store._last_error
    return mismatches


async def test_fo09_cancellation_never_leaks_a_reply(
    server_url: str, make_store: MakeStore
) -> None:
    assert await cancel_storm(make_store, server_url, 2000) == []


@pytest.mark.redis_server
async def test_fo09_cancellation_with_1ms_reply_latency(
    delay_proxy: DelayProxy, make_store: MakeStore
) -> None:
    assert await cancel_storm(make_store, delay_proxy.url, 1000) == []


@pytest.mark.redis_server
async def test_unread_reply_is_never_handed_to_the_next_command(
    delay_proxy: DelayProxy, make_store: MakeStore
) -> None:
    """A connection released with its reply unread (any path) is dropped, not reused as is."""
    store = make_store(delay_proxy.url, StoreSettings(max_connections=1, op_timeout_s=30.0))
    await store.run(seed, default=None)

    async def leave_reply_unread(r: Redis) -> None:
        conn = await r.connection_pool.get_connection()  # type: ignore[no-untyped-call]
        await conn.send_command("GET", "a")
        await r.connection_pool.release(conn)

    for _ in range(20):
        await store.run(leave_reply_unread, default=None)
        assert await store.run(lambda r: r.get("b"), default=None) == b"B"


async def test_reply_errors_return_default_without_tripping(
    server_url: str, make_store: MakeStore, caplog: pytest.LogCaptureFixture
) -> None:
    store = make_store(server_url, RELAXED_STORE)
    await store.run(lambda r: r.set("str", "x"), default=None)
    for _ in range(20):  # FO-10: WRONGTYPE on a session key
        assert await store.run(lambda r: r.hget("str", "f"), default="miss") == "miss"
    assert state(store) is BreakerState.CLOSED
    assert (store.response_errors_total, store.failures_total) == (20, 0)
    assert len([r for r in caplog.records if "WRONGTYPE" in r.getMessage()]) == 1


@pytest.mark.redis_server
async def test_out_of_memory_is_a_reply_error_and_reads_keep_working(
    redis_server: RedisServerProcess, make_store: MakeStore, caplog: pytest.LogCaptureFixture
) -> None:
    # the default 50 ms a call is a budget a loaded machine can miss: not this test's subject
    store = make_store(redis_server.url, RELAXED_STORE)
    await store.run(seed, default=None)
    with redis_server.client() as admin:
        admin.config_set("maxmemory-policy", "noeviction")
        admin.config_set("maxmemory", "1")
        try:
            for _ in range(10):
                assert await store.run(lambda r: r.set("big", "x" * 1000), default=False) is False
            assert await store.run(lambda r: r.get("a"), default=None) == b"A"
        finally:
            admin.config_set("maxmemory", "0")
    assert state(store) is BreakerState.CLOSED
    assert store.response_errors_total == 10
    # the server's state, said as such: not "a bug in Vernier"
    [said] = [r.getMessage() for r in caplog.records if "OutOfMemoryError" in r.getMessage()]
    assert "out of memory (maxmemory)" in said and "a bug in Vernier" not in said


async def blocked_clients(observer: Store, expected: int) -> None:
    """Poll CLIENT LIST (through another store) until ``expected`` clients sit in BLPOP."""

    async def blpops(r: Redis) -> int:
        return sum(1 for c in await r.client_list() if c.get("cmd") == "blpop")

    deadline = time.monotonic() + 5.0
    while await observer.run(blpops, default=-1) != expected:
        assert time.monotonic() < deadline, f"never saw {expected} clients in BLPOP"
        await asyncio.sleep(0.002)


async def test_pool_exhaustion_is_an_error_not_a_hang(
    server_url: str, make_store: MakeStore
) -> None:
    # The blockers wait far longer than any busy machine needs to reach the check, and are
    # released by pushing to their list afterwards: nothing here races a timeout.
    settings = StoreSettings(max_connections=2, op_timeout_s=60.0, pool_timeout_s=0.02)
    store = make_store(server_url, settings)
    blockers = [
        asyncio.create_task(store.run(lambda r: r.blpop(["nothing"], timeout=50), default=None))
        for _ in range(2)
    ]
    observer = make_store(server_url)
    await blocked_clients(observer, 2)
    value, took = await timed(store.run(lambda r: r.get("a"), default="fallback"))
    assert value == "fallback" and took < STALL_BOUND_S
    assert store.failures_total == 1
    assert await observer.run(lambda r: r.rpush("nothing", "x", "y"), default=None) == 2
    popped = [pop[1] for pop in await asyncio.gather(*blockers) if pop is not None]
    assert sorted(popped) == [b"x", b"y"]


async def test_caller_cancellation_propagates_and_frees_the_probe(
    server_url: str, make_store: MakeStore
) -> None:
    clock = FakeClock()
    store = make_store(server_url, StoreSettings(op_timeout_s=60.0), clock=clock)

    async def outage(r: Redis) -> None:
        raise RedisConnectionError("injected: the store went away")

    for _ in range(5):
        assert await store.run(outage, default="fallback") == "fallback"
    assert state(store) is BreakerState.OPEN
    clock.advance(store.settings.breaker_open_s)
    probe = asyncio.create_task(store.run(lambda r: r.blpop(["nothing"], timeout=50), default=None))
    await blocked_clients(make_store(server_url), 1)
    probe.cancel()  # the request went away, long before its BLPOP could time out
    with pytest.raises(asyncio.CancelledError):
        await probe
    assert state(store) is BreakerState.HALF_OPEN
    assert await store.run(lambda r: r.ping(), default=False) is True  # the next call probes
    assert state(store) is BreakerState.CLOSED


@pytest.mark.redis_server
async def test_cluster_round_trip_and_session_keys_share_a_slot(
    redis_cluster: RedisServerProcess, make_store: MakeStore
) -> None:
    store = make_store(f"redis+cluster://127.0.0.1:{redis_cluster.port}")
    # cold: the slot map loads in the background and the call fails open at once
    assert await store.run(lambda r: r.get("k"), default="cold") == "cold"
    assert (store.short_circuited_total, store.failures_total) == (1, 0)
    assert await store.open() is True
    keys = [
        store.keys.session_key("abc"),
        store.keys.session_budget_key("abc"),
        store.keys.session_decisions_key("abc"),
    ]

    async def atomic(r: Redis) -> list[object]:
        async with r.pipeline(transaction=True) as pipe:  # MULTI: needs one slot
            for key in keys:
                pipe.hset(key, "f", "v")
            return cast(list[object], await pipe.execute())

    assert await store.run(atomic, default=[]) == [1, 1, 1]
    assert await store.run(lambda r: r.hget(keys[1], "f"), default=None) == b"v"
    assert await store.check_durability() == "yes"
    assert store.failures_total == 0


@pytest.mark.redis_server
async def test_cluster_reloads_its_slot_map_after_a_restart(
    redis_cluster: RedisServerProcess, make_store: MakeStore
) -> None:
    clock = FakeClock()
    store = make_store(f"redis+cluster://127.0.0.1:{redis_cluster.port}", clock=clock)
    assert await store.open() is True
    assert await store.run(lambda r: r.set("k", "v"), default=False) is True
    redis_cluster.kill()
    # calls fail open without waiting for the cluster (each one is short-circuited) while the
    # background slot-map reloads fail and trip the breaker; wait for that state, not a guess
    deadline = time.monotonic() + 30.0
    while state(store) is not BreakerState.OPEN:
        assert time.monotonic() < deadline, f"breaker still {state(store)} after 30 s"
        short_circuited = store.short_circuited_total
        failures = store.failures_total
        assert await store.run(lambda r: r.get("k"), default="fallback") == "fallback"
        assert (store.short_circuited_total, store.failures_total) != (short_circuited, failures)
        await asyncio.sleep(0.01)  # let the reload task run
    redis_cluster.start()  # same port, nodes.conf and AOF: the node keeps its slots
    deadline = time.monotonic() + 10.0
    while await store.run(lambda r: r.get("k"), default=None) != b"v":
        assert time.monotonic() < deadline, "cluster store did not recover"
        clock.advance(store.settings.breaker_open_s)
        await store.open()
    assert state(store) is BreakerState.CLOSED


@pytest.mark.redis_server
async def test_cluster_unread_reply_is_never_handed_on(
    redis_cluster: RedisServerProcess, make_store: MakeStore
) -> None:
    settings = StoreSettings(max_connections=1, op_timeout_s=1.0)
    store = make_store(f"redis+cluster://127.0.0.1:{redis_cluster.port}", settings)
    assert await store.open() is True
    await store.run(lambda r: r.mset({"a": "A"}), default=None)
    await store.run(lambda r: r.set("b", "B"), default=None)

    async def leave_reply_unread(r: Redis) -> None:
        node = cast(RedisCluster, r).get_node_from_key("b")
        assert node is not None
        conn = node.acquire_connection()
        await conn.send_packed_command(conn.pack_command("GET", "a"))
        node.release(conn)

    for _ in range(20):
        await store.run(leave_reply_unread, default=None)
        assert await store.run(lambda r: r.get("b"), default=None) == b"B"


async def test_cluster_down_fails_open(make_store: MakeStore) -> None:
    store = make_store(f"redis+cluster://127.0.0.1:{free_port()}")
    assert await store.run(lambda r: r.get("k"), default="fallback") == "fallback"
    assert store.short_circuited_total == 1  # the slot map loads in the background
    value, took = await timed(store.open())
    assert value is False and took < STALL_BOUND_S
    assert store.failures_total >= 1


async def test_closed_store_returns_default(server_url: str, make_store: MakeStore) -> None:
    # relaxed timeouts: the first ping timed out at the default 50 ms on a busy CI rehearsal
    store = make_store(server_url, RELAXED_STORE)
    assert await store.ping() is True
    await store.close()
    assert await store.run(lambda r: r.get("a"), default="closed") == "closed"
    await store.close()


@pytest.mark.parametrize("url", ["http://x", "redis+cluster://h:1/3", "redis://h:notaport"])
def test_bad_urls_raise_config_error(url: str) -> None:
    with pytest.raises(ConfigError, match=r"\$\.store\.url"):
        Store(url)


def test_redact_url_hides_password() -> None:
    assert redact_url("redis://user:s3cret@h:6379/0") == "redis://user:***@h:6379/0"
    assert redact_url("redis://h:6379/0") == "redis://h:6379/0"


async def test_logs_never_show_the_password(
    make_store: MakeStore, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="proxy.store")
    store = make_store(f"redis://u:s3cret@127.0.0.1:{free_port()}/0")
    for _ in range(5):
        await store.run(lambda r: r.get("k"), default=None)
    assert state(store) is BreakerState.OPEN
    assert caplog.records
    assert all("s3cret" not in r.getMessage() for r in caplog.records)


def test_key_schema_keeps_a_session_in_one_slot_and_visitors_apart() -> None:
    keys = KeySchema()
    session = [
        keys.session_key("s1"),
        keys.session_budget_key("s1"),
        keys.session_decisions_key("s1"),
    ]
    assert session[0] == "vernier:{s:s1}:state"
    assert len({key_slot(k.encode()) for k in session}) == 1
    assert keys.model_key("m") != keys.model_meta_key("m")
    assert key_slot(keys.model_key("m").encode()) == key_slot(keys.model_meta_key("m").encode())
    assert keys.visitor_key("v1") == "vernier:{v:v1}:profile"
    assert keys.events_key(3) == "vernier:{events:3}"
    assert KeySchema("shop2:").metrics_key("hero", "5m") == "shop2:{m:hero}:5m"


@pytest.mark.parametrize("bad", ["", "a}b", "{x", "a b", "a\nb", "x" * 201])
def test_key_schema_rejects_ids_that_could_break_a_hash_tag(bad: str) -> None:
    with pytest.raises(ValueError, match="invalid session id"):
        KeySchema().session_key(bad)


@pytest.mark.parametrize("prefix", ["{v}:", "a b", "x" * 65])
def test_key_schema_rejects_bad_prefixes(prefix: str) -> None:
    with pytest.raises(ValueError, match="prefix"):
        KeySchema(prefix)


async def test_store_uses_the_configured_prefix(server_url: str, make_store: MakeStore) -> None:
    store = make_store(server_url, dataclasses.replace(RELAXED_STORE, key_prefix="t1:"))
    key = store.keys.visitor_key("v")
    assert await store.run(lambda r: r.hset(key, "n", 1), default=None) == 1
    assert await store.run(lambda r: r.exists("t1:{v:v}:profile"), default=0) == 1


def test_a_pipelines_error_reply_is_read_past_its_command_prefix(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = Store("redis://127.0.0.1:9/0", RELAXED_STORE)
    reply = "Command # 1 (SET a b) of pipeline caused error: MISCONF Errors writing to the AOF"
    store._record_reply_error(ResponseError(reply))
    [said] = [r.getMessage() for r in caplog.records if "MISCONF" in r.getMessage()]
    assert "cannot persist" in said and "a bug in Vernier" not in said
