"""A decision as it is logged, and a reward posted for one: the decision stream's two records.

:class:`DecisionRecord` is the evaluator's line format (`docs/decision-log.md` documents each
field); :class:`LoggedDecision` is what the proxy writes, that record plus what offline evaluation
of YAML rules and apprentice mode need; :class:`RewardNote` is a reward a client posted. The
deciding stage writes them, the store carries them, the learner's join and the evaluator read
them: they live here so that none of those packages has to import another to share them.
"""

from __future__ import annotations

import math
import secrets
from typing import Literal

import msgspec

# The largest reward (in magnitude) a decision log may carry. One part of a joined reward is at
# most a rule's weight (``proxy/rules/schema.py``, ±1e6) times a conversion's value
# (``proxy/records/events.py``, up to 1e9), and a decision sums at most 1,000 parts
# (``max_events_per_decision``), so the proxy writes at most ±1e18; the decision API takes ±1e6.
# Readers of the log refuse more (``proxy/evaluate/log.py``): a larger number is a unit mistake,
# and squared in the estimators it overflows (near 1e154) or drowns the rest.
REWARD_LIMIT = 1e30

Reason = Literal["bandit", "rule", "split", "sticky", "held", "paused", "default", "outage"]


# The control shown while the store could not answer (proxy.decide.decision re-exports it)
OUTAGE = "outage"
# An outage decision's id (proxy.decide.decision.OUTAGE): this prefix and 16 random characters,
# longer than every other decision id (16 characters), so no other id is ever taken for one.
OUTAGE_ID_PREFIX = "outage"
_OUTAGE_ID_LENGTH = len(OUTAGE_ID_PREFIX) + 16


def outage_decision_id() -> str:
    """A new id for the control shown while the store could not answer."""
    return OUTAGE_ID_PREFIX + secrets.token_urlsafe(12)


def is_outage_id(decision_id: str) -> bool:
    """Whether ``decision_id`` names an outage decision (outside every experiment)."""
    return len(decision_id) == _OUTAGE_ID_LENGTH and decision_id.startswith(OUTAGE_ID_PREFIX)


class DecisionRecord(msgspec.Struct, frozen=True):
    """One logged decision with its joined reward (`docs/decision-log.md` documents each field)."""

    id: str
    slot: str
    actions: tuple[str, ...]
    chosen: str
    p: float
    context: dict[str, tuple[str, ...]] = msgspec.field(default_factory=dict)
    reward: float | None = None
    pmf: tuple[float, ...] | None = None
    reason: Reason = "bandit"
    ts_ms: int | None = None
    session: str | None = None
    visitor: str | None = None
    model_version: str | None = None

    def __post_init__(self) -> None:
        if not self.actions:
            raise ValueError("actions: at least one action must be offered")
        if len(set(self.actions)) != len(self.actions):
            raise ValueError("actions: ids must be unique")
        if self.chosen not in self.actions:
            raise ValueError(f"chosen {self.chosen!r} is not among the actions")
        if not (math.isfinite(self.p) and 0.0 < self.p <= 1.0):
            raise ValueError(f"p {self.p} is outside (0, 1]")
        if self.reward is not None and not math.isfinite(self.reward):
            raise ValueError("reward must be finite")
        if self.pmf is not None and len(self.pmf) != len(self.actions):
            raise ValueError("pmf must have one probability per action")

    @property
    def chosen_index(self) -> int:
        """Position of the chosen action in ``actions``."""
        return self.actions.index(self.chosen)

    @property
    def is_example(self) -> bool:
        """Whether the record counts for evaluation: a joined reward, not a sticky re-serve nor
        an outage control (outside every experiment: control-only at p = 1)."""
        return self.reward is not None and self.reason not in ("sticky", OUTAGE)


_decoder = msgspec.json.Decoder(DecisionRecord)
_encoder = msgspec.json.Encoder()


def decode_record(line: bytes | str) -> DecisionRecord:
    """One record; ``msgspec.ValidationError``/``DecodeError`` if it is not one."""
    return _decoder.decode(line)


def encode_record(record: DecisionRecord) -> bytes:
    """One record as a JSON line (no trailing newline); unset optional fields are written."""
    return _encoder.encode(record)


Scalar = str | int | float | bool

# ``mode`` of a rule's holdout record (``proxy/decide/holdout.py``): ``slot`` is the rule's id and
# the record is one page where its conditions held, in arm ``applied`` or ``holdout``
HOLDOUT_MODE = "holdout"


class LoggedDecision(DecisionRecord, frozen=True):
    """A decision as the proxy logs it: the evaluator's record plus what offline evaluation of
    YAML rules needs (``rule_context``: the request context without headers and cookies) and,
    in apprentice mode, the variant the bandit would have served (``would``), and, as of the
    visitor's first exposure to the slot, their named segments (``segments``), learned segment
    (``cluster``) and results covariate (``covariate``: ``proxy.results.fold.COVARIATE``)."""

    rule_context: dict[str, Scalar] | None = None
    would: str | None = None
    mode: str | None = None
    segments: tuple[str, ...] | None = None
    cluster: str | None = None
    covariate: float | None = None


_logged_decoder = msgspec.json.Decoder(LoggedDecision)


def decode_logged(line: bytes | str) -> LoggedDecision:
    """One logged decision (a spool line); ``msgspec.ValidationError``/``DecodeError`` if not."""
    return _logged_decoder.decode(line)


class RewardNote(msgspec.Struct, frozen=True):
    """A reward a client posted for a decision (``POST /__vernier/api/reward``)."""

    decision: str
    reward: float
    ts_ms: int
