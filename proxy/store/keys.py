"""Every Redis key name Vernier uses, and nowhere else.

Keeping the schema in one module means a prefix change, a migration or a Cluster re-layout is one
diff, and no stage can invent a key that lands in the wrong hash slot.

Schema (``P`` is the configurable prefix, default ``vernier:``; ``{…}`` is a Redis Cluster hash
tag: only the part inside the braces picks the slot, so everything sharing a tag can be used
together in one MULTI, Lua script or multi-key command)::

    P{s:<session_id>}:state       hash    session state (context, sticky arms); TTL = idle timeout
    P{s:<session_id>}:budget      hash    per-session governance counters (changes, last change)
    P{s:<session_id>}:decisions   hash    decisions awaiting a reward, field = decision id; TTL
    P{v:<visitor_id>}:profile     hash    long-lived visitor profile; TTL = visitor max age
    P{v:<visitor_id>}:tally       hash    the profile updater's state (version, JSON); same TTL
    P{v:<visitor_id>}:recent      list    the visitor's last 50 events (encoded records); same TTL
    P{v:<visitor_id>}:forgotten   string  erasure tombstone: updates are refused while it lives
    P{g:<slot_id>}:budget         hash    global per-slot governance counters and pause/kill flags
    P{m:<slot_id>}:<window>       hash    windowed metrics of one slot, field = variant id
    P{events:<shard>}             stream  the event stream (sharded: one stream is one hot slot)
    P{events:<shard>}:seen:<id>   string  event id already appended (dedupe); TTL 24 h
    P{decisions:<shard>}          stream  logged decisions (``d``) and API rewards (``r``)
    P{decisions:<shard>}:seen:<id>  string  decision id already appended (dedupe); TTL 1 h
    P{events|decisions:<shard>}:fsync  string  written before each WAITAOF; TTL 60 s
    P{model:<name>}:snapshot      string  serialized learner model
    P{model:<name>}:meta          hash    sha256, created-at and version of that snapshot
    P{model:_learner}:snapshot    string  the learner's checkpoint (a reserved model name: slot
                                          ids are [a-z0-9-], so it never collides with a slot's)
    P{model:_learner-lease}:snapshot  string  who holds the learner's lease; expires (PX)
    P{model:_segments}:snapshot   string  the published learned-segment model (checksummed)
    P{model:_segments}:meta       hash    its version, created-at and visitor count
    P{control}                    hash    kill switches and pauses every proxy polls: field
                                          ``slot:<id>``, ``rule:<id>``, ``variant:<slot>:<id>``
                                          = JSON {why, by, at_ms}
    P{r:<slot_id>}:h:<hour>       hash    results: per-variant sums of one hour, field
                                          ``<variant>|<measure>``; TTL = retention
    P{r:<slot_id>}:d:<day>        hash    the same summed per UTC day (what long reports read)
    P{r:<slot_id>}:u:<day>:<var>  HLL     distinct visitors of a variant on one day
    P{r:<slot_id>}:seen:<day>     set     what was already folded (dedupe); TTL 2 days
    P{r:<slot_id>}:x              list    the slot's latest joined examples (JSON), newest
                                          first, trimmed to ``results.examples_kept``; TTL =
                                          retention (the report's doubly robust estimates)
    P{rules}:health               hash    per rule/slot outcome totals of all proxies, field
                                          ``<id>|<outcome>``; ``<id>|open_until`` while tripped

A session's keys share the tag ``s:<session_id>`` so the governance check ("may this session see
another change?") is one atomic script on one node. The global counters of a slot and its
metrics are separate tags: they are hot keys and must not drag every session onto one node.

Ids are produced by Vernier itself (signed cookies, config names), so an id that could break a
hash tag or a log line (braces, whitespace, control characters, over 200 characters) is a bug and
raises ``ValueError`` instead of silently landing in the wrong slot.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

DEFAULT_PREFIX = "vernier:"
# reserved model names: slot ids are [a-z0-9-], so these can never collide with a slot's model
LEARNER_CHECKPOINT_NAME = "_learner"
LEARNER_LEASE_NAME = "_learner-lease"
SEGMENT_MODEL_NAME = "_segments"
GUARDRAIL_STANDING_NAME = "_guardrail"


def _glob_escape(text: str) -> str:
    return re.sub(r"([*?\[\]\\])", r"\\\1", text)


_ID = re.compile(r"[^\s{}\x00-\x1f\x7f]{1,200}")
_PREFIX = re.compile(r"[^\s{}\x00-\x1f\x7f]{0,64}")


def _check(kind: str, value: str) -> str:
    if not _ID.fullmatch(value):
        raise ValueError(f"invalid {kind} for a store key: {value[:40]!r}")
    return value


@dataclass(frozen=True, slots=True)
class KeySchema:
    """Builds key names under one prefix (several deployments can share one Redis)."""

    prefix: str = DEFAULT_PREFIX

    def __post_init__(self) -> None:
        if not _PREFIX.fullmatch(self.prefix):
            raise ValueError(
                f"store key prefix {self.prefix!r} must be at most 64 characters "
                "without braces, whitespace or control characters"
            )

    def session_key(self, session_id: str) -> str:
        """The session's state hash."""
        return f"{self.prefix}{{s:{_check('session id', session_id)}}}:state"

    def session_budget_key(self, session_id: str) -> str:
        """The session's governance counters; same slot as :meth:`session_key`."""
        return f"{self.prefix}{{s:{_check('session id', session_id)}}}:budget"

    def session_decisions_key(self, session_id: str) -> str:
        """Decisions of the session awaiting a reward; same slot as :meth:`session_key`."""
        return f"{self.prefix}{{s:{_check('session id', session_id)}}}:decisions"

    def visitor_key(self, visitor_id: str) -> str:
        """The visitor's long-lived profile."""
        return f"{self.prefix}{{v:{_check('visitor id', visitor_id)}}}:profile"

    def visitor_tally_key(self, visitor_id: str) -> str:
        """The profile updater's state of one visitor; same slot as :meth:`visitor_key`."""
        return f"{self.prefix}{{v:{_check('visitor id', visitor_id)}}}:tally"

    def visitor_recent_key(self, visitor_id: str) -> str:
        """The visitor's most recent events; same slot as :meth:`visitor_key`."""
        return f"{self.prefix}{{v:{_check('visitor id', visitor_id)}}}:recent"

    def visitor_forgotten_key(self, visitor_id: str) -> str:
        """Tombstone of an erased visitor; same slot as :meth:`visitor_key`."""
        return f"{self.prefix}{{v:{_check('visitor id', visitor_id)}}}:forgotten"

    def slot_budget_key(self, slot_id: str) -> str:
        """Global governance counters and pause/kill flags of one slot."""
        return f"{self.prefix}{{g:{_check('slot id', slot_id)}}}:budget"

    def metrics_key(self, slot_id: str, window: str) -> str:
        """Windowed metrics of one slot (field per variant), e.g. ``window="5m:1745000000"``."""
        return f"{self.prefix}{{m:{_check('slot id', slot_id)}}}:{_check('window', window)}"

    def results_key(self, slot_id: str, part: str) -> str:
        """One of a slot's result aggregates (``h:<hour>``, ``d:<day>``, ``u:<day>:<variant>``,
        ``seen:<day>``, ``x``); all share the tag ``r:<slot>``, so one script folds a slot's batch."""
        return f"{self.prefix}{{r:{_check('slot id', slot_id)}}}:{_check('part', part)}"

    def events_key(self, shard: int = 0) -> str:
        """One shard of the event stream."""
        if shard < 0:
            raise ValueError("event stream shard must be >= 0")
        return f"{self.prefix}{{events:{shard}}}"

    def event_seen_key(self, event_id: str, shard: int = 0) -> str:
        """Marks ``event_id`` as appended to shard ``shard``; same slot as :meth:`events_key`."""
        return f"{self.events_key(shard)}:seen:{_check('event id', event_id)}"

    def decisions_key(self, shard: int = 0) -> str:
        """One shard of the decision stream (what the learner joins with the events)."""
        if shard < 0:
            raise ValueError("decision stream shard must be >= 0")
        return f"{self.prefix}{{decisions:{shard}}}"

    def decision_seen_key(self, decision_id: str, shard: int = 0) -> str:
        """Marks ``decision_id`` as logged in shard ``shard``; same slot as :meth:`decisions_key`."""
        return f"{self.decisions_key(shard)}:seen:{_check('decision id', decision_id)}"

    def fsync_mark_key(self, stream_key: str) -> str:
        """Written with every fsync-confirmed append to ``stream_key`` (same slot), so that the
        ``WAITAOF`` after it covers all earlier writes (``store/fsynced_append.py``)."""
        if not stream_key.startswith(self.prefix):
            raise ValueError("not a stream key of this store")
        return f"{stream_key}:fsync"

    def model_key(self, name: str) -> str:
        """A serialized model snapshot."""
        return f"{self.prefix}{{model:{_check('model name', name)}}}:snapshot"

    def model_meta_key(self, name: str) -> str:
        """Checksum and version of a snapshot; same slot as :meth:`model_key`."""
        return f"{self.prefix}{{model:{_check('model name', name)}}}:meta"

    def learner_checkpoint_key(self) -> str:
        """The learner's checkpoint (join state and model snapshots as of its last ack)."""
        return self.model_key(LEARNER_CHECKPOINT_NAME)

    def guardrail_standing_key(self) -> str:
        """The guardrail's evidence per slot and variant as of the learner's last checkpoint
        (JSON, for the dashboard: the checkpoint itself is large and opaque)."""
        return self.model_key(GUARDRAIL_STANDING_NAME)

    def learner_lease_key(self) -> str:
        """The lease that keeps one learner per store."""
        return self.model_key(LEARNER_LEASE_NAME)

    def segment_model_key(self) -> str:
        """The published model of learned segments (``proxy/records/segment_model.py``)."""
        return self.model_key(SEGMENT_MODEL_NAME)

    def segment_model_meta_key(self) -> str:
        return self.model_meta_key(SEGMENT_MODEL_NAME)

    def visitor_profiles_pattern(self) -> str:
        """A SCAN pattern matching every visitor's profile key (what a segment fit reads)."""
        return f"{_glob_escape(self.prefix)}{{v:*}}:profile"

    def control_key(self) -> str:
        """Paused slots, rules and variants (kill switch and guardrail), read by every proxy."""
        return f"{self.prefix}{{control}}"

    def rule_health_key(self) -> str:
        """Outcome totals of every rule and slot, summed over all proxy instances."""
        return f"{self.prefix}{{rules}}:health"
