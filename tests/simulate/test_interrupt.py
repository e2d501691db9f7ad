"""Ctrl-C during ``vernier simulate``, as a user presses it: the real command in a subprocess,
SIGINT once its first visitor is through (it says so on stderr).

One Ctrl-C ends the run as ``--max-seconds`` does and writes what was measured; a second one
ends it at once. Either way the exit status is 130 and nothing is reported with a traceback.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

from proxy.simulate.simulation import CSV_NAME, PNG_NAME

RUNNING = b"vernier simulate: the visitors are going through the proxy"
STOPPING = b"vernier simulate: Ctrl-C: no new visitors"
INTERRUPTED = b"vernier simulate: interrupted before the results were written"
WAIT_S = 60.0
CHECKOUT = Path(__file__).resolve().parents[2]


def start_simulate(cwd: Path, out: Path) -> subprocess.Popen[bytes]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(cwd),
        "PYTHONPATH": str(CHECKOUT),  # this checkout's code, wherever the environment's points
    }
    return subprocess.Popen(
        [sys.executable, "-m", "proxy", "simulate", "--visitors", "1000000", "--out", str(out)],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def stderr_until(process: subprocess.Popen[bytes], text: bytes) -> bytes:
    """What ``process`` wrote to stderr up to ``text``; fails if it ends or ``WAIT_S`` passes
    first. Read from the descriptor, unbuffered, so ``communicate`` gets the rest."""
    assert process.stderr is not None
    seen = b""
    deadline = time.monotonic() + WAIT_S
    while text not in seen:
        ready, _, _ = select.select([process.stderr], [], [], max(0.0, deadline - time.monotonic()))
        chunk = os.read(process.stderr.fileno(), 65536) if ready else b""
        if not chunk:
            raise AssertionError(f"no {text!r} on stderr (ended or timed out): {seen[-2000:]!r}")
        seen += chunk
    return seen


def press_ctrl_c(process: subprocess.Popen[bytes], *after: bytes) -> tuple[str, str]:
    """SIGINT once each of ``after`` is on stderr (``b""``: at once, back to back with the one
    before); the command's stdout and stderr, after it ended."""
    seen = b""
    try:
        for text in after:
            seen += stderr_until(process, text)
            process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=WAIT_S)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    return stdout.decode(), (seen + stderr).decode()


def assert_clean(stderr: str) -> None:
    assert "Traceback" not in stderr, stderr
    assert " ERROR " not in stderr, stderr  # e.g. asyncio's "Unclosed connector"


def test_ctrl_c_stops_the_run_and_writes_what_was_measured(tmp_path: Path) -> None:
    out = tmp_path / "out"
    process = start_simulate(tmp_path, out)

    stdout, stderr = press_ctrl_c(process, RUNNING)

    assert process.returncode == 130, stderr
    assert_clean(stderr)
    assert STOPPING.decode() in stderr
    with (out / CSV_NAME).open() as file:
        rows = sum(1 for _ in file) - 1  # the header
    assert rows >= 1  # the first visitor was through before the Ctrl-C
    assert f"vernier simulate: {rows} of 1000000 visitors in " in stdout
    assert "(interrupted by Ctrl-C)" in stdout and "bandit / oracle: " in stdout
    assert (out / PNG_NAME).read_bytes().startswith(b"\x89PNG")
    assert f"wrote {out / CSV_NAME}, {out / PNG_NAME}" in stdout


def test_two_ctrl_c_back_to_back_exit_130_without_a_traceback(tmp_path: Path) -> None:
    process = start_simulate(tmp_path, tmp_path / "out")

    _, stderr = press_ctrl_c(process, RUNNING, b"")

    assert process.returncode == 130, stderr
    assert_clean(stderr)
    # the kernel often merges the two into one signal: the run then ends as after one press
    last = stderr.splitlines()[-1]
    assert last == INTERRUPTED.decode() or last.startswith(STOPPING.decode()), stderr


def test_a_second_ctrl_c_while_the_results_are_written_exits_at_once(tmp_path: Path) -> None:
    out = tmp_path / "out"
    process = start_simulate(tmp_path, out)

    stdout, stderr = press_ctrl_c(process, RUNNING, STOPPING)

    assert_clean(stderr)
    if process.returncode == -signal.SIGINT:
        # it came after the command had finished, while Python exited (a shell says 130)
        assert "(interrupted by Ctrl-C)" in stdout
    else:
        assert process.returncode == 130, stderr
        assert stderr.splitlines()[-1] == INTERRUPTED.decode()
