"""``vernier demo`` as a new user meets it: its state outside the work tree, an admin token, an
admin listener on a port the system chose, and printed commands that reach the running demo
(pause, pauses, preview, resume, the debug header, the admin API)."""

from __future__ import annotations

import os
import queue
import shlex
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import orjson
import pytest

from proxy.config.load import load_config
from proxy.demo.run import default_data_dir, demo_config_text

DEADLINE_S = 60.0


def test_state_lives_in_the_xdg_state_home_else_under_home() -> None:
    assert default_data_dir({"XDG_STATE_HOME": "/s", "HOME": "/h"}) == Path("/s/vernier/demo")
    # a relative XDG_STATE_HOME is invalid (XDG base directory spec): ignored
    assert default_data_dir({"XDG_STATE_HOME": "s", "HOME": "/h"}) == Path(
        "/h/.local/state/vernier/demo"
    )
    assert default_data_dir({"HOME": "/h"}) == Path("/h/.local/state/vernier/demo")


def test_the_written_config_is_what_the_commands_load(tmp_path: Path) -> None:
    odd = tmp_path / 'it\'s a "dir": #1'
    text = demo_config_text(
        origin="http://127.0.0.1:5000",
        rules=odd / "rules",
        data_dir=odd,
        store_url=f"unix://{odd}/store/valkey.sock",
        token="t" * 32,
    )
    (tmp_path / "vernier.yaml").write_text(text, encoding="utf-8")
    config = load_config(tmp_path / "vernier.yaml", environ={})
    assert config.origin.url == "http://127.0.0.1:5000"
    assert (config.rules, config.data_dir) == (str(odd / "rules"), str(odd))
    assert config.store.url == f"unix://{odd}/store/valkey.sock"
    assert (config.admin.token, config.admin.listen) == ("t" * 32, "")
    text = demo_config_text(
        origin="http://127.0.0.1:5000",
        rules=odd / "rules",
        data_dir=odd,
        store_url="redis://127.0.0.1:1",
        token="t" * 32,
        admin_listen="127.0.0.1:41234",
    )
    (tmp_path / "vernier.yaml").write_text(text, encoding="utf-8")
    assert load_config(tmp_path / "vernier.yaml", environ={}).admin.listen == "127.0.0.1:41234"


class Demo:
    """A ``vernier demo`` subprocess and the lines it printed on stderr."""

    def __init__(self, cwd: Path, env: dict[str, str], *args: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "proxy", "demo", "--listen", "127.0.0.1:0", *args],
            cwd=cwd,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self._lines: queue.Queue[str] = queue.Queue()
        assert self.process.stderr is not None
        stream = self.process.stderr
        self._reader = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._reader.start()

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            self._lines.put(line)

    def printed_until(self, marker: str) -> list[str]:
        """Every line up to and including the first that contains ``marker`` (with a deadline)."""
        lines: list[str] = []
        deadline = time.monotonic() + DEADLINE_S
        while not lines or marker not in lines[-1]:
            remaining = deadline - time.monotonic()
            assert remaining > 0 and self.process.poll() is None, "".join(lines)
            try:
                lines.append(self._lines.get(timeout=min(remaining, 1.0)))
            except queue.Empty:
                continue
        return lines

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=DEADLINE_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._reader.join(timeout=DEADLINE_S)  # the pipe ends when the process does
        assert self.process.stderr is not None
        self.process.stderr.close()


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[tuple[Demo, Path, dict[str, str]]]:
    clone = tmp_path / "clone"
    clone.mkdir()
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path / "h"),
        "XDG_STATE_HOME": str(tmp_path / "s"),
    }
    running = Demo(clone, env)
    try:
        yield running, clone, env
    finally:
        running.stop()


def run_printed(line: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """A command line as the demo printed it (its ``# …`` comment dropped), run as the user would
    (``vernier`` is ``python -m proxy`` here)."""
    words = shlex.split(line, comments=True)
    assert words[0] == "vernier", line
    return subprocess.run(
        [sys.executable, "-m", "proxy", *words[1:]],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=DEADLINE_S,
        check=False,
    )


def admin_get(url: str, token: str | None = None) -> tuple[int, bytes]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def hero_decision(url: str, token: str) -> dict[str, object]:
    request = urllib.request.Request(url, headers={"X-Vernier-Debug": token})
    with urllib.request.urlopen(request, timeout=10) as response:
        debug = orjson.loads(response.headers["X-Vernier-Debug"])
    slots = {slot["slot"]: slot for slot in debug["slots"]}
    decision: dict[str, object] = slots["hero"]
    return decision


def test_the_printed_commands_reach_the_running_demo(
    demo: tuple[Demo, Path, dict[str, str]], tmp_path: Path
) -> None:
    running, clone, env = demo
    printed = running.printed_until("/__vernier/admin/pauses")
    where = printed[0].split("open ", 1)[1].split("/ in a browser")[0]
    token = next(line for line in printed if "admin token:" in line).split(": ", 1)[1].strip()
    assert len(token) >= 16
    admin = next(line for line in printed if "admin listener:" in line).split()[2].rstrip("/")
    assert admin.startswith("http://127.0.0.1:") and not admin.endswith(":0")
    state = tmp_path / "s" / "vernier" / "demo"
    written = load_config(state / "vernier.yaml", environ={})
    assert written.admin.listen == admin.removeprefix("http://")  # the dashboard finds it there
    assert admin_get(admin + "/metrics")[0] == 200
    dashboard = next(line for line in printed if "dashboard:" in line).split()[1]
    status, page = admin_get(dashboard)  # not signed in: the sign-in form
    assert dashboard == admin + "/__vernier/admin/" and status == 401 and b"<form" in page
    assert admin_get(admin + "/__vernier/admin/pauses")[0] == 401  # the token is required
    commands = [line.strip() for line in printed if line.strip().startswith("vernier ")]

    def command(starting: str) -> str:
        return next(line for line in commands if line.startswith(f"vernier {starting} "))

    elsewhere = tmp_path / "elsewhere"  # the commands need no particular working directory
    elsewhere.mkdir()

    assert hero_decision(where + "/", token)["reason"] != "paused"
    paused = run_printed(command("pause hero"), elsewhere, env)
    assert (paused.returncode, paused.stdout) == (0, "paused slot:hero\n"), paused.stderr
    listed = run_printed(command("pauses"), elsewhere, env)
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.startswith("slot:hero  since 20") and "Z  by " in listed.stdout
    status, pauses = admin_get(admin + "/__vernier/admin/pauses", token)
    assert status == 200 and "slot:hero" in orjson.loads(pauses)
    assert any(f"{admin}/__vernier/admin/pauses" in line for line in printed)  # printed
    deadline = time.monotonic() + DEADLINE_S  # the proxy polls the pauses every second
    while hero_decision(where + "/", token)["reason"] != "paused":
        assert time.monotonic() < deadline, "the pause never reached the demo"
        time.sleep(0.1)
    shown = run_printed(command("preview / --variant"), elsewhere, env)
    assert shown.returncode == 0, shown.stderr
    assert "slot hero: variant simple (chosen with --variant)" in shown.stdout
    assert '+    <h1 class="hero-title">Tonight\'s brew, sorted</h1>' in shown.stdout
    resumed = run_printed(command("resume hero"), elsewhere, env)
    assert (resumed.returncode, resumed.stdout) == (0, "resumed slot:hero\n"), resumed.stderr

    assert (state / "vernier.yaml").stat().st_mode & 0o077 == 0  # holds the token
    assert list(clone.iterdir()) == []  # nothing of the demo lands in the work tree


BANDIT_RULES = """
slots:
  - id: banner
    selector: "#hero"
    where: {paths: ["/"]}
    control: a
    variants: {a: [], b: [{op: hide, selector: ".hero-subtitle"}]}
    policy: bandit
"""


def test_a_bandit_slot_of_the_demo_is_learned_in_the_proxy(tmp_path: Path) -> None:
    """The demo's store is its own embedded one, though its vernier.yaml names it for the other
    commands: the learner runs in the proxy, as under `vernier serve` without --store (before,
    the named store read as a shared one and nothing learned: no model, no decisions.jsonl).
    The printed commands name a slot and variant of these rules (they named hero/simple)."""
    rules = tmp_path / "rules.yaml"
    rules.write_text(BANDIT_RULES, encoding="utf-8")
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path / "h")}
    running = Demo(tmp_path, env, "--data-dir", str(tmp_path / "state"), "--rules", str(rules))
    try:
        printed = running.printed_until("/__vernier/admin/pauses")
        admin = next(line for line in printed if "admin listener:" in line).split()[2]
        status, metrics = admin_get(admin.rstrip("/") + "/metrics")
        assert status == 200
        assert b'worker="learner"' in metrics
        commands = [line.strip() for line in printed if line.strip().startswith("vernier ")]
        assert any(line.startswith("vernier pause banner ") for line in commands)
        preview = next(line for line in commands if "preview / --variant" in line)
        shown = run_printed(preview, tmp_path, env)
        assert shown.returncode == 0, shown.stderr
        assert "slot banner: variant b (chosen with --variant)" in shown.stdout
    finally:
        running.stop()
