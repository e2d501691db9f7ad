"""Hot reload in a real ``vernier serve``: an edited rules file changes the page within seconds, a
bad edit is refused (logged with file:line) while the last good rules keep serving, and SIGHUP
reloads instead of ending the process, also with several workers (the parent forwards it)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.integration.test_serve_command import free_port, wait_for_http

BAD_OP = 'rules:\n  - id: r1\n    then:\n      - {op: set_txt, selector: "h1", value: "X"}\n'


def rules_text(value: str) -> str:
    return f'rules: [{{id: r1, then: [{{op: set_text, selector: "h1", value: "{value}"}}]}}]\n'


@dataclass
class Served:
    process: subprocess.Popen[bytes]
    url: str
    rules: Path
    log: Path
    admin: str  # the admin listener's base URL
    data_dir: Path

    def page(self) -> str:
        with urllib.request.urlopen(self.url + "/page", timeout=5) as response:
            return bytes(response.read()).decode()

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    def alive(self) -> bool:
        return self.process.poll() is None


def listening_pids(parent: int, port: int) -> set[int]:
    """The parent's multiprocessing workers (not its store or resource tracker) that listen on
    ``port``: their ``serve()`` runs, so they handle SIGHUP."""
    inodes = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == "0A":  # LISTEN
            inodes.add(f"socket:[{fields[9]}]")
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            cmdline = (entry / "cmdline").read_bytes()
        except (OSError, IndexError, ValueError):
            continue
        if ppid != parent or b"spawn_main" not in cmdline:
            continue
        with contextlib.suppress(OSError):
            if inodes & {os.readlink(fd) for fd in (entry / "fd").iterdir()}:
                found.add(int(entry.name))
    return found


async def eventually(condition: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not await asyncio.to_thread(condition):
        if time.monotonic() > deadline:
            pytest.fail(f"not within {timeout_s} s: {what}")
        await asyncio.sleep(0.1)


@contextlib.asynccontextmanager
async def start(origin: str, tmp_path: Path, workers: int) -> AsyncIterator[Served]:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "home.yaml").write_text(rules_text("One"))
    port = free_port()
    data_dir = Path("/tmp") / f"vrld-{os.getpid()}-{port}"  # unix socket paths must stay short
    log = tmp_path / "serve.log"
    # a port of its own for the admin listener: an empty value means "the default" (9901), which
    # anything else on the machine may hold
    admin = f"127.0.0.1:{free_port()}"
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "VERNIER_ADMIN_LISTEN": admin}
    with log.open("wb") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "proxy", "serve", "--upstream", origin,
             "--listen", f"127.0.0.1:{port}", "--workers", str(workers),
             "--data-dir", str(data_dir), "--rules", str(rules)],
            cwd=tmp_path, env=env,
            stdout=subprocess.DEVNULL, stderr=log_file,
        )  # fmt: skip
    served = Served(process, f"http://127.0.0.1:{port}", rules, log, f"http://{admin}", data_dir)
    try:
        try:
            await asyncio.to_thread(wait_for_http, served.url + "/page", 30)
        except OSError:
            pytest.fail(f"vernier serve did not start:\n{served.log_text()[-3000:]}")
        yield served
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        await asyncio.to_thread(process.wait, 30)
        shutil.rmtree(data_dir, ignore_errors=True)
    text = served.log_text()
    assert process.returncode == 0, text[-3000:]
    assert "Traceback" not in text, text[-3000:]


@pytest.fixture
async def single(origin: str, tmp_path: Path) -> AsyncIterator[Served]:
    async with start(origin, tmp_path, workers=1) as served:
        yield served


@pytest.fixture
async def two_workers(origin: str, tmp_path: Path) -> AsyncIterator[Served]:
    async with start(origin, tmp_path, workers=2) as served:
        yield served


async def test_edits_are_served_and_a_bad_edit_keeps_the_last_good_rules(single: Served) -> None:
    assert "<h1 id=hero>One</h1>" in await asyncio.to_thread(single.page)

    (single.rules / "home.yaml").write_text(rules_text("Two"))
    await eventually(lambda: ">Two</h1>" in single.page(), 10, "the edited rule is served")

    (single.rules / "home.yaml").write_text(BAD_OP)
    where = f"{single.rules / 'home.yaml'}:4:10 $.rules[0].then[0].op: unknown operation 'set_txt'"
    await eventually(lambda: where in single.log_text(), 10, "the refusal is logged")
    assert ">Two</h1>" in await asyncio.to_thread(single.page)

    single.process.send_signal(signal.SIGHUP)
    await eventually(
        lambda: "rules reload (SIGHUP) refused" in single.log_text(), 10, "SIGHUP reloads"
    )
    assert single.alive()
    assert ">Two</h1>" in await asyncio.to_thread(single.page)

    (single.rules / "home.yaml").write_text(rules_text("Three"))
    await eventually(lambda: ">Three</h1>" in single.page(), 10, "a fixed file is served")


async def test_sighup_does_not_stop_a_single_process(single: Served) -> None:
    def handled() -> int:
        return single.log_text().count("SIGHUP: ")

    single.process.send_signal(signal.SIGHUP)
    await eventually(lambda: handled() == 1, 10, "SIGHUP is handled")
    single.process.send_signal(signal.SIGHUP)
    await eventually(lambda: handled() == 2, 10, "a second SIGHUP is handled")
    assert single.alive()
    assert "<h1 id=hero>One</h1>" in await asyncio.to_thread(single.page)


async def test_the_parent_forwards_sighup_to_every_worker(two_workers: Served) -> None:
    parent, port = two_workers.process.pid, int(two_workers.url.rsplit(":", 1)[1])
    await eventually(lambda: len(listening_pids(parent, port)) == 2, 20, "two workers listen")
    before = listening_pids(parent, port)

    two_workers.process.send_signal(signal.SIGHUP)
    await eventually(
        lambda: two_workers.log_text().count("SIGHUP: ") == 2,
        10,
        "each worker handles the SIGHUP",
    )

    assert two_workers.alive()
    assert listening_pids(parent, port) == before
    for _ in range(4):  # both workers answer (the kernel spreads connections between them)
        assert "<h1 id=hero>One</h1>" in await asyncio.to_thread(two_workers.page)


async def test_every_worker_reloads(two_workers: Served) -> None:
    parent, port = two_workers.process.pid, int(two_workers.url.rsplit(":", 1)[1])
    await eventually(lambda: len(listening_pids(parent, port)) == 2, 20, "two workers listen")

    (two_workers.rules / "home.yaml").write_text(rules_text("Two"))
    await eventually(
        # 20 connections: the kernel spreads them, so both workers answer (six could all
        # reach one, and the other, not reloaded yet, then kept "One" past the bad edit)
        lambda: all(">Two</h1>" in two_workers.page() for _ in range(20)),
        15,
        "every worker serves the edited rule",
    )
    (two_workers.rules / "home.yaml").write_text(BAD_OP)
    two_workers.process.send_signal(signal.SIGHUP)
    await eventually(
        lambda: two_workers.log_text().count("rules reload (SIGHUP) refused") == 2,
        10,
        "each worker refuses the bad file on SIGHUP",
    )
    assert ">Two</h1>" in await asyncio.to_thread(two_workers.page)
