"""Where joined examples go besides the slots' models: the decision log, the report, the guardrail.

Every joined example, learned or not (``log-only`` slots too), is appended to
``<data_dir>/decisions.jsonl``, the log ``vernier evaluate`` reads (and
:mod:`proxy.bandit.example_log` reads back); folded once per decision into the report's
off-policy sums, the examples folded for the first time kept for its doubly robust estimates;
and judged by the guardrail (in :class:`~proxy.bandit.learner_state.LearnerState`), whose
pauses are written here to the control hash every proxy polls. None of these can stop the
learner: a store that does not answer or a disk that fails is logged, and learning goes on.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

from proxy.govern.guardrail import Pause
from proxy.records.decision import DecisionRecord, encode_record
from proxy.results.fold import fold_example
from proxy.store import joined_examples, results, slot_metrics
from proxy.store.client import Store

log = logging.getLogger("vernier.learner")


class ExampleSinks:
    """The decision log, the report's sums and kept examples, and the guardrail's pauses.

    Counter: ``logged`` records appended to decisions.jsonl.
    """

    def __init__(
        self,
        store: Store,
        log_path: Path,
        *,
        results_ttl_s: int,
        examples_kept: int,
        timeout_s: float,
    ) -> None:
        self.store = store
        self.log_path = log_path
        self.results_ttl_s = results_ttl_s
        self.examples_kept = examples_kept
        self.timeout_s = timeout_s
        self.logged = 0

    async def write_pauses(self, pauses: Sequence[Pause], now_ms: int) -> None:
        """The guardrail's pauses, written to the control hash (``HSETNX``: a pause by hand is
        never overwritten)."""
        for pause in pauses:
            if await slot_metrics.pause_variant(
                self.store, pause.slot, pause.variant, pause.why, "guardrail", at_ms=now_ms
            ):
                log.warning("guardrail paused %s/%s: %s", pause.slot, pause.variant, pause.why)
            else:
                log.warning(
                    "guardrail: pause of %s/%s not written (already paused, or the store did "
                    "not answer): %s", pause.slot, pause.variant, pause.why,
                )  # fmt: skip

    async def fold_results(
        self, examples: Sequence[DecisionRecord], known: Mapping[str, frozenset[str]]
    ) -> None:
        """The report's off-policy sums (:func:`~proxy.results.fold.fold_example`; ``known``:
        each slot's variants), once per decision however often an example is joined again after
        a restart; the examples folded for the first time are also kept for its doubly robust
        estimates (:mod:`proxy.store.joined_examples`)."""
        tallies = [tally for record in examples for tally in fold_example(record, known)]
        written = await results.fold(
            self.store, tallies, ttl_s=self.results_ttl_s, timeout_s=self.timeout_s
        )
        if written is None:
            log.warning("learner: off-policy sums of %d examples not written", len(tallies))
            return
        new = {tally.member.removeprefix("w:") for tally in written}
        kept = [record for record in examples if record.id in new]
        if not await joined_examples.keep_examples(
            self.store, kept, kept=self.examples_kept, ttl_s=self.results_ttl_s,
            timeout_s=self.timeout_s,
        ):  # fmt: skip
            log.warning("learner: %d examples not kept for the report", len(kept))

    async def append(self, examples: Sequence[DecisionRecord]) -> None:
        """Append ``examples`` to decisions.jsonl (in the default executor)."""
        lines = b"".join(encode_record(record) + b"\n" for record in examples)
        try:
            await asyncio.get_running_loop().run_in_executor(None, self._append, lines)
        except OSError as err:
            log.error("learner: cannot append to %s: %s", self.log_path, err)
        else:
            self.logged += len(examples)

    def _append(self, lines: bytes) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as file:
            file.write(lines)
            file.flush()
