"""Which slots the learner trains (their models' drift watches: tests/bandit/test_drift.py)."""

from __future__ import annotations

from pathlib import Path

from proxy.bandit.learning_slot import learning_slots
from tests.bandit.test_learner import build_rules


def test_only_bandit_slots_in_live_or_apprentice_mode_learn(tmp_path: Path) -> None:
    engine = build_rules(tmp_path)
    assert list(learning_slots(engine.ruleset)) == ["hero"]
