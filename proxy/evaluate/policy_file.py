"""A target policy given as per-decision probabilities: JSON lines ``{"id": …, "pmf": {…}}``.

Each line names a logged decision and the probability the target policy gives each of that
decision's offered actions (absent actions: 0); ``docs/decision-log.md`` documents it.

**Joined in order, in flat memory.** The file is read alongside the log, not loaded: when a
decision needs its pmf, lines are read until its id turns up; lines passed on the way are kept
aside until their decision comes. A file written in the log's order (what a script that reads
the log and writes a pmf per line produces) therefore keeps nothing aside, whatever its size; a
file in another order still works, holding the lines it is ahead by. Lines for decisions the
evaluation does not need (no reward, another slot) may be present or absent.

Every error names the file and line: a line that is not ``{"id": str, "pmf": {str: number}}``,
an id twice, a pmf that does not sum to 1, an action the decision did not offer; and a decision
of the log with no line is named by the log's ``file:line``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import msgspec

from proxy.evaluate.policies import PMF_TOLERANCE, PolicyError, pmf_in_order
from proxy.records.decision import DecisionRecord


class PolicyLine(msgspec.Struct, frozen=True):
    """One line of a policy file."""

    id: str
    pmf: dict[str, float]


_decode = msgspec.json.Decoder(PolicyLine).decode


class PolicyFile:
    """The probabilities of one policy file, read as the log's decisions ask for them."""

    def __init__(
        self, lines: Iterable[bytes | str], *, source: str, tolerance: float = PMF_TOLERANCE
    ) -> None:
        self.source = source
        self.tolerance = tolerance
        self._lines: Iterator[tuple[int, bytes | str]] = iter(enumerate(lines, start=1))
        self._head: tuple[int, PolicyLine] | None = None
        self._aside: dict[str, tuple[int, PolicyLine]] = {}
        self.read = 0  # lines read so far
        self.used = 0  # of which matched a decision that needed them

    @property
    def kept_aside(self) -> int:
        """Lines read ahead of their decision (0 while the file follows the log's order)."""
        return len(self._aside)

    def _next(self) -> tuple[int, PolicyLine] | None:
        for number, line in self._lines:
            if not line.strip():
                continue
            try:
                entry = _decode(line)
            except (msgspec.ValidationError, msgspec.DecodeError) as err:
                raise PolicyError(f"{self.source}:{number}: {err}") from None
            self.read += 1
            return number, entry
        return None

    def _peek(self) -> tuple[int, PolicyLine] | None:
        if self._head is None:
            self._head = self._next()
        return self._head

    def _set_aside(self, number: int, entry: PolicyLine) -> None:
        earlier = self._aside.get(entry.id)
        if earlier is not None:
            raise PolicyError(
                f"{self.source}:{number}: decision {entry.id} already has a pmf at line {earlier[0]}"
            )
        self._aside[entry.id] = (number, entry)

    def skip(self, decision_id: str) -> None:
        """The log passed a decision that needs no pmf: drop its line if it is next or aside."""
        if self._aside.pop(decision_id, None) is not None:
            return
        head = self._peek()
        if head is not None and head[1].id == decision_id:
            self._head = None

    def __call__(self, record: DecisionRecord) -> list[float]:
        """The pmf of ``record`` in its actions' order (a :data:`TargetPolicy`): ``ValueError``
        if the file has no line for it (the caller names the log's line), :class:`PolicyError`
        naming the file's line if that line is not a pmf over the decision's actions."""
        found = self._aside.pop(record.id, None)
        while found is None:
            head = self._peek()
            if head is None:
                raise ValueError("no line for this decision")
            self._head = None
            if head[1].id == record.id:
                found = head
            else:
                self._set_aside(*head)
        number, entry = found
        self.used += 1
        try:
            return pmf_in_order(entry.pmf, record.actions, tolerance=self.tolerance)
        except ValueError as err:
            raise PolicyError(f"{self.source}:{number}: decision {record.id}: {err}") from None
