"""Deterministic sampling of a variant from a probability mass function; pure.

The draw is a pure function of ``(pmf, seed_key)``, the seed key a stable encoding of
``(session, slot, epoch)`` (:func:`seed_key`): the same visitor in the same session sees the same
choice for as long as the model gives the same probabilities, and a logged decision can be
replayed exactly. The uniform number is the first 8 bytes of a BLAKE2b digest of the key, so it
is independent of Python's hash seed, the process and the machine.

The exploration floor is applied here (:func:`apply_floor`), not in VW: the model's
:meth:`~proxy.bandit.model.BanditModel.predict` calls it, so the pmf it returns — and the
probability logged with the decision — already includes the floor.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence

_TWO_64 = float(2**64)


def seed_key(session_id: str, slot_id: str, epoch: int | str) -> str:
    """An unambiguous key for ``(session, slot, epoch)``: each part length-prefixed."""
    return "".join(f"{len(part)}:{part};" for part in (session_id, slot_id, str(epoch)))


def uniform(key: str) -> float:
    """A number in ``[0, 1)`` determined by ``key`` alone."""
    digest = hashlib.blake2b(key.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "big") / _TWO_64


def sample(pmf: Sequence[float], key: str) -> tuple[int, float]:
    """The chosen index and its probability, for the uniform draw of ``key``.

    ``pmf`` must be non-negative with a positive finite sum (it is normalised here, so float
    rounding of VW's ``float32`` output never biases the last action); ``ValueError`` otherwise.
    """
    total = math.fsum(pmf)
    if not pmf or not math.isfinite(total) or total <= 0 or min(pmf) < 0:
        raise ValueError(f"not a probability mass function: {list(pmf)!r}")
    threshold = uniform(key) * total
    cumulative = 0.0
    last_positive = 0
    for index, p in enumerate(pmf):
        if p > 0:
            last_positive = index
            cumulative += p
            if threshold < cumulative:
                return index, p / total
    return last_positive, pmf[last_positive] / total


def apply_floor(pmf: Sequence[float], floor: float) -> list[float]:
    """``pmf`` with every entry at least ``floor``, summing to 1, ratios above it kept.

    Entries below the floor are raised to it; the others are scaled down together by the one
    factor that makes the total 1 (scaling can push another entry under the floor, so the
    floored set is found smallest first). Requires ``0 <= floor <= 1/len(pmf)``; an all-zero pmf becomes
    uniform. With ``floor == 0`` the pmf is only normalised.
    """
    n = len(pmf)
    if n == 0:
        raise ValueError("empty pmf")
    if not 0.0 <= floor <= 1.0 / n + 1e-12:
        raise ValueError(f"floor {floor} outside 0..1/{n}")
    total = math.fsum(pmf)
    if not math.isfinite(total) or total <= 0 or min(pmf) < 0:
        return [1.0 / n] * n
    probs = [p / total for p in pmf]
    if floor == 0.0 or min(probs) >= floor:
        return probs
    # The floored entries are the k smallest, for the least k at which the next one, scaled
    # by (1 - k * floor) / (mass of the unfloored), stays at or above the floor.
    order = sorted(range(n), key=probs.__getitem__)
    remaining = 1.0
    k = 0
    scale = 1.0
    while k < n:
        scale = (1.0 - k * floor) / remaining if remaining > 0 else math.inf
        if probs[order[k]] * scale >= floor:
            break
        remaining -= probs[order[k]]
        k += 1
    if k == n:
        return [1.0 / n] * n
    result = [p * scale for p in probs]
    for i in order[:k]:
        result[i] = floor
    return result
