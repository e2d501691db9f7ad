"""Live rules: a bad edit is refused and the last good rule set stays; a good one is swapped in
whole; the watcher sees changes (also half-written files and same-size, same-mtime rewrites)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import signal
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from proxy.errors import ConfigError
from proxy.metrics import Metrics
from proxy.rules.compiled import RuleSet
from proxy.rules.live import LiveRules
from proxy.tasks import BackgroundTasks

INTERVAL_S = 0.02


def rules_text(value: str, count: int = 1) -> str:
    items = "".join(
        f"  - id: r{i}\n    then:\n      - {{op: set_text, selector: h1, value: {value}}}\n"
        for i in range(count)
    )
    return "rules:\n" + items


BAD_OP = 'rules:\n  - id: r1\n    then:\n      - {op: set_txt, selector: "h1", value: "X"}\n'
HALF = "rules:\n  - id: r0\n    then:\n      - {op: set_te"


@dataclass(frozen=True)
class Built:
    """What the tests build a rule set into: every value the rules set, in order."""

    version: str
    values: tuple[str, ...]


def build(ruleset: RuleSet) -> Built:
    values = tuple(str(getattr(op, "value", "")) for rule in ruleset.rules for op in rule.then)
    return Built(ruleset.version, values)


def value_of(live: LiveRules[Built]) -> str:
    return live.current.values[0]


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "home.yaml").write_text(rules_text("One"))
    return rules


async def until(condition: Callable[[], bool], timeout_s: float = 5.0) -> None:
    """Await ``condition`` (changed by the watcher's executor thread), polling it."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"not within {timeout_s} s")
        await asyncio.sleep(INTERVAL_S / 2)


@contextlib.asynccontextmanager
async def watching(live: LiveRules[Built], interval_s: float = INTERVAL_S) -> AsyncIterator[None]:
    tasks = BackgroundTasks()
    task = tasks.spawn(live.watch(interval_s), name="test-rules-watch")
    try:
        yield
        assert not task.done()
    finally:
        await tasks.cancel_all()


def refusals(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "vernier.rules" and r.levelno == logging.ERROR
    ]


def sample(metrics: Metrics, name: str, **labels: str) -> float | None:
    return metrics.registry.get_sample_value(name, labels)


def test_starting_with_bad_rules_raises(folder: Path) -> None:
    (folder / "home.yaml").write_text(BAD_OP)
    with pytest.raises(ConfigError, match=r"home\.yaml:4:10 \$\.rules\[0\]\.then\[0\]\.op"):
        LiveRules(folder, build)


def test_absent_path_raises_unless_missing_ok(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such rules file or folder"):
        LiveRules(tmp_path / "nowhere", build)
    live = LiveRules(tmp_path / "nowhere", build, missing_ok=True)
    assert live.current.values == ()
    assert live.reload("test") is True  # still absent: no rules, not an error
    assert live.last_error is None


@pytest.mark.parametrize("missing_ok", [False, True])
def test_a_loaded_path_that_disappears_is_refused(folder: Path, missing_ok: bool) -> None:
    (folder / "home.yaml").write_text(rules_text("Kept"))
    live = LiveRules(folder, build, missing_ok=missing_ok)
    shutil.rmtree(folder)  # deleted, or renamed, while serving
    assert live.reload("test") is False
    assert value_of(live) == "Kept"
    assert live.last_error is not None and "no longer exists" in live.last_error


def test_bad_edit_is_refused_and_the_old_rules_stay(
    folder: Path, caplog: pytest.LogCaptureFixture
) -> None:
    metrics = Metrics()
    live = LiveRules(folder, build, metrics)
    before, version = live.current, live.version
    (folder / "home.yaml").write_text(BAD_OP)

    assert live.reload("test edit") is False

    assert live.current is before
    assert live.version == version
    assert live.last_error is not None
    assert (
        f"{folder / 'home.yaml'}:4:10 $.rules[0].then[0].op: unknown operation" in live.last_error
    )
    [line] = refusals(caplog)
    assert "(test edit)" in line
    assert live.last_error in line
    assert f"version {version} stays live" in line
    assert sample(metrics, "vernier_rules_reloads_total", result="refused") == 1
    assert sample(metrics, "vernier_rules_refused") == 1
    assert sample(metrics, "vernier_rules_info", version=version) == 1


def test_good_edit_is_swapped_in(folder: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="vernier.rules")
    metrics = Metrics()
    live = LiveRules(folder, build, metrics)
    old = live.version
    (folder / "home.yaml").write_text(BAD_OP)
    live.reload("bad")
    (folder / "home.yaml").write_text(rules_text("Two"))

    assert live.reload("good") is True

    assert value_of(live) == "Two"
    assert live.current.version == live.version != old
    assert live.last_error is None
    assert f"rules reloaded (good): version {old} → {live.version}" in caplog.text
    assert sample(metrics, "vernier_rules_reloads_total", result="ok") == 1
    assert sample(metrics, "vernier_rules_refused") == 0
    assert sample(metrics, "vernier_rules_info", version=live.version) == 1
    assert sample(metrics, "vernier_rules_info", version=old) is None
    assert f'vernier_rules_info{{version="{live.version}"}} 1.0' in metrics.render().decode()


def test_reloading_the_same_content_keeps_the_same_object(folder: Path) -> None:
    metrics = Metrics()
    live = LiveRules(folder, build, metrics)
    before = live.current
    (folder / "home.yaml").write_text(rules_text("One"))  # rewritten, same content

    assert live.reload("test") is True

    assert live.current is before
    assert sample(metrics, "vernier_rules_reloads_total", result="unchanged") == 1


def test_a_failing_build_is_refused_like_a_bad_file(
    folder: Path, caplog: pytest.LogCaptureFixture
) -> None:
    def fragile(ruleset: RuleSet) -> Built:
        built = build(ruleset)
        if "Boom" in built.values:
            raise RuntimeError("cannot build Boom")
        return built

    live = LiveRules(folder, fragile)
    (folder / "home.yaml").write_text(rules_text("Boom"))

    assert live.reload("test") is False

    assert value_of(live) == "One"
    assert live.last_error == "RuntimeError: cannot build Boom"
    assert any("cannot build Boom" in line for line in refusals(caplog))


async def test_watch_picks_up_a_change(folder: Path) -> None:
    live = LiveRules(folder, build)
    async with watching(live):
        (folder / "home.yaml").write_text(rules_text("Two!"))
        await until(lambda: value_of(live) == "Two!")
        (folder / "more.yaml").write_text(rules_text("Three").replace("id: r", "id: more-r"))
        await until(lambda: live.current.values == ("Two!", "Three"))
        (folder / "more.yaml").unlink()
        await until(lambda: live.current.values == ("Two!",))


async def test_watch_refuses_a_bad_edit_once_and_keeps_serving(
    folder: Path, caplog: pytest.LogCaptureFixture
) -> None:
    live = LiveRules(folder, build)
    async with watching(live):
        (folder / "home.yaml").write_text(BAD_OP)
        await until(lambda: live.last_error is not None)
        for _ in range(5):  # several more polls of the same bad content
            await asyncio.sleep(INTERVAL_S)
        assert value_of(live) == "One"
    assert len(refusals(caplog)) == 1
    assert "(file change)" in refusals(caplog)[0]


async def test_a_half_written_file_then_the_whole_one(
    folder: Path, caplog: pytest.LogCaptureFixture
) -> None:
    live = LiveRules(folder, build)
    target = folder / "home.yaml"
    async with watching(live):
        with target.open("w") as stream:  # an editor's non-atomic save: truncate, write, ...
            stream.write(HALF)
            stream.flush()
            await until(lambda: live.last_error is not None)
            assert "YAML syntax error" in (live.last_error or "")
            assert value_of(live) == "One"
            stream.write(rules_text("Two")[len(HALF) :])  # ... and the rest
        await until(lambda: live.last_error is None and value_of(live) == "Two")
    assert len(refusals(caplog)) == 1


async def test_a_same_size_rewrite_within_one_clock_tick_is_seen(folder: Path) -> None:
    target = folder / "home.yaml"
    live = LiveRules(folder, build)
    before = target.stat()
    with target.open("r+") as stream:  # same inode, same size ...
        stream.write(rules_text("Two"))
    os.utime(target, ns=(before.st_atime_ns, before.st_mtime_ns))  # ... and the same mtime
    assert target.stat().st_mtime_ns == before.st_mtime_ns

    async with watching(live):
        await until(lambda: value_of(live) == "Two")


async def test_an_absent_folder_that_appears_is_loaded(tmp_path: Path) -> None:
    folder = tmp_path / "rules"
    live = LiveRules(folder, build, missing_ok=True)
    async with watching(live):
        folder.mkdir()
        (folder / "home.yaml").write_text(rules_text("Hello"))
        await until(lambda: live.current.values == ("Hello",))


async def test_request_reload_reloads_now(folder: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="vernier.rules")
    live = LiveRules(folder, build)
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGHUP, live.request_reload)
    try:
        async with watching(live, interval_s=3600):  # only the signal can wake it in time
            (folder / "home.yaml").write_text(rules_text("Hup"))
            os.kill(os.getpid(), signal.SIGHUP)
            # the reload runs in a thread that swaps the rules, then logs: wait for both
            await until(lambda: value_of(live) == "Hup")
            await until(lambda: "rules reloaded (SIGHUP)" in caplog.text)
    finally:
        loop.remove_signal_handler(signal.SIGHUP)


async def test_watch_ends_soon_after_stop_is_set(folder: Path) -> None:
    live = LiveRules(folder, build)
    stop = asyncio.Event()
    tasks = BackgroundTasks()
    task = tasks.spawn(live.watch(3600, stop), name="test-rules-watch")
    try:
        await asyncio.sleep(0)  # let it start waiting
        stop.set()
        async with asyncio.timeout(2):
            await task
    finally:
        await tasks.cancel_all()
    assert not task.cancelled()


async def test_readers_never_see_half_a_rule_set(folder: Path) -> None:
    """Readers in threads and tasks read ``current`` while reloads alternate two versions
    (ten rules each); reloads themselves never overlap."""
    active = 0
    overlaps = 0

    def slow_build(ruleset: RuleSet) -> Built:
        nonlocal active, overlaps
        active += 1
        overlaps += active > 1
        time.sleep(0.001)  # widen the window a concurrent reload would need
        active -= 1
        return build(ruleset)

    texts = [rules_text("A", count=10), rules_text("B", count=10)]
    (folder / "home.yaml").write_text(texts[0])
    live = LiveRules(folder, slow_build)
    whole = {("A",) * 10, ("B",) * 10}
    seen: set[tuple[str, ...]] = set()
    stop = threading.Event()
    bad: list[Built] = []

    def read_in_thread() -> None:
        while not stop.is_set():
            current = live.current
            if current.values not in whole:
                bad.append(current)
            time.sleep(0)  # yield the GIL

    async def read_in_task() -> None:
        while not stop.is_set():
            current = live.current
            seen.add(current.values)
            if current.values not in whole:
                bad.append(current)
            await asyncio.sleep(0)

    threads = [threading.Thread(target=read_in_thread) for _ in range(2)]
    for thread in threads:
        thread.start()
    readers = [asyncio.ensure_future(read_in_task()) for _ in range(100)]
    try:
        async with watching(live):
            for i in range(1, 11):
                (folder / "home.yaml").write_text(texts[i % 2])
                results = await asyncio.gather(*(live.reload_async(f"n{i}") for _ in range(3)))
                assert all(results)
                assert live.current.values == (("A", "B")[i % 2],) * 10
    finally:
        stop.set()
        await asyncio.gather(*readers)
        for thread in threads:
            thread.join(timeout=10)
    assert bad == []
    assert overlaps == 0
    assert seen == whole
