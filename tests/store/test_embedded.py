"""The embedded Valkey: lifecycle, locking, stale sockets, persistence, dying with its parent."""

from __future__ import annotations

import fcntl
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from redis.asyncio import Redis

from proxy.errors import StartupError
from proxy.store.embedded import EmbeddedStore
from tests.redis_server import RELAXED_STORE, short_tmp_dir, wait_until

from .conftest import MakeStore


@pytest.fixture
def data_dir() -> Iterator[Path]:
    path = short_tmp_dir()
    yield path
    shutil.rmtree(path, ignore_errors=True)


def pid_gone(pid: int) -> bool:
    """True once ``pid`` no longer runs (a zombie awaiting its reaper counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def lock_free(path: Path) -> bool:
    """Whether nobody holds the ``flock`` on ``path`` (taken and released again at once)."""
    with path.open("a") as file:
        try:
            fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        fcntl.flock(file, fcntl.LOCK_UN)
    return True


async def test_started_store_answers_on_a_private_unix_socket_only(
    embedded: EmbeddedStore, make_store: MakeStore
) -> None:
    assert embedded.url == f"unix://{embedded.data_dir}/valkey.sock"
    assert stat.S_IMODE(os.stat(embedded.socket_path).st_mode) == 0o700
    store = make_store(embedded.url)
    assert await store.ping() is True
    assert await store.check_durability() == "yes"
    config: object = await store.run(lambda r: r.config_get("port"), default={})
    assert config == {"port": "0"}  # no TCP listener at all
    appendfsync: object = await store.run(lambda r: r.config_get("appendfsync"), default={})
    assert appendfsync == {"appendfsync": "everysec"}


async def test_restarts_repeatedly_and_keeps_data(data_dir: Path, make_store: MakeStore) -> None:
    server = EmbeddedStore(data_dir)
    for round_ in range(3):
        server.start()
        try:
            store = make_store(server.url, RELAXED_STORE)
            assert await store.run(lambda r: r.get("round"), default=b"?") == (
                str(round_ - 1).encode() if round_ else None
            )

            async def remember(r: Redis, n: int = round_) -> object:
                return await r.set("round", n)

            assert await store.run(remember, default=False) is True
            await store.close()
        finally:
            server.stop()
        assert not server.socket_path.exists()
        assert not server.running


def test_second_instance_on_the_same_data_dir_is_refused(embedded: EmbeddedStore) -> None:
    with pytest.raises(StartupError, match="in use by another Vernier store"):
        EmbeddedStore(embedded.data_dir).start()
    with pytest.raises(StartupError, match="already started"):
        embedded.start()
    assert embedded.running


def test_stale_socket_from_a_crashed_run_is_removed(data_dir: Path) -> None:
    with socket.socket(socket.AF_UNIX) as leftover:  # bound, then closed: nobody listens
        leftover.bind(str(data_dir / "valkey.sock"))
    with EmbeddedStore(data_dir) as server:
        assert server.running


async def test_killed_server_stops_cleanly_and_restarts_from_its_aof(
    data_dir: Path, make_store: MakeStore
) -> None:
    server = EmbeddedStore(data_dir)
    server.start()
    try:
        store = make_store(server.url, RELAXED_STORE)
        assert await store.run(lambda r: r.set("k", "v"), default=False) is True
        await store.close()
        assert server.pid is not None
        os.kill(server.pid, signal.SIGKILL)  # leaves its socket file behind
        wait_until(lambda: not server.running, 5.0, "valkey to die")
        assert server.socket_path.exists()
    finally:
        server.stop()  # must not raise for a dead child
    server.start()
    try:
        store = make_store(server.url, RELAXED_STORE)
        assert await store.run(lambda r: r.get("k"), default=None) == b"v"
    finally:
        server.stop()


async def test_a_store_kept_running_is_started_again_after_a_kill(
    data_dir: Path, make_store: MakeStore
) -> None:
    server = EmbeddedStore(data_dir)
    server.start()
    server.keep_running()
    try:
        store = make_store(server.url, RELAXED_STORE)
        assert await store.run(lambda r: r.set("k", "v"), default=False) is True
        await store.close()
        killed = server.pid
        assert killed is not None
        os.kill(killed, signal.SIGKILL)
        wait_until(lambda: server.running and server.pid != killed, 30.0, "a new valkey")
        store = make_store(server.url, RELAXED_STORE)
        # its append-only file brings the data back, once the new server answers
        wait_until(lambda: server.socket_path.exists(), 30.0, "the socket again")
        assert await store.run(lambda r: r.get("k"), default=None) == b"v"
    finally:
        server.stop()
    assert not server.running  # stop() ends the keeping too: nothing started again
    wait_until(lambda: server._keeper is not None and not server._keeper.is_alive(), 10.0, "end")


def test_failed_start_names_the_log_file(data_dir: Path) -> None:
    server = EmbeddedStore(data_dir, binary="/bin/false")
    with pytest.raises(StartupError, match=r"exited with code 1; see .*valkey\.log"):
        server.start()
    assert not server.running
    with EmbeddedStore(data_dir) as real:  # the lock was released
        assert real.running


def test_too_long_socket_path_is_a_clear_error(data_dir: Path) -> None:
    deep = data_dir / ("d" * 120)
    with pytest.raises(StartupError, match="too long for a Unix socket path"):
        EmbeddedStore(deep).start()


def test_context_manager_stops_the_server(data_dir: Path) -> None:
    with EmbeddedStore(data_dir) as server:
        pid = server.pid
        assert pid is not None
    assert pid_gone(pid)
    assert not (data_dir / "valkey.sock").exists()


def test_forked_child_cannot_stop_the_parents_server(embedded: EmbeddedStore) -> None:
    child = os.fork()
    if child == 0:  # pragma: no cover - runs in the forked child
        try:
            embedded.stop()
        finally:
            os._exit(0)
    _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert embedded.running


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux-only")
def test_server_dies_with_its_parent(data_dir: Path) -> None:
    script = textwrap.dedent(
        f"""
        import sys, time
        from proxy.store.embedded import EmbeddedStore
        server = EmbeddedStore({str(data_dir)!r})
        server.start()
        print(server.pid, flush=True)
        time.sleep(60)
        """
    )
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE)
    try:
        assert parent.stdout is not None
        valkey_pid = int(parent.stdout.readline())
        assert not pid_gone(valkey_pid)
        parent.kill()  # SIGKILL: no atexit, no cleanup code runs in the parent
        parent.wait(timeout=5)
        wait_until(lambda: pid_gone(valkey_pid), 30.0, "valkey to exit after its parent")
        # a background child Valkey forked (an AOF rewrite at start-up) holds the inherited lock
        # until it, too, has exited: wait for the lock, with a deadline
        wait_until(lambda: lock_free(data_dir / "valkey.lock"), 30.0, "valkey's children to exit")
    finally:
        parent.kill()
        parent.wait(timeout=5)
        if parent.stdout is not None:
            parent.stdout.close()
    with EmbeddedStore(data_dir) as server:  # stale socket and lock are no obstacle
        assert server.running
