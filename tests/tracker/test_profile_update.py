"""The profile fold, without servers: a scripted visitor's fields, windows, idempotence, bounds."""

from __future__ import annotations

import pytest

from proxy.records.event_record import EventRecord
from proxy.records.events import (
    Click,
    Conversion,
    Engaged,
    Event,
    Hover,
    Impression,
    PageView,
    Scroll,
)
from proxy.tracker.profile_update import (
    APPLIED_IDS,
    DAY_MS,
    MAX_SLOTS,
    ProfileState,
    apply,
    decode_state,
    encode_state,
    page_type,
    profile_fields,
)

T0 = 1_732_250_000_000
_counter = iter(range(10**9))


def rec(
    event: Event,
    *,
    page: str = "page-0001",
    session: str = "sess-1",
    at: int = T0,
    bot: bool = False,
) -> EventRecord:
    return EventRecord(
        event=event, page=page, session=session, visitor="visitor-1", received_ms=at, bot=bot
    )


def eid() -> str:
    return f"event-{next(_counter):08d}"


def fold(records: list[EventRecord], state: ProfileState | None = None) -> ProfileState:
    state = state or ProfileState()
    for record in records:
        state = apply(state, record)
    return state


def scripted_session() -> list[EventRecord]:
    """Two visits: a product page and the home page, then a purchase a day later."""
    return [
        rec(PageView(id=eid(), ts=1, url="/products/mug?c=1"), page="page-A"),
        rec(Impression(id=eid(), ts=1, slot="hero", variant="b", decision="d1"), page="page-A"),
        rec(Click(id=eid(), ts=1, slot="hero", target="a.cta"), page="page-A"),
        rec(Scroll(id=eid(), ts=1, depth=0.5), page="page-A"),
        rec(Scroll(id=eid(), ts=1, depth=0.75), page="page-A"),
        rec(Engaged(id=eid(), ts=1, ms=4000), page="page-A"),
        rec(PageView(id=eid(), ts=1, url="/"), page="page-B", at=T0 + 60_000),
        rec(Scroll(id=eid(), ts=1, depth=0.25), page="page-B", at=T0 + 60_000),
        rec(Engaged(id=eid(), ts=1, ms=10_000), page="page-B", at=T0 + 61_000),
        rec(Hover(id=eid(), ts=1, slot="hero", ms=500), page="page-B", at=T0 + 61_000),
        rec(
            PageView(id=eid(), ts=1, url="/checkout"),
            page="page-C",
            session="sess-2",
            at=T0 + DAY_MS + 1,
        ),
        rec(
            Conversion(id=eid(), ts=1, name="purchase", value=62.5, currency="USD"),
            page="page-C",
            session="sess-2",
            at=T0 + DAY_MS + 2,
        ),
    ]


def test_scripted_visitor_fields() -> None:
    every = profile_fields(fold(scripted_session()))
    # the scores' own tests are in test_scores.py
    fields = {k: v for k, v in every.items() if not k.startswith(("score:", "interest:"))}
    assert fields == {
        "visits": "2",
        "visits_24h": "1",  # the first visit started a day and 2 ms before the last event
        "visits_7d": "2",
        "visits_30d": "2",
        "pageviews": "3",
        "engaged_s": "14",
        # page A 4 s, page B 10 s, page C 0 s: 4 -> 0.3*10+0.7*4 = 5.8 -> 0.7*5.8 = 4.06
        "engaged_ema": "4.06",
        "max_scroll:products": "0.75",
        "max_scroll:home": "0.25",
        "clicks:hero": "1",
        "impressions:hero": "1",
        "conversions": "1",
        "conversion_value": "62.5",
        "purchases_30d": "1",
        "first_seen_ms": str(T0),
        "last_seen_ms": str(T0 + DAY_MS + 2),
        "bot": "0",
    }


def test_applying_an_event_twice_changes_nothing() -> None:
    records = scripted_session()
    once = fold(records)
    twice = fold(records, once)
    assert twice == once
    assert apply(once, records[3]) is once


def test_scroll_before_its_pageview_still_counts() -> None:
    state = fold(
        [
            rec(Scroll(id=eid(), ts=1, depth=0.9), page="page-X"),
            rec(PageView(id=eid(), ts=1, url="/blog/post-1"), page="page-X"),
        ]
    )
    assert profile_fields(state)["max_scroll:blog"] == "0.9"


def test_bot_by_user_agent_sticks_and_idle_heuristic_clears() -> None:
    flagged = fold(
        [rec(Engaged(id=eid(), ts=1, ms=100), bot=True), rec(Scroll(id=eid(), ts=1, depth=1.0))]
    )
    assert profile_fields(flagged)["bot"] == "1"
    idle = fold([rec(PageView(id=eid(), ts=1, url="/"), page=f"page-{i}") for i in range(3)])
    assert profile_fields(idle)["bot"] == "1"
    two_idle = fold([rec(PageView(id=eid(), ts=1, url="/"), page=f"page-{i}") for i in range(2)])
    assert profile_fields(two_idle)["bot"] == "0"
    engaged = apply(idle, rec(Engaged(id=eid(), ts=1, ms=1), page="page-2"))
    assert profile_fields(engaged)["bot"] == "0"


def test_windows_drop_old_visits_and_purchases() -> None:
    records = [
        rec(Conversion(id=eid(), ts=1, name="purchase"), session="sess-old", at=T0),
        rec(Conversion(id=eid(), ts=1, name="signup"), session="sess-old", at=T0),
        rec(PageView(id=eid(), ts=1, url="/"), session="sess-new", at=T0 + 31 * DAY_MS),
    ]
    fields = profile_fields(fold(records))
    assert (fields["visits"], fields["visits_30d"], fields["visits_7d"]) == ("2", "1", "1")
    assert (fields["conversions"], fields["purchases_30d"]) == ("2", "0")


def test_slot_names_are_bounded_per_visitor() -> None:
    records = [
        rec(Click(id=eid(), ts=1, slot=f"slot-{i}", target="a")) for i in range(MAX_SLOTS + 5)
    ]
    fields = profile_fields(fold(records))
    assert sum(name.startswith("clicks:") for name in fields) == MAX_SLOTS


def test_applied_ids_are_bounded() -> None:
    records = [rec(Engaged(id=eid(), ts=1, ms=1)) for _ in range(APPLIED_IDS + 10)]
    state = fold(records)
    assert len(state.applied) == APPLIED_IDS
    assert state.applied[-1] == records[-1].event.id


def test_ema_folds_pages_that_leave_the_recent_list() -> None:
    records: list[EventRecord] = []
    for i in range(20):
        page = f"page-{i:04d}"
        records.append(rec(PageView(id=eid(), ts=1, url="/p"), page=page))
        records.append(rec(Engaged(id=eid(), ts=1, ms=2000), page=page))
    state = fold(records)
    assert len(state.pages) == 8
    assert profile_fields(state)["engaged_ema"] == "2"  # every page had 2 s


def test_state_round_trips_and_garbage_is_a_new_visitor() -> None:
    state = fold(scripted_session())
    assert decode_state(encode_state(state)) == state
    assert decode_state(None) == ProfileState()
    assert decode_state(b"{not json") == ProfileState()


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("/", "home"),
        ("", "home"),
        ("/?q=1", "home"),
        ("/products/mug", "products"),
        ("/Cart/", "cart"),
        ("https://shop.example/blog/x", "blog"),
        ("/%7Bweird%7D/x", "other"),
        ("/" + "a" * 40, "other"),
    ],
)
def test_page_type(url: str, expected: str) -> None:
    assert page_type(url) == expected


def test_the_reported_time_zone_is_kept_until_another_is_reported() -> None:
    state = fold([rec(PageView(id=eid(), ts=1, url="/"))])
    assert "tz" not in profile_fields(state)
    state = fold([rec(PageView(id=eid(), ts=1, url="/", tz="Asia/Tokyo"))], state)
    state = fold([rec(PageView(id=eid(), ts=1, url="/b"))], state)  # an SPA page view: no tz
    assert profile_fields(state)["tz"] == "Asia/Tokyo"
    state = fold([rec(PageView(id=eid(), ts=1, url="/", tz="Europe/Lisbon"))], state)
    assert profile_fields(state)["tz"] == "Europe/Lisbon"
