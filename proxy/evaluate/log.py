"""The decision log as the evaluator reads it: one JSON object per line (see the package doc).

Parsing is pure: :func:`read_log` takes the lines (the caller opens the file), so tests and
converters feed it strings. A malformed line raises :class:`LogError` naming the source and
line; fields beyond the documented ones are ignored, so logs may carry more.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from typing import Literal

import msgspec

from proxy.errors import VernierError

Reason = Literal["bandit", "rule", "sticky", "held", "paused", "default"]


class LogError(VernierError):
    """A decision-log line is not a valid record; ``str(err)`` reads ``source:line: what``."""


class DecisionRecord(msgspec.Struct, frozen=True):
    """One logged decision with its joined reward (the package docstring documents each field)."""

    id: str
    slot: str
    actions: tuple[str, ...]
    chosen: str
    p: float
    context: dict[str, tuple[str, ...]] = msgspec.field(default_factory=dict)
    reward: float | None = None
    pmf: tuple[float, ...] | None = None
    reason: Reason = "bandit"
    ts_ms: int | None = None
    session: str | None = None
    visitor: str | None = None
    model_version: str | None = None

    def __post_init__(self) -> None:
        if not self.actions:
            raise ValueError("actions: at least one action must be offered")
        if len(set(self.actions)) != len(self.actions):
            raise ValueError("actions: ids must be unique")
        if self.chosen not in self.actions:
            raise ValueError(f"chosen {self.chosen!r} is not among the actions")
        if not (math.isfinite(self.p) and 0.0 < self.p <= 1.0):
            raise ValueError(f"p {self.p} is outside (0, 1]")
        if self.reward is not None and not math.isfinite(self.reward):
            raise ValueError("reward must be finite")
        if self.pmf is not None and len(self.pmf) != len(self.actions):
            raise ValueError("pmf must have one probability per action")

    @property
    def chosen_index(self) -> int:
        """Position of the chosen action in ``actions``."""
        return self.actions.index(self.chosen)

    @property
    def is_example(self) -> bool:
        """Whether the record counts for evaluation: a joined reward and not a sticky re-serve."""
        return self.reward is not None and self.reason != "sticky"


_decoder = msgspec.json.Decoder(DecisionRecord)
_encoder = msgspec.json.Encoder()


def decode_record(line: bytes | str) -> DecisionRecord:
    """One record; ``msgspec.ValidationError``/``DecodeError`` if it is not one."""
    return _decoder.decode(line)


def encode_record(record: DecisionRecord) -> bytes:
    """One record as a JSON line (no trailing newline); unset optional fields are written."""
    return _encoder.encode(record)


def iter_log(lines: Iterable[bytes | str], *, source: str = "<log>") -> Iterator[DecisionRecord]:
    """Every record of ``lines`` in order; blank lines are skipped.

    Raises :class:`LogError` (``source:line: message``) at the first invalid line.
    """
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            yield _decoder.decode(line)
        except (msgspec.ValidationError, msgspec.DecodeError) as err:
            raise LogError(f"{source}:{number}: {err}") from None


def read_log(lines: Iterable[bytes | str], *, source: str = "<log>") -> list[DecisionRecord]:
    """:func:`iter_log` as a list."""
    return list(iter_log(lines, source=source))
