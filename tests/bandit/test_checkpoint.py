"""The learner checkpoint's format: what it keeps, and a format it cannot read refused."""

from __future__ import annotations

import msgspec
import pytest

from proxy.bandit.checkpoint import (
    CHECKPOINT_FORMAT,
    Checkpoint,
    decode_checkpoint,
    encode_checkpoint,
)


def checkpoint(format_number: int = CHECKPOINT_FORMAT) -> Checkpoint:
    return Checkpoint(
        format=format_number,
        created_at_ms=1_700_000_000_000,
        state=b"join",
        snapshots={"hero": b"snapshot"},
        versions={"hero": 3},
        guardrail=b"evidence",
    )


def test_a_checkpoint_comes_back_as_it_was_stored() -> None:
    assert decode_checkpoint(encode_checkpoint(checkpoint())) == checkpoint()


def test_a_checkpoint_written_before_the_guardrail_had_evidence_reads_as_none() -> None:
    older = msgspec.msgpack.encode(
        {"format": CHECKPOINT_FORMAT, "created_at_ms": 1, "state": b"", "snapshots": {},
         "versions": {}}
    )  # fmt: skip
    assert decode_checkpoint(older).guardrail == b""


def test_another_format_is_refused_not_guessed_at() -> None:
    with pytest.raises(ValueError, match=f"format {CHECKPOINT_FORMAT + 1}, expected"):
        decode_checkpoint(encode_checkpoint(checkpoint(CHECKPOINT_FORMAT + 1)))


def test_bytes_that_are_not_a_checkpoint_are_refused() -> None:
    with pytest.raises(msgspec.DecodeError):
        decode_checkpoint(b"\xc1")
