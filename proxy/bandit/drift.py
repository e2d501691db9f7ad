"""Following a world that changes: restart the model from the examples after a detected fall.

VW's adaptive steps shrink as a feature is seen more, so a model that learned one world hardly
moves when the world changes (docs/benchmarks.md, "World suite": no seed of the drifting world
recovered). What was measured not to work: resetting only the step state (the weights of the old
world still outvote the new examples), a retrain on a sliding window every few hundred examples
(it restarts exploration and throws data away in worlds that never change), and a challenger
judged by IPS (it swapped on noise at 1–4 % click rates).

:class:`DriftWatch` restarts only when a fall is *detected*: it feeds the reward of every
learned example, scaled to the slot's reward range, to a
:class:`~proxy.stats.change.DropDetector` (one-sided Bernoulli GLR, false alarm chance
``drift.false_alarm`` over the whole stream). In a world that does not change the rewards a
learning bandit realises do not fall, and the model is never touched. On a fall it starts a
fresh model, so squarecb and the optimistic start explore again, and the detector restarts with
it. By default the fresh model starts clean: relearning the examples since the detected change
point (``drift.replay`` > 0, at most that many, kept in memory for it) recovers less often,
because those examples are the old model's choices — the variants that were best before, tried
again and again — and their shared weights steer the new model into the same ruts (the
drifting world in process: 26 of 30 seeds back to 0.85 of the new oracle within 2,000 visitors
clean, 17 relearning up to 2,000; over HTTP at 20 visitors a second 5 of 5; docs/benchmarks.md,
"A clean restart", which also says why at the simulator's unpaced 130-190 a second it does not).

The examples in memory and the detector are not checkpointed: after the learner restarts, a
slot's watch starts empty (it can only miss a change in progress, never invent one). Nor is the
restart itself: a learner restarted before the slot's next interaction choice refills the
choice's examples from the decision log, old world included, and a choice that changes the set
retrains on them (:class:`~proxy.bandit.interaction_choice.SlotChoice`) — a known gap.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from proxy.bandit.features import ActionSet, SharedFeatures, shared_line
from proxy.bandit.model import BanditModel
from proxy.bandit.policy_config import DriftPolicy
from proxy.stats.change import Drop, DropDetector

# One learned example: the shared line, the chosen index, its reward and logged probability.
Example = tuple[str, int, float, float]


@dataclass(frozen=True, slots=True)
class Restart:
    """A restart of the model: the detected fall and how many examples the new one relearned."""

    drop: Drop
    replayed: int


class DriftWatch:
    """One slot's model learner with drift detection (see the module docstring).

    ``reward_low``/``reward_high``: the slot's reward range, mapped to ``[0, 1]`` for the
    detector. ``restarts`` lists what happened, newest last (bounded).
    """

    def __init__(
        self,
        settings: DriftPolicy,
        actions: ActionSet,
        *,
        reward_low: float = 0.0,
        reward_high: float = 1.0,
    ) -> None:
        if reward_high <= reward_low:
            raise ValueError("reward_high must exceed reward_low")
        self.settings = settings
        self.actions = actions
        self.reward_low = reward_low
        self.reward_span = reward_high - reward_low
        self.detector = DropDetector(false_alarm=settings.false_alarm)
        self.recent: deque[Example] = deque(maxlen=settings.replay)
        self.restarts: deque[Restart] = deque(maxlen=16)

    def learn(
        self,
        model: BanditModel,
        shared: SharedFeatures | str,
        chosen: int,
        *,
        reward: float,
        probability: float,
    ) -> BanditModel:
        """``model`` learns the example (:meth:`BanditModel.learn`, same errors); the model to use
        from now on: ``model`` itself, or after a detected fall a fresh one (``model`` finished)."""
        line = shared if isinstance(shared, str) else shared_line(shared)
        model.learn(line, self.actions, chosen, reward=reward, probability=probability)
        if not self.settings.detect:
            return model
        self.recent.append((line, chosen, reward, probability))
        drop = self.detector.observe((reward - self.reward_low) / self.reward_span)
        if drop is None:
            return model
        return self._restart(model, drop)

    def _restart(self, model: BanditModel, drop: Drop) -> BanditModel:
        since = min(drop.seen - drop.at, len(self.recent))
        fresh = BanditModel(model.policy)
        try:
            for line, chosen, reward, probability in list(self.recent)[len(self.recent) - since :]:
                fresh.learn(line, self.actions, chosen, reward=reward, probability=probability)
        except BaseException:
            fresh.finish()
            raise
        fresh.examples_learned = model.examples_learned
        model.finish()
        self.detector.restart()
        self.restarts.append(Restart(drop, since))
        return fresh
