"""The learner's checkpoint: what it stores before acknowledging stream entries, and its format.

A checkpoint holds the reward join's bytes, each learning slot's newest snapshot and version,
and the guardrail's evidence (:class:`~proxy.bandit.learner_state.LearnerState` builds and
restores it; :mod:`proxy.store.learner_state` keeps the bytes). The format number changes when
an older learner could not read it; a checkpoint of another format is refused, never guessed at.
"""

from __future__ import annotations

import msgspec

CHECKPOINT_FORMAT = 1


class Checkpoint(msgspec.Struct, frozen=True):
    """The learner's state as of its last acknowledgement (msgpack, in the store)."""

    format: int
    created_at_ms: int
    state: bytes  # JoinState.to_bytes()
    snapshots: dict[str, bytes]  # slot -> encoded Snapshot of its model at that moment
    versions: dict[str, int]  # slot -> last version given to a snapshot
    guardrail: bytes = b""  # the guardrail's evidence (encode_evidence); absent in older ones


class CheckpointRefused(ValueError):
    """A stored checkpoint that cannot be used (malformed, or of another format)."""


_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(Checkpoint)


def encode_checkpoint(checkpoint: Checkpoint) -> bytes:
    return _encoder.encode(checkpoint)


def decode_checkpoint(data: bytes) -> Checkpoint:
    """The checkpoint in ``data``; raises :class:`msgspec.DecodeError`,
    :class:`msgspec.ValidationError`, or :class:`ValueError` for another format."""
    checkpoint = _decoder.decode(data)
    if checkpoint.format != CHECKPOINT_FORMAT:
        raise ValueError(f"format {checkpoint.format}, expected {CHECKPOINT_FORMAT}")
    return checkpoint
