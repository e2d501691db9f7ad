"""The decision log as the evaluator reads it: one JSON object per line (``docs/decision-log.md``).

Parsing is pure: the functions take the lines (the caller opens the file), so tests and
converters feed them strings, and a file is streamed, never held. A malformed line raises
:class:`LogError` naming the source and line; fields beyond the documented ones are ignored, so
logs may carry more.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

import msgspec

from proxy.errors import VernierError
from proxy.records.decision import DecisionRecord, decode_record

Record = TypeVar("Record", bound=DecisionRecord)


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
    (``source:line: message``) at the first invalid line.
    """
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            yield number, decode(line)
        except (msgspec.ValidationError, msgspec.DecodeError) as err:
            raise LogError(f"{source}:{number}: {err}") from None


def iter_log(lines: Iterable[bytes | str], *, source: str = "<log>") -> Iterator[DecisionRecord]:
    """Every record of ``lines`` in order; blank lines are skipped (see :func:`iter_numbered`)."""
    for _, record in iter_numbered(lines, source=source, decode=decode_record):
        yield record


def read_log(lines: Iterable[bytes | str], *, source: str = "<log>") -> list[DecisionRecord]:
    """:func:`iter_log` as a list."""
    return list(iter_log(lines, source=source))
