"""The reward join: logged decisions + tracker events → learning examples; pure, clock passed in.

A decision waits in :class:`JoinState` until its slot's reward window has passed
(``deadline_ms = ts_ms + window_s * 1000``). Meanwhile the events of its page and session are
folded into it, as the slot's :class:`~proxy.rules.schema.Reward` says
(:mod:`proxy.bandit.reward`: what each kind of event earns, and how parts combine); a reward
posted through the API (:class:`~proxy.records.decision.RewardNote`) is a part too, and it
counts as seen (the client that posts it showed the decision).

A session event counts for a decision only if it arrived (``received_ms``, the server's clock)
between the decision and its deadline; an event naming the decision only before the deadline.
A part whose weight is 0 is not a part (it would hide the default).

:meth:`JoinState.due` finishes the decisions whose deadline passed: a seen one becomes an example,
its reward the parts combined by ``aggregate`` (``sum``, ``max``, or the ``earliest`` by arrival
time), or ``default`` when nothing was earned; one of a session flagged as a bot is dropped
(counted); an unseen one waits ``unseen_grace_ms`` more (2 minutes from its deadline or from
when the join read it, whichever is later), then is dropped (counted).

**Late events.** An event spooled during a store outage (``proxy/tracker/sink.py``) reaches the
stream when the spool is replayed, keeping its ``received_ms``; the decision spool and the event
spool replay on their own schedules, in every proxy process, so a decision can be read seconds
after its deadline with its impression still in a spool, or on time with its impression spooled.
Dropping it at its deadline would lose a seen decision and count it as never seen. So an unseen
decision waits out the grace, and an event received within its window that is read meanwhile
still counts: a decision seen that way becomes an example when the grace ends. The grace is the
early buffer's age again: the two streams may be read up to two minutes apart either way, and
both count from when the join read the record, not from when it was first received, so after
an outage of any length the spools meet whichever replays first.

**At-least-once input, exactly-once effect.** Both streams may deliver an entry again (after a
crash between a checkpoint and its acknowledgement). Each decision remembers the event ids applied
to it, and finished decision ids are remembered for ``done_keep_ms``, so a re-delivered event or
decision changes nothing. Sticky and held re-serves (same id, same variant) are not new examples.

**Early events.** The decision stream and the event stream are read independently, so an event
can be read before its decision. Events naming an unknown decision, and every session-wide event,
are kept in a buffer bounded by count (``max_early``, oldest dropped) and age
(``early_max_age_ms``, from when the join read each; :mod:`proxy.bandit.early_events`) and
replayed when the decision arrives. API rewards are not buffered: they
travel in the decision stream behind their decision.

**Bounded memory.** At most ``max_pending`` decisions wait, unseen ones in their grace too; past
the bound an unseen one in its grace is dropped first (counted unseen), then the oldest (counted
evicted), so the grace never costs a decision still in its window; at
most ``max_events_per_decision`` event ids are remembered per decision (later events for it are
ignored, counted); the finished-id and bot-session memories are bounded by count and age.

:meth:`JoinState.to_bytes` / :meth:`JoinState.from_bytes` carry the whole state (msgpack) for the
learner's checkpoints.
"""

from __future__ import annotations

import heapq

import msgspec

from proxy.bandit.early_events import EarlyEvents, decision_key, session_key
from proxy.bandit.reward import PendingDecision, earn, final_reward
from proxy.records.decision import DecisionRecord, LoggedDecision, RewardNote
from proxy.records.event_record import EventRecord
from proxy.records.events import Click, Conversion, Engaged, Impression, Scroll
from proxy.rules.schema import Reward

__all__ = ["RESERVE_REASONS", "Counts", "JoinState", "final_reward"]

# reasons that re-serve an earlier decision (same id): not new examples
RESERVE_REASONS = frozenset({"sticky", "held"})


class Counts(msgspec.Struct):
    """What the join did, for metrics and logs (cumulative, kept in checkpoints)."""

    decisions: int = 0  # decisions accepted
    examples: int = 0  # seen decisions finished with a reward
    unseen: int = 0  # finished without an impression (after the grace): dropped
    bots: int = 0  # finished but excluded (the session was flagged as a bot)
    reserves: int = 0  # sticky/held re-serves ignored
    duplicates: int = 0  # decisions delivered again
    evicted: int = 0  # pending decisions dropped for the cap
    late: int = 0  # events after their decision's deadline
    early_dropped: int = 0  # buffered early events dropped for the cap or age
    ignored_events: int = 0  # events over max_events_per_decision


class _Saved(msgspec.Struct):
    version: int
    pending: list[PendingDecision]
    early: list[tuple[str, list[EventRecord]]]
    bot_sessions: list[tuple[str, int]]
    done: list[tuple[str, int]]
    counts: Counts
    early_read: list[tuple[str, list[int]]] = []  # older checkpoints: read when received


_SAVED_VERSION = 1
_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(_Saved)


class JoinState:
    """Decisions awaiting their rewards; see the module docstring."""

    def __init__(
        self,
        *,
        max_pending: int = 100_000,
        max_early: int = 20_000,
        early_max_age_ms: int = 120_000,
        unseen_grace_ms: int = 120_000,
        max_events_per_decision: int = 1_000,
        done_keep_ms: int = 3_600_000,
        max_done: int = 200_000,
        max_bot_sessions: int = 100_000,
    ) -> None:
        self.max_pending = max_pending
        self.unseen_grace_ms = unseen_grace_ms
        self.max_events_per_decision = max_events_per_decision
        self.done_keep_ms = done_keep_ms
        self.max_done = max_done
        self.max_bot_sessions = max_bot_sessions
        self.counts = Counts()
        self._pending: dict[str, PendingDecision] = {}  # insertion order = arrival order
        self._applied: dict[str, set[str]] = {}  # decision id -> its applied event ids
        self._by_session: dict[str, list[str]] = {}
        self._deadlines: list[tuple[int, str]] = []  # heap; stale entries skipped lazily
        self._in_grace: dict[str, None] = {}  # unseen past their deadline, in that order
        self._early = EarlyEvents(max_events=max_early, max_age_ms=early_max_age_ms)
        self._bot_sessions: dict[str, int] = {}  # session -> when flagged (ms)
        self._done: dict[str, int] = {}  # finished decision id -> when (ms)

    def __len__(self) -> int:
        """How many decisions wait for their deadline."""
        return len(self._pending)

    @property
    def early_events(self) -> int:
        """How many events wait in the early buffer."""
        return len(self._early)

    # -- inputs ---------------------------------------------------------------------------------

    def on_decision(self, record: DecisionRecord, reward: Reward, *, now_ms: int) -> bool:
        """Start joining ``record`` with its slot's ``reward``; ``False`` if it is not new.

        ``now_ms`` stands in for a record without ``ts_ms``.
        """
        if record.reason in RESERVE_REASONS:
            self.counts.reserves += 1
            return False
        if record.id in self._pending or record.id in self._done:
            self.counts.duplicates += 1
            return False
        since_ms = record.ts_ms if record.ts_ms is not None else now_ms
        deadline_ms = since_ms + round(reward.window_s * 1000)
        pending = PendingDecision(_logged(record), reward, deadline_ms, since_ms, read_ms=now_ms)
        if record.session is not None and record.session in self._bot_sessions:
            pending.excluded = True
        self._add(pending)
        self.counts.decisions += 1
        self._evict()
        replay = self._early.take(decision_key(record.id))
        if record.session is not None:
            replay += self._early.peek(session_key(record.session))
        for event in replay:
            self._apply(pending, event)
        return True

    def on_event(self, record: EventRecord, *, now_ms: int | None = None) -> None:
        """Fold one tracker event into the decisions it concerns (or buffer it); ``now_ms``:
        when the join read it (an event replayed from a spool is read long after it arrived)."""
        if record.bot:
            self._flag_bot(record.session, record.received_ms)
            return
        event = record.event
        if isinstance(event, Impression | Click):
            if event.decision is None:
                return
            pending = self._pending.get(event.decision)
            if pending is not None:
                self._apply(pending, record)
            elif event.decision not in self._done:
                self.counts.early_dropped += self._early.add(
                    decision_key(event.decision), record, now_ms
                )
            return
        if isinstance(event, Conversion | Engaged | Scroll):
            for decision_id in self._by_session.get(record.session, ()):
                self._apply(self._pending[decision_id], record)
            self._early.add(session_key(record.session), record, now_ms)

    def on_reward(self, note: RewardNote, *, event_id: str | None = None) -> None:
        """A reward posted through the API: one part, and the decision counts as seen.

        ``event_id`` (the stream entry id) makes a re-delivered note idempotent; without it the
        note's time and value stand in.
        """
        pending = self._pending.get(note.decision)
        if pending is None:
            return
        key = event_id or f"reward:{note.ts_ms}:{note.reward!r}"
        if note.ts_ms > pending.deadline_ms:
            self.counts.late += 1
            return
        if not self._remember(pending, key):
            return
        pending.seen = True
        self._in_grace.pop(note.decision, None)
        pending.parts.append((note.ts_ms, float(note.reward)))

    # -- output ---------------------------------------------------------------------------------

    def due(self, now_ms: int) -> list[DecisionRecord]:
        """Finish every decision whose deadline (an unseen one's: its deadline + the grace) is
        before ``now_ms``; the examples, in the order they finished, each with its reward set.
        Also ages out early events and old memories."""
        examples: list[DecisionRecord] = []
        while self._deadlines and self._deadlines[0][0] < now_ms:
            due_ms, decision_id = heapq.heappop(self._deadlines)
            pending = self._pending.get(decision_id)
            if pending is None or due_ms != (pending.grace_until or pending.deadline_ms):
                continue  # evicted, or already finished
            unseen = not (pending.seen or pending.excluded)
            if unseen and not pending.grace_until and self.unseen_grace_ms > 0:
                # its impression may still be in a spool: wait out the grace, counted from when
                # the decision was read (itself replayed from a spool, perhaps long after)
                pending.grace_until = max(due_ms, pending.read_ms) + self.unseen_grace_ms
                heapq.heappush(self._deadlines, (pending.grace_until, decision_id))
                self._in_grace[decision_id] = None
                continue
            self._remove(decision_id)
            self._done[decision_id] = now_ms
            if pending.excluded:
                self.counts.bots += 1
            elif not pending.seen:
                self.counts.unseen += 1
            else:
                value = final_reward(pending.parts, pending.reward)
                examples.append(msgspec.structs.replace(pending.record, reward=value))
                self.counts.examples += 1
        self._age(now_ms)
        return examples

    # -- checkpoints ----------------------------------------------------------------------------

    def to_bytes(self) -> bytes:
        """The whole state (msgpack), for :meth:`from_bytes`."""
        for decision_id, pending in self._pending.items():
            pending.applied = list(self._applied[decision_id])
        early, early_read = self._early.saved()
        return _encoder.encode(
            _Saved(
                version=_SAVED_VERSION,
                pending=list(self._pending.values()),
                early=early,
                bot_sessions=list(self._bot_sessions.items()),
                done=list(self._done.items()),
                counts=self.counts,
                early_read=early_read,
            )
        )

    @classmethod
    def from_bytes(cls, data: bytes, **limits: int) -> JoinState:
        """A state from :meth:`to_bytes`; ``ValueError`` if the bytes are not one."""
        try:
            saved = _decoder.decode(data)
        except (msgspec.DecodeError, msgspec.ValidationError) as err:
            raise ValueError(f"not a join state: {err}") from None
        if saved.version != _SAVED_VERSION:
            raise ValueError(f"join state version {saved.version}, expected {_SAVED_VERSION}")
        state = cls(**limits)
        state.counts = saved.counts
        for pending in saved.pending:
            state._add(pending)
        state._early.restore(saved.early, saved.early_read)
        state._bot_sessions = dict(saved.bot_sessions)
        state._done = dict(saved.done)
        return state

    # -- internals ------------------------------------------------------------------------------

    def _add(self, pending: PendingDecision) -> None:
        record = pending.record
        self._pending[record.id] = pending
        self._applied[record.id] = set(pending.applied)
        if record.session is not None:
            self._by_session.setdefault(record.session, []).append(record.id)
        heapq.heappush(self._deadlines, (pending.grace_until or pending.deadline_ms, record.id))
        if pending.grace_until and not (pending.seen or pending.excluded):
            self._in_grace[record.id] = None

    def _remove(self, decision_id: str) -> PendingDecision:
        pending = self._pending.pop(decision_id)
        self._in_grace.pop(decision_id, None)
        del self._applied[decision_id]
        session = pending.record.session
        if session is not None:
            ids = self._by_session.get(session, [])
            if decision_id in ids:
                ids.remove(decision_id)
            if not ids:
                self._by_session.pop(session, None)
        return pending

    def _evict(self) -> None:
        while len(self._pending) > self.max_pending:
            if self._in_grace:  # most likely never seen: before any decision in its window
                self._remove(next(iter(self._in_grace)))
                self.counts.unseen += 1
                continue
            self._remove(next(iter(self._pending)))
            self.counts.evicted += 1
        if len(self._deadlines) > 2 * self.max_pending + 64:  # drop the evicted ones' entries
            self._deadlines = [(d, i) for d, i in self._deadlines if i in self._pending]
            heapq.heapify(self._deadlines)

    def _remember(self, pending: PendingDecision, event_id: str) -> bool:
        """Mark ``event_id`` applied to ``pending``; ``False`` if it was, or the memory is full."""
        applied = self._applied[pending.record.id]
        if event_id in applied:
            return False
        if len(applied) >= self.max_events_per_decision:
            self.counts.ignored_events += 1
            return False
        applied.add(event_id)
        return True

    def _apply(self, pending: PendingDecision, record: EventRecord) -> None:
        event = record.event
        at_ms = record.received_ms
        names_decision = isinstance(event, Impression | Click)
        if at_ms > pending.deadline_ms:
            self.counts.late += 1
            return
        if not names_decision and at_ms < pending.since_ms:
            return  # a session event from before the decision
        if not self._remember(pending, event.id):
            return
        earn(pending, event, at_ms)
        if pending.seen:  # no longer first to go past the bound (_evict)
            self._in_grace.pop(pending.record.id, None)

    def _flag_bot(self, session: str, at_ms: int) -> None:
        self._bot_sessions.pop(session, None)
        self._bot_sessions[session] = at_ms
        while len(self._bot_sessions) > self.max_bot_sessions:
            del self._bot_sessions[next(iter(self._bot_sessions))]
        for decision_id in self._by_session.get(session, ()):
            self._pending[decision_id].excluded = True
            self._in_grace.pop(decision_id, None)

    def _age(self, now_ms: int) -> None:
        self.counts.early_dropped += self._early.age(now_ms)
        _trim(self._done, now_ms - self.done_keep_ms, self.max_done)
        _trim(self._bot_sessions, now_ms - self.done_keep_ms, self.max_bot_sessions)


def _trim(memory: dict[str, int], cutoff_ms: int, cap: int) -> None:
    """Drop entries older than ``cutoff_ms`` and the oldest beyond ``cap`` (insertion order is
    time order)."""
    while memory:
        oldest = next(iter(memory))
        if memory[oldest] >= cutoff_ms and len(memory) <= cap:
            break
        del memory[oldest]


def _logged(record: DecisionRecord) -> LoggedDecision:
    """``record`` with every field a checkpoint keeps (a plain record gets the logged ones'
    defaults): the results fold reads a joined example's covariate, segments and context."""
    if isinstance(record, LoggedDecision):
        return record
    return LoggedDecision(**msgspec.structs.asdict(record))
