"""The decision log as the evaluator reads it: one JSON object per line (``docs/decision-log.md``).

Parsing is pure: the functions take the lines (the caller opens the file), so tests and
converters feed them strings, and a file is streamed, never held. A malformed line raises
:class:`LogError` naming the source and line; fields beyond the documented ones are ignored, so
logs may carry more. A reward beyond :data:`~proxy.records.decision.REWARD_LIMIT` is refused
here, where every reader of the log (``vernier evaluate``, ``vernier report --by segment``) decodes
its lines: the estimators square rewards, and such a number is a unit mistake, not a measurement;
so is a logged probability below :data:`MIN_LOGGED_P` (its weight 1/p is squared too). A UTF-8
byte order mark before the first line (some editors write one) is skipped.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

import msgspec

from proxy.errors import VernierError
from proxy.records.decision import REWARD_LIMIT, DecisionRecord, decode_record

Record = TypeVar("Record", bound=DecisionRecord)
# the smallest logged probability read: 1/p is an importance weight, squared by the estimators
MIN_LOGGED_P = 1e-12

_BOM = "\ufeff"
_BOM_BYTES = _BOM.encode()


class LogError(VernierError):
    """A decision-log line is not a valid record; ``str(err)`` reads ``source:line: what``."""


def iter_numbered(
    lines: Iterable[bytes | str],
    *,
    source: str = "<log>",
    decode: Callable[[bytes | str], Record] = decode_record,  # type: ignore[assignment]
) -> Iterator[tuple[int, Record]]:
    """``(line number, record)`` for every non-blank line of ``lines``, in order.

    ``decode`` reads one line (the proxy's :class:`~proxy.records.decision.LoggedDecision`
    decoder accepts its superset of the format). Raises :class:`LogError`
    (``source:line: message``) at the first invalid line, or one whose reward is beyond
    ±:data:`~proxy.records.decision.REWARD_LIMIT`.
    """
    for number, line in enumerate(lines, start=1):
        if number == 1:
            line = (
                line.removeprefix(_BOM_BYTES)
                if isinstance(line, bytes)
                else line.removeprefix(_BOM)
            )
        if not line.strip():
            continue
        try:
            record = decode(line)
        except (msgspec.ValidationError, msgspec.DecodeError) as err:
            raise LogError(f"{source}:{number}: {err}") from None
        if record.reward is not None and abs(record.reward) > REWARD_LIMIT:
            raise LogError(
                f"{source}:{number}: reward {record.reward:g} is outside ±{REWARD_LIMIT:g}"
            )
        if record.p < MIN_LOGGED_P:
            raise LogError(
                f"{source}:{number}: p {record.p:g} is below {MIN_LOGGED_P:g} (its weight 1/p "
                "would drown every other record; no explorer logs so small a chance)"
            )
        yield number, record


def iter_log(lines: Iterable[bytes | str], *, source: str = "<log>") -> Iterator[DecisionRecord]:
    """Every record of ``lines`` in order; blank lines are skipped (see :func:`iter_numbered`)."""
    for _, record in iter_numbered(lines, source=source, decode=decode_record):
        yield record


def read_log(lines: Iterable[bytes | str], *, source: str = "<log>") -> list[DecisionRecord]:
    """:func:`iter_log` as a list."""
    return list(iter_log(lines, source=source))
