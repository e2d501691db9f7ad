"""The decision log as the evaluator reads it: one JSON object per line (see the package doc).

Parsing is pure: :func:`read_log` takes the lines (the caller opens the file), so tests and
converters feed it strings. A malformed line raises :class:`LogError` naming the source and
line; fields beyond the documented ones are ignored, so logs may carry more.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import msgspec

from proxy.errors import VernierError
from proxy.records.decision import DecisionRecord, decode_record


class LogError(VernierError):
    """A decision-log line is not a valid record; ``str(err)`` reads ``source:line: what``."""


def iter_log(lines: Iterable[bytes | str], *, source: str = "<log>") -> Iterator[DecisionRecord]:
    """Every record of ``lines`` in order; blank lines are skipped.

    Raises :class:`LogError` (``source:line: message``) at the first invalid line.
    """
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            yield decode_record(line)
        except (msgspec.ValidationError, msgspec.DecodeError) as err:
            raise LogError(f"{source}:{number}: {err}") from None


def read_log(lines: Iterable[bytes | str], *, source: str = "<log>") -> list[DecisionRecord]:
    """:func:`iter_log` as a list."""
    return list(iter_log(lines, source=source))
