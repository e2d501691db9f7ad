"""A world-suite experiment: choose the slot's interactions from the examples it has logged.

The defaults interact every context group with the variant, so in a world where one group
matters the others add noise that 4,000 visitors do not average out (docs/benchmarks.md, "World
suite"). Here, at given example counts, a logistic regression of the click on each candidate set
of interactions is cross-validated over the examples logged so far (5 folds, log loss), and the
model is replaced by a VW model with the best set, retrained on those same examples. The
regression only chooses; VW still decides and learns.

Not in the proxy: this is the measured lead for the next round (``worlds_bench.py --select-at``).
"""

from __future__ import annotations

from collections.abc import Sequence

from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_score
from worlds_reference import action_tokens, token_matrix

# name -> interactions; "all" is the defaults' set
CANDIDATE_INTERACTIONS: dict[str, tuple[str, ...]] = {
    "none": (),
    "device": ("DA",),
    "time": ("TA",),
    "geo": ("GA",),
    "source": ("RA",),
    "profile": ("UA",),
    "device-source": ("DA", "RA", "DRA"),
    "all": ("DA", "TA", "GA", "RA", "UA", "DRA"),
}
MIN_CLICKS = 10  # below this every set looks alike: keep the defaults' set
FOLDS = 5

Example = tuple[str, int, float, float]  # shared line, chosen index, reward, probability


def held_out_log_loss(examples: Sequence[Example], interactions: Sequence[str]) -> float:
    """Mean 5-fold held-out log loss of a logistic regression of the reward on ``interactions``."""
    rows = [action_tokens(shared, chosen, interactions) for shared, chosen, _, _ in examples]
    vocabulary: dict[str, int] = {}
    for row in rows:
        for token in row:
            vocabulary.setdefault(token, len(vocabulary))
    labels = [int(reward > 0) for _, _, reward, _ in examples]
    folds = StratifiedKFold(FOLDS, shuffle=True, random_state=0)
    scores = cross_val_score(
        LogisticRegression(C=1.0, max_iter=1000),
        token_matrix(rows, vocabulary),
        labels,
        cv=folds,
        scoring="neg_log_loss",
    )
    return -float(scores.mean())


def chosen_interactions(examples: Sequence[Example]) -> tuple[str, ...]:
    """The candidate set with the lowest held-out log loss (the defaults' with too few clicks)."""
    clicks = sum(reward > 0 for _, _, reward, _ in examples)
    if clicks < MIN_CLICKS or len(examples) - clicks < FOLDS:
        return CANDIDATE_INTERACTIONS["all"]
    return min(
        CANDIDATE_INTERACTIONS.values(),
        key=lambda interactions: held_out_log_loss(examples, interactions),
    )
