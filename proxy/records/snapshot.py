"""A published model snapshot as the store holds it, and its msgpack codec.

The learner makes snapshots and every proxy loads them (:mod:`proxy.bandit.snapshot` checks and
activates them); the store only carries their bytes. The type and its codec live here so that the
store can carry a snapshot without importing the bandit (and VW) that makes and checks one.
"""

from __future__ import annotations

import msgspec

from proxy.errors import VernierError


class SnapshotRefused(VernierError):
    """A snapshot failed a check; ``str(err)`` says which. Keep the last good model."""


class Snapshot(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One published model; :mod:`proxy.bandit.snapshot` says what each field is for."""

    slot: str
    model_version: int
    feature_space: str
    created_at_ms: int
    examples: int
    sha256: str
    canary_pmf: tuple[float, ...]
    model: bytes
    # the interactions the learner chose for a slot that did not write them (None: the policy's)
    interactions: tuple[str, ...] | None = None


_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(Snapshot)


def encode_snapshot(snapshot: Snapshot) -> bytes:
    """The snapshot as msgpack bytes (for the store)."""
    return _encoder.encode(snapshot)


def decode_snapshot(data: bytes) -> Snapshot:
    """A snapshot from :func:`encode_snapshot` bytes; :class:`SnapshotRefused` if malformed."""
    try:
        return _decoder.decode(data)
    except (msgspec.DecodeError, msgspec.ValidationError) as err:
        raise SnapshotRefused(f"snapshot is malformed: {err}") from None
