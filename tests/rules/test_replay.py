"""The pins replayed: the first that holds, the logged context without headers and cookies, and
the fields a logged context can never give a pin."""

from __future__ import annotations

from proxy.rules.compiled import CompiledPin
from proxy.rules.condition_parser import parse_condition
from proxy.rules.replay import logged_context, pinned_variant, unlogged_fields


def pin(when: str, variant: str) -> CompiledPin:
    return CompiledPin(parse_condition(when), variant)


def test_the_first_pin_that_holds_wins() -> None:
    pins = (pin("device == 'mobile'", "b"), pin("hour >= 18", "c"))
    assert pinned_variant(pins, {"device": "mobile", "hour": 20}) == "b"
    assert pinned_variant(pins, {"device": "desktop", "hour": 20}) == "c"
    assert pinned_variant(pins, {"device": "desktop"}) is None
    assert pinned_variant((), {"device": "mobile"}) is None


def test_the_logged_context_keeps_scalars_but_headers_and_cookies() -> None:
    context = {"device": "mobile", "visits_30d": 3, "landing": True, "header.x-beta": "yes",
               "cookie.plan": "pro", "segments": ("vip",), "score": 0.5}  # fmt: skip
    assert logged_context(context) == {
        "device": "mobile", "visits_30d": 3, "landing": True, "score": 0.5,
    }  # fmt: skip


def test_fields_a_log_never_carries_are_named() -> None:
    pins = (
        pin("header.x-beta == 'yes' or device == 'mobile'", "b"),
        pin("'vip' in segments and cookie.plan == 'pro'", "c"),
        pin("segment == 'vip'", "b"),  # the first segment is a scalar: logged
    )
    assert unlogged_fields(pins) == ("cookie.plan", "header.x-beta", "segments")
    assert unlogged_fields(pins[2:]) == ()
