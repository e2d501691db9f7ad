"""``policy: split``: a classic randomised A/B/n test with fixed weights (issue #13, item 0).

The weights are checked and normalised once at load (:func:`split_probabilities`); serving is
:func:`assign`, a pure function of (visitor, slot, salt): the same visitor gets the same variant
on every page view, in every session and on every proxy, without any state in the store, and a
new ``salt`` re-randomises everyone (a new experiment on the same slot). The draw is the bandit's
deterministic sampler (:mod:`proxy.bandit.sampling`, BLAKE2b of the key), so the probability
logged with the decision is the one the variant really had.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from proxy.bandit.sampling import sample, seed_key

Split = tuple[tuple[str, float], ...]  # (variant, probability), in the file's variant order


def split_probabilities(weights: Mapping[str, float], variants: Sequence[str]) -> Split:
    """Every variant's share (an unlisted variant gets 0); ``ValueError`` naming the problem if a
    weight names no variant or all weights are 0."""
    unknown = sorted(set(weights) - set(variants))
    if unknown:
        raise ValueError(
            f"'{unknown[0]}' is not one of the variants ({', '.join(variants) or 'none'})"
        )
    total = math.fsum(weights.values())
    if total <= 0:
        raise ValueError("the weights must not all be 0")
    return tuple((v, weights.get(v, 0.0) / total) for v in variants)


def assign(split: Split, unit: str, slot: str, salt: str) -> tuple[str, float]:
    """The variant ``unit`` (a visitor id) gets, and its probability."""
    index, probability = sample([p for _, p in split], seed_key(unit, slot, salt))
    return split[index][0], probability
