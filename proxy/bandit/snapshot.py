"""Versioned model snapshots: what the learner publishes and every proxy loads.

A :class:`Snapshot` is the model's bytes with a SHA-256 checksum, the slot, the model version,
the feature space it was trained in (:func:`proxy.bandit.policy_config.feature_space_hash`),
when it was made, how many examples it has learned, and a **canary**: the pmf the source model
gave for a fixed example (:func:`canary_shared` with the slot's actions).

:func:`load_snapshot` activates a snapshot only if every check passes, otherwise it raises
:class:`SnapshotRefused` and the caller keeps its last good model:

1. the checksum matches the bytes (:func:`verify`);
2. the feature space is the one the current configuration expects;
3. VW loads the bytes (with the interactions the snapshot names, if the learner chose them);
4. the loaded model's canary pmf is a probability distribution over the slot's actions (right
   length, finite, in ``[0, 1]``, summing to 1 ± 1e-3) and equals the recorded one (± 1e-4).

The :class:`~proxy.records.snapshot.Snapshot` type and its msgpack codec are
:mod:`proxy.records.snapshot`, which the store uses without loading VW.
"""

from __future__ import annotations

import hashlib
import math

import msgspec

from proxy.bandit.features import ActionSet, context_features
from proxy.bandit.model import BanditModel, pmf_is_valid
from proxy.bandit.policy_config import BanditPolicy
from proxy.records.snapshot import Snapshot, SnapshotRefused

CANARY_TOLERANCE = 1e-4

# A plausible visitor touching every feature group (each policy keeps the groups it uses).
CANARY_CONTEXT: dict[str, object] = {
    "device": "mobile",
    "browser": "safari",
    "os": "ios",
    "hour": 19,
    "weekday": "sat",
    "country": "DE",
    "language": "de",
    "referrer.class": "search",
    "utm.source": "newsletter",
    "landing": True,
    "path": "/products/grinder",
    "engaged_s": 45,
    "max_scroll": 0.6,
    "visits_7d": 2,
    "purchases_30d": 0,
    "last_seen_ms": 1_700_000_000_000,
    "clicks.hero": 1,
}
_CANARY_NOW_MS = 1_700_000_600_000


def canary_shared(policy: BanditPolicy) -> dict[str, list[str]]:
    """The canary example's shared namespaces under ``policy``."""
    return context_features(CANARY_CONTEXT, policy, now_ms=_CANARY_NOW_MS)


def make_snapshot(
    model: BanditModel,
    actions: ActionSet,
    *,
    slot: str,
    model_version: int,
    feature_space: str,
    created_at_ms: int,
    interactions: tuple[str, ...] | None = None,
) -> Snapshot:
    """Snapshot ``model`` now (saving takes milliseconds: call it off the event loop).

    ``interactions``: the set the learner chose for the model (a loader needs it to open it)."""
    data = model.to_bytes()
    canary = model.predict(canary_shared(model.policy), actions, floor=False)
    return Snapshot(
        slot=slot,
        model_version=model_version,
        feature_space=feature_space,
        created_at_ms=created_at_ms,
        examples=model.examples_learned,
        sha256=hashlib.sha256(data).hexdigest(),
        canary_pmf=tuple(canary),
        model=data,
        interactions=interactions,
    )


def verify(snapshot: Snapshot) -> None:
    """Raise :class:`SnapshotRefused` unless the checksum matches the model bytes."""
    actual = hashlib.sha256(snapshot.model).hexdigest()
    if actual != snapshot.sha256:
        raise SnapshotRefused(
            f"snapshot {snapshot.slot} v{snapshot.model_version}: checksum mismatch "
            f"(recorded {snapshot.sha256[:12]}…, bytes hash to {actual[:12]}…)"
        )


def load_snapshot(
    snapshot: Snapshot, policy: BanditPolicy, actions: ActionSet, *, feature_space: str
) -> BanditModel:
    """The snapshot's model, ready to predict, or :class:`SnapshotRefused`."""
    name = f"snapshot {snapshot.slot} v{snapshot.model_version}"
    verify(snapshot)
    if snapshot.feature_space != feature_space:
        raise SnapshotRefused(
            f"{name}: feature space {snapshot.feature_space}, expected {feature_space}"
        )
    if snapshot.interactions is not None:  # chosen by the learner: open it with them
        policy = msgspec.structs.replace(policy, interactions=snapshot.interactions)
    try:
        model = BanditModel.from_bytes(snapshot.model, policy)
    except ValueError as err:
        raise SnapshotRefused(f"{name}: {err}") from None
    model.examples_learned = snapshot.examples
    try:
        pmf = model.predict(canary_shared(policy), actions, floor=False)
    except RuntimeError as err:
        model.finish()
        raise SnapshotRefused(f"{name}: canary prediction failed: {err}") from None
    problem = _canary_problem(pmf, snapshot.canary_pmf, len(actions))
    if problem is not None:
        model.finish()
        raise SnapshotRefused(f"{name}: canary {problem}: {pmf!r}")
    return model


def _canary_problem(pmf: list[float], recorded: tuple[float, ...], n: int) -> str | None:
    if not pmf_is_valid(pmf, n):
        return "is not a probability distribution"
    if len(recorded) != n or any(
        not math.isclose(a, b, abs_tol=CANARY_TOLERANCE) for a, b in zip(pmf, recorded, strict=True)
    ):
        return f"differs from the recorded {list(recorded)!r}"
    return None
