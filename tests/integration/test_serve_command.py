"""``vernier serve`` as a user runs it: a real process with worker processes, the embedded store,
the admin listener, and a clean exit on SIGTERM."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from tests.proxy_fixtures import StartProxy


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_http(url: str, timeout_s: float) -> bytes:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                return bytes(response.read())
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


async def test_serve_with_two_workers_and_embedded_store(
    origin: str, start_proxy: StartProxy, tmp_path: Path
) -> None:
    del start_proxy  # only the origin fixture is needed; the proxy here is a real process
    port, admin_port = free_port(), free_port()
    data_dir = Path("/tmp") / f"vsrv-{os.getpid()}-{port}"  # unix socket paths must stay short
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "VERNIER_ADMIN_LISTEN": f"127.0.0.1:{admin_port}",
    }
    (tmp_path / "rules").mkdir()  # the default ./rules must exist; empty, it is a warning
    process = subprocess.Popen(
        [sys.executable, "-m", "proxy", "serve", "--upstream", origin,
         "--listen", f"127.0.0.1:{port}", "--workers", "2", "--data-dir", str(data_dir)],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        import asyncio

        body = await asyncio.to_thread(wait_for_http, f"http://127.0.0.1:{port}/page", 20)
        assert b"/__vernier/t.js" in body
        metrics = await asyncio.to_thread(
            wait_for_http, f"http://127.0.0.1:{admin_port}/metrics", 10
        )
        assert b"vernier_responses_total" in metrics
        assert b'vernier_background_total{counter="applied",worker="profile_consumer"}' in metrics
        assert b'vernier_store_breaker_state{state="closed"}' in metrics
        assert (data_dir / "valkey.sock").exists()
        assert (data_dir / "cookie-secret").stat().st_mode & 0o077 == 0
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)
    assert process.returncode == 0, stderr.decode()[-2000:]
    assert b"Traceback" not in stderr
    assert b"WARNING vernier.startup no *.yaml files in" in stderr
    assert not (data_dir / "valkey.sock").exists()
