"""One slot's learner: a VW ``cb_explore_adf`` workspace behind a small typed interface.

**Rewards, not costs.** Callers speak rewards (a click is 1); VW minimises cost, so
:meth:`BanditModel.learn` passes ``cost = -reward``.

**Unweighted by default.** The model regresses the reward of the variant served, at weight 1
(SquareCB's oracle, Foster and Rakhlin 2020); ``importance_weights: true`` gives VW the logged
probability, and a click on a variant explored at p weighs 1/p (docs/benchmarks.md, "Fourth
round": 35 of 70 world-seed pairs weighted, 45 unweighted, both with the default explorer).

**Probabilities in action order.** VW returns the pmf over the actions in the order they were
given (checked by the tests against permutations); :meth:`BanditModel.predict` then applies the
policy's exploration floor (:func:`proxy.bandit.sampling.apply_floor`).

**Fast path.** ``vowpalwabbit.Workspace.predict`` wraps every parsed line in a Python
``Example`` (enum look-ups, attribute set-up): ~40 µs of Python for 11 lines. We call the same
native functions it calls (``pylibvw.vw._parse``, ``predict_multi``, ``learn_multi``,
``_finish_example_multi_ex``) on the joined text, ~11 µs for a decision with 10 variants
(dense weights; ~27 µs on the sparse ones of the default ``initial_weight``).

**Not thread-safe underneath.** A VW workspace must not be used by two threads at once; every
call here takes the model's lock, so a save in an executor thread and a predict on the event loop
serialise instead of corrupting state. For throughput, give each process its own model.

**Saving.** VW 9.11's Python binding saves only to a file name (it writes ``<name>.writing``
and renames it) and loads only with ``-i <file>``; :meth:`to_bytes` and :meth:`from_bytes` go
through a private temporary directory. Both take a few milliseconds: run them off the event loop.
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

import pylibvw  # type: ignore[import-not-found]  # vowpalwabbit's native module, no stubs
from vowpalwabbit import Workspace  # type: ignore[import-untyped]

from proxy.bandit.features import ActionSet, Label, SharedFeatures, adf_lines, shared_line
from proxy.bandit.policy_config import BanditPolicy, vw_arguments
from proxy.bandit.sampling import apply_floor


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

    @classmethod
    def from_bytes(cls, data: bytes, policy: BanditPolicy) -> BanditModel:
        """A model from :meth:`to_bytes` output; ``ValueError`` if VW cannot read it.

        The bytes must come from a model with the same feature space (the snapshot checks that);
        VW itself cannot tell, and loads e.g. an epsilon model under a ``bag`` policy silently.
        """
        with tempfile.TemporaryDirectory(prefix="vernier-model-") as directory:
            path = os.path.join(directory, "model.vw")
            with open(path, "wb") as file:
                file.write(data)
            try:
                return cls(policy, _initial_model=path)
            except RuntimeError as err:
                raise ValueError(f"VW cannot load the model: {err}") from None

    def predict(
        self, shared: SharedFeatures, actions: ActionSet, *, floor: bool = True
    ) -> list[float]:
        """The pmf over ``actions`` (in their order), exploration floor applied.

        ``floor=False`` returns VW's pmf as it is (the snapshot canary checks that one).
        """
        return self.predict_lines(shared_line(shared), actions, floor=floor)

    def predict_lines(self, shared: str, actions: ActionSet, *, floor: bool = True) -> list[float]:
        """:meth:`predict` for an already formatted ``shared`` line."""
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
            raise RuntimeError(
                f"VW returned {len(scores)} probabilities for {len(actions)} actions"
            )
        return apply_floor(scores, self.policy.floor) if floor else scores

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
            self.examples_learned += 1

    def to_bytes(self) -> bytes:
        """The model's state (weights and options VW keeps), resumable for learning."""
        with tempfile.TemporaryDirectory(prefix="vernier-model-") as directory:
            path = os.path.join(directory, "model.vw")
            with self._lock:
                self._check_open()
                self._vw.save(path)
            with open(path, "rb") as file:
                return file.read()

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
