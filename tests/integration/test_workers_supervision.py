"""``vernier serve --workers 2`` supervises its workers: one that dies is started again (the
admin listener with the first), and one that cannot start stops the whole serve, as a single
process would (``proxy/server/workers.py``)."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

from tests.integration.test_rules_reload import (
    Served,
    eventually,
    listening_pids,
    rules_text,
    start,
)
from tests.integration.test_serve_command import free_port


def port_of(served: Served) -> int:
    return int(served.url.rsplit(":", 1)[1])


async def test_a_worker_killed_is_started_again(origin: str, tmp_path: Path) -> None:
    async with start(origin, tmp_path, workers=2) as served:
        parent, port = served.process.pid, port_of(served)
        await eventually(lambda: len(listening_pids(parent, port)) == 2, 30, "two workers listen")
        before = listening_pids(parent, port)
        victim = min(before)
        os.kill(victim, signal.SIGKILL)
        await eventually(
            lambda: len(now := listening_pids(parent, port)) == 2 and victim not in now,
            60,
            "a new worker listens in the killed one's place",
        )
        assert served.alive()
        assert "exited (code -9): starting it again" in served.log_text()
        assert "<h1 id=hero>One</h1>" in await asyncio.to_thread(served.page)


async def test_a_worker_that_cannot_start_again_leaves_the_others_serving(
    origin: str, tmp_path: Path
) -> None:
    """The rules file is broken on disk after the workers loaded it: a killed worker cannot
    start again (its load fails), so it is tried again after growing pauses while the other
    serves on with the rules it has; once the file is mended, it is back."""
    async with start(origin, tmp_path, workers=2) as served:
        parent, port = served.process.pid, port_of(served)
        admin_port = int(served.admin.rsplit(":", 1)[1])
        await eventually(lambda: len(listening_pids(parent, port)) == 2, 30, "two workers listen")
        (admin_worker,) = listening_pids(parent, admin_port)
        (victim,) = listening_pids(parent, port) - {admin_worker}
        served.rules.joinpath("home.yaml").write_text("rules: [{id: r1, then: [}\n")
        os.kill(victim, signal.SIGKILL)
        await eventually(
            lambda: "the other workers serve on" in served.log_text(),
            120,
            "the killed worker fails to start again, and is retried later",
        )
        assert "exited (code 2)" in served.log_text()  # refused rules: no traceback
        assert served.alive() and listening_pids(parent, port) == {admin_worker}
        assert "<h1 id=hero>One</h1>" in await asyncio.to_thread(served.page)
        served.rules.joinpath("home.yaml").write_text(rules_text("One"))
        await eventually(
            lambda: len(listening_pids(parent, port)) == 2, 120, "the worker is back once mended"
        )
        assert served.alive()


async def test_a_worker_that_cannot_start_stops_every_worker(origin: str, tmp_path: Path) -> None:
    (tmp_path / "rules").mkdir()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        admin = f"127.0.0.1:{taken.getsockname()[1]}"
        env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "VERNIER_ADMIN_LISTEN": admin}
        data_dir = Path("/tmp") / f"vrws-{os.getpid()}-{free_port()}"  # short unix socket paths
        process = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "proxy", "serve", "--upstream", origin,
             "--listen", f"127.0.0.1:{free_port()}", "--workers", "2",
             "--data-dir", str(data_dir)],
            cwd=tmp_path, env=env, capture_output=True, timeout=120,
        )  # fmt: skip
    err = process.stderr.decode(errors="replace")
    assert process.returncode == 2, err[-3000:]
    assert admin in err and "every worker stopped" in err
    assert "Traceback" not in err
