"""One slot's learner: a VW workspace behind a small typed interface.

**What decides.** Under the default explorer, SquareCB, VW is a ``cb_adf`` regressor of each
variant's reward; the model refines its estimates with exact averages of the interaction
terms' cells, and of the other default terms' once they differ beyond chance
(:class:`~proxy.bandit.cell_estimates.CellCounts`, learned and saved with the weights), and
turns them into probabilities itself (:mod:`proxy.bandit.square_cb`). Under the other
explorers VW's ``cb_explore_adf`` gives the probabilities. (Until the model has learned
the policy's ``uniform_first`` examples the decider ignores them: :mod:`proxy.decide.bandit`.)

**Rewards, not costs.** Callers speak rewards (a click is 1); VW minimises cost, so
:meth:`BanditModel.learn` passes ``cost = -reward``.

**Unweighted by default.** The model regresses the reward of the variant served, at weight 1
(SquareCB's oracle, Foster and Rakhlin 2020); ``importance_weights: true`` gives VW the logged
probability, and a click on a variant explored at p weighs 1/p (docs/benchmarks.md, "Fourth
round": 35 of 70 world-seed pairs weighted, 45 unweighted, both with the default explorer).

**Action order.** VW returns its scores (costs under ``cb_adf``, the pmf under
``cb_explore_adf``) in the order the actions were given, and the cell counts are keyed by
variant id (checked by the tests against permutations); :meth:`BanditModel.predict` then
applies the policy's exploration floor (:func:`proxy.bandit.sampling.apply_floor`).

**Fast path.** ``vowpalwabbit.Workspace.predict`` wraps every parsed line in a Python
``Example`` (enum look-ups, attribute set-up): ~40 µs of Python for 11 lines. We call the same
native functions it calls (``pylibvw.vw._parse``, ``predict_multi``, ``learn_multi``,
``_finish_example_multi_ex``) on the joined text, ~11 µs for a decision with 10 variants
(dense weights; ~27 µs on the sparse ones of the default ``initial_weight``), plus the cell
averages (docs/benchmarks.md, "Tenth round": ~1.6× the decision without them).

**Not thread-safe underneath.** A VW workspace must not be used by two threads at once; every
call here takes the model's lock, so a save in an executor thread and a predict on the event loop
serialise instead of corrupting state. For throughput, give each process its own model.

**Saving.** VW 9.11's Python binding saves only to a file name (it writes ``<name>.writing``
and renames it) and loads only with ``-i <file>``; :meth:`to_bytes` and :meth:`from_bytes` go
through a private temporary directory. A SquareCB model's bytes are :data:`CONTAINER_MAGIC`,
VW's bytes (length-prefixed) and the cell counts (msgpack). Both take a few milliseconds: run
them off the event loop.
Options VW does not store in the model (``--l1``, ``--l2``, ``--learning_rate``,
``--initial_weight``) are passed again on load from the policy, so a loaded model behaves like
its source. Under the policy's ``initial_weight`` the weights are sparse (created at first use
with that value): a saved model holds the weights used, not all 2^bits of them.
"""

from __future__ import annotations

import math
import os
import tempfile
import threading
from collections.abc import Sequence

import msgspec
import pylibvw  # type: ignore[import-not-found]  # vowpalwabbit's native module, no stubs
from vowpalwabbit import Workspace  # type: ignore[import-untyped]

from proxy.bandit.cell_estimates import CellCounts, namespaces_of_line
from proxy.bandit.features import ActionSet, Label, SharedFeatures, adf_lines, shared_line
from proxy.bandit.policy_config import (
    DEFAULT_INTERACTIONS,
    BanditPolicy,
    SquareCB,
    effective_interactions,
    vw_arguments,
)
from proxy.bandit.sampling import apply_floor
from proxy.bandit.square_cb import gamma, squarecb_pmf

CONTAINER_MAGIC = b"VRNM1"
_LENGTH_BYTES = 8


class BanditModel:
    """A contextual bandit for one slot (one feature space); see the module docstring."""

    def __init__(self, policy: BanditPolicy, *, _initial_model: str | None = None) -> None:
        args = vw_arguments(policy)
        if _initial_model is not None:
            args += ["-i", _initial_model]
        self.policy = policy
        self._vw = Workspace(arg_list=args)
        self._lock = threading.Lock()
        self._finished = False
        self.examples_learned = 0
        # SquareCB: Vernier explores, on VW's estimates and the cells' averages
        self._squarecb = policy.explorer if isinstance(policy.explorer, SquareCB) else None
        self._cells = CellCounts(effective_interactions(policy), watched=DEFAULT_INTERACTIONS)

    @classmethod
    def from_bytes(cls, data: bytes, policy: BanditPolicy) -> BanditModel:
        """A model from :meth:`to_bytes` output; ``ValueError`` if it cannot be read.

        The bytes must come from a model with the same feature space (the snapshot checks that);
        VW itself cannot tell, and loads e.g. an epsilon model under a ``bag`` policy silently.
        """
        cells = None
        if isinstance(policy.explorer, SquareCB):
            data, cells = _unpack(data)
        with tempfile.TemporaryDirectory(prefix="vernier-model-") as directory:
            path = os.path.join(directory, "model.vw")
            with open(path, "wb") as file:
                file.write(data)
            try:
                model = cls(policy, _initial_model=path)
            except RuntimeError as err:
                raise ValueError(f"VW cannot load the model: {err}") from None
        if cells is not None:
            model._cells = cells
        return model

    def predict(
        self, shared: SharedFeatures, actions: ActionSet, *, floor: bool = True
    ) -> list[float]:
        """The pmf over ``actions`` (in their order), exploration floor applied.

        ``floor=False`` returns the pmf before the floor (the snapshot canary checks that one).
        """
        return self._predict(shared_line(shared), shared, actions, floor)

    def predict_lines(self, shared: str, actions: ActionSet, *, floor: bool = True) -> list[float]:
        """:meth:`predict` for an already formatted ``shared`` line."""
        return self._predict(shared, None, actions, floor)

    def _predict(
        self, line: str, shared: SharedFeatures | None, actions: ActionSet, floor: bool
    ) -> list[float]:
        scores = self._scores(line, actions)
        if self._squarecb is None:
            pmf = scores
        else:
            namespaces = namespaces_of_line(line) if shared is None else shared
            pmf = self._squarecb_pmf(namespaces, actions, scores)
        return apply_floor(pmf, self.policy.floor) if floor else pmf

    def estimates(self, shared: str, actions: ActionSet) -> list[float]:
        """Each variant's estimated reward for the ``shared`` line (SquareCB models): VW's,
        refined by the cells' averages (``cells: true``); what SquareCB's gaps are taken of."""
        costs = self._scores(shared, actions)
        return self._estimates(namespaces_of_line(shared), actions, costs)[0]

    def _scores(self, shared: str, actions: ActionSet) -> list[float]:
        """VW's output for the example: costs (``cb_adf``) or probabilities (the others)."""
        text = "\n".join((shared, *actions.lines))
        with self._lock:
            self._check_open()
            examples = pylibvw.vw._parse(self._vw, text)
            try:
                pylibvw.vw.predict_multi(self._vw, examples)
                scores: list[float] = examples[0].get_action_scores()
            finally:
                pylibvw.vw._finish_example_multi_ex(self._vw, examples)
        if len(scores) != len(actions):
            raise RuntimeError(f"VW returned {len(scores)} scores for {len(actions)} actions")
        return scores

    def _estimates(
        self, namespaces: SharedFeatures, actions: ActionSet, costs: Sequence[float]
    ) -> tuple[list[float], int]:
        """The estimates, and the examples counted (SquareCB's ``t``), read together."""
        rewards = [-c for c in costs]
        with self._lock:
            if self._squarecb is None or not self._squarecb.cells:
                return rewards, self._cells.total
            return self._cells.estimates(namespaces, actions.ids, rewards), self._cells.total

    def _squarecb_pmf(
        self, namespaces: SharedFeatures, actions: ActionSet, costs: Sequence[float]
    ) -> list[float]:
        explorer = self._squarecb
        assert explorer is not None
        estimates, examples = self._estimates(namespaces, actions, costs)
        return squarecb_pmf(
            estimates, gamma(explorer.gamma_scale, explorer.gamma_exponent, examples)
        )

    def learn(
        self,
        shared: SharedFeatures | str,
        actions: ActionSet,
        chosen: int,
        *,
        reward: float,
        probability: float,
    ) -> None:
        """Learn from one joined decision: ``chosen`` was served with ``probability``, which
        weighs the example by its inverse only under ``importance_weights`` (the policy's).

        ``shared`` is the context's namespaces or its formatted line. ``ValueError`` for an
        index outside the actions, a probability outside ``(0, 1]`` or a non-finite reward.
        """
        if not 0 <= chosen < len(actions):
            raise ValueError(f"chosen index {chosen} outside 0..{len(actions) - 1}")
        if not (0.0 < probability <= 1.0):
            raise ValueError(f"probability {probability} outside (0, 1]")
        if not math.isfinite(reward):
            raise ValueError(f"reward {reward} is not finite")
        line = shared if isinstance(shared, str) else shared_line(shared)
        weighted = probability if self.policy.importance_weights else 1.0
        text = "\n".join(adf_lines(line, actions.lines, Label(chosen, -reward, weighted)))
        with self._lock:
            self._check_open()
            examples = pylibvw.vw._parse(self._vw, text)
            try:
                pylibvw.vw.learn_multi(self._vw, examples)
            finally:
                pylibvw.vw._finish_example_multi_ex(self._vw, examples)
            if self._squarecb is not None:
                namespaces = namespaces_of_line(line) if isinstance(shared, str) else shared
                self._cells.add(namespaces, actions.ids[chosen], reward)
            self.examples_learned += 1

    def to_bytes(self) -> bytes:
        """The model's state (weights and options VW keeps), resumable for learning."""
        with tempfile.TemporaryDirectory(prefix="vernier-model-") as directory:
            path = os.path.join(directory, "model.vw")
            with self._lock:
                self._check_open()
                self._vw.save(path)
                cells = msgspec.msgpack.encode(self._cells.to_wire())
            with open(path, "rb") as file:
                data = file.read()
        if self._squarecb is None:
            return data
        length = len(data).to_bytes(_LENGTH_BYTES, "big")
        return b"".join((CONTAINER_MAGIC, length, data, cells))

    def finish(self) -> None:
        """Release the workspace; later calls raise ``RuntimeError``. Idempotent."""
        with self._lock:
            if not self._finished:
                self._finished = True
                self._vw.finish()

    def _check_open(self) -> None:
        if self._finished:
            raise RuntimeError("the model was finished")


def pmf_is_valid(pmf: Sequence[float], n_actions: int, tolerance: float = 1e-3) -> bool:
    """``True`` for ``n_actions`` finite probabilities in ``[0, 1]`` summing to 1 ± tolerance."""
    return (
        len(pmf) == n_actions
        and all(math.isfinite(p) and 0.0 <= p <= 1.0 for p in pmf)
        and abs(math.fsum(pmf) - 1.0) <= tolerance
    )


def _unpack(data: bytes) -> tuple[bytes, CellCounts]:
    """VW's bytes and the cell counts of a SquareCB model's :meth:`BanditModel.to_bytes`.

    The counts keep the interaction terms they were made under, as VW's bytes keep the
    interactions (a model whose interactions the learner chose, loaded under the rules' policy
    by ``vernier evaluate --model``, predicts as it did)."""
    if not data.startswith(CONTAINER_MAGIC):
        raise ValueError("not a SquareCB model of this Vernier version (no cell counts)")
    start = len(CONTAINER_MAGIC) + _LENGTH_BYTES
    length = int.from_bytes(data[len(CONTAINER_MAGIC) : start], "big")
    if start + length > len(data):
        raise ValueError("the model's bytes are cut short")
    try:
        cells = CellCounts.from_wire(msgspec.msgpack.decode(data[start + length :]))
    except msgspec.DecodeError as err:
        raise ValueError(f"unreadable cell counts: {err}") from None
    return data[start : start + length], cells
