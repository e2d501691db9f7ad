"""Where joined examples go besides the models: decisions.jsonl and the guardrail's pauses."""

from __future__ import annotations

import logging
from pathlib import Path

import orjson
import pytest

from proxy.bandit.example_sinks import ExampleSinks
from proxy.evaluate.log import read_log
from proxy.govern.guardrail import Pause
from proxy.store import control
from proxy.store.client import Store
from tests.bandit.test_learner import decisions


def sinks_at(store: Store, log_path: Path) -> ExampleSinks:
    return ExampleSinks(store, log_path, results_ttl_s=3600, examples_kept=10, timeout_s=2.0)


def pause_of(variant: str) -> Pause:
    return Pause(
        slot="hero", variant=variant, decisions=400, served=200, variant_rate=0.01,
        control_rate=0.05, per_decision=-0.04, wealth=25.0, threshold=20.0,
    )  # fmt: skip


async def test_examples_are_appended_to_the_decision_log_and_counted(
    store: Store, tmp_path: Path
) -> None:
    path = tmp_path / "data" / "decisions.jsonl"  # its folder is made on the first append
    sinks = sinks_at(store, path)
    first, second = decisions(2), decisions(3)
    await sinks.append(first)
    await sinks.append(second)
    assert [r.id for r in read_log(path.read_bytes().splitlines())] == [
        r.id for r in first + second
    ]
    assert sinks.logged == 5


async def test_a_log_that_cannot_be_written_is_logged_and_not_counted(
    store: Store, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocked = tmp_path / "a-file"
    blocked.write_bytes(b"")
    sinks = sinks_at(store, blocked / "decisions.jsonl")  # its folder cannot be made
    with caplog.at_level(logging.ERROR, logger="vernier.learner"):
        await sinks.append(decisions(2))
    assert sinks.logged == 0
    assert "cannot append to" in caplog.text


async def test_a_pause_is_written_once_and_never_over_one_already_there(
    store: Store, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    sinks = sinks_at(store, tmp_path / "decisions.jsonl")
    with caplog.at_level(logging.WARNING, logger="vernier.learner"):
        await sinks.write_pauses([pause_of("b")], now_ms=1_000)
        await sinks.write_pauses([pause_of("b")], now_ms=2_000)
    fields = await control.read(store)
    assert fields is not None
    written = orjson.loads(fields["variant:hero:b"])
    assert (written["by"], written["at_ms"]) == ("guardrail", 1_000)
    assert "guardrail paused hero/b" in caplog.text
    assert "pause of hero/b not written" in caplog.text
