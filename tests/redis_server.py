"""Real stores for tests: Debian's ``redis-server`` (start, pause with SIGSTOP, kill and restart)
and the embedded Valkey that Vernier ships.

Shared by the store, tracker and integration tests; every test starts its server here, so each
kind is started one way. Data directories live under ``/tmp/vst-*``
because a Unix socket path must fit in 107 bytes, which pytest's ``tmp_path`` does not guarantee.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis

from proxy.store.connection import StoreSettings
from proxy.store.embedded import EmbeddedStore

# $VERNIER_REDIS_SERVER picks another binary (or a missing one, to check the skip rule)
REDIS_SERVER = (
    os.environ.get("VERNIER_REDIS_SERVER")
    or shutil.which("redis-server")
    or "/usr/bin/redis-server"
)

# Store settings for tests whose subject is not the store's own time limits: the production
# defaults (50 ms calls, 100 ms connects, 50 ms pool waits) are measured against a quiet machine,
# and a test that fails because a loaded machine missed them tests the scheduler, not Vernier.
# Connects get as long as calls: 50 parallel first calls open 50 connections at once, and beside
# two test runs and a CPU hog (load 8 on 2 cores) one of them once took longer than 2 s.
RELAXED_STORE = StoreSettings(
    op_timeout_s=5.0, connect_timeout_s=5.0, pool_timeout_s=5.0, startup_timeout_s=10.0
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def short_tmp_dir() -> Path:
    return Path(tempfile.mkdtemp(prefix="vst-", dir="/tmp"))


@contextlib.contextmanager
def short_data_dir() -> Iterator[Path]:
    """A new folder under ``/tmp/vst-*`` for the block, removed with its contents after it."""
    data_dir = short_tmp_dir()
    try:
        yield data_dir
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


def wait_until(condition: Callable[[], bool], timeout_s: float, what: str) -> None:
    """Poll ``condition`` until true, failing the test after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(0.005)


class RedisServerProcess:
    """Debian's redis-server with AOF on a fixed port and data dir, so it can be restarted."""

    def __init__(self, data_dir: Path, *extra_args: str) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.socket_path = data_dir / "redis.sock"
        self.log_path = data_dir / "redis.log"
        self.extra_args = extra_args
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def unix_url(self) -> str:
        return f"unix://{self.socket_path}"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def client(self) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=2.0)

    def start(self) -> None:
        args = [
            REDIS_SERVER,
            "--port", str(self.port), "--bind", "127.0.0.1",
            "--unixsocket", str(self.socket_path), "--unixsocketperm", "700",
            "--save", "", "--appendonly", "yes", "--appendfsync", "everysec",
            "--dir", str(self.data_dir), "--daemonize", "no", "--logfile", "",
            "--enable-debug-command", "local",
            *self.extra_args,
        ]  # fmt: skip
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
        wait_until(self._answers, 10.0, f"redis-server on port {self.port} (log {self.log_path})")

    def _answers(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            pytest.fail(f"redis-server exited with {self.proc.returncode}; see {self.log_path}")
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(timeout=5)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.kill(self.proc.pid, signal.SIGCONT)  # a test may have left it stopped
        self.proc.terminate()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.kill()

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        """The server hangs (SIGSTOP) inside the block, and always resumes after it."""
        os.kill(self.pid, signal.SIGSTOP)
        try:
            yield
        finally:
            os.kill(self.pid, signal.SIGCONT)


@pytest.fixture(scope="session")
def redis_binary() -> str:
    if not os.access(REDIS_SERVER, os.X_OK):
        if os.environ.get("CI") == "true":
            pytest.fail(f"redis-server is required under CI but {REDIS_SERVER} is missing")
        pytest.skip(
            f"Debian's redis-server is not installed at {REDIS_SERVER} (apt-get install redis-server)"
        )
    return REDIS_SERVER


@contextlib.contextmanager
def started_redis_server(*extra_args: str) -> Iterator[RedisServerProcess]:
    """A redis-server in its own short data dir for the block (extra command-line arguments
    after the defaults); stopped and its data removed after it. Needs ``redis_binary``."""
    with short_data_dir() as data_dir:
        server = RedisServerProcess(data_dir, *extra_args)
        try:
            server.start()
            yield server
        finally:
            server.stop()


@pytest.fixture
def redis_server(redis_binary: str) -> Iterator[RedisServerProcess]:
    """A fresh redis-server with AOF; tests may pause, kill and restart it."""
    with started_redis_server() as server:
        yield server


@pytest.fixture
def redis_cluster(redis_binary: str) -> Iterator[RedisServerProcess]:
    """A one-node Redis Cluster owning all 16 384 slots."""
    # the bus port defaults to port + 10000, which may be taken or above 65535: pick it too
    cluster_args = ("--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf")
    with started_redis_server(*cluster_args, "--cluster-port", str(free_port())) as server:
        with server.client() as client:
            client.execute_command("CLUSTER", "ADDSLOTSRANGE", 0, 16383)

            def ready() -> bool:
                info = client.execute_command("CLUSTER", "INFO")
                text = info.decode() if isinstance(info, bytes) else str(info)
                return "cluster_state:ok" in text

            wait_until(ready, 10.0, "cluster_state:ok")
        yield server


@pytest.fixture
def embedded() -> Iterator[EmbeddedStore]:
    """A running embedded Valkey in its own short data dir (so its Unix socket path fits)."""
    with short_data_dir() as data_dir, EmbeddedStore(data_dir) as store:
        yield store
