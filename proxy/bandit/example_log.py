"""The newest examples of one slot, read back from the end of ``decisions.jsonl``.

The learner keeps the examples a slot's interaction choice judges in memory
(:class:`~proxy.bandit.interaction_choice.SlotChoice`); after a restart they are gone while the
model continues from its snapshot. Before a choice, the learner refills them from the decision
log it appends every joined example to, reading backwards in blocks so a long log costs only
its tail (at most :data:`MAX_TAIL_BYTES`). Blocking file I/O: run it in an executor.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import msgspec

from proxy.records.decision import DecisionRecord, decode_record

BLOCK_BYTES = 1 << 20
MAX_TAIL_BYTES = 256 << 20  # ~500,000 records of a few slots: far beyond MAX_EXAMPLES of one


def recent_examples(
    path: Path, wanted: Callable[[DecisionRecord], bool], limit: int
) -> list[DecisionRecord]:
    """Up to ``limit`` of the newest records of ``path`` that ``wanted`` accepts, oldest first.
    A missing file gives none; a line that does not decode (a torn last write) is skipped."""
    found: list[DecisionRecord] = []
    try:
        file = open(path, "rb")  # noqa: SIM115  # closed below; read backwards by blocks
    except FileNotFoundError:
        return found
    with file:
        end = file.seek(0, os.SEEK_END)
        position, carry = end, b""
        while position > 0 and len(found) < limit and end - position < MAX_TAIL_BYTES:
            step = min(BLOCK_BYTES, position)
            position -= step
            file.seek(position)
            lines = (file.read(step) + carry).split(b"\n")
            carry = lines.pop(0) if position > 0 else b""  # may be the end of an earlier line
            for line in reversed(lines):
                record = _decoded(line)
                if record is not None and wanted(record):
                    found.append(record)
                    if len(found) == limit:
                        break
    found.reverse()
    return found


def _decoded(line: bytes) -> DecisionRecord | None:
    if not line.strip():
        return None
    try:
        return decode_record(line)
    except (msgspec.ValidationError, msgspec.DecodeError):
        return None
