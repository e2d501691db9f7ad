"""Reading a slot's newest examples back from the end of the decision log."""

from __future__ import annotations

from pathlib import Path

import pytest

from proxy.bandit import example_log
from proxy.bandit.example_log import recent_examples
from proxy.records.decision import DecisionRecord, encode_record


def record(i: int, slot: str) -> DecisionRecord:
    return DecisionRecord(
        id=f"d{i:05d}", slot=slot, actions=("a", "b"), chosen="ab"[i % 2], p=0.5,
        context={"D": (f"dev=x{i}",)}, reward=float(i % 3 == 0),
    )  # fmt: skip


def write_log(path: Path, records: list[DecisionRecord], tail: bytes = b"") -> None:
    path.write_bytes(b"".join(encode_record(r) + b"\n" for r in records) + tail)


@pytest.mark.parametrize("block_bytes", [64, 1000, 1 << 20])
def test_the_newest_records_of_the_slot_oldest_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, block_bytes: int
) -> None:
    # blocks smaller than a line and larger than the file read the same
    monkeypatch.setattr(example_log, "BLOCK_BYTES", block_bytes)
    records = [record(i, "hero" if i % 4 else "footer") for i in range(200)]
    path = tmp_path / "decisions.jsonl"
    write_log(path, records, tail=b'{"id": "torn')  # a write cut short by a crash
    found = recent_examples(path, lambda r: r.slot == "hero", 50)
    assert found == [r for r in records if r.slot == "hero"][-50:]
    everything = recent_examples(path, lambda r: r.slot == "hero", 10_000)
    assert everything == [r for r in records if r.slot == "hero"]


def test_a_missing_log_has_no_examples(tmp_path: Path) -> None:
    assert recent_examples(tmp_path / "absent.jsonl", lambda r: True, 10) == []
