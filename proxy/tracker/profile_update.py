"""The visitor profile as a pure fold over event records: ``apply(state, record) -> state``.

The profile hash (``P{v:<id>}:profile``) holds flat fields that rules and the bandit read:

=====================  ======================================================================
``visits``             distinct sessions seen (a visit = a new session id)
``visits_24h/7d/30d``  visits started within the window, as of ``last_seen_ms``
``pageviews``          pageview events
``engaged_s``          total engaged (visible and active) seconds
``engaged_ema``        EMA (alpha 0.3) of engaged seconds per page view, oldest page first
``max_scroll:<type>``  deepest scroll (0..1) on pages of that type: first path segment, ``home``
``clicks:<slot>``      clicks on a slot; ``impressions:<slot>`` likewise
``conversions``        conversion events; ``conversion_value`` the sum of their values
``purchases_30d``      conversions named ``purchase`` within 30 days, as of ``last_seen_ms``
``first_seen_ms``      server receive times of the oldest and newest event; ``last_seen_ms``
``bot``                1 if any event was flagged automated at intake (user agent), or if the
                       visitor has 3+ page views and neither a scroll past 0 nor any engaged time
``tz``                 the IANA time zone the tracker last reported (absent until it has):
                       ``hour`` and ``weekday`` of later pages are on this clock
``score:<rfm part>``   weighted scores with half-life decay, and ``interest:<type>``
                       (:mod:`proxy.tracker.scores`, configured in ``scores:``)
=====================  ======================================================================

The heuristic part of ``bot`` is re-evaluated on every event, so a visitor who scrolls later is
cleared; the user-agent flag sticks. Times come from the server (``received_ms``), never the
client's clock. Windows are computed at write time: a reader wanting them "as of now" must age
them itself (they only ever shrink).

The updater's own state (recent sessions, visit and purchase times, recent pages, the last applied
event ids) is the :class:`ProfileState` itself, kept as JSON in ``P{v:<id>}:tally``. ``apply`` is
idempotent per event id for the last ``APPLIED_IDS`` events, which covers any redelivery of one
consumer batch. Per-visitor bounds: ``MAX_SLOTS`` slot names and ``MAX_PAGE_TYPES`` page types
(later ones are not counted), ``MAX_TIMES`` visit and purchase times (windows saturate there).

Engaged time and scroll depth are attributed to their page view through ``RECENT_PAGES`` recent
pages (page id → page type, engaged ms, depth); a page that fell off that list still adds to
``engaged_s`` but no longer to the EMA or ``max_scroll``.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import msgspec

from proxy.config.schema import ScoresConfig
from proxy.records.event_record import EventRecord
from proxy.records.events import Click as ClickEvent
from proxy.records.events import Conversion, Engaged, Event, Impression, PageView, Scroll
from proxy.tracker.scores import (
    DEFAULT_SCORES,
    Scores,
    add_conversion,
    add_interest,
    add_visit,
    score_fields,
)

EMA_ALPHA = 0.3
APPLIED_IDS = 128
RECENT_SESSIONS = 16
RECENT_PAGES = 8
MAX_TIMES = 100
MAX_SLOTS = 32
MAX_PAGE_TYPES = 16
BOT_MIN_PAGEVIEWS = 3
DAY_MS = 24 * 3600 * 1000
WINDOWS_MS = {"24h": DAY_MS, "7d": 7 * DAY_MS, "30d": 30 * DAY_MS}

_PAGE_TYPE = re.compile(r"[a-z0-9_-]{1,32}")


class PageState(msgspec.Struct, array_like=True):
    """One recent page view: id, type (``""`` until its pageview arrives), engaged ms, depth."""

    page: str
    type: str = ""
    engaged_ms: int = 0
    depth: float = 0.0


class ProfileState(msgspec.Struct, kw_only=True):
    """Everything the updater knows about one visitor; the public fields derive from it."""

    visits: int = 0
    pageviews: int = 0
    engaged_ms: int = 0
    clicks: dict[str, int] = {}
    impressions: dict[str, int] = {}
    max_scroll: dict[str, float] = {}
    conversions: int = 0
    conversion_value: float = 0.0
    first_seen_ms: int = 0
    last_seen_ms: int = 0
    bot_ua: bool = False
    scrolled: bool = False
    tz: str = ""
    sessions: list[str] = []
    visit_ms: list[int] = []
    purchase_ms: list[int] = []
    pages: list[PageState] = []
    ema_base: float | None = None
    applied: list[str] = []
    scores: Scores = msgspec.field(default_factory=Scores)


def page_type(url: str) -> str:
    """First path segment of ``url`` (lower case), ``home`` for ``/``, ``other`` if unusual."""
    try:
        path = urlsplit(url).path
    except ValueError:
        return "other"
    first = path.strip("/").split("/", 1)[0].lower()
    if not first:
        return "home"
    return first if _PAGE_TYPE.fullmatch(first) else "other"


def apply(
    state: ProfileState, record: EventRecord, scores: ScoresConfig = DEFAULT_SCORES
) -> ProfileState:
    """The state after ``record``; the same state (unchanged) if its event id was applied."""
    event = record.event
    if event.id in state.applied:
        return state
    s = msgspec.structs.replace(
        state,
        clicks=dict(state.clicks),
        impressions=dict(state.impressions),
        max_scroll=dict(state.max_scroll),
        sessions=list(state.sessions),
        visit_ms=list(state.visit_ms),
        purchase_ms=list(state.purchase_ms),
        pages=[msgspec.structs.replace(p) for p in state.pages],
        applied=[*state.applied[-(APPLIED_IDS - 1) :], event.id],
    )
    now = record.received_ms
    s.first_seen_ms = min(s.first_seen_ms, now) if s.first_seen_ms else now
    s.last_seen_ms = max(s.last_seen_ms, now)
    s.bot_ua = s.bot_ua or record.bot
    if record.session not in s.sessions:
        s.visits += 1
        s.sessions = [*s.sessions[-(RECENT_SESSIONS - 1) :], record.session]
        s.visit_ms = _recent_times([*s.visit_ms, now], now)
        s.scores = add_visit(s.scores, now, scores)
    _apply_event(s, event, record.page, now, scores)
    return s


def _apply_event(
    s: ProfileState, event: Event, page_id: str, now: int, scores: ScoresConfig
) -> None:
    match event:
        case PageView(url=url, tz=tz):
            s.pageviews += 1
            s.tz = tz or s.tz
            page = _page(s, page_id)
            page.type = page_type(url)
            _note_scroll(s, page)
            s.scores = add_interest(s.scores, page.type, 1.0, now, scores)
        case Engaged(ms=ms):
            s.engaged_ms += ms
            page = _page(s, page_id)
            page.engaged_ms += ms
            if page.type:
                s.scores = add_interest(s.scores, page.type, ms / 60_000, now, scores)
        case Scroll(depth=depth):
            s.scrolled = s.scrolled or depth > 0
            page = _page(s, page_id)
            page.depth = max(page.depth, depth)
            _note_scroll(s, page)
        case ClickEvent(slot=slot) if slot is not None:
            _bump(s.clicks, slot)
        case Impression(slot=slot):
            _bump(s.impressions, slot)
        case Conversion(name=name, value=value):
            s.conversions += 1
            s.conversion_value += value or 0.0
            if name == "purchase":
                s.purchase_ms = _recent_times([*s.purchase_ms, now], now)
            s.scores = add_conversion(s.scores, value or 0.0, now, scores)
        case _:
            pass


def _page(s: ProfileState, page_id: str) -> PageState:
    for page in s.pages:
        if page.page == page_id:
            return page
    page = PageState(page_id)
    s.pages.append(page)
    while len(s.pages) > RECENT_PAGES:  # the oldest page's engaged time is final: fold it in
        oldest = s.pages.pop(0)
        if oldest.type:
            s.ema_base = _ema(s.ema_base, oldest.engaged_ms / 1000)
    return page


def _note_scroll(s: ProfileState, page: PageState) -> None:
    if not page.type or page.depth <= 0:
        return
    if page.type in s.max_scroll or len(s.max_scroll) < MAX_PAGE_TYPES:
        s.max_scroll[page.type] = max(s.max_scroll.get(page.type, 0.0), page.depth)


def _bump(counts: dict[str, int], slot: str) -> None:
    if slot in counts or len(counts) < MAX_SLOTS:
        counts[slot] = counts.get(slot, 0) + 1


def _recent_times(times: list[int], now: int) -> list[int]:
    return [t for t in times if now - t < WINDOWS_MS["30d"]][-MAX_TIMES:]


def _ema(base: float | None, value: float) -> float:
    return value if base is None else EMA_ALPHA * value + (1 - EMA_ALPHA) * base


def engaged_ema(s: ProfileState) -> float:
    """The EMA over folded pages, continued over the recent ones (those with a pageview)."""
    ema = s.ema_base
    for page in s.pages:
        if page.type:
            ema = _ema(ema, page.engaged_ms / 1000)
    return ema or 0.0


def is_bot(s: ProfileState) -> bool:
    """The user-agent flag, or page views without any sign of a person reading them."""
    idle = s.pageviews >= BOT_MIN_PAGEVIEWS and not s.scrolled and s.engaged_ms == 0
    return s.bot_ua or idle


def _num(value: float) -> str:
    return f"{round(value, 4):g}" if value != int(value) else str(int(value))


def profile_fields(s: ProfileState, scores: ScoresConfig = DEFAULT_SCORES) -> dict[str, str]:
    """The public hash fields (all strings), windows and scores as of ``last_seen_ms``."""
    now = s.last_seen_ms
    fields = {
        "visits": str(s.visits),
        "pageviews": str(s.pageviews),
        "engaged_s": _num(s.engaged_ms / 1000),
        "engaged_ema": _num(engaged_ema(s)),
        "conversions": str(s.conversions),
        "conversion_value": _num(s.conversion_value),
        "purchases_30d": str(sum(1 for t in s.purchase_ms if now - t < WINDOWS_MS["30d"])),
        "first_seen_ms": str(s.first_seen_ms),
        "last_seen_ms": str(s.last_seen_ms),
        "bot": "1" if is_bot(s) else "0",
    }
    if s.tz:
        fields["tz"] = s.tz
    for name, window_ms in WINDOWS_MS.items():
        fields[f"visits_{name}"] = str(sum(1 for t in s.visit_ms if now - t < window_ms))
    fields.update({f"max_scroll:{k}": _num(v) for k, v in s.max_scroll.items()})
    fields.update({f"clicks:{k}": str(v) for k, v in s.clicks.items()})
    fields.update({f"impressions:{k}": str(v) for k, v in s.impressions.items()})
    fields.update(score_fields(s.scores, now, scores))
    return fields


_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(ProfileState)


def encode_state(s: ProfileState) -> bytes:
    """The tally's ``state`` field."""
    return _encoder.encode(s)


def decode_state(data: bytes | None) -> ProfileState:
    """The state from the tally's ``state`` field; a new visitor's for ``None`` or garbage."""
    if not data:
        return ProfileState()
    try:
        return _decoder.decode(data)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return ProfileState()
