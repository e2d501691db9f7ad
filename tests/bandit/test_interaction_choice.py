"""Choosing a slot's interactions from its examples: candidates, the verdict, the retraining."""

from __future__ import annotations

import random

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss
from sklearn.model_selection import StratifiedKFold, cross_val_predict

from proxy.bandit import interaction_choice
from proxy.bandit.features import ActionSet
from proxy.bandit.interaction_choice import (
    SELECT_AT,
    Example,
    SlotChoice,
    candidate_sets,
    choose,
    namespaces_of,
    pair_sets,
    retrain,
    run_choice,
)
from proxy.bandit.model import BanditModel
from proxy.bandit.policy_config import DEFAULT_INTERACTIONS, BanditPolicy

ACTIONS = ActionSet([("a", {}), ("b", {}), ("c", {})])
DEVICES = ("mobile", "desktop", "tablet")
REFERRERS = ("search", "social", "direct", "email")


def examples(
    n: int, rate: dict[tuple[str, str, int], float] | None, seed: int = 1
) -> list[Example]:
    """Uniformly logged visitors; ``rate[(device, referrer, variant)]`` their click rate (5 %
    for anything not listed)."""
    rng = random.Random(seed)
    found = []
    for _ in range(n):
        device, referrer = rng.choice(DEVICES), rng.choice(REFERRERS)
        hour = rng.randrange(24)
        shared = {
            "D": (f"dev={device}",),
            "R": (f"ref={referrer}",),
            "T": (f"h={hour}", f"dp={hour // 6}"),
            "G": (f"cc={rng.choice('abcdef')}",),
        }
        chosen = rng.randrange(len(ACTIONS))
        p = (rate or {}).get((device, referrer, chosen), 0.05)
        found.append(Example(shared, chosen, float(rng.random() < p), 1 / len(ACTIONS)))
    return found


def by_device() -> dict[tuple[str, str, int], float]:
    best = {"mobile": 1, "desktop": 0, "tablet": 2}
    return {(d, r, best[d]): 0.30 for d in DEVICES for r in REFERRERS}


def by_device_and_referrer() -> dict[tuple[str, str, int], float]:
    # the best variant depends on both: no single group tells it
    return {
        (d, r, (i + j) % 3): 0.30 for i, d in enumerate(DEVICES) for j, r in enumerate(REFERRERS)
    }


NAMESPACES = frozenset("DTGR")


def test_candidates_run_from_the_variant_alone_to_the_defaults() -> None:
    found = candidate_sets(frozenset("DTGRU"))
    assert found[0] == ()
    assert found[-1] == DEFAULT_INTERACTIONS
    assert ("DA",) in found and ("GA",) in found and ("DA", "RA", "DRA") in found
    assert ("DA", "TA", "GA", "RA", "UA") in found  # every group, additively
    assert len(found) == len(set(found))


def test_candidates_offer_only_terms_over_the_policys_groups() -> None:
    found = candidate_sets(namespaces_of(BanditPolicy(features=("device", "referrer"))))
    assert found == [(), ("DA",), ("RA",), ("DA", "RA", "DRA"), ("DA", "RA")]


def test_the_group_that_matters_is_chosen() -> None:
    choice = choose(examples(2000, by_device()), None, NAMESPACES)
    assert choice.interactions == ("DA",)
    assert choice.changed  # from the defaults the model starts with


def test_a_three_way_effect_is_chosen_with_its_parts() -> None:
    choice = choose(examples(3000, by_device_and_referrer()), None, NAMESPACES)
    assert choice.interactions == ("DA", "RA", "DRA")


def by_device_and_country(n: int, seed: int = 1) -> list[Example]:
    """Uniformly logged visitors whose best variant (30 % against 5 %) depends on device and
    country jointly: a pair the defaults do not have."""
    rng = random.Random(seed)
    found = []
    for _ in range(n):
        device, country = rng.randrange(len(DEVICES)), rng.randrange(3)
        shared = {"D": (f"dev={DEVICES[device]}",), "G": (f"cc={'abc'[country]}",)}
        chosen = rng.randrange(len(ACTIONS))
        p = 0.30 if chosen == (device + country) % len(ACTIONS) else 0.05
        found.append(Example(shared, chosen, float(rng.random() < p), 1 / len(ACTIONS)))
    return found


def test_pairs_beyond_the_defaults_are_offered_with_their_parts() -> None:
    found = pair_sets(frozenset("DTGRU"))
    assert ("DA", "GA", "DGA") in found and ("TA", "UA", "TUA") in found
    assert len(found) == 9  # ten pairs of five groups, less device x referrer (a default)
    assert not any("DRA" in p for p in found)
    assert pair_sets(frozenset("DR")) == []


def test_a_joint_effect_of_two_groups_is_chosen_with_its_parts() -> None:
    choice = choose(by_device_and_country(3000), None, NAMESPACES)
    assert choice.interactions == ("DA", "GA", "DGA") and choice.changed


def test_a_pair_is_not_taken_where_one_group_tells_it() -> None:
    choice = choose(examples(2000, by_device()), None, NAMESPACES)
    assert ("DA", "GA", "DGA") in choice.losses  # judged, and left
    assert choice.interactions == ("DA",)


def test_a_pair_needs_the_margin_to_enter_and_then_only_to_stay_the_best() -> None:
    # 500 visitors: the pair has the lowest held-out loss, but not by two standard errors
    pair = ("DA", "GA", "DGA")
    data = by_device_and_country(500, seed=3)
    first = choose(data, None, NAMESPACES)
    assert min(first.losses, key=first.losses.__getitem__) == pair
    assert first.interactions == ()
    kept = choose(data, pair, NAMESPACES)  # current: judged like any set, and the best
    assert (kept.interactions, kept.changed) == (pair, False)


def test_a_current_pair_is_left_once_it_is_no_longer_the_best() -> None:
    choice = choose(examples(2000, by_device()), ("DA", "GA", "DGA"), NAMESPACES)
    assert (choice.interactions, choice.changed) == (("DA",), True)


def test_when_nothing_matters_the_simplest_set_is_chosen() -> None:
    choice = choose(examples(3000, None), None, NAMESPACES, margin_se=1.0)
    assert choice.interactions == ()


def test_the_current_set_is_kept_while_within_the_margin() -> None:
    # a faint device effect: the variant alone and DA are within a standard error of each other,
    # so each is kept where it is the current set
    faint = {key: 0.08 for key in by_device()}
    data = examples(2000, faint)
    for current in [(), ("DA",)]:
        choice = choose(data, current, NAMESPACES, margin_se=1.0)
        assert (choice.interactions, choice.changed) == (current, False)
    # with no margin (the default) the best mean loss wins outright, whatever the current set
    best = choose(data, None, NAMESPACES, margin_se=0.0).interactions
    assert {choose(data, c, NAMESPACES).interactions for c in [(), ("DA",)]} == {best}


def test_a_clearly_worse_current_set_is_left() -> None:
    choice = choose(examples(2000, by_device()), ("GA",), NAMESPACES)
    assert choice.interactions == ("DA",) and choice.changed


def test_too_few_clicks_keep_the_current_set() -> None:
    data = [Example({"D": ("dev=mobile",)}, i % 3, 0.0, 1 / 3) for i in range(500)]
    choice = choose(data, ("DA",), NAMESPACES)
    assert (choice.interactions, choice.changed, choice.losses) == (("DA",), False, {})
    assert choose(data, None, NAMESPACES).interactions == DEFAULT_INTERACTIONS


def test_held_out_losses_match_scikit_learns_cross_validated_log_loss() -> None:
    data = examples(1500, by_device())
    labels = np.array([e.reward for e in data])
    design = interaction_choice._Design(data, ["DA"])
    losses = interaction_choice.held_out_losses(design, labels, ("DA",))
    # the same regression, predicted fold by fold by scikit-learn, scored by its own log loss
    reference = cross_val_predict(
        LogisticRegression(C=interaction_choice.L2_C, max_iter=1000),
        design.of(("DA",)),
        labels,
        cv=StratifiedKFold(interaction_choice.FOLDS, shuffle=True, random_state=0),
        method="predict_proba",
    )[:, 1]
    assert float(losses.mean()) == pytest.approx(log_loss(labels, reference), rel=1e-6)


def test_retraining_equals_learning_the_examples_online() -> None:
    data = examples(300, by_device())
    policy = BanditPolicy()
    retrained = retrain(policy, ("DA",), ACTIONS, data)
    online = BanditModel(BanditPolicy(interactions=("DA",)))
    try:
        for e in data:
            online.learn(e.shared, ACTIONS, e.chosen, reward=e.reward, probability=e.probability)
        assert retrained.policy.interactions == ("DA",)
        for device in DEVICES:
            shared = {"D": [f"dev={device}"]}
            assert retrained.predict(shared, ACTIONS) == online.predict(shared, ACTIONS)
    finally:
        retrained.finish()
        online.finish()


def test_run_choice_retrains_only_when_the_set_changes() -> None:
    data = examples(2000, by_device())
    policy = BanditPolicy(features=("device", "hour", "country", "referrer"))
    choice, model = run_choice(policy, ACTIONS, data, None)
    assert model is not None and model.policy.interactions == ("DA",) == choice.interactions
    assert model.examples_learned == len(data)
    model.finish()
    choice, model = run_choice(policy, ACTIONS, data, ("DA",))
    assert model is None and not choice.changed


def test_a_slot_is_due_at_the_schedules_counts_and_needs_its_examples() -> None:
    kept = SlotChoice(None)
    example = Example({}, 0, 0.0, 1.0)
    for learned in range(1, SELECT_AT[0]):
        kept.keep(example, learned)
    assert not kept.due
    kept.keep(example, SELECT_AT[0])
    assert kept.due and kept.enough(SELECT_AT[0])
    assert not kept.enough(SELECT_AT[0] * 2)  # a restarted learner kept only a part
    assert len(SlotChoice(None).kept) == 0
    full = SlotChoice(("DA",))
    for learned in range(interaction_choice.MAX_EXAMPLES + 10):
        full.keep(example, learned)
    assert len(full.kept) == interaction_choice.MAX_EXAMPLES
    assert full.enough(10**6)


def test_after_a_clean_drift_restart_only_later_examples_count() -> None:
    kept = SlotChoice(None, schedule=(50,))
    old_world, new_world = Example({}, 0, 0.0, 1.0), Example({}, 1, 1.0, 1.0)
    for learned in range(1, 31):
        kept.keep(old_world, learned)
    kept.restarted(replayed=0, learned=30)  # the watch started a clean model
    assert not kept.kept and kept.since == 30 and kept.enough(30)
    for learned in range(31, 51):
        kept.keep(new_world, learned)
    assert kept.due and list(kept.kept) == [new_world] * 20 and kept.enough(50)


def test_after_a_drift_restart_only_the_replayed_examples_and_later_ones_count() -> None:
    kept = SlotChoice(None, schedule=(50,))
    old_world, new_world = Example({}, 0, 0.0, 1.0), Example({}, 1, 1.0, 1.0)
    for learned in range(1, 31):
        kept.keep(old_world, learned)
    kept.keep(new_world, 31)
    kept.restarted(replayed=5, learned=31)  # the watch relearned the last five
    assert list(kept.kept) == [old_world] * 4 + [new_world]
    for learned in range(32, 51):
        kept.keep(new_world, learned)
    assert kept.due and len(kept.kept) == 24 and kept.enough(50)
